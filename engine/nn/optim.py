"""Optimisers, gradient clipping and learning-rate annealing.

All optimisers update ``params`` in place from ``grads`` (same names and shapes):

- SGD:       θ ← θ - lr g
- Momentum:  v ← μ v - lr g;  θ ← θ + v   (Polyak's heavy ball)
- Adagrad:   m ← m + g²;  θ ← θ - lr g / sqrt(m + ε)   (Duchi et al. 2011; the classic
             character-level model uses lr 0.1, ε 1e-8)
- Adam:      Kingma & Ba (2015), bias-corrected first and second moments.

Clipping (Pascanu et al. 2013 for the global norm):
- ``"value"``: every entry clipped to ``[-threshold, threshold]`` (the classic ``np.clip(±5)``);
- ``"norm"``: if the global norm ``||g|| = sqrt(sum over all params of ||g_p||²)`` exceeds the
  threshold, every gradient is scaled by ``threshold / ||g||``, keeping its direction.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..checks import choice, finite_float
from ..records import UpdateStep, frozen_dict

Array = np.ndarray


def global_norm(grads: Mapping[str, Array]) -> float:
    """``sqrt(sum_p ||g_p||²)``; inf or nan when any entry is."""
    return math.sqrt(sum(float(np.vdot(g, g)) for g in grads.values()))


class Optimizer:
    """Base: ``step(params, grads)`` updates in place; ``state_dict`` / ``load_state_dict`` carry
    the internal state as plain arrays (so a session file can hold it without pickle)."""

    name = ""

    def __init__(self, lr: float) -> None:
        self.lr = finite_float(lr, "lr", positive=True)
        self.t = 0

    def step(self, params: dict[str, Array], grads: Mapping[str, Array]) -> None:
        self.t += 1
        for k, g in grads.items():
            self._update(k, params[k], g)

    def _update(self, name: str, p: Array, g: Array) -> None:
        raise NotImplementedError

    def hyper(self) -> dict[str, float]:
        return {"lr": self.lr}

    def state_dict(self) -> dict[str, Array]:
        out = {"t": np.array(self.t)}
        for slot, d in self._slots().items():
            for k, v in d.items():
                out[f"{slot}/{k}"] = v
        return out

    def load_state_dict(self, state: Mapping[str, Array]) -> None:
        self.t = int(state["t"])
        slots = self._slots()
        for key, v in state.items():
            if "/" in key:
                slot, name = key.split("/", 1)
                if slot not in slots:
                    raise ValueError(f"optimizer state: unknown slot {slot!r} for {self.name}")
                slots[slot][name] = np.array(v, dtype=np.float64)

    def _slots(self) -> dict[str, dict[str, Array]]:
        return {}


class SGD(Optimizer):
    name = "sgd"

    def _update(self, name, p, g):
        p -= self.lr * g


class Momentum(Optimizer):
    name = "momentum"

    def __init__(self, lr: float, momentum: float = 0.9) -> None:
        super().__init__(lr)
        self.momentum = finite_float(momentum, "momentum", minimum=0.0)
        if self.momentum >= 1:
            raise ValueError(f"momentum: expected a number in [0, 1), got {momentum!r}")
        self.v: dict[str, Array] = {}

    def _update(self, name, p, g):
        v = self.v.setdefault(name, np.zeros_like(p))
        v *= self.momentum
        v -= self.lr * g
        p += v

    def hyper(self):
        return {"lr": self.lr, "momentum": self.momentum}

    def _slots(self):
        return {"v": self.v}


class Adagrad(Optimizer):
    name = "adagrad"

    def __init__(self, lr: float, eps: float = 1e-8) -> None:
        super().__init__(lr)
        self.eps = finite_float(eps, "eps", positive=True)
        self.m: dict[str, Array] = {}

    def _update(self, name, p, g):
        m = self.m.setdefault(name, np.zeros_like(p))
        m += g * g
        p -= self.lr * g / np.sqrt(m + self.eps)

    def hyper(self):
        return {"lr": self.lr, "eps": self.eps}

    def _slots(self):
        return {"m": self.m}


class Adam(Optimizer):
    name = "adam"

    def __init__(self, lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> None:
        super().__init__(lr)
        for n, b in (("beta1", beta1), ("beta2", beta2)):
            if not 0.0 <= finite_float(b, n) < 1.0:
                raise ValueError(f"{n}: expected a number in [0, 1), got {b!r}")
        self.beta1, self.beta2 = float(beta1), float(beta2)
        self.eps = finite_float(eps, "eps", positive=True)
        self.m: dict[str, Array] = {}
        self.v: dict[str, Array] = {}

    def step(self, params, grads):
        self.t += 1
        self._c1 = 1.0 - self.beta1 ** self.t
        self._c2 = 1.0 - self.beta2 ** self.t
        for k, g in grads.items():
            self._update(k, params[k], g)

    def _update(self, name, p, g):
        m = self.m.setdefault(name, np.zeros_like(p))
        v = self.v.setdefault(name, np.zeros_like(p))
        m *= self.beta1
        m += (1 - self.beta1) * g
        v *= self.beta2
        v += (1 - self.beta2) * g * g
        p -= self.lr * (m / self._c1) / (np.sqrt(v / self._c2) + self.eps)

    def hyper(self):
        return {"lr": self.lr, "beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}

    def _slots(self):
        return {"m": self.m, "v": self.v}


OPTIMIZERS = {cls.name: cls for cls in (SGD, Momentum, Adagrad, Adam)}


def make_optimizer(name: str, lr: float, **hyper) -> Optimizer:
    """``make_optimizer("adagrad", 0.1)``; unknown names and hyper-parameters are refused."""
    cls = OPTIMIZERS[choice(name, tuple(OPTIMIZERS), "optimizer")]
    try:
        return cls(lr, **hyper)
    except TypeError:
        allowed = [k for k in cls(1.0).hyper() if k != "lr"]
        raise ValueError(f"optimizer {name!r}: unknown setting in {sorted(hyper)}; allowed: {allowed}") from None


CLIP_MODES = ("none", "value", "norm")


@dataclass(frozen=True)
class ClipResult:
    grads: dict[str, Array]
    norm: float  # global norm before clipping
    clipped: bool
    scale: float  # the factor applied by norm clipping (1.0 otherwise)
    n_clipped: int  # entries clipped by value


class Clipper:
    """``Clipper("norm", 5.0)``, ``Clipper("value", 5.0)`` or ``Clipper("none")``."""

    def __init__(self, mode: str = "none", threshold: float = 5.0) -> None:
        self.mode = choice(mode, CLIP_MODES, "clip")
        self.threshold = finite_float(threshold, "clip_threshold", positive=True)

    def __call__(self, grads: Mapping[str, Array]) -> ClipResult:
        norm = global_norm(grads)
        if self.mode == "value":
            c = self.threshold
            n = sum(int(np.count_nonzero(np.abs(g) > c)) for g in grads.values())
            return ClipResult({k: np.clip(g, -c, c) for k, g in grads.items()}, norm, n > 0, 1.0, n)
        if self.mode == "norm" and norm > self.threshold:
            s = self.threshold / norm
            return ClipResult({k: g * s for k, g in grads.items()}, norm, True, s, 0)
        return ClipResult({k: np.array(g, copy=True) for k, g in grads.items()}, norm, False, 1.0, 0)


def apply_update(params: dict[str, Array], grads: Mapping[str, Array], optimizer: Optimizer,
                 clipper: Clipper, index: int = 0) -> UpdateStep:
    """Clip, step the optimiser, and narrate it as an ``UpdateStep``."""
    res = clipper(grads)
    before = {k: p.copy() for k, p in params.items()}
    optimizer.step(params, res.grads)
    delta = {k: params[k] - before[k] for k in params}
    return UpdateStep(index, grads=frozen_dict({k: np.array(g, copy=True) for k, g in grads.items()}),
                      norm=res.norm, clip=clipper.mode, clipped=res.clipped, scale=res.scale,
                      n_clipped=res.n_clipped, delta=frozen_dict(delta), lr=optimizer.lr)


class LossAnnealer:
    """Learning-rate annealing on a rising loss: when the smoothed loss has not improved on its
    best for ``patience`` checks, multiply the learning rate by ``factor`` (not below ``min_lr``).
    ``smoothing`` is the exponential-average weight of the history (0.999 in the classic model)."""

    def __init__(self, factor: float = 0.5, patience: int = 100, min_lr: float = 1e-6,
                 smoothing: float = 0.9) -> None:
        self.factor = finite_float(factor, "anneal_factor", positive=True)
        if self.factor >= 1:
            raise ValueError(f"anneal_factor: expected a number in (0, 1), got {factor!r}")
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
            raise ValueError(f"anneal_patience: expected a positive integer, got {patience!r}")
        self.patience = patience
        self.min_lr = finite_float(min_lr, "min_lr", positive=True)
        self.smoothing = finite_float(smoothing, "anneal_smoothing", minimum=0.0)
        self.smooth: float | None = None
        self.best = math.inf
        self.bad = 0

    def observe(self, loss: float, optimizer: Optimizer) -> bool:
        """Feed one loss; returns True when it just lowered the learning rate."""
        s = loss if self.smooth is None else self.smoothing * self.smooth + (1 - self.smoothing) * loss
        self.smooth = s
        if s < self.best:
            self.best, self.bad = s, 0
            return False
        self.bad += 1
        if self.bad >= self.patience and optimizer.lr > self.min_lr:
            optimizer.lr = max(self.min_lr, optimizer.lr * self.factor)
            self.bad = 0
            self.best = s
            return True
        return False

    def state_dict(self) -> dict[str, Any]:
        """Settings and progress as plain scalars: ``factor``, ``patience``, ``min_lr``,
        ``smoothing``, ``smooth`` (None before the first loss), ``best`` (inf before it), ``bad``."""
        return {"factor": self.factor, "patience": self.patience, "min_lr": self.min_lr,
                "smoothing": self.smoothing, "smooth": self.smooth, "best": self.best, "bad": self.bad}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Put back what ``state_dict`` returned (a session file's reader checks the ranges)."""
        smooth = state["smooth"]
        self.factor, self.patience = float(state["factor"]), int(state["patience"])
        self.min_lr, self.smoothing = float(state["min_lr"]), float(state["smoothing"])
        self.smooth = None if smooth is None else float(smooth)
        self.best, self.bad = float(state["best"]), int(state["bad"])
