"""labkit.oci.spec: config.json built, validated and written whole; labkit.oci.runtime's error reading."""
from __future__ import annotations

import json

import pytest

from labkit import config as lab
from labkit.errors import LabError
from labkit.oci import runtime, spec


@pytest.fixture
def bundle(tmp_path):
    (tmp_path / "rootfs" / "bin").mkdir(parents=True)
    (tmp_path / "rootfs" / "bin" / "sh").write_text("")
    return tmp_path


def test_config_looks_like_runc_spec_where_it_should():
    cfg = spec.config(["sleep", "1"], hostname="h", cgroups_path="/lab-06-x")
    assert cfg["process"]["args"] == ["sleep", "1"] and cfg["process"]["terminal"] is False
    assert cfg["root"] == {"path": "rootfs", "readonly": False}
    assert [ns["type"] for ns in cfg["linux"]["namespaces"]] == ["pid", "network", "ipc", "uts", "mount"]
    assert cfg["linux"]["cgroupsPath"] == "/lab-06-x" and cfg["hostname"] == "h"
    assert "/proc/kcore" in cfg["linux"]["maskedPaths"]
    assert spec.problems(cfg) == []


def test_config_copies_its_inputs_so_later_edits_do_not_leak():
    mounts = [{"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}]
    a = spec.config(["sh"], mounts=mounts)
    a["mounts"][-1]["destination"] = "/changed"
    a["linux"]["maskedPaths"].append("/x")
    b = spec.config(["sh"], mounts=mounts)
    assert b["mounts"][-1]["destination"] == "/tmp" and "/x" not in b["linux"]["maskedPaths"]


def test_config_refuses_what_would_not_run():
    with pytest.raises(LabError, match="would not run"):
        spec.config([])
    with pytest.raises(LabError, match="listed twice"):
        spec.config(["sh"], namespaces=("pid", "pid"))


@pytest.mark.parametrize("change, words", [
    (lambda c: c.pop("ociVersion"), "ociVersion"),
    (lambda c: c["process"].update(args="sh"), "process.args"),
    (lambda c: c["process"].update(args=["sh", 1]), "process.args"),
    (lambda c: c["process"].update(cwd="tmp"), "process.cwd"),
    (lambda c: c["process"].update(env=["NOEQUALS"]), "process.env"),
    (lambda c: c["process"].update(terminal="yes"), "process.terminal"),
    (lambda c: c["process"].update(user={"uid": "0", "gid": 0}), "process.user"),
    (lambda c: c.pop("process"), "process is missing"),
    (lambda c: c["root"].pop("path"), "root.path"),
    (lambda c: c["root"].update(readonly="true"), "root.readonly"),
    (lambda c: c["mounts"].append({"destination": "tmp"}), "mounts[7].destination"),
    (lambda c: c["linux"]["namespaces"].append({"type": "network"}), "listed twice"),
    (lambda c: c["linux"]["namespaces"].append({"type": "net"}), "'net' is not one of"),
    (lambda c: c["linux"].update(cgroupsPath="/a/../b"), "cgroupsPath"),
    (lambda c: c["linux"].update(maskedPaths=["proc/kcore"]), "maskedPaths"),
    (lambda c: c.update(hooks={"prestop": []}), "not a hook"),
    (lambda c: c.update(hooks={"poststart": [{"path": "sh"}]}), "absolute path"),
])
def test_each_problem_is_named(change, words):
    cfg = spec.config(["sh"])
    change(cfg)
    found = spec.problems(cfg)
    assert any(words in p for p in found), found
    with pytest.raises(LabError, match="config.json is not valid"):
        spec.validate(cfg)


def test_problems_of_something_that_is_no_object():
    assert spec.problems(["not", "a", "dict"]) == ["config.json holds a JSON object, not list"]


def test_problems_on_disk_need_the_rootfs_and_an_absolute_program_in_it(bundle):
    assert spec.problems(spec.config(["/bin/sh"]), bundle) == []
    assert "does not exist in the rootfs" in spec.problems(spec.config(["/bin/nope"]), bundle)[0]
    cfg = spec.config(["sh"])
    cfg["root"]["path"] = "missing"
    assert "is not a directory" in spec.problems(cfg, bundle)[0]


def test_write_bundle_writes_the_whole_file(bundle):
    cfg = spec.config(["/bin/sh"], hostname="lab-06-t")
    path = spec.write_bundle(bundle, cfg)
    assert path == bundle / "config.json" and json.loads(path.read_text()) == cfg
    assert spec.load(bundle) == cfg


def test_write_bundle_of_a_bad_config_writes_nothing_and_keeps_the_old_one(bundle):
    good = spec.config(["/bin/sh"])
    spec.write_bundle(bundle, good)
    bad = json.loads(json.dumps(good))
    bad["process"]["args"] = []
    with pytest.raises(LabError, match="process.args"):
        spec.write_bundle(bundle, bad)
    assert spec.load(bundle) == good
    assert sorted(p.name for p in bundle.iterdir()) == ["config.json", "rootfs"]      # no temp file left


def test_write_bundle_needs_the_directory(tmp_path):
    with pytest.raises(LabError, match="no bundle directory"):
        spec.write_bundle(tmp_path / "nope", spec.config(["sh"]))
    assert not (tmp_path / "nope").exists()


def test_load_says_what_is_wrong(tmp_path):
    with pytest.raises(LabError, match="Cannot read"):
        spec.load(tmp_path)
    (tmp_path / "config.json").write_text("{oops")
    with pytest.raises(LabError, match="not JSON"):
        spec.load(tmp_path)


def test_rootfs_from_image_refuses_a_directory_with_files_and_touches_nothing(tmp_path):
    (tmp_path / "keep").write_text("mine")
    with pytest.raises(LabError, match="not empty"):
        spec.rootfs_from_image("labkit/busybox", tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["keep"]


def test_hook_carries_the_lesson_mark_only_when_asked():
    assert spec.hook("/bin/true") == {"path": "/bin/true", "args": ["true"], "env": []}
    h = spec.hook("/bin/sh", ["sh", "-c", "x"], env=["A=1"], timeout=5, lesson="6")
    assert h == {"path": "/bin/sh", "args": ["sh", "-c", "x"], "env": ["A=1", f"{lab.OWNER_ENV}=06"], "timeout": 5}


def test_differences_name_each_field():
    a = {"x": 1, "y": {"z": [1, 2], "w": True}, "only_a": 0}
    b = {"x": 2, "y": {"z": [1, 3], "w": True}, "only_b": 0}
    assert spec.differences(a, b) == ["only_a: only in the first", "only_b: only in the second",
                                      "x: 1 -> 2", "y.z: entries differ"]
    assert spec.differences(a, a) == []


# --- labkit.oci.runtime, without a runtime -------------------------------------------------------

def test_message_reads_runc_logfmt_json_and_crun_lines():
    runc_err = 'time="2026-01-01T00:00:00Z" level=error msg="container \\"x\\" does not exist"\n'
    assert runtime.message(runc_err) == 'container "x" does not exist'
    assert runtime.message('{"level":"error","msg":"exec failed","time":"t"}\n') == "exec failed"
    assert runtime.message("cgroups in hybrid mode not supported, drop all controllers from cgroupv2\n") == \
        "cgroups in hybrid mode not supported, drop all controllers from cgroupv2"
    assert runtime.message("") == "(it printed nothing)"


def test_runtime_argv_puts_root_first_and_a_wrapper_in_front():
    rt = runtime.Runtime("crun", wrap=["unshare", "-m"])
    assert rt.argv("state", "x") == ["unshare", "-m", "crun", "--root", str(lab.RUN / "crun"), "state", "x"]
    assert runtime.Runtime().argv("list") == ["runc", "--root", str(lab.RUNC_ROOT), "list"]


def test_an_unknown_runtime_needs_its_root():
    with pytest.raises(LabError, match="No state directory"):
        runtime.Runtime("youki")
    assert runtime.Runtime("youki", root="/run/youki").root.name == "youki"
