"""bpttviz's engine: pure NumPy models, losses, optimisers, BPTT with narrated step records.

Never imports Qt, pyqtgraph or the app (a test proves it), so it works from a script or notebook.
"""

from . import gradcheck, records
from .activations import ACTIVATIONS
from .bugs import BUGS
from .models import GRU, LSTM, MLP, RNN, RecurrentModel
from .optim import OPTIMIZERS, SGD, Adagrad, Adam, Clipper, LossAnnealer, Momentum, make_optimizer
from .trace import Trace

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS", "BUGS", "GRU", "LSTM", "MLP", "RNN", "RecurrentModel", "Adagrad", "Adam", "Clipper",
    "LossAnnealer", "Momentum", "SGD", "OPTIMIZERS", "make_optimizer", "Trace", "gradcheck", "records",
]
