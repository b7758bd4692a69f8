"""labkit: the helper package of the course *Containers, down the stack*.

Lessons import from here. The package stays lean on import (the course's own
runtime starts once per container operation), so heavier pieces load lazily.
"""
from __future__ import annotations

from labkit.errors import LabError

__version__ = "0.1.0"
__all__ = ["LabError", "doctor", "require", "up", "down", "status", "clean"]

_LAZY = {
    "doctor": ("labkit.doctor", "doctor"),
    "require": ("labkit.require", "require"),
    "up": ("labkit.engine", "up"),
    "down": ("labkit.engine", "down"),
    "status": ("labkit.engine", "status"),
    "clean": ("labkit.clean", "clean"),
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'labkit' has no attribute {name!r}")
