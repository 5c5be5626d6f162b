"""One moment, one truth: at every moment every number a view displays equals a value computed
independently from the engine for that moment.

A *shadow* session with the same configuration trains alongside; for iteration N it keeps copies
of the parameters before and after the update (taken from its model, not from any narration), and
the batch. The expected values are recomputed from those copies with plain engine calls
(``loss_and_grads``, ``diagnostics.gradient_decay``, ``diagnostics.delta_norms``, ``steps``) and
compared with what the views report they display (``MainWindow.shown_values``,
``ExplainView.shown``).
"""

from __future__ import annotations

import random
import re

import numpy as np
import pytest
from PySide6 import QtCore, QtWidgets

from bpttviz.engine.explain import _collect, _focus
from bpttviz.engine.gradients import diagnostics
from bpttviz.engine.records import (
    BackwardStep,
    ForwardStep,
    GradientStep,
    LayerBackward,
    LayerForward,
    LossStep,
    UpdateStep,
)
from bpttviz.engine.training.session import Session, model_with

from .conftest import small_session

Key = QtCore.Qt.Key

CASES = {
    "rnn": lambda: small_session(),
    "lstm": lambda: small_session(model="lstm"),
    "gru": lambda: small_session(model="gru"),
    "mlp": lambda: Session.from_preset("xor-mlp"),
}
ITER = re.compile(r"iteration (\d+)")


class Shadow:
    """The same configuration trained on its own; ``its[N]`` = parameters before and after
    iteration N's update (copies from the model), its batch, carried state and options."""

    def __init__(self, cfg) -> None:
        self.s = Session(cfg)
        self.its: dict[int, dict] = {0: {"after": self._params()}}

    def _params(self) -> dict:
        return {k: v.copy() for k, v in self.s.model.params.items()}

    def upto(self, n: int) -> None:
        while self.s.iteration < n:
            before = self._params()
            self.s.narrated_step()  # for its batch and carried state; the parameters are copied here
            nar = self.s.last_narration
            self.its[self.s.iteration] = dict(before=before, after=self._params(), x=nar.inputs, y=nar.targets,
                                              h0=nar.h0, options=dict(nar.options))

    def model(self, params: dict):
        return model_with(self.s.model, params)


def _kw(it: dict) -> dict:
    kw = dict(it["options"])
    if it["h0"] is not None:
        kw["h0"] = it["h0"]
    return kw


def _fmt_in(value: float, text: str, spec: str = ".4g") -> bool:
    return format(value, spec) in text


