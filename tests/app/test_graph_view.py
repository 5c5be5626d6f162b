"""The unrolled graph view draws what its frame says, thinning long sequences to what fits."""

from __future__ import annotations

import re

import numpy as np
from PySide6 import QtGui

from bpttviz.presenters.graph_frame import recurrent_frame
from bpttviz.presenters.trace_data import recurrent_trace
from bpttviz.views.graph_view import MIN_COLUMN_PX, GraphView
from bpttviz.views.theme import Theme

from .conftest import small_session


def _frame(T: int):
    s = small_session(seq_len=T, batch_size=1, hidden_size=4)
    tr = s.narrated_step()
    td = recurrent_trace(tr, iteration=0, kind=s.model.kind, activation=s.cfg.activation,
                         targets=s.last_batch[1], vocab=s.task.vocab, truncation=s.cfg.truncation)
    return recurrent_frame(td, len(tr) - 1)


def test_short_sequences_draw_every_node_and_edge(qtbot):
    g = GraphView(Theme())
    qtbot.addWidget(g)
    g.resize(900, 500)
    g.show()
    f = _frame(6)
    g.show_frame(f)
    assert g.column_stride() == 1 and "drawn" not in g.legend.text()
    assert len(g.nodes.points) == int(np.sum(f.node_size > 0))
    drawn_edges = sum(len(p0) for _, p0, _ in g.edges._groups)
    assert drawn_edges == len(f.edges)


def test_long_sequences_draw_every_nth_step_and_say_so(qtbot):
    g = GraphView(Theme())
    qtbot.addWidget(g)
    g.resize(700, 500)
    g.show()
    T = 300
    f = _frame(T)
    g.show_frame(f)
    k = g.column_stride()
    assert k == int(np.ceil(MIN_COLUMN_PX / g._column_px())) > 1
    m = re.search(r"one step in (\d+) drawn \((\d+) of (\d+)\)", g.legend.text())
    assert m is not None
    cols = sorted({int(x) for x, y in g.nodes.points.tolist() if y == 1.0 and x >= 0})  # the h row
    assert int(m.group(1)) == k and int(m.group(3)) == T and int(m.group(2)) == len(cols)
    assert cols == sorted(set(range(0, T, k)) | {T - 1})
    # the recurrence stays a chain: one edge into each drawn state, from the drawn one before it
    pts = [(tuple(a), tuple(b)) for _, p0, p1 in g.edges._groups for a, b in zip(p0.tolist(), p1.tolist())]
    chain = sorted((a[0], b[0]) for a, b in pts if a[1] == 1.0 and b[1] == 1.0)
    assert chain == list(zip([-1.0] + [float(c) for c in cols[:-1]], [float(c) for c in cols]))


def test_a_one_line_caption_is_cut_with_an_ellipsis_and_whole_in_the_tooltip(qtbot):
    """The side-by-side panel's graph keeps its caption to one line, so its graph keeps the room."""
    g = GraphView(Theme(), caption_lines=1)
    qtbot.addWidget(g)
    g.resize(260, 240)
    g.show()
    f = _frame(6)
    g.show_frame(f)
    shown = g.caption.text()
    assert shown != f.caption and shown.endswith("…") and f.caption.startswith(shown[:-1])
    assert g.caption.toolTip() == f.caption
    assert g._caption_box.height() < 2 * QtGui.QFontMetrics(g.caption.font()).lineSpacing()
    g.resize(4000, 240)
    qtbot.waitUntil(lambda: g.caption.text() == f.caption)  # room enough: the whole caption
    assert g.caption.toolTip() == ""
