"""The configuration panel: every setting a user would change, validated by the engine.

Every row comes from the engine's field table through ``bpttviz.presenters.config_form``: its
widget, choices or range, help text, whether it shows for the configuration, and whether it
rebuilds the model. Settings that rebuild the model are collected and applied together with
"Apply & reset", after a confirmation; the others (learning rate, clipping, truncation, loss
reduction) apply live. An invalid value shows the engine's message under the form; nothing is
applied until the whole configuration is valid.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from bpttviz.presenters import config_form
from bpttviz.presenters.config_form import FormField
from bpttviz.views.theme import Theme

#: the largest whole number a spin box holds
SPIN_MAX = 2**31 - 1


class ConfigPanel(QtWidgets.QWidget):
    """Edits a configuration (a ``Config``). Signals: ``live_changed(dict)`` for the live fields,
    ``rebuild_requested(Config)`` after "Apply & reset" is confirmed, ``preset_requested(str)``."""

    live_changed = QtCore.Signal(dict)
    rebuild_requested = QtCore.Signal(object)
    preset_requested = QtCore.Signal(str)

    def __init__(self, theme: Theme, presets: list[str], parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("config_panel")
        self.theme = theme
        self.cfg = config_form.default_config()
        self.fields: dict[str, FormField] = {f.name: f for f in config_form.form_fields()}
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

        for f in self.fields.values():
            self._add(f)

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
    def _add(self, f: FormField) -> None:
        """The row of field ``f``: the widget its kind asks for."""
        if f.widget == "choice":
            w = shown = self._combo(f.choices)
        elif f.widget == "corpus":
            w, shown = self._corpus(f.choices)
        elif f.widget == "int":
            lo, hi = f.range
            w = shown = self._spin(0 if f.null_text else int(lo), min(int(hi), SPIN_MAX), special=f.null_text or None)
        else:
            w = shown = self._line(f.placeholder)
        self.widgets[f.name] = w
        self._row(f, shown)

    def _corpus(self, names) -> tuple[QtWidgets.QComboBox, QtWidgets.QWidget]:
        """An editable combo (the built-in names, or a typed path) and a file button beside it."""
        corpus = QtWidgets.QComboBox()
        corpus.setEditable(True)
        corpus.addItems(list(names))
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
        return corpus, cw

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

    def _row(self, f: FormField, w: QtWidgets.QWidget) -> None:
        w.setMinimumWidth(64)  # narrower than the widgets' own hints: the dock decides the width
        label = QtWidgets.QLabel(f.label)
        tip = f.help
        if w.toolTip():  # a spin box's allowed range
            tip = f"{tip} ({w.toolTip()})" if tip else w.toolTip()
        label.setToolTip(tip)
        w.setToolTip(tip)
        (self.train_form if f.live else self.model_form).addRow(label, w)
        self.rows[f.name] = (label, w)

    # ------------------------------------------------------------------ values
    def set_config(self, cfg) -> None:
        """Show ``cfg`` (the session's current configuration); clears pending edits."""
        self.cfg = cfg
        self._loading = True
        try:
            for name, w in self.widgets.items():
                v = config_form.value_of(cfg, name)
                if isinstance(w, QtWidgets.QComboBox):
                    if w.isEditable():
                        w.setCurrentText(str(v))
                    else:
                        w.setCurrentIndex(max(0, w.findText(str(v))))
                elif isinstance(w, QtWidgets.QSpinBox):
                    w.setValue(0 if v is None else int(v))
                elif isinstance(w, QtWidgets.QLineEdit):
                    if self.fields[name].widget == "sizes":
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
                out[name] = config_form.parse_int(self.fields[name], w.value())
            else:
                out[name] = config_form.parse_text(self.fields[name], w.text())
        return out

    def candidate(self):
        """The configuration the form describes; ``ValueError`` (the engine's message) if invalid."""
        return config_form.candidate(self.cfg, self.values())

    # ------------------------------------------------------------------ reactions
    def _edited(self, *_args) -> None:
        if self._loading:
            return
        vals = self.values()
        # keep the model compatible with the task family, as a user would expect
        model = config_form.compatible_model(vals["task"], vals["model"])
        if model is not None:
            self._set_combo("model", model)
        vals = self.values()
        try:
            cand = self.candidate()
        except ValueError as e:
            self._refresh(vals, str(e))
            return
        live = config_form.live_changes(cand, self.cfg)
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
        """The fields the form changes that rebuild the model (``config_form.structural_pending``)."""
        return config_form.structural_pending(self.cfg, self.values())

    def _refresh(self, vals: dict[str, Any], error: str | None) -> None:
        for name, (label, w) in self.rows.items():
            show = config_form.shows(name, vals)
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