def check_moment(win, shadow: Shadow) -> dict:
    """Every displayed number against the independent values; returns a summary."""
    c = win.controller
    m = c.moment
    N = m.iteration
    shown = win.shown_values()
    st = shown["status"]
    assert st["iteration"] == f"iteration {N}"
    shadow.upto(max(N, c.session.iteration))
    s = c.session
    if N == 0:
        params = shadow.its[0]["after"]
        it = None
    else:
        it = shadow.its[N]
        params = it["after"] if m.updated else it["before"]

    # ---- the parameters every view reads
    for k, v in params.items():
        assert m.params[k].tobytes() == v.tobytes(), k
    w = shown["weights"]
    P = params[w["name"]]
    assert w["norm"] == pytest.approx(float(np.sqrt(np.sum(P * P))), rel=1e-12)
    assert _fmt_in(w["norm"], w["info"])
    if P.ndim == 2:
        sig = float(np.linalg.norm(P, 2))
        assert w["sigma"] == pytest.approx(sig, rel=1e-10) and _fmt_in(sig, w["info"])
    np.testing.assert_array_equal(w["value"], np.asarray(P, dtype=np.float32).reshape(w["value"].shape))
    at_update = m.record is not None and m.reached(UpdateStep)
    if at_update:  # before / after / Δ
        B, D = it["before"][w["name"]], it["after"][w["name"]] - it["before"][w["name"]]
        assert w["norm_before"] == pytest.approx(float(np.sqrt(np.sum(B * B))), rel=1e-12)
        assert w["delta_norm"] == pytest.approx(float(np.sqrt(np.sum(D * D))), rel=1e-9)
        assert _fmt_in(w["norm_before"], w["info"]) and _fmt_in(w["delta_norm"], w["info"])
    else:
        assert w["delta"] is None

    # ---- the loss: status bar and loss view
    lv = shown["loss"]
    assert len(lv["x"]) == 0 or lv["x"].max() <= N
    loss = None
    if it is not None:
        res = shadow.model(it["before"]).loss_and_grads(it["x"], it["y"], **_kw(it))
        loss, grads = res[0], res[1]
    reached_loss = N > 0 and m.reached(LossStep)
    if reached_loss:
        assert st["loss"].startswith(f"loss {loss:.4g}  ·  ")
        i = np.nonzero(lv["x"] == N)[0]
        if i.size:  # (a decimated history may skip it)
            assert lv["loss"][i[0]] == pytest.approx(loss, rel=1e-12)
    else:
        assert st["loss"].startswith("loss —  ·  ") and N not in lv["x"]
    if N > 0 and not m.reached(GradientStep):
        assert N not in lv["norm_x"]

    # ---- decay curve and deltas (recurrent)
    if s.cfg.is_recurrent and N > 0:
        kw = _kw(it)
        before_model = shadow.model(it["before"])
        curve = diagnostics.gradient_decay(before_model, it["x"], it["y"], **kw)
        d = shown["decay"]
        shown_curve = d["curve"]
        revealed = np.isfinite(shown_curve)
        np.testing.assert_allclose(shown_curve[revealed], curve[revealed], rtol=1e-10)
        note = d["note"]
        assert f"iteration {N}" in note
        hit = re.search(r"(\d\.\de[+-]\d+) of the last step's error reaches (\d+) steps back", note)
        if revealed.any() and curve[0] > 0:
            kk = int(hit.group(2))
            pos = np.nonzero(revealed & (curve > 0))[0]
            assert kk == pos[-1]
            assert hit.group(1) == f"{curve[kk] / curve[0]:.1e}"
        else:
            assert hit is None
        rec = m.rec
        if isinstance(rec, BackwardStep):
            assert revealed.sum() == it["x"].shape[1] - rec.t  # as far back as the backward pass got
        dn = diagnostics.delta_norms(before_model, it["x"], it["y"], **kw)
        got = shown["deltas"]["norms"]["‖dL/dhₜ‖"]
        ok = np.isfinite(got)
        np.testing.assert_allclose(got[ok], dn[ok], rtol=1e-10)
        if isinstance(rec, BackwardStep):
            assert ok.sum() == len(dn) - rec.t
        elif m.record is not None and not m.reached(BackwardStep):
            assert ok.sum() == 0

    # ---- Explain's terms, recomputed from the saved pre-update parameters
    ex = win.explain.shown()
    rec = m.rec
    if rec is not None:
        ref = list(shadow.model(it["before"]).steps(it["x"], it["y"], **_kw(it)))
        r = ref[m.record] if m.record < len(ref) else None
        terms = ex["terms"]
        j = win.explain.current_unit()
        if isinstance(rec, ForwardStep):
            assert terms["h"] == pytest.approx(float(r.h[0, j]), rel=1e-12, abs=1e-15)
            if "pre" in terms:
                assert terms["pre"] == pytest.approx(float(r.pre[0, j]), rel=1e-12, abs=1e-15)
        elif isinstance(rec, BackwardStep):
            assert terms["dh"] == pytest.approx(float(r.dh[0, j]), rel=1e-10, abs=1e-15)
        elif isinstance(rec, LayerForward):
            jj = min(j, r.z.shape[1] - 1)
            assert terms["pre" if "pre" in terms else "y"] == pytest.approx(
                float((r.z if "pre" in terms else r.a)[0, jj]), rel=1e-12, abs=1e-15)
        elif isinstance(rec, LayerBackward):
            jj = min(j, r.dz.shape[1] - 1)
            assert terms["dpre"] == pytest.approx(float(r.dz[0, jj]), rel=1e-10, abs=1e-15)
        elif isinstance(rec, LossStep):
            assert terms["total"] == pytest.approx(loss, rel=1e-12)
        elif isinstance(rec, UpdateStep):
            name, index, _ = _focus(s.model, j, _collect({}))
            delta = it["after"][name][index] - it["before"][name][index]
            assert terms["delta"] == pytest.approx(float(delta), rel=1e-9, abs=1e-15)
            gnorm = float(np.sqrt(sum(np.sum(g * g) for g in grads.values())))
            assert terms["norm"] == pytest.approx(gnorm, rel=1e-9)
            assert ex["title"] == f"Update (iteration {N})"

    # ---- every "iteration N" on screen names this moment
    texts = [st["iteration"], st["phase"], w["info"], ex["moment"], ex["title"], ex["text"],
             shown.get("graph", {}).get("caption", "")]
    if s.cfg.is_recurrent and N > 0:
        texts += [shown["decay"]["note"], shown["deltas"]["title"]]
    for t in texts:
        for num in ITER.findall(t):
            assert int(num) == N, (t, N)
    return {"iteration": N, "record": m.record}


