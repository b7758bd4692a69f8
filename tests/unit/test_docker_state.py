"""labkit reads and changes the lab dockerd's state through the SDK only: inventories, `labkit clean`'s
docker part and the checkers' container pid, against an in-memory dockerd (tests/unit/fake_docker.py)."""
from __future__ import annotations

import pytest

from labkit import cleanup, config, engine, inventory
from labkit.errors import LabError
from tests.unit.fake_docker import Engine, plug


def running(pid: int = 4242) -> dict:
    return {"State": {"Status": "running", "Pid": pid}}


EXITED = {"State": {"Status": "exited", "Pid": 0}}


def image(id_: str, tags: list[str] | None = None, digests: list[str] | None = None, labels: dict | None = None) -> dict:
    return {"Id": id_, "RepoTags": tags, "RepoDigests": digests, "Labels": labels}


@pytest.fixture
def dockerd(monkeypatch, tmp_path) -> Engine:
    e = Engine()
    plug(monkeypatch, tmp_path, e)
    return e


# --- engine.container_pid --------------------------------------------------------------------

def test_container_pid_is_the_running_containers_host_pid(dockerd):
    dockerd.containers = {"lab-08-limits": running(1234), "lab-08-gone": EXITED}
    assert engine.container_pid("lab-08-limits") == 1234
    assert engine.container_pid("lab-08-gone") is None          # dockerd says 0 when not running
    assert engine.container_pid("lab-08-never") is None         # NotFound


def test_container_pid_is_none_when_the_engine_does_not_answer(dockerd, monkeypatch):
    dockerd.containers = {"lab-08-limits": running()}
    dockerd.down = True
    assert engine.container_pid("lab-08-limits") is None

    def no_socket(timeout=120):
        raise LabError("The lab dockerd is not running")

    monkeypatch.setattr(engine, "docker_client", no_socket)
    assert engine.container_pid("lab-08-limits") is None


# --- inventory -------------------------------------------------------------------------------

def test_containers_lists_every_name_running_or_not(dockerd):
    dockerd.containers = {"lab-01-web": running(), "lab-01-raw": EXITED}
    assert inventory.containers() == {"lab-01-web", "lab-01-raw"}


def test_container_name_is_its_own_not_a_links_alias():
    assert inventory.container_name({"Names": ["/other/web", "/web"]}) == "web"
    assert inventory.container_name({"Names": ["/web"]}) == "web"
    assert inventory.container_name({"Names": []}) is None


def test_inventories_are_empty_when_the_engine_is_down(dockerd, monkeypatch):
    dockerd.containers = {"lab-01-web": running()}
    dockerd.images = [image("sha256:a", ["labkit/web:latest"])]
    dockerd.down = True
    assert inventory.containers() == set() and inventory.images() == set()
    dockerd.down, dockerd.calls = False, []
    config.DOCKER_SOCK.unlink()              # no socket: not even a client is made
    assert inventory.containers() == set() and inventory.images() == set()
    assert not dockerd.calls


def test_from_docker_turns_every_failure_into_the_fallback(monkeypatch):
    def no_socket(timeout=120):
        raise LabError("The lab dockerd is not running")

    monkeypatch.setattr(engine, "docker_client", no_socket)
    assert inventory.from_docker(lambda client: {"never"}, set()) == set()


def test_images_prints_rows_as_docker_images_does(dockerd):
    dockerd.images = [
        image("sha256:a", ["labkit/web:latest", "127.0.0.1:5000/labkit/web:1"], ["127.0.0.1:5000/labkit/web@sha256:d"]),
        image("sha256:b", [], []),                                  # untagged (API >= 1.44)
        image("sha256:c", ["<none>:<none>"], ["<none>@<none>"]),    # untagged (older API)
        image("sha256:e", None, ["lab-02-pulled@sha256:f"]),        # known by digest only
    ]
    assert inventory.images() == {
        "sha256:a labkit/web:latest", "sha256:a 127.0.0.1:5000/labkit/web:1",
        "sha256:b <none>:<none>", "sha256:c <none>:<none>", "sha256:e lab-02-pulled:<none>",
    }
    assert dockerd.calls[0][2]["all"] is True       # intermediate images included, as `-a`


