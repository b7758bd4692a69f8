"""Exercise checkers: each says what was wrong and hints at why, never pastes the answer.

A lesson calls ``check("00.1", answer)``. Every checker is tested to reject a wrong
answer and accept the solution (tests/unit/test_check.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from labkit.errors import LabError

CHECKERS: dict[str, Callable[[Any], "Result"]] = {}


@dataclass
class Result:
    """A checker's verdict; shows as one line with a ✓ or a ✗."""

    ok: bool
    message: str

    def __repr__(self) -> str:
        return f"{'✓' if self.ok else '✗'} {self.message}"

    def __bool__(self) -> bool:
        return self.ok


def checker(exercise: str) -> Callable:
    """Register a function as the checker of `exercise` ('NN.k')."""

    def register(fn: Callable[[Any], Result]) -> Callable[[Any], Result]:
        CHECKERS[exercise] = fn
        return fn

    return register


def check(exercise: str, answer: Any) -> Result:
    """Check a learner's answer to `exercise`."""
    _load()
    if exercise not in CHECKERS:
        raise LabError(f"There is no exercise {exercise!r}", "", f"Exercises are: {', '.join(sorted(CHECKERS))}")
    if answer is None or answer is ...:
        return Result(False, "No answer yet: replace None in the answer cell with yours, then run it.")
    return CHECKERS[exercise](answer)


def _load() -> None:
    # One module of checkers per lesson in labkit/exercises; importing one registers its checkers.
    import importlib
    import pkgutil

    import labkit.exercises as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"{pkg.__name__}.{mod.name}")


def wrong_answers() -> dict[str, list]:
    """Every exercise's known wrong answers (each lesson module's WRONG_ANSWERS), for the tests."""
    import sys

    _load()
    found: dict[str, list] = {}
    for name, mod in list(sys.modules.items()):
        if name.startswith("labkit.exercises.") and hasattr(mod, "WRONG_ANSWERS"):
            for ex, answers in mod.WRONG_ANSWERS.items():
                found[ex] = answers() if callable(answers) else list(answers)
    return found