def _prepare(make_window, case: str, fps: float = 60.0):
    win = make_window(CASES[case](), size=(2400, 1400), fps=fps)
    win.docks["explain"].raise_()
    win.docks["weights"].raise_()
    # the deltas, decay and loss plots side by side (they share tabs by default): only what is on
    # screen is painted, and this test reads all of them at every moment
    H = QtCore.Qt.Orientation.Horizontal
    win.addDockWidget(QtCore.Qt.DockWidgetArea.BottomDockWidgetArea, win.docks["deltas"])
    win.splitDockWidget(win.docks["deltas"], win.docks["decay"], H)
    win.splitDockWidget(win.docks["decay"], win.docks["loss"], H)
    QtWidgets.QApplication.processEvents()
    win.controller.refresh_all()
    return win, Shadow(win.controller.session.cfg)


def _settle(win, qtbot) -> None:
    """One frame of the paint timer (what 'within one frame' means); nothing forced."""
    qtbot.wait(int(2000 / win.controller.fps) + 5)


@pytest.mark.parametrize("case", list(CASES))
def test_every_record_of_two_iterations_shows_one_moment(qtbot, make_window, case):
    # a faster paint timer: each step waits one of its (shorter) frames, the views still update
    # only through it
    win, shadow = _prepare(make_window, case, fps=240.0)
    c = win.controller
    check_moment(win, shadow)  # iteration 0: the initial parameters
    seen = []
    while c.moment.iteration < 3:
        qtbot.keyClick(win.graph, Key.Key_Right)
        _settle(win, qtbot)
        seen.append(check_moment(win, shadow))
    assert {s["iteration"] for s in seen} >= {1, 2, 3}
    n_records = len(c.moment.narration.trace)
    # Left from the first record steps into the previous iteration (kept), at its update record
    assert c.moment.record == 0
    qtbot.keyClick(win.graph, Key.Key_Left)
    _settle(win, qtbot)
    assert c.moment.iteration == 2 and c.moment.record == n_records - 1
    check_moment(win, shadow)
    for _ in range(3):
        qtbot.keyClick(win.graph, Key.Key_Left)
        _settle(win, qtbot)
        check_moment(win, shadow)
    qtbot.keyClick(win.graph, Key.Key_Right, QtCore.Qt.KeyboardModifier.ControlModifier)
    _settle(win, qtbot)
    assert c.moment.iteration == 2 and c.moment.updated  # back to the end of the kept iteration
    check_moment(win, shadow)


@pytest.mark.parametrize("case, process", [(case, False) for case in CASES] + [("rnn", True), ("lstm", True)],
                         ids=[*CASES, "rnn-in-a-training-process", "lstm-in-a-training-process"])
