"""The CRI for real: a pod on the lab containerd, as lesson 04 drives it, and nothing left after."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from labkit import config, cri_log
from labkit.check import check
from labkit.cri import CRI, LOG_ROOT, exec_request, pb, pod_config
from labkit.errors import LabError
from labkit.oci.spec import rootfs_from_image
from labkit.widgets.cri_view import anatomy
from tests.conftest import residue

pytestmark = pytest.mark.integration
LEASES = Path("/var/lib/cni/networks/labkit-pods")


@pytest.fixture
def cri(engine):
    with CRI() as client:
        yield client


@pytest.fixture
def pod(cri):
    """A running pod lab-04-itest with a web server and a client in it, removed afterwards."""
    cfg = pod_config("itest", lesson="04")
    pod_id = cri.run_pod(cfg)
    ids = {}
    try:
        ids["web"] = cri.create_container(pod_id, cfg, "web", "web")
        ids["client"] = cri.create_container(pod_id, cfg, "client", "busybox", ["sleep", "3600"])
        for cid in ids.values():
            cri.start(cid)
        yield pod_id, cfg, ids
    finally:
        if any(p.id == pod_id for p in cri.pods()):
            cri.remove_pod(pod_id)


def test_version_and_images(cri):
    v = cri.version()
    assert (v.runtime_name, v.runtime_api_version) == ("containerd", "v1")
    for name in ("busybox", "pause", "web"):
        assert cri.need_image(name).startswith("sha256:")


def test_a_missing_image_is_an_empty_reply_and_a_clear_error(cri):
    assert not cri.image_status("docker.io/labkit/nginx:latest").image.id
    with pytest.raises(LabError) as err:
        cri.need_image("nginx")
    assert "labkit images build" in err.value.fix
    assert not cri.image_status("docker.io/labkit/nginx:latest").image.id      # and nothing was pulled


def test_a_pod_gets_its_own_network_from_cni(cri, pod):
    pod_id, cfg, _ = pod
    status = cri.pod_status(pod_id).status
    assert status.state == pb.SANDBOX_READY and status.metadata.name == "lab-04-itest"
    ip = cri.pod_ip(pod_id)
    assert ip.startswith("10.214.0.") and ip != "10.214.0.1"
    assert (LEASES / ip).read_text().split()[0] == pod_id
    info = cri.pod_info(pod_id)
    assert Path(f"/proc/{info['pid']}/cmdline").read_bytes() == b"/pause\0"
    view = anatomy(cri, pod_id)
    assert Path(view.netns).exists()
    assert Path(f"/sys/class/net/{view.veth}/master").resolve().name == config.CNI_BRIDGE
    assert [p.role for p in view.procs] == ["pause", "web", "client"]
    assert {ns: view.verdict(ns) for ns in ("net", "ipc", "uts", "pid", "mnt")} == {
        "net": "pod", "ipc": "pod", "uts": "pod", "pid": "own", "mnt": "own"}
    assert all(p.parent == view.shim.pid for p in view.procs)     # one shim for the whole pod
    assert "containerd-shim-runc-v2" in view.shim.command and pod_id in view.shim.command


def test_the_pod_and_its_containers_carry_the_lesson_label(cri, pod):
    pod_id, cfg, ids = pod
    status = cri.pod_status(pod_id).status
    assert status.labels[config.LABEL] == "04" and status.metadata.uid == cfg.metadata.uid
    assert {cri.container_status(c).labels[config.LABEL] for c in ids.values()} == {"04"}


def test_containers_share_localhost_and_hostname(cri, pod):
    pod_id, cfg, ids = pod
    page = (config.IMAGES_DIR / "web" / "index.html").read_text()
    out = None
    for _ in range(50):              # httpd may still be starting
        out = cri.exec_sync(ids["client"], ["wget", "-qO-", "http://127.0.0.1/"])
        if out.exit_code == 0:
            break
    assert out.exit_code == 0 and out.stdout.decode() == page
    assert {cri.exec_sync(c, ["hostname"]).stdout.decode().strip() for c in ids.values()} == {"lab-04-itest"}
    with urllib.request.urlopen(f"http://{cri.pod_ip(pod_id)}/", timeout=5) as reply:
        assert reply.read().decode() == page


def test_exec_sync_reports_exit_codes_and_refuses_a_shell_line(cri, pod):
    _, _, ids = pod
    out = cri.exec_sync(ids["client"], ["ls", "/nope"])
    assert out.exit_code == 1 and b"No such file" in out.stderr
    with pytest.raises(LabError) as err:
        cri.call(cri.runtime, "ExecSync", pb.ExecSyncRequest(container_id=ids["client"], cmd=["cat /etc/hostname"], timeout=5))
    assert "cat /etc/hostname" in err.value.why


def test_log_file_in_the_cri_format_with_partial_lines(cri, pod):
    pod_id, cfg, _ = pod
    cid = cri.create_container(pod_id, cfg, "long", "busybox",
                               ["sh", "-c", "head -c 20000 /dev/zero | tr '\\0' y; echo; echo oops >&2"])
    cri.start(cid)
    status = cri.wait_exited(cid)
    assert (status.exit_code, status.reason) == (0, "Completed")
    assert status.log_path == str(Path(cfg.log_directory, "long", "0.log"))
    lines = cri_log.read(status.log_path)
    stdout = [ln for ln in lines if ln.stream == "stdout"]      # the two streams are copied apart
    assert [ln.tag for ln in stdout] == ["P", "F"]
    assert len(stdout[0].text) == 16384
    assert sorted(cri_log.messages(lines)) == [("stderr", "oops"), ("stdout", "y" * 20000)]


def test_stop_escalates_to_sigkill_for_a_pid_1_without_handler(cri, pod):
    _, _, ids = pod
    cri.stop_container(ids["client"], timeout=1)
    st = cri.container_status(ids["client"])
    assert st.state == pb.CONTAINER_EXITED and st.exit_code == 137


def test_checkers_accept_the_real_answers(cri, pod):
    pod_id, _, ids = pod
    assert check("04.1", cri.pod_ip(pod_id)).ok
    right = exec_request(ids["web"], ["cat", "/www/index.html"], timeout=5)
    assert check("04.2", right).ok
    wrong_container = exec_request(ids["client"], ["cat", "/www/index.html"], timeout=5)
    assert not check("04.2", wrong_container).ok
    wrong_file = exec_request(ids["web"], ["cat", "/etc/hostname"], timeout=5)
    assert "not the page" in check("04.2", wrong_file).message


def test_removing_the_pod_leaves_nothing(cri):
    from labkit import inventory

    before = inventory.snapshot()
    cfg = pod_config("itest-gone", lesson="04")
    pod_id = cri.run_pod(cfg)
    cid = cri.create_container(pod_id, cfg, "c", "busybox", ["sleep", "3600"])
    cri.start(cid)
    view = anatomy(cri, pod_id)
    ip = cri.pod_ip(pod_id)
    cri.stop_pod(pod_id)
    assert not Path(view.netns).exists() and not Path("/sys/class/net", view.veth).exists()
    assert not (LEASES / ip).exists()
    assert cri.pod_status(pod_id).status.state == pb.SANDBOX_NOTREADY
    cri.remove_pod(pod_id)
    assert pod_id not in {p.id for p in cri.pods()}
    assert not Path(cfg.log_directory).exists()
    # Only what this pod made: other tests (or engineers) may be busy on the same engine.
    ours = (pod_id, cid, "lab-04-itest-gone", Path(view.netns).name, view.veth)
    pids = tuple(f"{p.pid} " for p in [*view.procs, view.shim])
    left = {kind: {x for x in found if any(m in x for m in ours) or x.startswith(pids)}
            for kind, found in residue(before).items()}
    assert {k: v for k, v in left.items() if v} == {}


def test_a_node_network_pod_must_not_set_a_hostname(cri):
    node = subprocess.run(["hostname"], capture_output=True, text=True).stdout
    wrong = pod_config("itest-hostnet", lesson="04", host_network=True)
    wrong.hostname = "lab-04-itest-hostnet"
    with pytest.raises(LabError) as err:
        cri.run_pod(wrong)
    assert "unable to set hostname without a private UTS namespace" in err.value.why
    assert not Path(wrong.log_directory).exists()                     # nothing half-made
    assert "lab-04-itest-hostnet" not in {p.metadata.name for p in cri.pods()}
    pod_id = cri.run_pod(pod_config("itest-hostnet", lesson="04", host_network=True))
    try:
        assert cri.pod_ip(pod_id) == ""
    finally:
        cri.remove_pod(pod_id)
    assert subprocess.run(["hostname"], capture_output=True, text=True).stdout == node


@pytest.mark.skipif(shutil.which("conmon") is None, reason="conmon is not installed (Debian package conmon)")
def test_conmon_writes_the_same_log_format(engine, tmp_path):
    bundle = config.SCRATCH / "lab-04-itest-conmon"
    shutil.rmtree(bundle, ignore_errors=True)
    try:
        rootfs_from_image("labkit/busybox", bundle / "rootfs", lesson="04")
        subprocess.run(["runc", "spec", "--bundle", str(bundle)], check=True)
        import json

        cfg = json.loads((bundle / "config.json").read_text())
        cfg["process"].update(terminal=False, args=["sh", "-c", "echo out; echo err >&2"])
        (bundle / "config.json").write_text(json.dumps(cfg))
        (bundle / "exits").mkdir()
        cid = "lab-04-itest-conmon"
        runc = ["runc", "--root", str(config.RUNC_ROOT)]
        subprocess.run(["conmon", "--cid", cid, "--cuuid", cid, "--name", cid, "--runtime", shutil.which("runc"),
                        "--runtime-arg", "--root", "--runtime-arg", str(config.RUNC_ROOT), "--bundle", str(bundle),
                        "--log-path", f"k8s-file:{bundle}/ctr.log", "--exit-dir", str(bundle / "exits"),
                        "--socket-dir-path", str(bundle), "--container-pidfile", str(bundle / "pid"),
                        "--conmon-pidfile", str(bundle / "conmon.pid")], check=True, timeout=30)
        _wait(lambda: (bundle / "pid").exists() and (bundle / "pid").read_text())
        subprocess.run([*runc, "start", cid], check=True)
        _wait(lambda: (bundle / "exits" / cid).exists())
        assert (bundle / "exits" / cid).read_text() == "0"
        assert sorted((ln.stream, ln.tag, ln.text) for ln in cri_log.read(bundle / "ctr.log")) == [
            ("stderr", "F", "err"), ("stdout", "F", "out")]
    finally:
        subprocess.run(["runc", "--root", str(config.RUNC_ROOT), "delete", "--force", "lab-04-itest-conmon"],
                       capture_output=True)
        shutil.rmtree(bundle, ignore_errors=True)


def _wait(ready, tries: int = 200) -> None:
    import time

    for _ in range(tries):
        if ready():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_pods_are_named_for_the_lesson_so_clean_finds_them(cri):
    from labkit import cleanup

    pod_id = cri.run_pod(pod_config("itest-clean", lesson="04"))
    assert pod_id in {p.id for p in cri.pods()}
    assert "lab-04-itest-clean" in cleanup.clean("04")["pods"]
    assert pod_id not in {p.id for p in cri.pods()}
    assert not (LOG_ROOT / "lab-04-itest-clean").exists()


CHILD_THREADS = """
import os, sys, time
from labkit.cri import CRI
with CRI() as cri:
    cri.version()                       # gRPC's core is up, with its poller threads
    pid = os.fork()
    if pid == 0:
        time.sleep(0.3)                 # time for any restarted poller to appear
        os.write(1, str(len(os.listdir("/proc/self/task"))).encode())
        os._exit(0)
    os.waitpid(pid, 0)
"""


def test_a_forked_child_carries_no_grpc_threads(engine):
    # With gRPC's fork handling on, the child restarts its pollers, and a child that closes its
    # fds before exec (IPython's `!cmd`) prints epoll errors into the cell (grpc/grpc#43055).
    env = {k: v for k, v in os.environ.items() if k != "GRPC_ENABLE_FORK_SUPPORT"}
    out = subprocess.run([sys.executable, "-c", CHILD_THREADS], capture_output=True, text=True,
                         timeout=60, env=env, cwd=Path(__file__).parents[2])
    assert out.returncode == 0, out.stderr
    assert out.stdout == "1", f"the forked child ran {out.stdout} threads; stderr: {out.stderr}"
