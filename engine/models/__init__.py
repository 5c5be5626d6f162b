"""The models: vanilla RNN, LSTM, GRU (sharing ``RecurrentModel``) and the MLP."""

from .gru import GRU
from .lstm import LSTM
from .mlp import MLP
from .recurrent import RecurrentModel
from .rnn import RNN

__all__ = ["GRU", "LSTM", "MLP", "RNN", "RecurrentModel"]