# --- labkit clean: containers and images -----------------------------------------------------

def test_clean_removes_a_lessons_containers_with_their_volumes(dockerd):
    dockerd.containers = {"lab-01-web": running(), "lab-01-raw": EXITED, "lab-02-x": running()}
    assert cleanup._docker_containers("lab-01-", everything=False) == ["lab-01-raw", "lab-01-web"]
    assert set(dockerd.containers) == {"lab-02-x"}
    removals = [c for c in dockerd.calls if c[0] == "remove_container"]
    assert all(c[2] == {"v": True, "force": True} for c in removals)


def test_clean_reports_only_the_containers_really_gone(dockerd):
    dockerd.containers = {"lab-01-web": running(), "lab-01-stuck": running(), "lab-01-raw": EXITED}
    dockerd.refuse = {"lab-01-stuck"}        # dockerd says no to one: the others still go
    assert cleanup._docker_containers("lab-01-", everything=True) == ["lab-01-raw", "lab-01-web"]
    assert set(dockerd.containers) == {"lab-01-stuck"}


def test_clean_with_the_engine_down_removes_and_reports_nothing(dockerd):
    dockerd.containers = {"lab-01-web": running()}
    dockerd.down = True
    assert cleanup._docker_containers("lab-", everything=True) == []
    assert cleanup._docker_images("lab-", None) == []


def test_clean_removes_a_lessons_labelled_and_named_images(dockerd):
    dockerd.images = [
        image("sha256:l93", ["built:1"], labels={config.LABEL: "93"}),
        image("sha256:l94", ["other:1"], labels={config.LABEL: "94"}),
        image("sha256:n93", ["lab-93-img:1", f"{config.REGISTRY}/lab-93-img:1"]),
        image("sha256:web", ["labkit/web:latest"]),
    ]
    gone = cleanup._docker_images("lab-93-", "93")
    assert gone == sorted(["sha256:l93", "lab-93-img:1", f"{config.REGISTRY}/lab-93-img:1"])
    assert {i["Id"] for i in dockerd.images} == {"sha256:l94", "sha256:web"}
    assert all(c[2] == {"force": True} for c in dockerd.calls if c[0] == "remove_image")


def test_clean_of_every_lesson_takes_every_labelled_image_and_the_dangling_ones(dockerd):
    dockerd.images = [
        image("sha256:l93", ["built:1"], labels={config.LABEL: "93"}),
        image("sha256:step", [], []),                  # a killed build's step
        image("sha256:held", [], []),                  # dockerd keeps it (a container uses it)
        image("sha256:web", ["labkit/web:latest"]),
    ]
    dockerd.refuse = {"sha256:held"}
    assert cleanup._docker_images("lab-", None) == ["sha256:l93", "sha256:step"]
    assert {i["Id"] for i in dockerd.images} == {"sha256:held", "sha256:web"}
    prune = [c for c in dockerd.calls if c[0] == "prune_images"]
    assert prune and prune[0][2] == {"filters": {"dangling": True}}


def test_no_dangling_image_no_prune(dockerd):
    dockerd.images = [image("sha256:web", ["labkit/web:latest"])]
    assert cleanup._dangling_images() == []
    assert not [c for c in dockerd.calls if c[0] == "prune_images"]


# --- checkers that need a lab container's pid ------------------------------------------------

def test_the_pids_file_checker_says_start_the_container_when_dockerd_has_none(dockerd):
    from labkit.exercises import cgroups as ex

    result = ex.container_pids_file("/sys/fs/cgroup/pids.max")
    assert not result and "is not running" in result.message
    dockerd.down = True
    assert "is not running" in ex.container_pids_file("/sys/fs/cgroup/pids.max").message


