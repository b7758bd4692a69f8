"""Messages for the caller: to --log as JSON lines when --log-format json (containerd's shim reads the
last "error" line back and shows it), and errors to stderr too."""
from __future__ import annotations

import json
import sys
from datetime import datetime, timezone

_target: dict[str, str] = {"path": "", "format": "text"}


def configure(path: str | None, fmt: str) -> None:
    """Where messages go: the --log file (if any), in the --log-format."""
    _target.update(path=path or "", format=fmt)


def log(level: str, msg: str) -> None:
    """One line to the log file; errors also to stderr."""
    now = datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")
    line = (json.dumps({"level": level, "msg": msg, "time": now}) if _target["format"] == "json"
            else f'time="{now}" level={level} msg="{msg}"')
    if _target["path"]:
        try:
            with open(_target["path"], "a") as f:
                f.write(line + "\n")
        except OSError:
            pass
    if level == "error":
        print(f"labrun: {msg}", file=sys.stderr)
