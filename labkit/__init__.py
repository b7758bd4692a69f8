"""labkit: the helper package of the course *Containers, down the stack*.

Lessons import from here. The package stays lean on import (the course's own
runtime starts once per container operation), so heavier pieces load lazily.
"""
from __future__ import annotations

from labkit.errors import LabError

__version__ = "0.1.0"
__all__ = ["LabError", "doctor", "require", "up", "down", "status", "clean", "solution"]

_LAZY = {
    "doctor": ("labkit.probes", "doctor"),
    "require": ("labkit.requirements", "require"),
    "up": ("labkit.engine", "up"),
    "down": ("labkit.engine", "down"),
    "status": ("labkit.engine", "status"),
    "clean": ("labkit.cleanup", "clean"),
    "solution": ("labkit.learner", "solution"),
}


def __getattr__(name: str):
    import importlib

    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    try:    # `labkit.images.build()` in a lesson, without a separate import line
        return importlib.import_module(f"labkit.{name}")
    except ModuleNotFoundError:
        raise AttributeError(f"module 'labkit' has no attribute {name!r}") from None
