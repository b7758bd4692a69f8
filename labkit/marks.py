"""The ✓ and ✗ of the doctor's and the engine's tables: glyphs that DejaVu (Debian's default font)
and other common fonts carry, not emoji, which show as empty boxes where no emoji font is installed."""
from __future__ import annotations


def html(ok: bool) -> str:
    """A green ✓ or a red ✗, for an HTML table cell."""
    return '<span style="color:#1a7f37">✓</span>' if ok else '<span style="color:#cf222e">✗</span>'
