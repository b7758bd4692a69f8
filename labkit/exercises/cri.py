"""Checkers for lesson 04 · The CRI: playing the kubelet."""
from __future__ import annotations

import ipaddress
from typing import Any, Callable

from labkit import config
from labkit.check import Result, checker
from labkit.errors import LabError

LESSON = "04"
PAGE = config.IMAGES_DIR / "web" / "index.html"    # what labkit/web serves, and so what 04.2 must read

# Lines the learner's parser of 04.3 must get right, with the fields it must return.
LOG_CASES: list[tuple[str, tuple[str, str, str, str]]] = [
    ("2026-01-05T10:00:00.123456789Z stdout F hello world",
     ("2026-01-05T10:00:00.123456789Z", "stdout", "F", "hello world")),
    ("2026-01-05T10:00:01.5+00:00 stderr P   two  spaces, kept  ",
     ("2026-01-05T10:00:01.5+00:00", "stderr", "P", "  two  spaces, kept  ")),
    ("2026-01-05T10:00:02Z stdout F ", ("2026-01-05T10:00:02Z", "stdout", "F", "")),
    ("2026-01-05T10:00:03.000000001Z stdout F read from a file\n",
     ("2026-01-05T10:00:03.000000001Z", "stdout", "F", "read from a file")),
]


def _wrong_exec_requests() -> list:
    from labkit.cri import pb

    return [
        {"container_id": "x", "cmd": ["cat", "/www/index.html"], "timeout": 5},
        ["cat", "/www/index.html"],
        pb.ExecSyncRequest(container_id="no-such-container", cmd=["cat", "/www/index.html"], timeout=5),
        pb.ExecSyncRequest(container_id="no-such-container", cmd=["cat /www/index.html"], timeout=5),
        pb.ExecSyncRequest(container_id="no-such-container", cmd=["cat", "/www/index.html"]),
        pb.ExecSyncRequest(container_id="no-such-container", cmd=[], timeout=5),
    ]


def _wrong_parsers() -> list:
    return [
        "2026-01-05T10:00:00Z stdout F hello",
        lambda line: tuple(line.split()),
        lambda line: tuple(line.split(" ", 3)),                 # keeps the newline
        lambda line: tuple(line.rstrip().split(" ", 3)),        # eats the text's own trailing spaces
        lambda line: (lambda t, s, g, x: (s, g, t, x))(*line.rstrip("\n").split(" ", 3)),   # wrong order
    ]


WRONG_ANSWERS = {
    "04.1": ["127.0.0.1", config.CNI_GATEWAY.split("/")[0], config.CNI_SUBNET, "10.214.0.300", 42, "10.213.0.2"],
    "04.2": _wrong_exec_requests,
    "04.3": _wrong_parsers,
}


def _lesson_pods(cri) -> list:
    from labkit.cri import pb

    prefix = config.lab_prefix(LESSON)
    return [p for p in cri.pods() if p.metadata.name.startswith(prefix) and p.state == pb.SANDBOX_READY]


@checker("04.1")
def pod_ip(answer: object) -> Result:
    """The IP address of the lesson's running pod, read from PodSandboxStatus."""
    if not isinstance(answer, str):
        return Result(False, f"An IP address is a string such as '10.0.0.7'; you gave {type(answer).__name__} {answer!r}.")
    try:
        ip = ipaddress.ip_address(answer)
    except ValueError:
        return Result(False, f"{answer!r} is not an IP address (a subnet or a name is not one). "
                             "Look at status.network.ip in the PodSandboxStatus response.")
    if ip.is_loopback:
        return Result(False, f"{answer} is the pod's loopback: every pod has it. "
                             "The kubelet wants the address other pods reach it on.")
    if str(ip) == config.CNI_GATEWAY.split("/")[0]:
        return Result(False, f"{answer} is the node's side: the bridge {config.CNI_BRIDGE}, the pods' gateway. "
                             "The pod's own address comes from host-local IPAM, further up the subnet.")
    from labkit.cri import CRI

    with CRI(timeout=10) as cri:
        ips = {cri.pod_ip(p.id): p.metadata.name for p in _lesson_pods(cri)}
    if not ips:
        return Result(False, "No pod of this lesson is running now: run the cells that start lab-04-pod, then ask again.")
    if str(ip) in ips:
        return Result(True, f"Right: {ips[str(ip)]} has {answer}, given by the bridge plugin's host-local IPAM "
                            f"from {config.CNI_SUBNET} and reported by the runtime in PodSandboxStatus.")
    if ip in ipaddress.ip_network(config.CNI_SUBNET):
        return Result(False, f"{answer} is in the pods' subnet but belongs to no pod of this lesson now "
                             "(host-local hands out a new address to each sandbox). Ask PodSandboxStatus for this pod's.")
    return Result(False, f"{answer} is not in the pods' subnet {config.CNI_SUBNET} (the CNI conflist in "
                         f"{config.CNI_CONF_DIR} sets it). Read it from the runtime, not from Docker's bridge.")


