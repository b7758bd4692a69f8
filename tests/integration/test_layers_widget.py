"""The layer-stack diagram drawn from a real image in the lab dockerd and its copy in the registry."""
from __future__ import annotations

import pytest

from labkit import config
from labkit.errors import LabError
from labkit.oci import registry
from labkit.widgets.layers import layers

pytestmark = pytest.mark.integration


def test_the_diagram_shows_webs_real_layers_and_blobs(engine):
    import docker

    image = docker.DockerClient(base_url=config.DOCKER_HOST).images.get("labkit/web")
    src = layers("labkit/web", base="labkit/busybox", pushed_as="labkit/web:latest").source
    diff_ids = image.attrs["RootFS"]["Layers"]
    for i, diff_id in enumerate(diff_ids):
        assert f"layer {i + 1}:" in src and diff_id[:19] in src
    for layer in registry.manifest("labkit/web", "latest").json()["layers"]:
        assert f"blob {layer['digest'][:19]}" in src
    assert "COPY file:" in src and "/www/index.html" in src and "EXPOSE 80" in src
    own = src.split("subgraph cluster_base")[1].split("}", 1)[1]
    assert diff_ids[-1][:19] in own and diff_ids[0][:19] not in own     # only index.html is web's own
    assert "<svg" in layers("labkit/busybox").pipe("svg").decode()


def test_an_unknown_image_is_one_sentence(engine):
    with pytest.raises(LabError, match="no image 'lab-02-nothing'"):
        layers("lab-02-nothing")
