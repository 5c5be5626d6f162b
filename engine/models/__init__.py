"""The models: vanilla RNN, LSTM, GRU (sharing ``RecurrentModel``) and the MLP."""

from .gru import GRU
from .lstm import LSTM
from .mlp import MLP
from .recurrent import RecurrentModel
from .rnn import RNN

#: the gated cells' gates in their stacking order, by model kind (the one place that names them)
GATE_NAMES: dict[str, tuple[str, ...]] = {"lstm": LSTM.GATE_NAMES, "gru": GRU.GATE_NAMES}

__all__ = ["GATE_NAMES", "GRU", "LSTM", "MLP", "RNN", "RecurrentModel"]