@checker("04.2")
def exec_request(answer: Any) -> Result:
    """An ExecSyncRequest that reads the page labkit/web serves, from the web container."""
    from labkit.cri import CRI, pb

    if not isinstance(answer, pb.ExecSyncRequest):
        return Result(False, f"Build the message itself, pb.ExecSyncRequest(...); you gave {type(answer).__name__}. "
                             "gRPC sends protobuf messages, not dicts or lists.")
    cmd = list(answer.cmd)
    if not cmd:
        return Result(False, "cmd is empty: it holds the program to run and its arguments.")
    if len(cmd) == 1 and " " in cmd[0]:
        return Result(False, f"cmd={cmd!r} asks the runtime to exec a program literally named {cmd[0]!r}: "
                             "there is no shell in between. Give each word as its own list item.")
    if answer.timeout <= 0:
        return Result(False, "timeout is 0, which means 'wait for ever': one hung command would block the "
                             "kubelet's worker. Give it a few seconds.")
    with CRI(timeout=15) as cri:
        running = {c.id: c for p in _lesson_pods(cri) for c in cri.containers(p.id)
                   if c.state == pb.CONTAINER_RUNNING}
        target = running.get(answer.container_id)
        if target is None:
            return Result(False, f"No running container of lesson 04 has id {answer.container_id!r}. "
                                 "Use the id CreateContainer returned (ListContainers shows them too).")
        if "labkit/web" not in target.image.image and target.metadata.name != "web":
            return Result(False, f"That is the {target.metadata.name!r} container; the page lives in the web one.")
        try:
            out = cri.call(cri.runtime, "ExecSync", answer)
        except LabError as err:
            return Result(False, f"The runtime refused it: {err.why}")
    page = PAGE.read_text()
    if out.exit_code != 0:
        return Result(False, f"It ran and exited {out.exit_code}: {out.stderr.decode().strip()!r}. "
                             "Check the path of the page in images/web/Dockerfile.")
    if out.stdout.decode() != page:
        return Result(False, f"It ran, but printed {out.stdout.decode()[:60]!r}..., not the page. "
                             "Which file does httpd serve? Look at its -h flag.")
    return Result(True, f"Right: ExecSync ran {cmd} in the web container and returned the page "
                        f"({len(out.stdout)} bytes) with exit code 0.")


@checker("04.3")
def parse_log_line(answer: Any) -> Result:
    """A function that splits a CRI log line into (time, stream, tag, text)."""
    if not callable(answer):
        return Result(False, f"Give a function that takes one line and returns its four fields; "
                             f"you gave {type(answer).__name__}.")
    for line, want in LOG_CASES:
        try:
            got = answer(line)
        except Exception as err:      # the learner's code: any error is feedback, not a crash
            return Result(False, f"Your function raised {type(err).__name__}: {err} on {line!r}.")
        if not isinstance(got, (tuple, list)) or len(got) != 4:
            return Result(False, f"On {line!r} it returned {got!r}; return four fields: (time, stream, tag, text).")
        got = tuple(got)
        if got == want:
            continue
        return Result(False, _log_hint(line, want, got))
    return Result(True, f"Right: all {len(LOG_CASES)} lines split into time, stream, P/F tag and text, "
                        "with the text's own spaces kept.")


def _log_hint(line: str, want: tuple, got: tuple) -> str:
    if set(got) == set(want):
        return f"The fields are right but out of order: {got!r}. Return (time, stream, tag, text)."
    if got[3] != want[3]:
        if got[3].rstrip("\n") == want[3]:
            return f"On {line!r} the text kept its newline: a line read from a file ends in '\\n'."
        return (f"On {line!r} the text came back as {got[3]!r}, not {want[3]!r}: only the first three spaces "
                "separate fields; the text is everything after them, spaces included.")
    return f"On {line!r} you returned {got!r}; expected the fields of '<time> <stream> <P|F> <text>'."


def reference_parser() -> Callable[[str], tuple]:
    """labkit's own parser, as the checker's reference (used in the tests)."""
    from labkit import cri_log

    return lambda line: tuple(cri_log.parse_line(line))