def test_lesson_03_finds_dockers_container_only_while_it_runs(dockerd):
    from labkit.exercises import containerd as ex

    dockerd.containers = {ex.DOCKER_CONTAINER: running()}
    assert ex._docker_id() == f"id-{ex.DOCKER_CONTAINER}"
    dockerd.containers = {ex.DOCKER_CONTAINER: EXITED}
    assert ex._docker_id() is None
    dockerd.down = True
    assert ex._docker_id() is None


# --- oci.spec.rootfs_from_image: create, copy "/." out, remove --------------------------------------

def tar_of(files: dict[str, bytes]) -> bytes:
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_rootfs_from_image_unpacks_the_copy_and_removes_its_container(dockerd, tmp_path):
    from labkit.oci import spec

    whole = tar_of({"./bin/busybox": b"\x7fELF", "./.dockerenv": b"", "./etc/hostname": b"x\n"})
    dockerd.archives = {"labkit/busybox": [whole[:700], whole[700:]]}
    dest = spec.rootfs_from_image("labkit/busybox", tmp_path / "rootfs", lesson="06")
    assert (dest / "bin" / "busybox").read_bytes() == b"\x7fELF"
    assert not (dest / ".dockerenv").exists()
    made = next(c for c in dockerd.calls if c[0] == "create_container")
    assert made[2]["name"].startswith(config.lab_prefix("06") + "rootfs-")
    assert dockerd.containers == {}                                     # removed again


def test_rootfs_from_a_missing_image_says_so_and_makes_nothing(dockerd, tmp_path):
    from labkit.oci import spec

    with pytest.raises(LabError, match="Cannot make a container of labkit/nope: No such image: labkit/nope"):
        spec.rootfs_from_image("labkit/nope", tmp_path / "rootfs")
    assert not (tmp_path / "rootfs").exists()
    dockerd.archives, dockerd.down = {"labkit/busybox": [b""]}, True
    with pytest.raises(LabError, match="Cannot make a container of labkit/busybox"):
        spec.rootfs_from_image("labkit/busybox", tmp_path / "rootfs")


def test_a_failed_copy_leaves_no_rootfs_and_no_container(dockerd, tmp_path):
    import docker

    from labkit.oci import spec

    whole = tar_of({"bin/busybox": b"\x7fELF" * 1000})
    dockerd.archives = {"labkit/busybox": [whole[:1024], docker.errors.APIError("500", explanation="copy broke")]}
    with pytest.raises(LabError, match="Copying the files of labkit/busybox into .* failed: copy broke"):
        spec.rootfs_from_image("labkit/busybox", tmp_path / "rootfs")
    assert not (tmp_path / "rootfs").exists() and dockerd.containers == {}

    kept = tmp_path / "kept"
    kept.mkdir()
    dockerd.archives = {"labkit/busybox": [b"not a tar" * 100]}          # tar itself fails
    with pytest.raises(LabError, match="Copying the files of labkit/busybox"):
        spec.rootfs_from_image("labkit/busybox", kept)
    assert kept.is_dir() and not any(kept.iterdir()) and dockerd.containers == {}


def test_lesson_02_saves_the_image_it_checks_against(dockerd, tmp_path):
    import docker

    from labkit.exercises import images as ex

    dockerd.images = [{**image("sha256:web", ["labkit/web:latest"]), "saved": [b"tar ", b"bytes"]}]
    assert ex._save("labkit/web", tmp_path / "web.tar") == "sha256:web"
    assert (tmp_path / "web.tar").read_bytes() == b"tar bytes"
    with pytest.raises(docker.errors.ImageNotFound):
        ex._save("labkit/none", tmp_path / "none.tar")
    assert not (tmp_path / "none.tar").exists()       # nothing written before the image is found
