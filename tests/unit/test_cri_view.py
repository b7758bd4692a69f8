"""Lesson 04's diagrams, from fixed data: which namespaces a pod shares, and how it is drawn."""
from labkit.check import check
from labkit.widgets.cri_view import NAMESPACES, PodAnatomy, Proc, dockershim

NODE = {ns: 4026531830 + i for i, ns in enumerate(NAMESPACES)}


def proc(role, number, **own):
    ns = dict(NODE)
    ns.update({"net": 4026532001, "ipc": 4026532002, "uts": 4026532003})    # the pod's
    ns.update(own)
    return Proc(role, number, f"/{role}", ns, parent=10)


def pod():
    procs = [proc("pause", 11, pid=4026532100, mnt=4026532200), proc("web", 12, pid=4026532101, mnt=4026532201),
             proc("client", 13, pid=4026532102, mnt=4026532202)]
    return PodAnatomy("lab-04-pod", "f" * 64, "10.214.0.9", "/run/x/netns/cni-1", "veth0123abcd",
                      Proc("shim", 10, "containerd-shim-runc-v2", dict(NODE), 1), procs, dict(NODE))


def test_verdicts():
    p = pod()
    assert {ns: p.verdict(ns) for ns in NAMESPACES} == {
        "net": "pod", "ipc": "pod", "uts": "pod", "pid": "own", "mnt": "own", "cgroup": "host", "user": "host"}


def test_a_shared_pid_namespace_is_seen_as_the_pods():
    p = pod()
    for pr in p.procs:
        pr.ns["pid"] = 4026532100
    assert p.verdict("pid") == "pod"


def test_two_of_three_sharing_is_mixed():
    p = pod()
    p.procs[2].ns["mnt"] = p.procs[1].ns["mnt"]
    assert p.verdict("mnt") == "mixed"


def test_table_has_a_row_per_namespace_and_a_column_per_process():
    rows = pod().table().splitlines()
    assert rows[0].split()[:5] == ["namespace", "node", "pause", "web", "client"]
    assert [r.split()[0] for r in rows[1:]] == list(NAMESPACES)
    assert rows[1].endswith("one for the whole pod") and rows[4].endswith("one per process")


def test_the_pod_graph_draws_what_the_pod_holds():
    src = pod().graph().source
    for text in ("containerd-shim-runc-v2", "lab-04-pod", "net:[4026532001]", "pid:[4026532101]",
                 "veth0123abcd", "labkit-cni0", "the node's own"):
        assert text in src


def test_dockershim_diagram_has_both_eras():
    src = dockershim().source
    assert "Kubernetes 1.6 to 1.23" in src and "since Kubernetes 1.24" in src
    assert "dockershim" in src and "cri-dockerd" in src and "conmon" in src
    # Before 1.24 the kubelet already reached remote runtimes over CRI, beside dockershim.
    assert "before_kubelet -> before_remote" in src and "before_kubelet -> before_dockershim" in src


def test_log_parser_checker_names_the_mistake():
    assert "newline" in check("04.3", lambda line: tuple(line.split(" ", 3))).message
    assert "out of order" in check("04.3", lambda line: (lambda t, s, g, x: (s, t, g, x))(*line.rstrip("\n").split(" ", 3))).message
    assert check("04.3", lambda line: tuple(line.rstrip("\n").split(" ", 3))).ok


def test_ip_checker_rejects_the_gateway_and_loopback_offline():
    assert "bridge" in check("04.1", "10.214.0.1").message
    assert "loopback" in check("04.1", "127.0.0.1").message
    assert "not an IP" in check("04.1", "10.214.0.0/24").message
