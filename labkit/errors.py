"""One exception family for the whole course: what failed, why, and what to do."""
from __future__ import annotations


class LabError(Exception):
    """An error a learner can act on: `what` failed, `why` (errno or a daemon's words), `fix`."""

    def __init__(self, what: str, why: str = "", fix: str = "") -> None:
        self.what, self.why, self.fix = what, why.strip(), fix
        super().__init__(str(self))

    def __str__(self) -> str:
        text = self.what
        if self.why:
            text += f": {self.why}"
        if self.fix:
            text += f". {self.fix}"
        return text if text.endswith((".", "\n")) or "\n" in self.why else text + "."

    def _repr_markdown_(self) -> str:
        return f"**{self.what}**" + (f": {self.why}" if self.why else "") + (f"  \n→ {self.fix}" if self.fix else "")


class BadInput(LabError, ValueError):
    """An argument a labkit function cannot take; raised before anything is changed."""
