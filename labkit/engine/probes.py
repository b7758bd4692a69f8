"""Cheap readiness probes: does a daemon answer a real request?"""
from __future__ import annotations

import socket
from pathlib import Path


def http_ok(path: str, *, unix: Path | None = None, port: int | None = None, timeout: float = 0.5) -> bool:
    """True when GET `path` answers 2xx, over a unix socket or 127.0.0.1:`port`."""
    try:
        if unix is not None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(str(unix))
        else:
            sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        with sock:
            sock.sendall(f"GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n".encode())
            status = sock.recv(64).split(b" ", 2)
        return len(status) > 1 and status[1].startswith(b"2")
    except OSError:
        return False


def unix_accepts(path: Path, timeout: float = 0.5) -> bool:
    """True when something accepts connections on the unix socket `path`."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(path))
        return True
    except OSError:
        return False


def tcp_in_use(port: int) -> bool:
    """True when something already listens on 127.0.0.1:`port`."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.3).close()
        return True
    except OSError:
        return False
