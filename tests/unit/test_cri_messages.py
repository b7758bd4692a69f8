"""The CRI messages labkit builds, as the kubelet would send them (no runtime needed)."""
import pytest

from labkit import config
from labkit.cri import (CRI, container_config, exec_request, lab_image, pb, pod_config, pod_name,
                        timestamp)
from labkit.errors import LabError


def test_pod_config_keeps_the_old_short_form():
    cfg = pod_config("x")
    assert cfg.metadata.name == "lab-x" and cfg.hostname == "lab-x"


@pytest.mark.parametrize("call", [lambda: pod_config("04-web"), lambda: pod_config("web", lesson="04"),
                                  lambda: pod_config("lab-04-web", lesson="04")])
def test_pod_config_names_the_pod_after_its_lesson(call):
    cfg = call()
    assert cfg.metadata.name == "lab-04-web"
    assert cfg.hostname == "lab-04-web"
    assert cfg.log_directory == str(config.RUN / "pods" / "lab-04-web")


def test_pod_config_asks_for_the_namespaces_the_kubelet_asks_for():
    opts = pod_config("web", lesson="04").linux.security_context.namespace_options
    assert (opts.network, opts.ipc, opts.pid) == (pb.POD, pb.POD, pb.CONTAINER)
    shared = pod_config("web", lesson="04", share_pid=True).linux.security_context.namespace_options
    assert shared.pid == pb.POD


def test_a_pod_on_the_node_network_sets_no_hostname():
    cfg = pod_config("hostnet", lesson="04", host_network=True)
    assert cfg.linux.security_context.namespace_options.network == pb.NODE
    assert cfg.hostname == ""


def test_pod_config_labels_the_pod_with_its_lesson():
    assert dict(pod_config("web", lesson="04").labels) == {config.LABEL: "04"}
    assert dict(pod_config("web", lesson="4").labels) == {config.LABEL: "04"}
    assert dict(pod_config("web").labels) == {}


def test_a_pod_uid_is_a_uuid_that_is_the_same_on_every_run():
    import uuid

    uid = pod_config("web", lesson="04").metadata.uid
    assert str(uuid.UUID(uid)) == uid and "lab-" not in uid
    assert pod_config("web", lesson="04").metadata.uid == uid
    assert pod_config("web", lesson="05").metadata.uid != uid
    assert pod_config("web", namespace="other", lesson="04").metadata.uid != uid


def test_a_container_carries_the_labels_it_is_given_and_no_made_up_one():
    assert dict(container_config("web", "web").labels) == {}
    assert dict(container_config("web", "web", labels={config.LABEL: "04"}).labels) == {config.LABEL: "04"}


@pytest.mark.parametrize("bad", ["Web", "web_1", "web.", "web-", "x" * 60])
def test_a_pod_name_must_be_a_hostname(bad):
    with pytest.raises(LabError) as err:
        pod_name(bad, "04")
    assert "hostname" in err.value.why


def test_container_config_uses_the_image_default_command_when_none_is_given():
    cfg = container_config("web", "web")
    assert cfg.image.image == "docker.io/labkit/web:latest"
    assert list(cfg.command) == [] and list(cfg.args) == []
    assert cfg.log_path == "web/0.log"


def test_container_config_log_path_follows_the_restart_count():
    assert container_config("web", "web", attempt=3).log_path == "web/3.log"


def test_container_config_carries_the_pod_namespace_options():
    opts = pod_config("web", lesson="04", share_pid=True).linux.security_context.namespace_options
    cfg = container_config("c", "busybox", ["true"], namespaces=opts)
    assert cfg.linux.security_context.namespace_options.pid == pb.POD
    assert container_config("c", "busybox").linux.security_context.namespace_options.pid == pb.CONTAINER


def test_container_command_must_be_an_argv_list():
    with pytest.raises(LabError) as err:
        container_config("c", "busybox", "sh -c 'echo hi'")
    assert "list of strings" in err.value.what
    with pytest.raises(LabError):
        container_config("c", "busybox", ["sh", 1])


def test_container_name_is_checked():
    with pytest.raises(LabError):
        container_config("My_Container", "busybox")


def test_exec_request():
    req = exec_request("abc", ["cat", "/etc/hostname"], timeout=5)
    assert (req.container_id, list(req.cmd), req.timeout) == ("abc", ["cat", "/etc/hostname"], 5)


@pytest.mark.parametrize("cmd", ["cat /etc/hostname", [], ["cat", None]])
def test_exec_request_wants_an_argv(cmd):
    with pytest.raises(LabError) as err:
        exec_request("abc", cmd)
    assert "argv" in err.value.what


def test_exec_request_wants_a_timeout():
    with pytest.raises(LabError) as err:
        exec_request("abc", ["true"], timeout=0)
    assert "for ever" in err.value.why


def test_lab_image_names():
    assert lab_image("busybox") == "docker.io/labkit/busybox:latest"
    assert lab_image("127.0.0.1:5000/labkit/web:latest") == "127.0.0.1:5000/labkit/web:latest"


def test_timestamp_keeps_nanoseconds_in_utc():
    assert timestamp(1_700_000_000_000_000_001) == "2023-11-14T22:13:20.000000001Z"
    assert timestamp(0) == "-"


def test_rpc_knows_the_methods_of_both_services(tmp_path):
    cri = CRI(tmp_path / "no.sock")
    with pytest.raises(LabError) as err:
        cri.rpc("RunPod", pb.VersionRequest())
    assert "RunPodSandbox" in err.value.fix and "ImageStatus" in err.value.fix
    cri.channel.close()
