"""labrun for real: bundles created and started under it and under runc side by side, the errors a
caller meets, both escapes tried and failing, its device filter on cgroup v2, and Docker driving it.
Nothing is left behind: state, cgroups, processes."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from labkit import cgroups, config
from labkit.oci import probe
from labkit.oci.spec import rootfs_from_image
from labkit.runtime import devices
from tests.conftest import residue
from labkit import inventory

pytestmark = pytest.mark.integration


def labrun(*args: str, root: Path | None = None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(config.LABRUN), "--root", str(root or config.LABRUN_ROOT), *args],
                          capture_output=True, text=True, timeout=60, **kw)


@pytest.fixture(scope="module")
def image_root(engine):
    """An unpacked labkit/busybox, shared read-only by the bundles (each gets its own copy)."""
    path = config.SCRATCH / "lab-12-itest-image"
    shutil.rmtree(path, ignore_errors=True)
    rootfs_from_image("labkit/busybox", path, lesson="12")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def bundle(image_root, request):
    """A fresh bundle: `runc spec`, the probe as its program, limits, and a read-only root."""
    name = f"lab-12-itest-{request.node.name.split('[')[0][5:40].replace('_', '-')}"
    path = config.SCRATCH / name
    shutil.rmtree(path, ignore_errors=True)
    shutil.copytree(image_root, path / "rootfs", symlinks=True)
    subprocess.run(["runc", "spec", "--bundle", str(path)], check=True)
    spec = json.loads((path / "config.json").read_text())
    spec["process"].update(terminal=False, args=["sh", "-c", probe.SCRIPT], env=["PATH=/bin", f"{config.OWNER_ENV}=12"])
    spec["root"]["readonly"] = True
    spec["hostname"] = "lab-12-box"
    spec["linux"]["resources"] = {"memory": {"limit": 64 << 20}, "pids": {"limit": 32},
                                  "devices": [{"allow": False, "access": "rwm"}]}
    (path / "config.json").write_text(json.dumps(spec))
    before = inventory.snapshot()
    yield path, spec
    for runtime in (str(config.LABRUN), "runc"):
        subprocess.run([runtime, "--root", str(config.LABRUN_ROOT if runtime != "runc" else config.RUNC_ROOT),
                        "delete", "--force", name], capture_output=True)
    shutil.rmtree(path, ignore_errors=True)
    assert residue(before) == {}


def write(path: Path, spec: dict, cid: str) -> None:
    spec["linux"]["cgroupsPath"] = f"/{cid}"
    (path / "config.json").write_text(json.dumps(spec))


def create(path: Path, cid: str, *extra: str, pass_fds: tuple[int, ...] = ()) -> tuple[int, str]:
    """`labrun create`, its stdio on files, as a shim gives it (the container's init keeps them):
    the exit status and what it wrote to stderr."""
    with open(path / "out.txt", "w") as out, open(path / "err.txt", "w") as err:
        made = subprocess.run([str(config.LABRUN), "--root", str(config.LABRUN_ROOT), "create", "--bundle", str(path),
                               *extra, cid], stdin=subprocess.DEVNULL, stdout=out, stderr=err, timeout=60,
                              pass_fds=pass_fds)
    return made.returncode, (path / "err.txt").read_text()


def run_labrun(path: Path, cid: str) -> str:
    """create, start, wait until stopped, delete: the container's output."""
    code, err = create(path, cid)
    assert code == 0, err
    assert labrun("start", cid).returncode == 0
    wait_status(cid, "stopped")
    assert labrun("delete", cid).returncode == 0
    return (path / "out.txt").read_text()


def wait_status(cid: str, want: str, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        state = json.loads(labrun("state", cid).stdout)
        if state["status"] == want or time.monotonic() > deadline:
            assert state["status"] == want, state
            return state
        time.sleep(0.05)


def test_create_leaves_init_waiting_and_start_runs_the_program(bundle):
    path, spec = bundle
    cid = path.name
    spec["process"]["args"] = ["sh", "-c", "echo started"]
    write(path, spec, cid)
    out = path / "out.txt"
    pid_file = path / "pid"
    code, err = create(path, cid, "--pid-file", str(pid_file))
    assert code == 0, err
    state = wait_status(cid, "created")
    assert pid_file.read_text() == str(state["pid"])            # digits only, no newline: what the shim parses
    assert (config.LABRUN_ROOT / cid / "exec.fifo").exists()
    assert Path(f"/proc/{state['pid']}/comm").read_text() != "sh\n"     # not yet the program
    assert out.read_text() == ""
    assert labrun("start", cid).returncode == 0
    wait_status(cid, "stopped")
    assert out.read_text() == "started\n"
    assert "only a created one can start" in labrun("start", cid).stderr
    assert labrun("delete", cid).returncode == 0
    assert not (config.LABRUN_ROOT / cid).exists()
    assert not any(Path(p, cid).exists() for p, _t, _c in cgroups.mounts())


def test_the_same_bundle_under_runc_and_labrun(bundle):
    path, spec = bundle
    write(path, spec, path.name)
    ours = probe.facts(run_labrun(path, path.name))
    theirs = probe.facts(subprocess.run(["runc", "--root", str(config.RUNC_ROOT), "run", "--bundle", str(path), path.name],
                                        capture_output=True, text=True, timeout=60).stdout)
    assert theirs["hostname"] == "lab-12-box" and "CapEff" in theirs and "mounts" in theirs
    assert probe.differences(ours, theirs) == {}


def test_an_unsupported_field_is_refused_and_nothing_is_left(bundle):
    path, spec = bundle
    spec["linux"]["intelRdt"] = {"closID": "lab"}
    write(path, spec, path.name)
    assert create(path, path.name) == (1, "labrun: unsupported field linux.intelRdt in config.json; remove "
                                          "it, or run this bundle with runc\n")
    assert not (config.LABRUN_ROOT / path.name).exists()


def test_each_bad_call_is_one_error_line_in_the_shims_log_format(bundle):
    """What containerd's shim reads back (--log FILE --log-format json, the last "error" line): a
    malformed config.json, an unknown id, a second create with the same id. The fixture checks that
    nothing is left: no process, mount or cgroup."""
    path, spec = bundle
    cid = sleeper(bundle, start=False)
    log = path / "log.json"

    def last_error(*args: str, **kw) -> str:
        done = labrun("--log", str(log), "--log-format", "json", *args, **kw)
        lines = [json.loads(line) for line in log.read_text().splitlines()]
        assert done.returncode == 1 and lines[-1]["level"] == "error", (done, lines)
        return lines[-1]["msg"]

    assert last_error("create", "--bundle", str(path), cid) == f"container with id {cid} exists already"
    assert last_error("start", "lab-12-nosuch") == "container lab-12-nosuch does not exist"
    (path / "config.json").write_text("{ not json")
    assert last_error("create", "--bundle", str(path), "lab-12-itest-other").startswith(f"cannot read {path}/config.json")
    assert len(log.read_text().splitlines()) == 3                  # one line each, no traceback
    assert "lab-12-itest-other" not in labrun("list", "-q").stdout.split()
    assert json.loads(labrun("state", cid).stdout)["status"] == "created"      # the first is untouched
    assert labrun("delete", "--force", cid).returncode == 0


def test_a_missing_program_fails_create_and_leaves_nothing(bundle):
    path, spec = bundle
    spec["process"]["args"] = ["no-such-program"]
    write(path, spec, path.name)
    code, err = create(path, path.name)
    assert code == 1 and 'exec: "no-such-program": executable file not found in $PATH' in err
    assert not (config.LABRUN_ROOT / path.name).exists()
    assert not any(Path(p, path.name).exists() for p, _t, _c in cgroups.mounts())


def sleeper(bundle, start: bool = True) -> str:
    """Container `sleep 600` from the bundle, created (and started); its id."""
    path, spec = bundle
    spec["process"]["args"] = ["sleep", "600"]
    write(path, spec, path.name)
    assert create(path, path.name) == (0, "")
    if start:
        assert labrun("start", path.name).returncode == 0
    return path.name


def test_kill_takes_names_and_numbers_and_says_not_running(bundle):
    cid = sleeper(bundle)
    assert labrun("kill", cid, "NOSUCH").stderr.startswith("labrun: unknown signal 'NOSUCH'")
    assert labrun("kill", "--all", cid, "9").returncode == 0
    wait_status(cid, "stopped")
    assert "container not running" in labrun("kill", cid, "SIGTERM").stderr
    assert labrun("delete", cid).returncode == 0
    assert "does not exist" in labrun("state", cid).stderr


def test_no_host_fd_reaches_the_program(bundle):
    """The CVE-2024-21626 class: a descriptor on a host directory left open in the container is a way
    out (openat from it climbs the host's tree). Here the caller hands labrun one, as a careless shim
    might, beside the runtime's own (the fifo's O_PATH fd is in the host's state directory): the
    program holds only 0, 1 and 2, and the fd its `ls` opens."""
    path, spec = bundle
    spec["process"]["args"] = ["ls", "/proc/self/fd"]          # the program itself, as PID 1
    write(path, spec, path.name)
    host_dir = os.open("/", os.O_RDONLY | os.O_DIRECTORY)
    try:
        code, err = create(path, path.name, pass_fds=(host_dir,))
    finally:
        os.close(host_dir)
    assert code == 0, err
    assert labrun("start", path.name).returncode == 0
    wait_status(path.name, "stopped")
    assert labrun("delete", path.name).returncode == 0
    assert (path / "out.txt").read_text().split() == ["0", "1", "2", "3"]


def test_a_cwd_through_a_leaked_descriptor_is_refused(bundle):
    """CVE-2024-21626 itself: process.cwd names a descriptor the runtime holds open on a host
    directory, and chdir happens before the descriptors are closed. labrun checks the result with
    getcwd, as runc 1.1.12 does, and refuses; nothing is left."""
    path, spec = bundle
    host_dir = os.open("/", os.O_RDONLY | os.O_DIRECTORY)
    spec["process"].update(args=["ls"], cwd=f"/proc/self/fd/{host_dir}")
    write(path, spec, path.name)
    try:
        code, err = create(path, path.name, pass_fds=(host_dir,))
    finally:
        os.close(host_dir)
    assert code == 1 and "process.cwd is outside the container's root" in err, err
    assert not (config.LABRUN_ROOT / path.name).exists()
    assert not any(Path(p, path.name).exists() for p, _t, _c in cgroups.mounts())


def test_the_runtime_cannot_be_reached_through_proc_exe(bundle):
    """The CVE-2019-5736 class: a process opens /proc/<runtime pid>/exe, the host's python, to
    overwrite it. labrun's init is non-dumpable while it runs the container's way in, so without
    CAP_SYS_PTRACE (Docker grants none) even root cannot open it."""
    cid = sleeper(bundle, start=False)
    pid = wait_status(cid, "created")["pid"]          # init: the runtime's python, inside, not yet exec'd
    # root without CAP_SYS_PTRACE (out of the bounding set, so out of every set after execve), as
    # every process in a Docker container is; the kernel's check (ptrace_may_access) is the same
    # from the host, where no namespace is in the way.
    read = ["setpriv", "--bounding-set=-sys_ptrace", "--", "sh", "-c", f"cat /proc/{pid}/exe > /dev/null && echo read"]
    write = ["setpriv", "--bounding-set=-sys_ptrace", "--", "sh", "-c", f"echo x >> /proc/{pid}/exe && echo wrote"]
    for attempt in (read, write):
        tried = subprocess.run(attempt, capture_output=True, text=True, timeout=30)
        assert tried.stdout == "" and "Permission denied" in tried.stderr, (tried.stdout, tried.stderr)
    assert labrun("start", cid).returncode == 0
    # Control: once init has exec'd `sleep` (dumpable again), the same read succeeds: the test can fail.
    deadline = time.monotonic() + 20
    while Path(f"/proc/{pid}/comm").read_text() != "sleep\n" and time.monotonic() < deadline:
        time.sleep(0.05)
    control = subprocess.run(read, capture_output=True, text=True, timeout=30)
    assert control.stdout.strip() == "read", control.stderr
    labrun("kill", "--all", cid, "KILL")
    wait_status(cid, "stopped")
    assert labrun("delete", cid).returncode == 0


def test_the_v2_device_filter_allows_only_what_the_rules_say(root):
    """linux.resources.devices on cgroup v2: the eBPF program, attached to a cgroup2 directory."""
    unified = cgroups.unified()
    if unified is None:
        pytest.skip("this machine mounts no cgroup2 tree")
    group = Path(unified) / "lab-12-itest-devices"
    group.mkdir()
    try:
        devices.apply_v2(str(group), [{"allow": False, "access": "rwm"},
                                      {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
                                      {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "r"}])
        script = (f"echo $$ > {group}/cgroup.procs; for f in null zero full; do "
                  "(echo x > /dev/$f) 2>/dev/null && echo $f w ok || echo $f w no; "
                  "(head -c1 /dev/$f >/dev/null) 2>/dev/null && echo $f r ok || echo $f r no; done")
        seen = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=30).stdout.split("\n")
        assert seen[:6] == ["null w ok", "null r ok", "zero w no", "zero r ok", "full w no", "full r no"]
    finally:
        cgroups.remove_dir(group)


def test_docker_runs_and_execs_under_labrun_as_under_runc(engine):
    flags = ["--memory", "64m", "--pids-limit", "20", "--read-only", "--user", "1000:1000", "--cap-drop", "NET_RAW"]
    probe = "id; grep -E '^(Cap|NoNewPrivs|Seccomp:)' /proc/self/status; touch /x 2>&1; hostname | wc -c"
    seen = {}
    for runtime in ("runc", "labrun"):
        run = subprocess.run(["docker", "run", "--rm", "--runtime", runtime, *flags, "labkit/busybox", "sh", "-c", probe],
                             capture_output=True, text=True, timeout=120, env={**os.environ, "DOCKER_HOST": config.DOCKER_HOST})
        assert run.returncode == 0, run.stderr
        seen[runtime] = run.stdout
    assert seen["labrun"] == seen["runc"]
    assert "uid=1000" in seen["labrun"] and "Read-only file system" in seen["labrun"]
    name = "lab-12-itest-exec"
    docker = ["docker", "--host", config.DOCKER_HOST]
    subprocess.run([*docker, "rm", "-f", name], capture_output=True)
    try:
        subprocess.run([*docker, "run", "-d", "--name", name, "--runtime", "labrun", "labkit/busybox", "sleep", "600"],
                       check=True, capture_output=True, timeout=120)
        exec_ = subprocess.run([*docker, "exec", name, "sh", "-c", "cat /proc/1/comm; exit 3"],
                               capture_output=True, text=True, timeout=60)
        assert (exec_.returncode, exec_.stdout) == (3, "sleep\n"), exec_.stderr
        stop = subprocess.run([*docker, "stop", "-t", "1", name], capture_output=True, text=True, timeout=60)
        assert stop.returncode == 0, stop.stderr
        code = subprocess.run([*docker, "inspect", "-f", "{{.State.ExitCode}}", name], capture_output=True, text=True)
        assert code.stdout.strip() == "137"                    # sleep as PID 1 ignores SIGTERM: killed, as under runc
        subprocess.run([*docker, "start", name], check=True, capture_output=True, timeout=120)
        updated = subprocess.run([*docker, "update", "--memory", "96m", "--memory-swap", "96m", "--pids-limit", "40", name],
                                 capture_output=True, text=True, timeout=60)
        assert updated.returncode == 0, updated.stderr              # the shim's `labrun update --resources -`
        seen = subprocess.run([*docker, "exec", name, "sh", "-c", "cat /sys/fs/cgroup/pids.max /sys/fs/cgroup/pids/pids.max "
                               "/sys/fs/cgroup/memory.max /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null"],
                              capture_output=True, text=True, timeout=60)
        assert seen.stdout.split() == ["40", str(96 << 20)], seen
    finally:
        subprocess.run([*docker, "rm", "-f", name], capture_output=True)


def test_update_changes_the_limits_and_refuses_what_it_cannot(bundle):
    cid = sleeper(bundle)
    record = json.loads((config.LABRUN_ROOT / cid / "state.json").read_text())
    memory, pids = Path(record["cgroup"]["memory"]), Path(record["cgroup"]["pids"])
    v2 = (memory / "memory.max").exists()
    knob = {"memory": memory / ("memory.max" if v2 else "memory.limit_in_bytes"), "pids": pids / "pids.max"}
    assert [knob["memory"].read_text().strip(), knob["pids"].read_text().strip()] == [str(64 << 20), "32"]
    new = json.dumps({"memory": {"limit": 96 << 20, "swap": 96 << 20}, "pids": {"limit": -1}})
    done = labrun("update", "--resources", "-", cid, input=new)
    assert done.returncode == 0, done.stderr
    assert [knob["memory"].read_text().strip(), knob["pids"].read_text().strip()] == [str(96 << 20), "max"]
    refused = labrun("update", "--resources", "-", cid, input='{"devices": [{"allow": true, "access": "rwm"}]}')
    assert refused.returncode == 1 and "unsupported field linux.resources.devices" in refused.stderr
    assert "cannot read the resources" in labrun("update", "--resources", "-", cid, input="{").stderr
    assert "does not exist" in labrun("update", "--resources", "-", "lab-12-nosuch", input="{}").stderr
    labrun("kill", "--all", cid, "KILL")
    wait_status(cid, "stopped")
    assert "container not running" in labrun("update", "--resources", "-", cid, input=new).stderr
    assert labrun("delete", cid).returncode == 0


def test_systemd_cgroup_makes_a_scope_as_runc_does(bundle):
    """--systemd-cgroup on a systemd + cgroup v2 machine (the guest): the container's group is the
    scope systemd made, with the limits in its files and as unit properties, updated in both, and
    gone with the container; runc makes the same scope for the same bundle. Elsewhere: refused in
    one sentence, nothing made."""
    path, spec = bundle
    cid = path.name
    spec["linux"]["cgroupsPath"] = f"system.slice:lab:{cid}"
    unit = f"lab-{cid}.scope"
    (path / "config.json").write_text(json.dumps(spec))
    systemd_v2 = Path("/run/systemd/system").is_dir() and all(t == "cgroup2" for _p, t, _c in cgroups.mounts())
    in_the_guest = os.environ.get("LABKIT_EXPECT_CGROUP") == "v2" and Path("/proc/1/comm").read_text() == "systemd\n"
    assert systemd_v2 or not in_the_guest, "the systemd + v2 guest must take the scope branch"
    code, err = _create_systemd(path, cid)
    if not systemd_v2:
        assert code == 1 and ("needs systemd as PID 1" in err or "needs cgroup v2 only" in err), err
        assert err.count("\n") == 1 and not (config.LABRUN_ROOT / cid).exists()
        return
    assert code == 0, err
    pid = json.loads(labrun("state", cid).stdout)["pid"]
    assert Path(f"/proc/{pid}/cgroup").read_text() == f"0::/system.slice/{unit}\n"
    group = Path("/sys/fs/cgroup/system.slice") / unit
    assert (group / "pids.max").read_text() == "32\n" and (group / "memory.max").read_text() == f"{64 << 20}\n"
    assert unit_properties(unit) == {"Delegate": "yes", "MemoryMax": str(64 << 20), "TasksMax": "32"}
    done = labrun("update", "--resources", "-", cid, input=json.dumps({"pids": {"limit": 40}}))
    assert done.returncode == 0, done.stderr
    assert (group / "pids.max").read_text() == "40\n" and unit_properties(unit)["TasksMax"] == "40"
    assert labrun("start", cid).returncode == 0
    wait_status(cid, "stopped")
    ours = probe.facts((path / "out.txt").read_text())
    assert labrun("delete", cid).returncode == 0
    assert not group.exists() and unit_properties(unit).get("LoadState", "not-found") == "not-found"
    theirs = subprocess.run(["runc", "--systemd-cgroup", "--root", str(config.RUNC_ROOT), "run", "--bundle", str(path), cid],
                            capture_output=True, text=True, timeout=60)
    assert theirs.returncode == 0, theirs.stderr
    assert ours["memory"] == str(64 << 20) and probe.differences(ours, probe.facts(theirs.stdout)) == {}


def _create_systemd(path: Path, cid: str) -> tuple[int, str]:
    with open(path / "out.txt", "w") as out, open(path / "err.txt", "w") as err:
        made = subprocess.run([str(config.LABRUN), "--systemd-cgroup", "--root", str(config.LABRUN_ROOT), "create",
                               "--bundle", str(path), cid], stdin=subprocess.DEVNULL, stdout=out, stderr=err, timeout=60)
    return made.returncode, (path / "err.txt").read_text()


def unit_properties(unit: str) -> dict[str, str]:
    """What systemd says of `unit` (LoadState only, once it is gone)."""
    shown = subprocess.run(["systemctl", "show", "-p", "LoadState,Delegate,MemoryMax,TasksMax", unit],
                           capture_output=True, text=True, timeout=30).stdout
    props = dict(line.split("=", 1) for line in shown.splitlines() if "=" in line)
    return {"LoadState": props["LoadState"]} if props.get("LoadState") != "loaded" else \
        {k: v for k, v in props.items() if k != "LoadState"}


@pytest.mark.parametrize("field, value, enabled", [
    ("apparmorProfile", "unconfined", "/sys/module/apparmor/parameters/enabled"),
    ("selinuxLabel", "system_u:system_r:container_t:s0", "/sys/fs/selinux/enforce"),
])
def test_a_security_label_is_applied_where_the_host_has_the_lsm_and_refused_elsewhere(bundle, field, value, enabled):
    path, spec = bundle
    spec["process"][field] = value
    spec["process"]["args"] = ["cat", "/proc/self/attr/current"]
    write(path, spec, path.name)
    if field == "apparmorProfile":
        has_lsm = Path(enabled).exists() and Path(enabled).read_text().strip() == "Y"
    else:       # SELinux with a policy loaded: without one, every process's context is "kernel"
        has_lsm = Path(enabled).exists() and Path("/proc/self/attr/current").read_text().rstrip("\0") != "kernel"
    if not has_lsm:
        code, err = create(path, path.name)
        assert code == 1 and "asks for" in err and "is not enabled here" in err and err.count("\n") == 1, err
        assert not (config.LABRUN_ROOT / path.name).exists()
        return
    label = run_labrun(path, path.name).strip()
    assert label.startswith(value), label


def test_the_oom_killer_is_turned_off_on_v1_and_refused_on_v2(bundle):
    path, spec = bundle
    spec["linux"]["resources"]["memory"]["disableOOMKiller"] = True
    spec["process"]["args"] = ["sleep", "600"]
    write(path, spec, path.name)
    code, err = create(path, path.name)
    v1_memory = "memory" in {c for _p, t, cs in cgroups.mounts() if t == "cgroup" for c in cs}
    if not v1_memory:
        assert code == 1 and "cgroup v2 cannot turn the OOM killer off" in err, err
        return
    assert code == 0, err
    record = json.loads((config.LABRUN_ROOT / path.name / "state.json").read_text())
    assert "oom_kill_disable 1" in (Path(record["cgroup"]["memory"]) / "memory.oom_control").read_text()
    assert labrun("delete", "--force", path.name).returncode == 0


def test_labkit_clean_deletes_what_labrun_left(bundle):
    cid = sleeper(bundle)
    from labkit import cleanup

    said = cleanup.clean("12")
    assert f"labrun/{cid}" in said["runtime containers"]
    assert labrun("list", "-q").stdout.split().count(cid) == 0


def test_features_lists_what_labrun_does(engine):
    made = subprocess.run([str(config.LABRUN), "features"], capture_output=True, text=True, timeout=30)
    doc = json.loads(made.stdout)
    assert set(doc["linux"]["namespaces"]) == {"cgroup", "ipc", "mount", "network", "pid", "user", "uts"}
    assert doc["linux"]["cgroup"]["systemd"] is True and "SCMP_ACT_ERRNO" in doc["linux"]["seccomp"]["actions"]


def test_a_pod_runs_on_the_labrun_runtime_handler(engine):
    """containerd's CRI plugin with a `labrun` handler (a RuntimeClass): the sandbox and two containers
    are created by labrun through the same runc shim, share the pod's network, and go with the pod."""
    from labkit.cri import CRI, pod_config

    before = inventory.snapshot()
    # Each labrun verb is a Python start-up: under qemu's emulation (the v2 guest) stopping a pod
    # calls enough of them to outlast labkit.cri's 30 s default.
    with CRI(timeout=180) as cri:
        cfg = pod_config("itest-labrun", lesson="12")
        pod = cri.run_pod(cfg, runtime_handler="labrun")
        try:
            web = cri.create_container(pod, cfg, "web", "web")
            client = cri.create_container(pod, cfg, "client", "busybox", ["sleep", "3600"])
            cri.start(web)
            cri.start(client)
            got = cri.exec_sync(client, ["wget", "-qO-", "http://127.0.0.1:80/"])
            assert got.exit_code == 0 and b"<title>labkit/web</title>" in got.stdout
            for cid in (pod, web, client):           # the shim's runtime root: labrun's own records
                record = json.loads(Path("/run/containerd/runc/k8s.io", cid, "state.json").read_text())
                assert {"start_time", "cgroup", "rootfs"} <= set(record), record
        finally:
            cri.remove_pod(pod)
    assert residue(before) == {}


def test_the_benchmark_measures_both_runtimes_in_one_run(engine):
    from labkit import bench

    before = inventory.snapshot()
    rows = bench.runtime(rounds=1)
    assert set(rows) == {"create, start, delete (CLI)", "docker run --rm"}
    assert all(set(t) == {"runc", "labrun"} and min(t.values()) > 0 for t in rows.values())
    assert residue(before) == {}
