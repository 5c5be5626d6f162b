"""What the configuration form offers, taken from the engine's one field table: the choices of
each drop-down, which fields rebuild the model, each field's help text, and building a ``Config``
from the form's values (the engine validates it and names what is wrong).

The configuration panel (a view) reads these names from here, so it never imports the engine.
"""

from __future__ import annotations

from bpttviz.engine.nn.activations import ACTIVATIONS
from bpttviz.engine.nn.init import INITS
from bpttviz.engine.nn.optim import CLIP_MODES, OPTIMIZERS
from bpttviz.engine.training.config import (
           BUILTIN_CORPORA,
           FIELD_HELP,
           MLP_TASKS,
           MODELS,
           STRUCTURAL,
           TASK_NAMES,
           Config,
)

__all__ = ["ACTIVATIONS", "BUILTIN_CORPORA", "CLIP_MODES", "Config", "FIELD_HELP", "INITS", "MLP_TASKS", "MODELS",
           "OPTIMIZERS", "STRUCTURAL", "TASK_NAMES"]
