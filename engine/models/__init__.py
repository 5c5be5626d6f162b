"""The models: vanilla RNN, LSTM, GRU (sharing ``RecurrentModel``) and the MLP."""

from .mlp import MLP
from .recurrent import RecurrentModel
from .rnn import RNN

__all__ = ["MLP", "RNN", "RecurrentModel"]
