"""The configuration form comes from the engine's field table: rows, widgets, ranges, choices,
help, visibility, live or rebuild, parsing and validation."""

from __future__ import annotations

import pytest
from PySide6 import QtWidgets

from bpttviz.engine.training.config import (
    CLIP_MODES,
    FIELDS,
    MODELS,
    STRUCTURAL,
    TASK_NAMES,
    Config,
    applies,
    field_choices,
    field_range,
    is_live,
)
from bpttviz.presenters import config_form as form


def test_every_row_is_the_tables_field():
    rows = form.form_fields()
    assert tuple(f.name for f in rows) == form.FORM_FIELDS
    assert len(set(form.FORM_FIELDS)) == len(form.FORM_FIELDS) and set(form.FORM_FIELDS) <= set(FIELDS)
    for f in rows:
        spec = FIELDS[f.name]
        assert f.live == is_live(f.name) == (f.name not in STRUCTURAL)
        assert f.help == spec.help
        assert f.range == field_range(f.name)
        if f.widget == "choice":
            assert f.choices == field_choices(f.name)
        elif f.widget == "corpus":
            assert f.choices == spec.suggestions and spec.paths
        assert f.null_text == (spec.null_text if spec.optional else "")
        assert f.widget == "int" if spec.type.startswith("int") else f.widget != "int"
    by = {f.name: f for f in rows}
    assert (by["lag"].null_text, by["truncation"].null_text, by["recurrent_norm"].placeholder) == \
        ("auto", "full BPTT", "as drawn")
    assert by["hidden_layers"].widget == "sizes" and by["hidden_layers"].placeholder == "e.g. 8, 8"
    assert by["reduction"].choices == ("sum", "mean") and by["lr"].widget == "number"


def test_a_row_shows_exactly_where_the_table_says_the_setting_applies():
    for model in MODELS:
        for task in TASK_NAMES:
            for clip in CLIP_MODES:
                values = {"model": model, "task": task, "clip": clip}
                for name in form.FORM_FIELDS:
                    assert form.shows(name, values) == applies(name, values)
    assert not form.shows("forget_bias", {"model": "gru"}) and form.shows("forget_bias", {"model": "lstm"})


def test_entries_parse_as_the_fields_take_them():
    by = {f.name: f for f in form.form_fields()}
    assert form.parse_text(by["hidden_layers"], " 8; 4 ,2") == [8, 4, 2]
    assert form.parse_text(by["hidden_layers"], "8, x") == "8, x"  # left for the validator to name
    assert form.parse_text(by["lr"], " 0.5 ") == 0.5 and form.parse_text(by["lr"], "") == ""
    assert form.parse_text(by["recurrent_norm"], "") is None  # null: as drawn
    assert form.parse_int(by["truncation"], 0) is None and form.parse_int(by["truncation"], 3) == 3
    assert form.parse_int(by["seq_len"], 0) == 0  # no null there: the validator refuses 0


def test_candidates_are_validated_by_the_engine_and_changes_sorted_into_live_and_rebuild():
    cfg = Config()
    new = form.candidate(cfg, {"lr": 0.05, "clip": "norm", "hidden_size": 7})
    assert new.lr == 0.05 and new.hidden_size == 7
    assert list(form.live_changes(new, cfg)) == ["lr", "clip"]  # in form order
    assert form.structural_pending(cfg, {"lr": 0.05, "hidden_size": 7}) == {"hidden_size"}
    with pytest.raises(ValueError, match=r"settings: field 'lr'"):
        form.candidate(cfg, {"lr": "fast"})
    # an invalid learning rate does not make an unchanged field look changed
    assert form.structural_pending(cfg, {"lr": "fast", "hidden_layers": [8, 8]}) == set()
    assert form.structural_pending(cfg, {"lr": "fast", "hidden_size": 3}) == {"hidden_size"}
    assert form.structural_pending(cfg, {"lr": "fast", "hidden_size": 0}) == {"hidden_size"}  # invalid alone
    assert form.compatible_model("xor", "rnn") == "mlp" and form.compatible_model("adding", "mlp") == "rnn"
    assert form.compatible_model("chars", "lstm") is None and form.default_config() == Config()


def test_the_panel_builds_its_rows_from_the_form(qtbot):
    from bpttviz.views.config_panel import ConfigPanel
    from bpttviz.views.theme import default_theme

    panel = ConfigPanel(default_theme(), [])
    qtbot.addWidget(panel)
    assert list(panel.rows) == list(form.FORM_FIELDS)
    for f in form.form_fields():
        label, _shown = panel.rows[f.name]
        w = panel.widgets[f.name]
        assert label.text() == f.label and label.toolTip().startswith(f.help)
        section = panel.train_form if f.live else panel.model_form
        assert section.indexOf(label) >= 0
        if f.widget == "int":
            lo, hi = f.range
            assert isinstance(w, QtWidgets.QSpinBox)
            assert f"{0 if f.null_text else lo} to {min(hi, 2**31 - 1)}" in label.toolTip()
            assert w.specialValueText() == f.null_text
        elif f.widget in ("choice", "corpus"):
            assert tuple(w.itemText(i) for i in range(w.count())) == f.choices
            assert w.isEditable() == (f.widget == "corpus")
        else:
            assert isinstance(w, QtWidgets.QLineEdit) and w.placeholderText() == f.placeholder
