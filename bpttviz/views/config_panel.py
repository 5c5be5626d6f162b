"""The configuration panel: every setting a user would change, validated by the engine.

Settings that change the model's shape or data (``engine.training.config.STRUCTURAL``) are collected and
applied together with "Apply & reset", after a confirmation, because they rebuild the session.
The learning rate, clipping, truncation and loss reduction apply live. An invalid value shows
the engine's message under the form; nothing is applied until the whole configuration is valid.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from bpttviz.presenters.config_form import (
    ACTIVATIONS,
    BUILTIN_CORPORA,
    CLIP_MODES,
    FIELD_HELP,
    INITS,
    MLP_TASKS,
    MODELS,
    OPTIMIZERS,
    STRUCTURAL,
    TASK_NAMES,
    Config,
)
from bpttviz.views.theme import Theme

#: which fields apply to which configurations (others are hidden)
RECURRENT_ONLY = ("hidden_size", "seq_len", "truncation", "recurrent_norm")


def _visible(field: str, cfg: dict[str, Any]) -> bool:
    model, task = cfg.get("model"), cfg.get("task")
    if field in RECURRENT_ONLY:
        return model != "mlp"
    if field == "hidden_layers":
        return model == "mlp"
    if field == "activation":
        return model in ("rnn", "mlp")
    if field == "forget_bias":
        return model == "lstm"
    if field == "corpus":
        return task in ("chars", "words")
    if field == "vocab_size":
        return task == "words"
    if field == "lag":
        return task in ("adding", "copy")
    if field in ("n_samples", "noise"):
        return task in ("xor", "circles", "spirals", "blobs") or (field == "noise" and task == "sine")
    if field == "clip_threshold":
        return cfg.get("clip") != "none"
    return True


def _same_form(v: Any) -> Any:
    """A value in one form for comparing: sequences as tuples, whole floats as ints."""
    if isinstance(v, list | tuple):
        return tuple(_same_form(x) for x in v)
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


class ConfigPanel(QtWidgets.QWidget):
    """Edits a ``Config``. Signals: ``live_changed(dict)`` for non-structural changes,
    ``rebuild_requested(Config)`` after "Apply & reset" is confirmed, ``preset_requested(str)``."""

    live_changed = QtCore.Signal(dict)
    rebuild_requested = QtCore.Signal(object)
    preset_requested = QtCore.Signal(str)

    def __init__(self, theme: Theme, presets: list[str], parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("config_panel")
        self.theme = theme
        self.cfg = Config()
        self._loading = False
        #: asked before a rebuild; replace in tests or scripted use
        self.confirm: Callable[[str], bool] = self._ask
        self.widgets: dict[str, QtWidgets.QWidget] = {}
        self.rows: dict[str, tuple[QtWidgets.QLabel, QtWidgets.QWidget]] = {}

        self.preset = QtWidgets.QComboBox()
        self.preset.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.preset.setMinimumContentsLength(8)
        self.preset.addItem("— load a preset —", "")
        for p in presets:
            self.preset.addItem(p, p)
        self.preset.activated.connect(self._preset_chosen)

        model_box = QtWidgets.QGroupBox("Model and data  (rebuild)")
        self.model_form = QtWidgets.QFormLayout(model_box)
        train_box = QtWidgets.QGroupBox("Training  (applies at once)")
        self.train_form = QtWidgets.QFormLayout(train_box)
        for form in (self.model_form, self.train_form):
            form.setFieldGrowthPolicy(QtWidgets.QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
            form.setLabelAlignment(QtCore.Qt.AlignmentFlag.AlignRight)

        combo = self._combo
        self._add("task", combo(TASK_NAMES))
        corpus = QtWidgets.QComboBox()
        corpus.setEditable(True)
        corpus.addItems(BUILTIN_CORPORA)
        corpus.setInsertPolicy(QtWidgets.QComboBox.InsertPolicy.NoInsert)
        corpus.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        corpus.setMinimumContentsLength(5)
        corpus.currentTextChanged.connect(self._edited)
        browse = QtWidgets.QToolButton()
        browse.setText("…")
        browse.setFixedWidth(22)
        browse.setToolTip("Choose a UTF-8 text file")
        browse.clicked.connect(self._browse)
        cw = QtWidgets.QWidget()
        cl = QtWidgets.QHBoxLayout(cw)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.addWidget(corpus, 1)
        cl.addWidget(browse)
        self.widgets["corpus"] = corpus
        self._row("corpus", cw)
        self._add("model", combo(MODELS))
        self._add("hidden_size", self._spin(1, 1024))
        self._add("hidden_layers", self._line("e.g. 8, 8"))
        self._add("activation", combo(tuple(ACTIVATIONS)))
        self._add("seq_len", self._spin(1, 1000))
        self._add("lag", self._spin(0, 1000, special="auto"))
        self._add("vocab_size", self._spin(4, 50_000))
        self._add("n_samples", self._spin(10, 100_000))
        self._add("noise", self._line())
        self._add("optimizer", combo(tuple(OPTIMIZERS)))
        self._add("init", combo(INITS))
        self._add("init_scale", self._line())
        self._add("recurrent_norm", self._line("as drawn"))
        self._add("forget_bias", self._line())
        self._add("batch_size", self._spin(1, 4096))
        self._add("seed", self._spin(0, 2**31 - 1))
        self._add("lr", self._line())
        self._add("clip", combo(CLIP_MODES))
        self._add("clip_threshold", self._line())
        self._add("truncation", self._spin(0, 1000, special="full BPTT"))
        self._add("reduction", combo(("sum", "mean")))

        self.error = QtWidgets.QLabel("")
        self.error.setWordWrap(True)
        self.error.setObjectName("config_error")
        self.error.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.pending = QtWidgets.QLabel("")
        self.pending.setObjectName("config_pending")
        self.pending.setWordWrap(True)
        # the messages live in a footer of fixed height: appearing, they must not shrink the form
        # and scroll it under the pointer (the next click would land in another field)
        self.footer = QtWidgets.QScrollArea()
        self.footer.setObjectName("config_footer")
        self.footer.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        self.footer.setWidgetResizable(True)
        self.footer.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        messages = QtWidgets.QWidget()
        ml = QtWidgets.QVBoxLayout(messages)
        ml.setContentsMargins(0, 0, 0, 0)
        ml.setSpacing(2)
        ml.addWidget(self.error)
        ml.addWidget(self.pending)
        ml.addStretch(1)
        self.footer.setWidget(messages)
        self.apply_button = QtWidgets.QPushButton("Apply && reset")
        self.apply_button.setToolTip("Rebuild the model with the settings above (training restarts)")
        self.apply_button.clicked.connect(self.apply_structural)
        self.revert_button = QtWidgets.QPushButton("Revert")
        self.revert_button.clicked.connect(lambda: self.set_config(self.cfg))
        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(self.revert_button)
        buttons.addWidget(self.apply_button, 1)

        inner = QtWidgets.QWidget()
        v = QtWidgets.QVBoxLayout(inner)
        v.addWidget(self.preset)
        v.addWidget(model_box)
        v.addWidget(train_box)
        v.addStretch(1)
        scroll = QtWidgets.QScrollArea()
        scroll.setWidget(inner)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(scroll, 1)
        lay.addWidget(self.footer)
        lay.addLayout(buttons)
        self.apply_theme(theme)
        self.set_config(self.cfg)

    # ------------------------------------------------------------------ construction helpers
    def _combo(self, items) -> QtWidgets.QComboBox:
        c = QtWidgets.QComboBox()
        c.addItems(list(items))
        c.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        c.setMinimumContentsLength(5)
        c.currentTextChanged.connect(self._edited)
        return c

    def _spin(self, lo: int, hi: int, special: str | None = None) -> QtWidgets.QSpinBox:
        """A spin box whose arrows start in ``lo``..``hi`` but which takes any whole number typed:
        the engine's validator then says what is allowed (a spin box would clamp it silently)."""
        s = QtWidgets.QSpinBox()
        s.setRange(0 if special else -(2**31 - 1), 2**31 - 1)
        s.setToolTip(f"{lo} to {hi}" + (f"; 0 = {special}" if special else ""))
        s.setKeyboardTracking(False)
        if special:
            s.setSpecialValueText(special)
        s.valueChanged.connect(self._edited)
        return s

    def _line(self, placeholder: str = "") -> QtWidgets.QLineEdit:
        e = QtWidgets.QLineEdit()
        e.setPlaceholderText(placeholder)
        e.editingFinished.connect(self._edited)
        return e

    def _add(self, name: str, w: QtWidgets.QWidget) -> None:
        self.widgets[name] = w
        self._row(name, w)

    def _row(self, name: str, w: QtWidgets.QWidget) -> None:
        w.setMinimumWidth(64)  # narrower than the widgets' own hints: the dock decides the width
        label = QtWidgets.QLabel(name.replace("_", " "))
        tip = FIELD_HELP.get(name, "")
        if w.toolTip():  # a spin box's allowed range
            tip = f"{tip} ({w.toolTip()})" if tip else w.toolTip()
        label.setToolTip(tip)
        w.setToolTip(tip)
        form = self.model_form if name in STRUCTURAL else self.train_form
        form.addRow(label, w)
        self.rows[name] = (label, w)

    # ------------------------------------------------------------------ values
    def set_config(self, cfg: Config) -> None:
        """Show ``cfg`` (the session's current configuration); clears pending edits."""
        self.cfg = cfg
        self._loading = True
        try:
            for name, w in self.widgets.items():
                v = getattr(cfg, name)
                if isinstance(w, QtWidgets.QComboBox):
                    if w.isEditable():
                        w.setCurrentText(str(v))
                    else:
                        w.setCurrentIndex(max(0, w.findText(str(v))))
                elif isinstance(w, QtWidgets.QSpinBox):
                    w.setValue(0 if v is None else int(v))
                elif isinstance(w, QtWidgets.QLineEdit):
                    if name == "hidden_layers":
                        w.setText(", ".join(map(str, v)))
                    else:
                        w.setText("" if v is None else f"{v:g}")
        finally:
            self._loading = False
        self._refresh(cfg.to_dict(), None)

    def values(self) -> dict[str, Any]:
        """The widgets' values as config fields (text parsed; not yet validated by the engine)."""
        out: dict[str, Any] = {}
        for name, w in self.widgets.items():
            if isinstance(w, QtWidgets.QComboBox):
                out[name] = w.currentText().strip()
            elif isinstance(w, QtWidgets.QSpinBox):
                v = w.value()
                out[name] = None if (name in ("lag", "truncation") and v == 0) else v
            else:
                out[name] = self._parse(name, w.text())
        return out

    @staticmethod
    def _parse(name: str, text: str) -> Any:
        text = text.strip()
        if name == "hidden_layers":
            parts = [p for p in text.replace(";", ",").split(",") if p.strip()]
            try:
                return [int(p) for p in parts]
            except ValueError:
                return text
        if text == "" and name == "recurrent_norm":
            return None
        try:
            return float(text)
        except ValueError:
            return text  # the engine's validator names the field and what is allowed

    def candidate(self) -> Config:
        """The configuration the form describes; ``ValueError`` (the engine's message) if invalid."""
        d = self.cfg.to_dict()
        d.update(self.values())
        return Config.from_dict(d, "settings")

    # ------------------------------------------------------------------ reactions
    def _edited(self, *_args) -> None:
        if self._loading:
            return
        vals = self.values()
        # keep the model compatible with the task family, as a user would expect
        task, model = vals["task"], vals["model"]
        if task in MLP_TASKS and model != "mlp":
            self._set_combo("model", "mlp")
        elif task not in MLP_TASKS and model == "mlp":
            self._set_combo("model", "rnn")
        vals = self.values()
        try:
            cand = self.candidate()
        except ValueError as e:
            self._refresh(vals, str(e))
            return
        live = {k: getattr(cand, k) for k in ("lr", "clip", "clip_threshold", "truncation", "reduction")
                if getattr(cand, k) != getattr(self.cfg, k)}
        self._refresh(vals, None)
        if live:
            self.live_changed.emit(live)

    def _set_combo(self, name: str, text: str) -> None:
        w = self.widgets[name]
        self._loading = True
        w.setCurrentIndex(max(0, w.findText(text)))
        self._loading = False

    def show_error(self, message: str | None) -> None:
        self.error.setText(message or "")
        self.error.setVisible(bool(message))

    def structural_pending(self) -> set[str]:
        """The structural fields the form changes. When the form is invalid as a whole, each
        field is judged on its own (its value parsed and validated like the engine does), so
        an invalid learning rate does not make an unchanged field look changed."""
        try:
            cand = self.candidate()
        except ValueError:
            pass
        else:
            return cand.structural_changes(self.cfg)
        vals, base = self.values(), self.cfg.to_dict()
        out = set()
        for k in STRUCTURAL:
            if k not in vals:
                continue
            try:
                changed = getattr(Config.from_dict({**base, k: vals[k]}, "settings"), k) != getattr(self.cfg, k)
            except ValueError:  # invalid alone (or only with other changes): changed if it reads differently
                changed = _same_form(vals[k]) != _same_form(getattr(self.cfg, k))
            if changed:
                out.add(k)
        return out

    def _refresh(self, vals: dict[str, Any], error: str | None) -> None:
        for name, (label, w) in self.rows.items():
            show = _visible(name, vals)
            label.setVisible(show)
            w.setVisible(show)
        self.show_error(error)
        pending = sorted(self.structural_pending())
        self.apply_button.setEnabled(bool(pending) and error is None)
        self.revert_button.setEnabled(bool(pending) or error is not None)
        self.pending.setText(f"Changed (rebuilds the model): {', '.join(pending)}" if pending else "")
        self.pending.setVisible(bool(pending))

    def apply_structural(self) -> bool:
        """Validate, confirm and request a rebuild. Returns True when requested."""
        try:
            cand = self.candidate()
        except ValueError as e:
            self.show_error(str(e))
            return False
        changed = sorted(cand.structural_changes(self.cfg))
        if not changed:
            return False
        if not self.confirm(f"Rebuild the model with the new {', '.join(changed)}?\n"
                            "Training restarts from iteration 0."):
            return False
        self.rebuild_requested.emit(cand)
        return True

    def _ask(self, text: str) -> bool:
        box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Icon.Question, "Apply and reset", text,
                                    QtWidgets.QMessageBox.StandardButton.Ok
                                    | QtWidgets.QMessageBox.StandardButton.Cancel, self)
        box.button(QtWidgets.QMessageBox.StandardButton.Ok).setText("Apply && reset")
        return box.exec() == QtWidgets.QMessageBox.StandardButton.Ok

    def _preset_chosen(self, index: int) -> None:
        name = self.preset.itemData(index)
        self.preset.setCurrentIndex(0)
        if name and self.confirm(f"Load the preset '{name}'?\nTraining restarts from iteration 0."):
            self.preset_requested.emit(name)

    def _browse(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Choose a text corpus", "",
                                                        "Text files (*.txt);;All files (*)")
        if path:
            self.widgets["corpus"].setCurrentText(path)

    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.setFont(theme.font(1.0))
        fm = QtGui.QFontMetrics(theme.font(1.0))
        self.footer.setFixedHeight(4 * fm.lineSpacing() + 6)
        self.error.setStyleSheet(f"color: {theme.backward}; font-weight: bold;")
        self.pending.setStyleSheet(f"color: {theme.foreground};")
