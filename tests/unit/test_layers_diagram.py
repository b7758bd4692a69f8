"""The layer-stack diagram's logic: history lines tidied, steps paired with layers, the drawing's parts."""
from __future__ import annotations

import pytest

from labkit.widgets import layers as lw

D = ["sha256:" + c * 64 for c in "abc"]


@pytest.mark.parametrize("created_by, line", [
    ('/bin/sh -c #(nop)  CMD ["sh"]', 'CMD ["sh"]'),
    ("/bin/sh -c #(nop) COPY file:" + "b" * 64 + " in /www/index.html ", "COPY file:" + "b" * 12 + "… in /www/index.html"),
    ("/bin/sh -c echo hi > /x", "RUN echo hi > /x"),
    ("/bin/busybox --install -s /bin", "RUN /bin/busybox --install -s /bin"),
    ("COPY index.html /www/index.html # buildkit", "COPY index.html /www/index.html"),
    ("RUN /bin/sh -c true # buildkit", "RUN /bin/sh -c true"),
    ("", "(step not recorded)"),
])
def test_tidy_gives_the_dockerfile_line(created_by, line):
    assert lw.tidy(created_by) == line


def history(*steps):
    """Engine API order: newest first."""
    return [{"CreatedBy": c, "Size": s} for c, s in reversed(steps)]


def test_stack_pairs_layer_steps_with_diff_ids_bottom_first():
    h = history(("/bin/sh -c #(nop) COPY file:x in /", 100), ("/bin/sh -c true", 0),
                ('/bin/sh -c #(nop)  CMD ["sh"]', 0), ("/bin/sh -c #(nop) COPY file:y in /a", 5))
    steps = lw.stack(h, D)
    assert [s.diff_id for s in steps] == [D[0], D[1], None, D[2]]
    assert steps[1].instruction == "RUN true" and steps[1].size == 0      # an empty layer is still a layer


def test_stack_without_a_matching_history_still_draws_every_layer():
    steps = lw.stack(history(('/bin/sh -c #(nop)  CMD ["sh"]', 0)), D[:2])
    assert [s.diff_id for s in steps] == D[:2]
    assert "not recorded" in steps[0].instruction


def test_draw_shows_the_id_each_layer_the_shared_ones_and_the_blobs():
    steps = [lw.Step("COPY a /", 1_980_000, D[0]), lw.Step('CMD ["sh"]', 0, None), lw.Step("RUN x", 142, D[1])]
    g = lw.draw("lab-02-x:1", "sha256:" + "f" * 64, steps, {D[0]}, "labkit/busybox",
                [("sha256:" + "9" * 64, 1_060_000), ("sha256:" + "8" * 64, 250)])
    src = g.source
    assert "image id sha256:ffffffffffff…" in src and 'CMD [\\"sh\\"]' in src
    assert "layer 2: RUN x" in src and "142 B" in src and "1.98 MB" in src
    assert "blob sha256:999999999999… (1.06 MB gzip)" in src
    assert 'label="from labkit/busybox"' in src
    base, own = src.split("subgraph cluster_base")[1].split("}", 1)
    assert "layer 1" in base and "layer 2" not in base and "layer 2" in own
    assert "<svg" in g.pipe("svg").decode()


@pytest.mark.parametrize("size, text", [(0, "0 B"), (999, "999 B"), (3220, "3.22 kB"), (1_984_512, "1.98 MB")])
def test_human_sizes_are_dockers(size, text):
    assert lw.human(size) == text
