"""Image recipes: digests follow their inputs; unknown names get one sentence."""
import shutil

import pytest

from labkit import config, images
from labkit.errors import LabError


@pytest.fixture
def images_dir(tmp_path, monkeypatch):
    shutil.copytree(config.IMAGES_DIR, tmp_path / "images")
    monkeypatch.setattr(config, "IMAGES_DIR", tmp_path / "images")
    return tmp_path / "images"


def test_digest_is_stable_and_follows_the_context(images_dir):
    web = images.recipe("web")
    first = images.context_digest(web)
    assert images.context_digest(web) == first
    (images_dir / "web" / "index.html").write_text("changed")
    assert images.context_digest(web) != first


def test_a_child_is_rebuilt_when_its_parent_changes(images_dir):
    web = images.recipe("web")
    before = images.context_digest(web)
    (images_dir / "busybox" / "passwd").write_text("root:x:0:0::/:/bin/sh\n")
    assert images.context_digest(web) != before


def test_parents_come_first():
    order = images.names()
    assert order.index("busybox") < order.index("web")
    assert images.recipe("web").parent == "busybox"
    assert images.recipe("labkit/web:latest").name == "web"


def test_unknown_image_names_the_real_ones():
    with pytest.raises(LabError) as err:
        images.recipe("nginx")
    assert "no lab image named 'nginx'" in str(err.value)
    assert "busybox, pause, web" in str(err.value)