def test_random_pauses_during_play_show_one_moment(qtbot, make_window, monkeypatch, case, process):
    if process:  # trained by the app's training process (each snapshot swapped in whole)
        monkeypatch.setenv("BPTTVIZ_TRAINING_PROCESS", "1")
    win, shadow = _prepare(make_window, case)
    if process:
        assert win.controller._process.wait_ready(60)
    c = win.controller
    rng = random.Random(7)
    for _ in range(3):
        c.play()
        qtbot.wait(rng.randint(20, 250))
        c.pause()
        _settle(win, qtbot)
        got = check_moment(win, shadow)
        assert got["iteration"] == c.session.iteration  # paused on the newest iteration
        for _ in range(rng.randint(1, 4)):  # and a few records back into it
            qtbot.keyClick(win.graph, Key.Key_Left)
        _settle(win, qtbot)
        check_moment(win, shadow)


def _comparable(shown: dict) -> dict:
    out = {}
    for view, values in shown.items():
        for k, v in values.items():
            if isinstance(v, dict):
                for k2, v2 in v.items():
                    out[f"{view}.{k}.{k2}"] = v2
            else:
                out[f"{view}.{k}"] = v
    return out


def _assert_same_display(a: dict, b: dict, spectrum_common: bool = False) -> None:
    """Equal displays. ``spectrum_common``: the singular-value curves only where both have a point
    (while playing, points are measured now and then, so a window that replays kept iterations
    and one that computes them anew may hold different points; every point both draw is equal)."""
    a, b = _comparable(a), _comparable(b)
    assert a.keys() == b.keys()
    if spectrum_common:
        xa, xb = a.pop("weights.spectrum_x"), b.pop("weights.spectrum_x")
        common, ia, ib = np.intersect1d(xa, xb, return_indices=True)
        assert common.size and common[-1] == min(xa[-1], xb[-1])
        for k in [k for k in a if k.startswith("weights.spectrum.")]:
            assert np.array_equal(a.pop(k)[ia], b.pop(k)[ib], equal_nan=True), k
    for k in a:
        x, y = a[k], b[k]
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            assert np.array_equal(np.asarray(x), np.asarray(y), equal_nan=True), k
        else:
            assert x == y, k


@pytest.mark.parametrize("case", ["rnn", "lstm", "mlp"])
def test_save_at_random_moments_then_open_shows_the_same_and_goes_on_bit_for_bit(qtbot, make_window, tmp_path, case):
    from bpttviz.features.file_actions import open_session_file

    win, shadow = _prepare(make_window, case)
    c = win.controller
    # every file is opened in the same second window: from the second trial on, one that has
    # already shown (and trained on) another session, which must leave nothing of it on screen
    other, _ = _prepare(make_window, case)
    oc = other.controller
    rng = random.Random(11)
    for trial in range(3):
        for _ in range(rng.randint(1, 17)):
            qtbot.keyClick(win.graph, Key.Key_Right)
        if rng.random() < 0.5:
            c.play()
            qtbot.wait(rng.randint(10, 120))
            c.pause()
            for _ in range(rng.randint(0, 6)):
                qtbot.keyClick(win.graph, Key.Key_Left)
        c.refresh_all()
        check_moment(win, shadow)
        path = tmp_path / f"at-{trial}.npz"
        win.files.save_to(path)
        open_session_file(other, path)
        oc.refresh_all()
        assert (oc.moment.iteration, oc.moment.record) == (c.moment.iteration, c.moment.record)
        _assert_same_display(win.shown_values(), other.shown_values())
        # both go on the same way, bit for bit, and as the shadow that never stopped
        for _ in range(3):
            c.step_iteration()
            oc.step_iteration()
        c.refresh_all()
        oc.refresh_all()
        _assert_same_display(win.shown_values(), other.shown_values(), spectrum_common=True)
        for k, v in c.session.model.params.items():
            assert v.tobytes() == oc.session.model.params[k].tobytes()
        shadow.upto(c.session.iteration)
        for k, v in shadow.its[c.session.iteration]["after"].items():
            assert v.tobytes() == c.session.model.params[k].tobytes()
        for name in c.session.history:
            x1, y1 = c.session.history[name].data()
            x2, y2 = oc.session.history[name].data()
            assert np.array_equal(x1, x2) and np.array_equal(y1, y2, equal_nan=True), name


