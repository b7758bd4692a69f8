"""The command line, as containerd-shim-runc-v2 calls runc: global flags, then one verb."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from labkit.runtime import log
from labkit.runtime.errors import Refused

DEFAULT_ROOT = "/run/labkit/labrun"          # labkit.config.LABRUN_ROOT (not imported: labrun stays lean)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="labrun", description="The course's OCI runtime (containers, down the stack).")
    p.add_argument("--root", default=DEFAULT_ROOT, help="where containers' state lives (default %(default)s)")
    p.add_argument("--log", help="append messages here")
    p.add_argument("--log-format", choices=("text", "json"), default="text")
    p.add_argument("--systemd-cgroup", action="store_true", help="the container's group is a systemd scope (cgroupsPath slice:prefix:name; cgroup v2)")
    p.add_argument("--debug", action="store_true", help="show a Python traceback on an unexpected error")
    verbs = p.add_subparsers(dest="verb", required=True)
    c = verbs.add_parser("create", help="everything but the program: it waits for `start`")
    c.add_argument("--bundle", "-b", default=".")
    c.add_argument("--pid-file")
    c.add_argument("--console-socket")
    c.add_argument("--no-pivot", action="store_true")
    c.add_argument("--no-new-keyring", action="store_true", help="accepted: labrun makes no session keyring")
    c.add_argument("id")
    for name in ("start", "state", "pause", "resume"):
        verbs.add_parser(name).add_argument("id")
    k = verbs.add_parser("kill", help="send a signal (default SIGTERM)")
    k.add_argument("--all", "-a", action="store_true")
    k.add_argument("id")
    k.add_argument("signal", nargs="?", default="TERM")
    d = verbs.add_parser("delete")
    d.add_argument("--force", "-f", action="store_true")
    d.add_argument("id")
    e = verbs.add_parser("exec", help="run one more process in a running container")
    e.add_argument("--process", "-p", required=True, help="process.json (or - for stdin)")
    e.add_argument("--detach", "-d", action="store_true")
    e.add_argument("--pid-file")
    e.add_argument("--console-socket")
    e.add_argument("id")
    ps = verbs.add_parser("ps")
    ps.add_argument("--format", "-f", choices=("table", "json"), default="table")
    ps.add_argument("id")
    u = verbs.add_parser("update", help="new limits for a container (memory, pids, cpu)")
    u.add_argument("--resources", "-r", required=True, help="a JSON LinuxResources object (or - for stdin)")
    u.add_argument("id")
    ls = verbs.add_parser("list", help="the containers under --root")
    ls.add_argument("--quiet", "-q", action="store_true", help="ids only")
    verbs.add_parser("features")
    return p


def run(args: argparse.Namespace) -> int:
    """Do one verb; what it prints goes to stdout. Each verb imports only its own module: after the
    interpreter's start, imports are most of what a short verb (state, start, kill) costs."""
    root = Path(args.root)
    if args.verb == "create":
        from labkit.runtime import create
        create.create(root, args.id, args.bundle, args.pid_file, args.console_socket, args.no_pivot, args.systemd_cgroup)
    elif args.verb == "start":
        from labkit.runtime import start
        start.start(root, args.id)
    elif args.verb == "state":
        from labkit.runtime import state
        print(json.dumps(state.state(root, args.id), indent=2))
    elif args.verb == "exec":
        from labkit.runtime import exec
        return exec.exec_(root, args.id, args.process, args.detach, args.pid_file, args.console_socket)
    elif args.verb == "kill":
        from labkit.runtime import kill
        kill.kill(root, args.id, kill.parse_signal(args.signal), args.all)
    elif args.verb == "delete":
        from labkit.runtime import delete
        delete.delete(root, args.id, args.force)
    elif args.verb in ("pause", "resume"):
        from labkit.runtime import pause
        pause.pause(root, args.id, frozen=args.verb == "pause")
    elif args.verb == "update":
        from labkit.runtime import update
        update.update(root, args.id, args.resources)
    elif args.verb == "ps":
        from labkit.runtime import ps
        pids = ps.ps(root, args.id)
        print(json.dumps(pids) if args.format == "json" else "\n".join(["PID", *map(str, pids)]))
    elif args.verb == "list":
        from labkit.runtime import store
        for cid in store.ids(root):
            print(cid if args.quiet else f"{cid}\t{store.status(root, store.load(root, cid))}")
    elif args.verb == "features":
        from labkit.runtime import features
        print(json.dumps(features.features(), indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    """labrun's entry point: exit 0, or 1 with one error line (in --log too)."""
    args = parser().parse_args(argv)
    log.configure(args.log, args.log_format)
    try:
        return run(args)
    except Refused as err:
        log.log("error", str(err))
    except Exception as err:        # a bug: still one line for the shim, the traceback with --debug
        if args.debug:
            raise
        log.log("error", f"labrun failed: {type(err).__name__}: {err}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
