"""bpttviz's engine: pure NumPy models, losses, optimisers, BPTT with narrated step records.

Never imports Qt, pyqtgraph or the app (a test proves it), so it works from a script or notebook.
Installed, it is ``bpttviz.engine``. Its submodules are reachable as attributes once the package is
imported (``engine.gradients.diagnostics.gradient_decay``, ``engine.data.asset_path``...); the gradient doctor
(``engine.gradients.doctor``) and the Explain texts (``engine.explain``) are imported on their own.
"""

from . import data, records
from .gradients import attribution, diagnostics, gradcheck
from .gradients.bugs import BUGS
from .models import GRU, LSTM, MLP, RNN, RecurrentModel
from .nn.activations import ACTIVATIONS
from .nn.optim import OPTIMIZERS, SGD, Adagrad, Adam, Clipper, LossAnnealer, Momentum, make_optimizer
from .trace import Trace
from .training import config, session

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS", "BUGS", "GRU", "LSTM", "MLP", "RNN", "RecurrentModel", "Adagrad", "Adam", "Clipper",
    "LossAnnealer", "Momentum", "SGD", "OPTIMIZERS", "make_optimizer", "Trace", "attribution", "config", "data",
    "diagnostics", "gradcheck", "records", "session",
]
