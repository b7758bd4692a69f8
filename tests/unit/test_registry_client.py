"""The registry client's logic, against a fake opener: digests checked, errors quoted, input refused early."""
from __future__ import annotations

import email.message
import hashlib
import io
import json
import urllib.error

import pytest

from labkit.errors import LabError
from labkit.oci import registry

MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": registry.DOCKER_MANIFEST,
                       "config": {"digest": "sha256:" + "1" * 64}, "layers": []}).encode()
MANIFEST_DIGEST = "sha256:" + hashlib.sha256(MANIFEST).hexdigest()


class FakeOpener:
    """Answers requests from a table: (method, path) -> (status, headers, body)."""

    def __init__(self, routes):
        self.routes, self.seen = routes, []

    def open(self, request, timeout=None):
        path = request.full_url.removeprefix("http://127.0.0.1:5000")
        self.seen.append((request.get_method(), path, dict(request.header_items())))
        status, headers, body = self.routes[(request.get_method(), path)]
        msg = email.message.Message()
        for k, v in headers.items():
            msg[k] = v
        if status >= 400:
            raise urllib.error.HTTPError(request.full_url, status, "error", msg, io.BytesIO(body))
        return Response(msg, body)


class Response:
    def __init__(self, headers, body):
        self.headers, self.body = headers, body

    def read(self):
        return self.body

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.fixture
def fake(monkeypatch):
    def install(routes):
        opener = FakeOpener(routes)
        monkeypatch.setattr(registry, "_OPENER", opener)
        return opener
    return install


def test_digest_of_is_the_sha256_of_the_bytes_with_its_algorithm():
    assert registry.digest_of(b"") == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert registry.digest_of(b"x", "sha512").startswith("sha512:")
    with pytest.raises(LabError):
        registry.digest_of(b"x", "md5")


def test_manifest_returns_the_exact_bytes_their_digest_and_type(fake):
    opener = fake({("GET", "/v2/lab-02-a/manifests/1"): (200, {"Content-Type": registry.DOCKER_MANIFEST,
                                                               "Docker-Content-Digest": MANIFEST_DIGEST}, MANIFEST)})
    raw, digest, media_type = registry.manifest("lab-02-a", "1")
    assert (raw, digest, media_type) == (MANIFEST, MANIFEST_DIGEST, registry.DOCKER_MANIFEST)
    accept = opener.seen[0][2]["Accept"]
    assert registry.DOCKER_MANIFEST in accept and registry.OCI_MANIFEST in accept


def test_a_manifest_that_does_not_match_its_digest_is_refused(fake):
    other = "sha256:" + "2" * 64
    fake({("GET", f"/v2/lab-02-a/manifests/{other}"): (200, {"Content-Type": registry.DOCKER_MANIFEST}, MANIFEST),
          ("GET", "/v2/lab-02-a/manifests/1"): (200, {"Content-Type": registry.DOCKER_MANIFEST,
                                                      "Docker-Content-Digest": other}, MANIFEST)})
    for ref in (other, "1"):
        with pytest.raises(LabError, match="does not match its digest"):
            registry.manifest("lab-02-a", ref)


def test_a_schema1_conversion_is_refused_with_the_reason(fake):
    fake({("GET", "/v2/lab-02-a/manifests/1"): (200, {"Content-Type": registry.SCHEMA1}, b"{}")})
    with pytest.raises(LabError, match="schema 1") as err:
        registry.manifest("lab-02-a", "1", accept=[registry.OCI_MANIFEST])
    assert registry.DOCKER_MANIFEST in err.value.fix


def test_a_blob_is_verified_against_its_digest(fake):
    good = registry.digest_of(b"layer")
    bad = registry.digest_of(b"other")
    fake({("GET", f"/v2/lab-02-a/blobs/{good}"): (200, {}, b"layer"),
          ("GET", f"/v2/lab-02-a/blobs/{bad}"): (200, {}, b"layer")})
    assert registry.blob("lab-02-a", good) == b"layer"
    with pytest.raises(LabError, match="does not match its digest"):
        registry.blob("lab-02-a", bad)


