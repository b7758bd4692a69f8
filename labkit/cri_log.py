"""The CRI log format: what the runtime writes to the file the kubelet named in `log_path`.

One line per chunk of output: ``<RFC 3339 time> <stream> <tag> <text>``. The stream is
``stdout`` or ``stderr``; the tag is ``F`` for a full line or ``P`` for a partial one (the
runtime cuts lines longer than its buffer, 16 KiB in containerd, into P pieces ending with
an F). containerd's CRI plugin and CRI-O's conmon both write it; `kubectl logs` reads it.
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from labkit.errors import LabError

STREAMS = ("stdout", "stderr")
TAGS = ("P", "F")


class LogLine(NamedTuple):
    """One line of a CRI log file."""

    time: str
    stream: str
    tag: str
    text: str


def parse_line(line: str) -> LogLine:
    """Split one CRI log line into time, stream, tag and text (the text keeps its spaces)."""
    line = line.rstrip("\n")
    # Exactly three separators: the text itself may hold any number of spaces, or be empty.
    parts = line.split(" ", 3)
    if len(parts) == 3:                  # an empty full line may lose its trailing space
        parts.append("")
    if len(parts) != 4 or parts[1] not in STREAMS or parts[2].split(":")[0] not in TAGS:
        raise LabError("Not a CRI log line", repr(line[:80]),
                       "A CRI log line reads '<time> <stdout|stderr> <P|F> <text>'")
    time, stream, tag, text = parts
    return LogLine(time, stream, tag.split(":")[0], text)


def read(path: str | Path) -> list[LogLine]:
    """Every line of a CRI log file, parsed."""
    return [parse_line(line) for line in Path(path).read_text().splitlines()]


def messages(lines: list[LogLine]) -> list[tuple[str, str]]:
    """(stream, text) of each whole line, with P pieces joined to the F that ends them."""
    out: list[tuple[str, str]] = []
    pending: dict[str, str] = {}          # each stream is split on its own
    for ln in lines:
        text = pending.pop(ln.stream, "") + ln.text
        if ln.tag == "P":
            pending[ln.stream] = text
        else:
            out.append((ln.stream, text))
    out += [(stream, text) for stream, text in pending.items()]    # a container that died mid-line
    return out
