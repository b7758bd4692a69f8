"""The probe's output read back, and summarised against a host process's: only real changes show."""
import pytest

from labkit import inside
from labkit.errors import BadInput

HOST = {"hostname": "vm", "pid of sh": "4242", "/": "bin boot dev etc home lib media mnt opt proc root run sbin srv sys tmp usr var", "/ mounted": "rw", "mounts": "/proc /sys / /work",
        "processes": "120", "net links": "lo eth0 labkit0", "cgroup": "/user", "memory limit": "9223372036854771712",
        "CapBnd": "000001ffffffffff", "CapEff": "000001ffffffffff", "NoNewPrivs": "0", "uid map": "0 0 4294967295",
        "/proc/keys": "463 bytes"}


def test_parse_reads_key_value_lines_and_keeps_the_rest_as_error():
    seen = inside.parse("hostname=box\npid of sh=1\nstep failed: EPERM\nmounts=/ /proc\nnot a key=x\n")
    assert seen == {"hostname": "box", "pid of sh": "1", "mounts": "/ /proc", "error": "step failed: EPERM not a key=x"}


def test_the_host_summarised_against_itself_is_all_the_hosts():
    out = inside.summarise(HOST, HOST)
    assert out.pop("/ mounted") == "rw"                   # shown as it is, always
    assert set(out.values()) == {inside.HOST}


def test_what_drifts_on_a_host_still_reads_as_the_hosts():
    drifted = {**HOST, "pid of sh": "5000", "processes": "131", "/proc/keys": "599 bytes", "/": HOST["/"] + " new",
               "net links": "lo eth0 labkit0 lab-07-v0", "mounts": "/ /proc /sys /work /run/labkit/scratch/lab-10-box/merged/proc"}
    out = inside.summarise(drifted, HOST, root="/run/labkit/scratch/lab-10-box")
    assert out["mounts"] == "the host's + 1 under the new root"
    assert {k: v for k, v in out.items() if k not in ("mounts", "/ mounted")} == {
        k: inside.HOST for k in HOST if k not in ("mounts", "/ mounted")}


def test_a_container_reads_as_its_own_values():
    box = {**HOST, "hostname": "lab-10-box", "pid of sh": "1", "/": "bin dev etc proc sys", "mounts": "/ /proc /dev",
           "processes": "1", "net links": "lo", "CapBnd": "0000000020000420", "NoNewPrivs": "1", "/proc/keys": "0 bytes",
           "memory limit": "", "cgroup": ""}
    out = inside.summarise(box, HOST)
    assert out["pid of sh"] == "1" and out["processes"] == "1" and out["net links"] == "lo"
    assert out["mounts"] == "/ /proc /dev"
    assert out["CapBnd"] == "KILL NET_BIND_SERVICE AUDIT_WRITE"
    assert out["/proc/keys"] == "empty"
    assert out["memory limit"] == "(not readable)" and out["cgroup"] == "(no /proc)"
    assert out["uid map"] == inside.HOST


def test_capability_masks_by_name():
    assert inside.caps("0000000000000000") == "none"
    assert inside.caps("0000000000200000") == "SYS_ADMIN"
    assert inside.caps("000001ffffffffff") == "41 capabilities"
    with pytest.raises(BadInput):
        inside.caps("not hex")


def test_bad_input():
    with pytest.raises(BadInput):
        inside.parse(None)
    with pytest.raises(BadInput):
        inside.summarise("x", HOST)


def test_the_probe_prints_every_key():
    for key in inside.KEYS:
        assert f'"{key}=' in inside.PROBE, key


def test_no_limit_reads_the_same_on_v1_and_v2():
    v2_host = {**HOST, "memory limit": "max"}
    assert inside.summarise({**HOST, "memory limit": "max"}, HOST)["memory limit"] == inside.HOST
    assert inside.summarise(HOST, v2_host)["memory limit"] == inside.HOST
    assert inside.summarise({**HOST, "memory limit": "67108864"}, v2_host)["memory limit"] == "67108864"


def test_mount_points_only_some_kernels_have_are_left_out():
    box = {**HOST, "/": "bin dev etc proc sys", "mounts": "/ /proc /proc/kcore /proc/keys /proc/sysrq-trigger"}
    assert inside.summarise(box, HOST)["mounts"] == "/ /proc /proc/keys"
