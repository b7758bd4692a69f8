"""A lab dockerd in memory, behind the real Docker SDK: unit tests of the code that asks it.

`client()` is a real docker.DockerClient whose low-level APIClient is an autospec mock, so a
call with an argument the SDK does not take fails as it would against dockerd, and the SDK's
own models (containers.list, images.remove, ...) run unchanged on top of it.
"""
from __future__ import annotations

from unittest import mock

import docker
import requests


class Engine:
    """Containers by name and images by id, as dockerd would list them."""

    def __init__(self, containers: dict[str, dict] | None = None, images: list[dict] | None = None) -> None:
        self.containers = containers or {}      # name -> {"State": {...}}
        self.images = images or []              # /images/json entries, plus "Labels"
        self.refuse: set[str] = set()           # names or refs dockerd answers 409 for
        self.archives: dict[str, list] = {}     # image -> the tar chunks (or an error) of its containers' "/."
        self.down = False                       # every call fails as on a dead socket
        self.calls: list[tuple] = []

    def client(self) -> docker.DockerClient:
        if getattr(self, "_client", None) is None:       # autospec is slow to build: one a test
            self._client = self._make_client()
        return self._client

    def _make_client(self) -> docker.DockerClient:
        api = mock.create_autospec(docker.APIClient, instance=True)
        for name in ("containers", "inspect_container", "remove_container", "images", "remove_image", "prune_images",
                     "create_container", "get_archive", "inspect_image", "get_image"):
            getattr(api, name).side_effect = self._answering(getattr(self, f"_{name}"))
        client = docker.DockerClient.__new__(docker.DockerClient)
        client.api = api
        return client

    def _answering(self, method):
        def call(*args, **kwargs):
            self.calls.append((method.__name__.lstrip("_"), args, kwargs))
            if self.down:
                raise requests.ConnectionError("connection refused")
            return method(*args, **kwargs)
        return call

    def _containers(self, all=False, **_):
        return [{"Id": f"id-{n}", "Names": [f"/{n}"], "State": c["State"]["Status"]}
                for n, c in self.containers.items() if all or c["State"]["Status"] == "running"]

    def _inspect_container(self, name):
        if name not in self.containers:
            raise docker.errors.NotFound(f"No such container: {name}")
        return {"Id": f"id-{name}", "Name": f"/{name}", **self.containers[name]}

    def _remove_container(self, name, v=False, force=False, link=False):
        name = self._by_id(name)
        if name in self.refuse or name not in self.containers:
            raise docker.errors.APIError(f"cannot remove {name}")
        del self.containers[name]

    def _by_id(self, ref: str) -> str:
        return next((n for n, c in self.containers.items() if c.get("Id") == ref), ref)

    def _create_container(self, image, name=None, **_):
        if image not in self.archives:
            raise docker.errors.ImageNotFound("404", explanation=f"No such image: {image}")
        self.containers[name] = {"Id": f"id-{name}", "Image": image, "State": {"Status": "created", "Pid": 0}}
        return {"Id": f"id-{name}", "Warnings": []}

    def _get_archive(self, container, path, chunk_size=None, encode_stream=False):
        image = self.containers[self._by_id(container)]["Image"]

        def chunks():
            for chunk in self.archives[image]:
                if isinstance(chunk, Exception):
                    raise chunk
                yield chunk
        return chunks(), {"name": path}

    def _images(self, name=None, quiet=False, all=False, filters=None):
        found = [i for i in self.images if self._matches(i, filters or {})]
        return [i["Id"] for i in found] if quiet else found

    @staticmethod
    def _matches(image: dict, filters: dict) -> bool:
        if filters.get("dangling") and (image.get("RepoTags") or image.get("RepoDigests")):
            return False
        for label in [filters["label"]] if "label" in filters else []:
            key, _, value = label.partition("=")
            have = image.get("Labels") or {}
            if key not in have or (value and have[key] != value):
                return False
        return True

    def _remove_image(self, image, force=False, noprune=False):
        if image in self.refuse:
            raise docker.errors.APIError(f"cannot remove {image}")
        for i in self.images:
            if i["Id"] == image:
                self.images.remove(i)
                return [{"Deleted": image}]
            if image in (i.get("RepoTags") or []):
                i["RepoTags"].remove(image)
                if not i["RepoTags"]:
                    self.images.remove(i)
                return [{"Untagged": image}]
        raise docker.errors.ImageNotFound(f"No such image: {image}")

    def _find_image(self, ref: str) -> dict:
        for i in self.images:
            if ref == i["Id"] or ref in (i.get("RepoTags") or []) or f"{ref}:latest" in (i.get("RepoTags") or []):
                return i
        raise docker.errors.ImageNotFound(f"No such image: {ref}")

    def _inspect_image(self, image):
        return self._find_image(image)

    def _get_image(self, image, chunk_size=None):
        yield from self._find_image(image).get("saved", [])

    def _prune_images(self, filters=None):
        gone = [i for i in self.images if self._matches(i, {"dangling": True}) and i["Id"] not in self.refuse]
        self.images = [i for i in self.images if i not in gone]
        return {"ImagesDeleted": [{"Deleted": i["Id"]} for i in gone]}


def plug(monkeypatch, tmp_path, engine: Engine) -> None:
    """Make labkit's docker_client hand out `engine`'s client, with a socket file where labkit looks."""
    from labkit import config
    from labkit import engine as lab_engine

    sock = tmp_path / "docker.sock"
    sock.touch()
    monkeypatch.setattr(config, "DOCKER_SOCK", sock)
    monkeypatch.setattr(lab_engine, "docker_client", lambda timeout=120: engine.client())
