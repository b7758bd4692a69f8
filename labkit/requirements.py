"""`labkit.require(...)`: the first cell of every lesson.

It checks what the lesson needs. Where something is missing (a Binder pod has no root,
no Docker) it says so in one paragraph, and the lesson's later cells are skipped
cleanly: their stored outputs show what they do on a machine that has it all.
"""
from __future__ import annotations

import os
from typing import Callable

from labkit import probes, stored
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

    if not probes.root_row().ok:        # its sockets are root's: it may run, but not for this user
        return probes.Row("engine", False, f"out of reach as uid {os.geteuid()}: its sockets are root's",
                          "Start JupyterLab as root (`sudo ./lab open`)")
    if not engine.status().up:
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
    fixes = " ".join(dict.fromkeys(f"{r.fix}." for r in report.failures if r.fix))
    return (f"Here this lesson lacks {missing}, so a cell that needs them shows the output it had on a "
            f"machine that has them, and the others run. {fixes}")


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
    """From now on, run a cell only if it needs nothing missing; any other cell shows its stored
    output again (running a cell clears what the notebook showed). The cell is found in the lesson by
    its code: IPython transforms a cell before it says which one runs. Code found nowhere in the
    lesson (an answer the learner wrote, an edited cell) is the learner's own, and runs."""
    transformers = shell.input_transformers_post
    transformers[:] = [t for t in transformers if not getattr(t, "labkit_skip", False)]
    if report is None:
        return
    names = ", ".join(r.name for r in report.failures)

    def skip(lines: list[str]) -> list[str]:
        if any("require(" in line for line in lines):   # let a re-check through
            return lines
        session = _session(shell)
        cell = stored.by_code("".join(lines), session, shell.input_transformer_manager.transform_cell)
        if cell is None or stored.runs_unprivileged(cell):
            return lines
        return [f"__import__('labkit.stored').stored.replay({cell.get('id')!r}, {session!r}, {names!r})\n"]

    skip.labkit_skip = True
    transformers.append(skip)


def _session(shell) -> str | None:
    # JupyterLab (jupyter_server 2) starts each kernel with the notebook's path in JPY_SESSION_NAME;
    # ipykernel puts it in the namespace as __session__.
    return shell.user_ns.get("__session__") or os.environ.get("JPY_SESSION_NAME")


def _install_error_display(shell) -> None:
    """Show a LabError as its one paragraph, not a traceback."""

    def handler(shell, etype, value, tb, tb_offset=None):
        _show(value._repr_markdown_(), shell)
        return None

    shell.set_custom_exc((LabError,), handler)
