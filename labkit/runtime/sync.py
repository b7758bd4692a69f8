"""The pipe between `create` and the processes it forks: one JSON object a line over a socketpair,
as runc's parent and init exchange procReady, procHooks, procRun (libcontainer/sync.go)."""
from __future__ import annotations

import json
import socket


class Channel:
    """One end of the socketpair."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buf = b""

    def send(self, kind: str, **data: object) -> None:
        self.sock.sendall(json.dumps({"type": kind, **data}).encode() + b"\n")

    def recv(self) -> dict:
        """The next message; {'type': 'eof'} once every writer has gone."""
        while b"\n" not in self._buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                return {"type": "eof"}
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return json.loads(line)

    def expect(self, kind: str) -> dict:
        """The next message, which must be `kind` (an 'error' or 'eof' ends the child)."""
        msg = self.recv()
        if msg["type"] != kind:
            raise SystemExit(f"expected {kind!r} from the runtime, got {msg['type']!r}")
        return msg
