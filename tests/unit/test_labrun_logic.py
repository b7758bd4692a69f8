"""labrun's pure parts: what config.json fields it refuses, mount options, paths resolved inside a
root (symlinks and .. cannot climb out), device rules, signals, limits and seccomp actions."""
from __future__ import annotations

import errno
import os

import pytest

from labkit.kernel import consts as k
from labkit.runtime import bundle, devices, mounts, resources, seccomp, systemd
from labkit.runtime.errors import Refused
from labkit.runtime.kill import parse_signal


def test_set_unsupported_fields_are_named_and_zero_values_ask_for_nothing():
    spec = {"process": {"args": ["sh"], "ioPriority": {"class": "IOPRIO_CLASS_RT"}},
            "linux": {"resources": {"cpu": {"shares": 0, "cpus": "0-1"}, "blockIO": {"weight": 0}}}}
    assert bundle.unsupported(spec, bundle.SUPPORTED) == ["process.ioPriority", "linux.resources.cpu.cpus"]
    with pytest.raises(Refused, match="unsupported field process.ioPriority"):
        bundle.check(spec)


def test_a_mount_label_is_refused_not_ignored():
    # labrun labels no mount (SELinux's context= option): a label asked for must not pass unnoticed.
    assert bundle.unsupported({"linux": {"mountLabel": "system_u:object_r:container_file_t:s0"}},
                              bundle.SUPPORTED) == ["linux.mountLabel"]
    assert bundle.unsupported({"linux": {"mountLabel": ""}}, bundle.SUPPORTED) == []


def test_limits_minus_one_lifts_and_zero_leaves_alone():
    lifted = resources.limits({"memory": {"limit": -1}, "pids": {"limit": -1}, "cpu": {"quota": -1}})
    assert (lifted.memory_max, lifted.pids_max, lifted.cpu_quota) == ("max", "max", "max")
    assert resources.limits({"memory": {"limit": 0}, "pids": {"limit": 0}}).set() == {}


def test_mount_options_split_into_flags_propagation_and_data():
    flags, props, data = mounts.parse(["nosuid", "noexec", "ro", "rw", "rbind", "rprivate", "mode=755", "size=64k"])
    assert flags == k.MS_NOSUID | k.MS_NOEXEC | k.MS_BIND | k.MS_REC        # rw cleared ro
    assert props == [k.MS_PRIVATE | k.MS_REC] and data == "mode=755,size=64k"


def test_targets_stay_inside_the_root(tmp_path):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    os.symlink("/etc/../../../host", root / "up")                  # absolute: taken from the root
    os.symlink("../../../../outside", root / "etc" / "rel")        # relative: .. stops at the root
    assert mounts.secure_join(str(root), "/../../x") == f"{root}/x"
    assert mounts.secure_join(str(root), "/up/file") == f"{root}/host/file"
    assert mounts.secure_join(str(root), "/etc/rel") == f"{root}/outside"
    os.symlink("loop", root / "loop")
    with pytest.raises(Refused, match="too many symbolic links"):
        mounts.secure_join(str(root), "/loop")


def test_device_rules_as_v1_lines_and_as_an_ebpf_program():
    rules = [{"allow": False, "access": "rwm"}, {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
             {"allow": True, "type": "c", "major": 136, "access": "rw"}]
    assert devices.v1_lines(rules) == [("devices.deny", "a *:* rwm"), ("devices.allow", "c 1:3 rwm"),
                                       ("devices.allow", "c 136:* rw")]
    code = devices.program(rules)
    assert len(code) % 8 == 0
    # The deny-all rule decides last and unconditionally: nothing may follow it (the verifier refuses dead code).
    assert code[-16:] == devices._insn(0xB4, 0, imm=0) + devices._insn(0x95)
    assert devices.program([])[-16:] == devices._insn(0xB4, 0, imm=1) + devices._insn(0x95)   # no rule: allowed


@pytest.mark.parametrize("text, number", [("9", 9), ("KILL", 9), ("SIGTERM", 15), ("hup", 1)])
def test_signals_by_number_or_name(text, number):
    assert parse_signal(text) == number


@pytest.mark.parametrize("text", ["0", "999", "NOPE"])
def test_bad_signals_are_refused(text):
    with pytest.raises(Refused):
        parse_signal(text)


def test_oci_memory_swap_is_memory_plus_swap():
    got = resources.limits({"memory": {"limit": 64 << 20, "swap": 128 << 20}, "pids": {"limit": 20},
                            "cpu": {"quota": 50000, "period": 100000}})
    assert (got.memory_max, got.memory_swap_max, got.pids_max, got.cpu_quota) == (64 << 20, 64 << 20, 20, 50000)
    assert resources.limits({"memory": {"limit": 0}, "pids": {"limit": 0}}).set() == {}
    with pytest.raises(Refused, match="--systemd-cgroup"):
        resources.relative_path({"linux": {"cgroupsPath": "system.slice:docker:x"}}, "x")


@pytest.mark.parametrize("path, cid, slice_dir, unit", [
    ("system.slice:docker:abc", "abc", "/system.slice", "docker-abc.scope"),
    ("", "lab-12-box", "/system.slice", "labrun-lab-12-box.scope"),          # runc's default, with labrun for runc
    (":lab:x", "x", "/system.slice", "lab-x.scope"),
    ("machine-lab.slice::x", "x", "/machine.slice/machine-lab.slice", "x.scope"),
    ("-.slice:p:x", "x", "/", "p-x.scope"),
])
def test_a_systemd_cgroups_path_names_a_scope_in_a_slice(path, cid, slice_dir, unit):
    scope = systemd.scope(path, cid)
    assert (systemd.expand_slice(scope.slice), scope.unit) == (slice_dir, unit)
    assert scope.path == f"{slice_dir.strip('/')}/{unit}".lstrip("/")


@pytest.mark.parametrize("path", ["/labkit-docker/x", "a:b", "system.slice:p:n:extra", "system:p:n",
                                  "a--b.slice:p:n", "-a.slice:p:n", "a/b.slice:p:n", "system.slice:p:n.slice"])
def test_a_path_that_is_no_scope_is_refused_in_one_sentence(path):
    with pytest.raises(Refused) as err:
        systemd.scope(path, "x")
    assert "\n" not in str(err.value)


def test_limits_become_systemd_properties_as_runc_converts_them():
    props = dict((key, value) for key, _type, value in systemd.properties(
        {"memory": {"limit": 64 << 20, "swap": 96 << 20}, "pids": {"limit": 20},
         "cpu": {"quota": 12345, "period": 100000, "shares": 1024}}))
    assert props == {"MemoryMax": str(64 << 20), "MemorySwapMax": str(32 << 20), "TasksMax": "20",
                     "CPUQuotaPerSecUSec": "130000",        # 123450 µs a second, up to a whole 10 ms
                     "CPUWeight": "39"}
    lifted = dict((k, v) for k, _t, v in systemd.properties({"memory": {"limit": -1}, "pids": {"limit": -1}}))
    assert lifted == {"MemoryMax": str(2**64 - 1), "TasksMax": str(2**64 - 1)}
    assert systemd.properties({"memory": {"limit": 0}}) == []


def test_seccomp_actions_carry_their_errno():
    assert seccomp.action("SCMP_ACT_ERRNO", None, None) == 0x00050000 | errno.EPERM
    assert seccomp.action("SCMP_ACT_ERRNO", errno.ENOSYS, None) == 0x00050000 | errno.ENOSYS
    with pytest.raises(Refused, match="SCMP_ACT_NOTIFY"):
        seccomp.action("SCMP_ACT_NOTIFY", None, None)
