"""The configuration form, derived from the engine's one field table (``FIELDS`` in
``engine.training.config``): each field's widget (a choice, a whole number, a number, a list of
sizes, a corpus), its choices or range, what null means, its help text, whether it applies live or
rebuilds the model, when it applies at all, and building and validating a ``Config`` from the
form's values (the engine's validator names what is wrong). ``FORM_FIELDS`` only says which fields
the form shows and in which order: everything else comes from the table.

The configuration panel (a view) asks these questions here, so it never imports the engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bpttviz.engine.training.config import FIELDS, MLP_TASKS, STRUCTURAL, Config, applies

#: the fields the settings form shows, in its order (within its two groups: the fields that
#: rebuild the model, then those that apply at once)
FORM_FIELDS = ("task", "corpus", "model", "hidden_size", "hidden_layers", "activation", "seq_len", "lag",
               "vocab_size", "n_samples", "noise", "optimizer", "init", "init_scale", "recurrent_norm",
               "forget_bias", "batch_size", "seed", "lr", "clip", "clip_threshold", "truncation", "reduction")


@dataclass(frozen=True)
class FormField:
    """One row of the form. ``widget``: "choice" (``choices``), "corpus" (a name from
    ``choices`` or a file path), "int" (``range``: what the field allows), "number" or "sizes" (a
    list of whole numbers, ``placeholder`` an example); ``null_text``: what an empty (or 0, for a
    whole number) entry means, when null is allowed; ``live``: applies at once, else rebuilds."""

    name: str
    label: str
    widget: str
    live: bool
    help: str
    choices: tuple[str, ...] = ()
    range: tuple[float, float] | None = None
    null_text: str = ""
    placeholder: str = ""


def _form_field(name: str) -> FormField:
    spec = FIELDS[name]
    if spec.suggestions is not None and spec.paths:
        widget, choices = "corpus", tuple(spec.suggestions)
    elif spec.choices is not None:
        widget, choices = "choice", tuple(spec.choices)
    elif spec.type.startswith("int"):
        widget, choices = "int", ()
    elif spec.type.startswith("tuple"):
        widget, choices = "sizes", ()
    else:
        widget, choices = "number", ()
    placeholder = spec.null_text
    if widget == "sizes":
        placeholder = "e.g. " + ", ".join(map(str, spec.default))
    return FormField(name=name, label=name.replace("_", " "), widget=widget, live=name not in STRUCTURAL,
                     help=spec.help, choices=choices, range=spec.range, null_text=spec.null_text if spec.optional
                     else "", placeholder=placeholder)


def form_fields() -> tuple[FormField, ...]:
    """The form's rows, in ``FORM_FIELDS`` order."""
    return tuple(_form_field(name) for name in FORM_FIELDS)


def default_config() -> Config:
    """The configuration every field's default makes."""
    return Config()


def shows(name: str, values: Mapping[str, Any]) -> bool:
    """Whether the row of ``name`` is shown for the form's ``values``: only where the setting
    means something (the table's ``applies``)."""
    return applies(name, values)


def value_of(cfg: Config, name: str) -> Any:
    """Field ``name`` of ``cfg`` (for filling the form)."""
    return getattr(cfg, name)


def parse_text(field: FormField, text: str) -> Any:
    """A typed entry as a field value: sizes as a list of whole numbers, numbers as floats, an
    empty entry as null where allowed; anything else is left as typed, for the validator to name."""
    text = text.strip()
    if field.widget == "sizes":
        parts = [p for p in text.replace(";", ",").split(",") if p.strip()]
        try:
            return [int(p) for p in parts]
        except ValueError:
            return text
    if text == "" and field.null_text:
        return None
    try:
        return float(text)
    except ValueError:
        return text  # the engine's validator names the field and what is allowed


def parse_int(field: FormField, value: int) -> int | None:
    """A whole-number entry: 0 is null for the fields that allow it (their ``null_text``)."""
    return None if field.null_text and value == 0 else value


def compatible_model(task: str, model: str) -> str | None:
    """The model to switch to so that ``model`` can run ``task`` (the MLP tasks need an MLP; the
    sequence tasks a recurrent model), or None when it already can."""
    if task in MLP_TASKS and model != "mlp":
        return "mlp"
    if task not in MLP_TASKS and model == "mlp":
        return "rnn"
    return None


def candidate(cfg: Config, values: Mapping[str, Any]) -> Config:
    """``cfg`` with the form's ``values``; ``ValueError`` (the engine's message) if invalid."""
    d = cfg.to_dict()
    d.update(values)
    return Config.from_dict(d, "settings")


def live_changes(new: Config, cfg: Config) -> dict[str, Any]:
    """The form's live fields whose value differs between ``new`` and ``cfg``, in form order."""
    return {f.name: getattr(new, f.name) for f in form_fields()
            if f.live and getattr(new, f.name) != getattr(cfg, f.name)}


def _same_form(v: Any) -> Any:
    """A value in one form for comparing: sequences as tuples, whole floats as ints."""
    if isinstance(v, list | tuple):
        return tuple(_same_form(x) for x in v)
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def structural_pending(cfg: Config, values: Mapping[str, Any]) -> set[str]:
    """The fields that rebuild the model which the form's ``values`` change from ``cfg``. When the
    form is invalid as a whole, each field is judged on its own (parsed and validated as the
    engine does), so an invalid learning rate does not make an unchanged field look changed."""
    try:
        new = candidate(cfg, values)
    except ValueError:
        pass
    else:
        return new.structural_changes(cfg)
    base = cfg.to_dict()
    out = set()
    for k in STRUCTURAL:
        if k not in values:
            continue
        try:
            changed = getattr(Config.from_dict({**base, k: values[k]}, "settings"), k) != getattr(cfg, k)
        except ValueError:  # invalid alone (or only with other changes): changed if it reads differently
            changed = _same_form(values[k]) != _same_form(getattr(cfg, k))
        if changed:
            out.add(k)
    return out
