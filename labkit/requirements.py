"""`labkit.require(...)`: the first cell of every lesson.

It checks what the lesson needs. Where something is missing (a Binder pod has no root,
no Docker) it says so in one paragraph, and the lesson's later cells are skipped
cleanly: their stored outputs show what they do on a machine that has it all.
"""
from __future__ import annotations

from typing import Callable

from labkit import probes
from labkit.errors import LabError

NEEDS: dict[str, Callable[[], probes.Row]] = {
    "root": probes.root_row,
    "kernel": probes.kernel_row,
    "cgroups": probes.cgroup_row,
    "userns": probes.userns_row,
    "overlay": probes.overlay_row,
    "cni": probes.cni_row,
}


def _engine_row() -> probes.Row:
    from labkit import engine

    if not engine.status().up and probes.root_row().ok:
        engine.up()           # idempotent and fast: after a reboot the lesson just works
    st = engine.status()
    down = [r.name for r in st.rows if not r.ready]
    return probes.Row("engine", not down, f"down: {', '.join(down)}" if down else "up",
                      "Start it with `labkit up` as root")


def _images_row() -> probes.Row:
    row = probes.images_row()
    if not row.ok and _engine_row().ok:
        from labkit import images

        images.build(progress=lambda line: None)
        row = probes.images_row()
    return row


NEEDS.update({"engine": _engine_row, "images": _images_row})


def check(*needs: str) -> probes.Report:
    """Evaluate each need (a NEEDS key or a tool name from `labkit doctor`)."""
    rows = []
    for need in needs:
        if need in NEEDS:
            rows.append(NEEDS[need]())
        elif need in probes.TOOLS:
            rows.append(probes.tool_row(need))
        else:
            raise LabError(f"labkit.require does not know {need!r}", "",
                           f"Use one of: {', '.join(list(NEEDS) + list(probes.TOOLS))}")
    return probes.Report(rows)


def require(*needs: str) -> None:
    """Check the lesson's needs; where one is missing, explain once and skip the live cells."""
    shell = _ipython()
    if shell is not None:
        _install_error_display(shell)
        _set_skipping(shell, None)      # a re-run of require() re-checks from scratch
    report = check(*needs)
    if report.ok:
        _show(f"Ready: {', '.join(needs)}.", shell)
        return
    message = _explain(report)
    if shell is None:
        raise LabError("This lesson cannot run here", message, "")
    _show(message, shell)
    _set_skipping(shell, report)


def _explain(report: probes.Report) -> str:
    missing = "; ".join(f"**{r.name}** ({r.detail})" for r in report.failures)
    fixes = " ".join(f"{r.fix}." for r in report.failures if r.fix)
    return (f"This lesson needs what this machine lacks: {missing}. The cells below will not run here; "
            f"the outputs stored in the notebook show what each one does on a machine that has it. "
            f"To run them yourself: {fixes}")


def _ipython():
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def _show(markdown: str, shell) -> None:
    if shell is None:
        print(markdown)
        return
    from IPython.display import display

    # text/plain too: terminals, nbval and GitHub's renderer read that one.
    display({"text/markdown": markdown, "text/plain": markdown}, raw=True)


def _set_skipping(shell, report: probes.Report | None) -> None:
    transformers = shell.input_transformers_post
    transformers[:] = [t for t in transformers if not getattr(t, "labkit_skip", False)]
    if report is None:
        return
    names = ", ".join(r.name for r in report.failures)

    def skip(lines: list[str]) -> list[str]:
        if any("require(" in line for line in lines):   # let a re-check through
            return lines
        return [f"print('(skipped here: needs {names}; the stored output shows what this cell does)')\n"]

    skip.labkit_skip = True
    transformers.append(skip)


def _install_error_display(shell) -> None:
    """Show a LabError as its one paragraph, not a traceback."""

    def handler(shell, etype, value, tb, tb_offset=None):
        _show(value._repr_markdown_(), shell)
        return None

    shell.set_custom_exc((LabError,), handler)