# ---------------------------------------------------------------------------------- stale results
def test_a_gradient_check_is_cleared_when_the_model_or_its_bugs_change(qtbot, shared_window):
    win = shared_window
    lab = win.gradient_lab
    win.controller.step_iteration()
    lab.check_model()
    assert lab.view.report is not None and "iteration 1 (parameters after its update)" in lab.view.source
    assert f"iteration {win.controller.moment.iteration}" in win.status_labels["iteration"].text()
    lab.set_bugs({"drop_dh_next"})
    assert lab.view.report is None and "cleared" in lab.view.source_label.text()
    lab.check_model()
    assert lab.view.report is not None and not lab.view.report.ok
    win.controller.reset()
    assert lab.view.report is None and lab.view.verdict.text() == ""
    lab.check_model()
    win._load_preset("xor-mlp")
    assert lab.view.report is None


def test_with_drop_dh_next_the_graph_caption_does_not_claim_the_future_term(qtbot, shared_window):
    win = shared_window
    win.gradient_lab.set_bugs({"drop_dh_next"})
    c = win.controller
    c.step_iteration()
    trace = c.moment.narration.trace
    i = next(k for k, r in enumerate(trace) if isinstance(r, BackwardStep) and r.t == 2)
    c.go_to(i)
    c.refresh_all()
    cap = win.shown_values()["graph"]["caption"]
    assert "(from the future)" not in cap and "+ dL/dh₃" not in cap and "the future term is dropped" in cap
    win.gradient_lab.set_bugs(())
    c.step_iteration()
    c.go_to(i)
    c.refresh_all()
    assert "from the future" in win.shown_values()["graph"]["caption"]


def test_with_truncation_the_decay_caption_describes_the_curve(qtbot, make_window):
    win = make_window(small_session(seq_len=8, truncation=3))
    c = win.controller
    win.docks["decay"].raise_()
    c.step_iteration()
    c.refresh_all()
    d = win.shown_values()["decay"]
    shown = d["curve"]
    last = int(np.nonzero(np.isfinite(shown) & (shown > 0))[0][-1])
    assert last == 2  # truncation k = 3 reaches h_(T-1) .. h_(T-3)
    assert "truncated at k = 3" in d["note"] and "reaches 2 steps back, nothing beyond" in d["note"]
    assert f"{shown[2] / shown[0]:.1e} of the last step's error" in d["note"]


def test_a_blowup_message_goes_when_the_blowup_does(qtbot, make_window):
    win = make_window(small_session(task="sine", activation="relu", optimizer="sgd", lr=1.0, clip="none",
                                    init="xavier", init_scale=3.0))
    c = win.controller
    for _ in range(30):
        c.step_iteration()
        if c.session.blowup is not None:
            break
    b = c.session.blowup
    assert b is not None and win.statusBar().currentMessage() == b.message()
    assert f"iteration {b.iteration}" in b.message() and c.moment.iteration == b.iteration
    assert win.status_labels["iteration"].text() == f"iteration {b.iteration}"
    c.reset()
    assert win.statusBar().currentMessage() != b.message()


def test_keys_work_after_apply_and_reset_without_a_click(qtbot, shared_window):
    win = shared_window
    win.explain.unit.setFocus()  # e.g. the learner was choosing a unit
    assert win.explain.unit.hasFocus()
    win._rebuild(win.controller.session.cfg)  # Apply & reset
    assert win.graph.hasFocus()
    qtbot.keyClick(QtCore.QCoreApplication.instance().focusWidget(), Key.Key_Right)
    assert win.controller.moment.iteration == 1 and win.controller.moment.record == 0
    win.explain.unit.setFocus()
    win._apply_live({"lr": 0.05})
    qtbot.keyClick(QtCore.QCoreApplication.instance().focusWidget(), Key.Key_Right)
    assert win.controller.moment.record == 1
