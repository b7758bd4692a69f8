"""labkit.oci.spec and labkit.oci.runtime against the real runc and crun, Docker's own bundle,
the lifecycle diagram drawn from `runc state`, and lesson 06's checkers judged by runc."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from labkit import cgroups, config, inventory
from labkit.check import check
from labkit.errors import LabError
from labkit.oci import spec
from labkit.oci.runtime import Runtime
from labkit.widgets.lifecycle import lifecycle
from tests.conftest import residue

pytestmark = pytest.mark.integration

SCRATCH = config.SCRATCH / "lab-06-test"
DOCKER = ["docker", "-H", config.DOCKER_HOST]


def lab06(snapshot: dict[str, set[str]]) -> dict[str, set[str]]:
    # Others work on this machine too: judge only what carries this test's names.
    return {k: {x for x in v if "lab-06-t" in x} for k, v in snapshot.items() if any("lab-06-t" in x for x in v)}


@pytest.fixture(scope="module")
def rootfs(engine):
    shutil.rmtree(SCRATCH, ignore_errors=True)
    before = inventory.snapshot()
    path = spec.rootfs_from_image("labkit/busybox", SCRATCH / "rootfs", lesson="06")
    yield path
    runc = Runtime("runc")
    for c in runc.list():
        if c["id"].startswith("lab-06-t"):
            runc.delete(c["id"], force=True)
    shutil.rmtree(SCRATCH, ignore_errors=True)
    assert lab06(residue(before)) == {}


@pytest.fixture
def bundle(rootfs, request):
    path = SCRATCH / request.node.name[:40]
    path.mkdir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


def cfg_for(args, cid, **kw):
    cfg = spec.config(args, hostname=cid, cgroups_path=f"/{cid}", **kw)
    cfg["root"]["path"] = str(SCRATCH / "rootfs")
    return cfg


def test_rootfs_from_image_unpacks_the_lab_image_and_leaves_no_container(rootfs):
    assert (rootfs / "bin" / "busybox").is_file() and (rootfs / "bin" / "sh").is_symlink()
    assert not (rootfs / ".dockerenv").exists()
    names = subprocess.run([*DOCKER, "ps", "-a", "--format", "{{.Names}}"], capture_output=True, text=True).stdout
    assert "rootfs-" not in names


def test_rootfs_from_a_missing_image_makes_nothing(rootfs):
    dest = SCRATCH / "never"
    with pytest.raises(LabError, match="Cannot make a container of labkit/no-such-image"):
        spec.rootfs_from_image("labkit/no-such-image", dest)
    assert not dest.exists()


def test_the_lifecycle_verb_by_verb(bundle):
    runc, cid = Runtime("runc"), "lab-06-t-life"
    spec.write_bundle(bundle, cfg_for(["sleep", "600"], cid))
    state = runc.create(cid, bundle)
    assert state["status"] == "created" and state["bundle"] == str(bundle)
    assert Path(f"/proc/{state['pid']}/cmdline").read_bytes().startswith(b"runc")
    assert "status created" in lifecycle(cid, runc).source
    assert any(Path("/sys/fs/cgroup").glob(f"*/{cid}")) or Path(f"/sys/fs/cgroup/{cid}").exists()
    runc.start(cid)
    assert runc.wait_exec(cid)
    assert Path(f"/proc/{state['pid']}/cmdline").read_bytes() == b"sleep\x00600\x00"     # same pid, new program
    assert runc.exec(cid, "hostname").strip() == cid
    assert runc.ps(cid) == [state["pid"]]
    runc.kill(cid, "KILL")
    assert runc.wait(cid, "stopped")["status"] == "stopped"
    assert "status stopped" in lifecycle(cid, runc).source
    runc.delete(cid)
    assert runc.state(cid) is None and "no such container" in lifecycle(cid, runc).source
    assert not list(Path("/sys/fs/cgroup").glob(f"**/{cid}"))


def test_runtime_errors_carry_runc_s_words(bundle):
    runc = Runtime("runc")
    with pytest.raises(LabError, match="does not exist"):
        runc.start("lab-06-t-never")
    cfg = cfg_for(["/no/such/program"], "lab-06-t-bad")
    (bundle / "config.json").write_text(json.dumps(cfg))      # past validate(): let runc itself refuse
    with pytest.raises(LabError) as err:
        runc.create("lab-06-t-bad", bundle)
    assert "`runc create` failed" in str(err.value) and "no such file" in err.value.why.lower()
    assert runc.state("lab-06-t-bad") is None


def test_hooks_run_at_their_step(bundle):
    runc, cid = Runtime("runc"), "lab-06-t-hooks"
    log = bundle / "hooks.log"
    hook = lambda name: spec.hook("/bin/sh", ["sh", "-c", f'echo "{name} $(cat)" >> {log}'], lesson="06")
    spec.write_bundle(bundle, cfg_for(["sleep", "600"], cid, hooks={"createRuntime": [hook("createRuntime")],
                                                                     "poststop": [hook("poststop")]}))
    runc.create(cid, bundle)
    lines = log.read_text().splitlines()
    assert [ln.split()[0] for ln in lines] == ["createRuntime"]
    told = json.loads(lines[0].split(" ", 1)[1])          # the state JSON the hook got on stdin
    assert told["id"] == cid and told["status"] == "creating" and told["bundle"] == str(bundle)
    runc.delete(cid, force=True)
    assert [ln.split()[0] for ln in log.read_text().splitlines()] == ["createRuntime", "poststop"]


def test_dockers_bundle_is_under_containerd_state_and_runc_knows_it(engine):
    name = "lab-06-t-web"
    subprocess.run([*DOCKER, "rm", "--force", name], capture_output=True)
    subprocess.run([*DOCKER, "run", "-d", "--pull", "never", "--name", name, "labkit/web"], check=True, capture_output=True)
    try:
        cid = subprocess.run([*DOCKER, "inspect", "--format", "{{.Id}}", name], capture_output=True, text=True).stdout.strip()
        task = config.RUN / "containerd" / "io.containerd.runtime.v2.task" / "moby" / cid
        cfg = spec.load(task)
        assert cfg["process"]["args"][0] == "httpd" and cfg["hostname"] == cid[:12]
        assert cfg["linux"]["cgroupsPath"] == f"/{config.CGROUP_PARENT}/{cid}"
        state = Runtime("runc", root=config.RUN / "docker" / "runtime-runc" / "moby").state(cid)
        assert state["status"] == "running" and state["bundle"] == str(task)
    finally:
        subprocess.run([*DOCKER, "rm", "--force", name], capture_output=True)


def in_v2_namespace(crun: Runtime) -> Runtime:
    crun.wrap = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                 'mount -t cgroup2 cgroup2 /sys/fs/cgroup && exec "$@"', "crun-sees-v2"]
    return crun


def test_crun_runs_the_same_bundle_where_the_cgroup_mode_allows(bundle):
    crun, cid = Runtime("crun"), "lab-06-t-crun"
    spec.write_bundle(bundle, cfg_for(["sleep", "600"], cid))
    unified = Path("/sys/fs/cgroup/unified/cgroup.controllers")
    if cgroups.mode() == "hybrid" and unified.exists() and unified.read_text().split():
        with pytest.raises(LabError, match="hybrid mode not supported"):
            crun.create(cid, bundle)
        assert crun.state(cid) is None
        in_v2_namespace(crun)
    try:
        crun.create(cid, bundle)
        crun.start(cid)
        assert crun.wait_exec(cid)
        assert crun.state(cid)["status"] == "running"
        assert crun.exec(cid, "hostname").strip() == cid
    finally:
        crun.delete(cid, force=True)
    assert crun.state(cid) is None
    assert not list(Path("/sys/fs/cgroup").glob(f"**/{cid}"))


def test_06_1_accepts_only_stopped(bundle):
    runc, cid = Runtime("runc"), "lab-06-t-ex1"
    spec.write_bundle(bundle, cfg_for(["sleep", "600"], cid))
    runc.create(cid, bundle)
    try:
        assert "created" in check("06.1", cid).message
        runc.start(cid)
        assert "running" in check("06.1", cid).message
        runc.kill(cid, "KILL")
        runc.wait(cid, "stopped")
        assert check("06.1", cid).ok
    finally:
        runc.delete(cid, force=True)
    assert "Did you delete it" in check("06.1", cid).message


def test_06_2_lets_runc_judge_the_read_only_root(bundle):
    tmpfs = {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev"]}
    cases = [
        (cfg_for(["sh"], "lab-06-t-ro", mounts=[tmpfs]), "root.readonly is False"),
        (cfg_for(["sh"], "lab-06-t-ro", readonly=True), "Nothing writable is mounted at /tmp"),
        (cfg_for(["sh"], "lab-06-t-ro", readonly=True, mounts=[{**tmpfs, "options": ["ro"]}]), "'ro'"),
        # looks right on paper, but a tmpfs with one inode takes no file: only running it shows that
        (cfg_for(["sh"], "lab-06-t-ro", readonly=True, mounts=[{**tmpfs, "options": ["nr_inodes=1"]}]),
         "tmp=readonly"),
    ]
    for cfg, words in cases:
        spec.write_bundle(bundle, cfg)
        result = check("06.2", bundle)
        assert not result.ok and words in result.message, result.message
    spec.write_bundle(bundle, cfg_for(["sh"], "lab-06-t-ro", readonly=True, mounts=[tmpfs]))
    assert check("06.2", str(bundle)).ok
    assert not (SCRATCH / "rootfs" / "lab-06-probe").exists()
    assert Runtime("runc").state("lab-06-check-ro") is None
    assert not (config.SCRATCH / "lab-06-check-ro").exists()


def test_06_1_notices_a_container_under_runc_s_default_root(bundle):
    elsewhere, cid = Runtime("runc", root="/run/runc"), "lab-06-t-elsewhere"
    spec.write_bundle(bundle, cfg_for(["sleep", "600"], cid))
    elsewhere.create(cid, bundle)
    try:
        result = check("06.1", cid)
        assert not result.ok and "default --root /run/runc" in result.message
    finally:
        elsewhere.delete(cid, force=True)
    assert elsewhere.state(cid) is None