def test_a_registry_error_quotes_its_json_and_keeps_its_codes(fake):
    body = b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"9"}}]}'
    fake({("GET", "/v2/lab-02-a/manifests/9"): (404, {"Content-Type": "application/json"}, body)})
    with pytest.raises(registry.RegistryError) as err:
        registry.manifest("lab-02-a", "9")
    assert err.value.status == 404 and err.value.codes == ("MANIFEST_UNKNOWN",)
    assert '"Tag":"9"' in str(err.value) and "tags(repo)" in str(err.value)
    assert isinstance(err.value, LabError)


def test_catalog_follows_every_next_page(fake):
    fake({("GET", "/v2/_catalog?n=100"): (200, {"Link": '</v2/_catalog?last=b&n=100>; rel="next"'},
                                          b'{"repositories":["a","b"]}'),
          ("GET", "/v2/_catalog?last=b&n=100"): (200, {}, b'{"repositories":["c"]}')})
    assert registry.catalog() == ["a", "b", "c"]


def test_tags_of_a_repository_with_none_left_is_an_empty_list(fake):
    fake({("GET", "/v2/lab-02-a/tags/list?n=100"): (200, {}, b'{"name":"lab-02-a","tags":null}')})
    assert registry.tags("lab-02-a") == []


@pytest.mark.parametrize("header, page", [
    (None, None),
    ('</v2/_catalog?last=x&n=2>; rel="next"', "/v2/_catalog?last=x&n=2"),
    ('<http://127.0.0.1:5000/v2/r/tags/list?last=t&n=5>; rel=next', "/v2/r/tags/list?last=t&n=5"),
    ('</v2/_catalog?last=x>; rel="prev"', None),
])
def test_next_link_reads_rfc8288_headers(header, page):
    assert registry.next_link(header) == page


def test_error_codes_survive_a_body_that_is_not_json():
    assert registry.error_codes(b"<html>") == ()
    assert registry.error_codes(b'{"errors":[{"code":"A"},{"code":"B"}]}') == ("A", "B")


@pytest.mark.parametrize("call, hint", [
    (lambda: registry.tags("127.0.0.1:5000/labkit/web"), "Leave the registry out"),
    (lambda: registry.tags("labkit/web:latest"), "its own argument"),
    (lambda: registry.tags("Labkit/Web"), "lowercase"),
    (lambda: registry.manifest("labkit/web", "bad tag"), "neither a tag nor a digest"),
    (lambda: registry.blob("labkit/web", "sha256:abc"), "not a digest"),
    (lambda: registry.delete_manifest("lab-02-a", "latest"), "by its digest"),
    (lambda: registry.catalog("10.1.2.3:5000"), "only to a registry on this machine"),
    (lambda: registry.remove_repository("labkit/web"), "Refusing"),
])
def test_bad_input_is_refused_before_any_request(fake, call, hint):
    opener = fake({})
    with pytest.raises(LabError, match=hint):
        call()
    assert opener.seen == []


def test_an_unreachable_registry_says_how_to_start_it(monkeypatch):
    class Refusing:
        def open(self, request, timeout=None):
            raise urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))

    monkeypatch.setattr(registry, "_OPENER", Refusing())
    with pytest.raises(LabError, match="labkit up"):
        registry.ping()


def test_the_opener_never_uses_a_proxy(monkeypatch):
    import urllib.request

    monkeypatch.setenv("http_proxy", "http://192.0.2.1:3128")
    # urllib's default opener installs a ProxyHandler that reads http_proxy; an empty one opens nothing.
    assert any(isinstance(h, urllib.request.ProxyHandler) for h in urllib.request.build_opener().handlers)
    assert not any(isinstance(h, urllib.request.ProxyHandler) for h in registry._OPENER.handlers)
