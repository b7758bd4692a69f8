"""Checkers for lesson 01 · The Docker CLI and the Engine API.

Each checker asks the lab dockerd for the truth itself (through the Docker SDK, so a
learner's own raw-socket code is never what it checks against) and reads /proc.
"""
from __future__ import annotations

import json
import os
from urllib.parse import parse_qs, urlsplit

from labkit import config
from labkit.check import Result, checker
from labkit.engine import docker_client
from labkit.kernel import procfs

WEB = "lab-01-web"          # the lesson's web server: its pid (01.2), its exit code (01.3)
PREFIX = config.lab_prefix("01")

WRONG_ANSWERS = {
    "01.1": [
        "/containers/json",                       # running ones only: the default
        "/containers/json?all=1",                 # every container, of every lesson, in any state
        "/containers/json?filters=status=exited",  # not JSON: dockerd answers 500
        "/version",
        42,
    ],
    "01.2": lambda: [1, os.getpid(), "1", -5, 10**9],
    "01.3": [0, 143, "137", 1],
}


def _web_state() -> dict | None:
    """lab-01-web's State from `docker inspect`, or None when there is no such container."""
    import docker

    with docker_client(timeout=10).api as api:
        try:
            return api.inspect_container(WEB)["State"]
        except docker.errors.NotFound:
            return None


@checker("01.2")
def web_host_pid(answer: object) -> Result:
    """The host pid of lab-01-web's httpd, from inspect, confirmed in /proc."""
    state = _web_state()
    if state is None or not state.get("Running"):
        return Result(False, f"{WEB} is not running, so it has no process to find: run the cells of "
                             "'Run, list, read, enter' again, then this exercise.")
    if not isinstance(answer, int) or isinstance(answer, bool):
        return Result(False, f"A pid is a whole number (an int); you gave {type(answer).__name__} {answer!r}.")
    real = state["Pid"]
    if answer == real:
        inside = procfs.status(real).get("NSpid", "").split()
        return Result(True, f"Right: httpd is pid {real} on the host and pid {inside[-1] if inside else '?'} "
                            "inside its PID namespace; the NSpid line of its /proc/PID/status lists both.")
    if answer == 1:
        return Result(False, "1 is httpd's pid as the container sees it, inside its own PID namespace. "
                             "The host counts differently: which field of `docker inspect` holds the host's number?")
    comm = procfs.comm(answer)
    if comm is None:
        return Result(False, f"There is no /proc/{answer} right now: no process has that pid. "
                             "Take the pid from the container's State, then look in /proc to confirm it.")
    if comm.startswith("containerd-shim"):
        return Result(False, f"pid {answer} is {comm}, the shim that holds the container: httpd is its child. "
                             "Look one level down, or read the pid from `docker inspect`.")
    return Result(False, f"pid {answer} runs {comm!r}, not {WEB}'s httpd. "
                         f"Read State.Pid from inspect, then check /proc/<pid>/comm says httpd.")


def _names(containers: list[dict]) -> set[str]:
    return {c["Names"][0].lstrip("/") for c in containers if c.get("Names")}


@checker("01.1")
def exited_filter(answer: object) -> Result:
    """A GET /containers/json path whose filters list exactly this lesson's exited containers."""
    if not isinstance(answer, str) or not answer.startswith("/"):
        return Result(False, f"Give the request's path as a string, the part after the method: "
                             f"'/containers/json?...'; you gave {answer!r}.")
    url = urlsplit(answer)
    if not url.path.rstrip("/").endswith("/containers/json"):
        return Result(False, f"{url.path!r} is not the endpoint that lists containers: that one is "
                             "GET /containers/json.")
    filters = parse_qs(url.query).get("filters")
    if not filters:
        return Result(False, "Without a filter, /containers/json lists running containers only, and "
                             "?all=1 lists everything of every lesson. Add a `filters` parameter.")
    try:
        json.loads(filters[0])
    except ValueError:
        return Result(False, f"The filters parameter must be JSON such as {{\"key\": [\"value\"]}}, "
                             f"URL-encoded; dockerd cannot parse {filters[0]!r}.")
    with docker_client(timeout=10).api as api:
        reply = api.get(api.base_url + answer)
        if reply.status_code != 200:
            return Result(False, f"dockerd answered {reply.status_code}: {reply.text.strip()[:200]}")
        got = _names(reply.json())
        everything = api.containers(all=True)
    exited = {n for n in _names([c for c in everything if c["State"] == "exited"]) if n.startswith(PREFIX)}
    if not exited:
        return Result(False, "No container of this lesson has exited yet, so there is nothing to find: "
                             "run the cells that create and start lab-01-raw first.")
    if got == exited:
        return Result(True, f"Right: dockerd filtered for you and answered {', '.join(sorted(got))}.")
    others = sorted(n for n in got - exited if not n.startswith(PREFIX))
    running = sorted(got - exited - set(others))
    if others:
        return Result(False, f"Your list holds other lessons' containers ({', '.join(others[:3])}): "
                             "filter on the name too.")
    if running:
        return Result(False, f"Your list holds {', '.join(running)}, which has not exited: filter on the status.")
    return Result(False, f"Your list misses {', '.join(sorted(exited - got))}: check the filter's values.")


@checker("01.3")
def web_exit_code(answer: object) -> Result:
    """lab-01-web's exit code after `docker stop`, read from the API."""
    state = _web_state()
    if state is None:
        return Result(False, f"There is no {WEB} to ask: run the lesson's cells from the start.")
    if state.get("Running") or state.get("Status") != "exited":
        return Result(False, f"{WEB} is still {state.get('Status')}: stop it with the cell above first.")
    if not isinstance(answer, int) or isinstance(answer, bool):
        return Result(False, f"An exit code is a whole number (an int); you gave {type(answer).__name__} {answer!r}.")
    real = state["ExitCode"]
    if answer == real:
        how = f"killed by signal {real - 128}" if real > 128 else "exited by itself"
        return Result(True, f"Right: ExitCode {real}, {how}.")
    if answer == 0:
        return Result(False, "0 would mean httpd exited cleanly when asked to stop. Then `docker stop` "
                             "would have returned at once: did it? Read State.ExitCode.")
    if answer == 143:
        return Result(False, "143 = 128 + 15 would be death by SIGTERM, the signal `docker stop` sends first. "
                             "Did httpd die of it? Read State.ExitCode.")
    return Result(False, f"{answer} is not what dockerd recorded. Read State.ExitCode from "
                         f"GET /containers/{WEB}/json.")
