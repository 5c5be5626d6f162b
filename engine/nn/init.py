"""Weight initialisation schemes shared by every model.

- ``"xavier"``: uniform in ``±sqrt(6 / (fan_in + fan_out))`` (Glorot & Bengio 2010).
- ``"small"``: ``0.01 * N(0, 1)``, the classic character-level RNN's choice.
- ``"orthogonal"``: a random orthogonal matrix (Saxe et al. 2014), for square recurrent weights
  it has every singular value 1; non-square matrices get orthonormal rows or columns.

``scale`` multiplies the result. Biases start at zero.
"""

from __future__ import annotations

import numpy as np

from ..checks import choice, finite_float

INITS = ("xavier", "small", "orthogonal")


def init_matrix(rng: np.random.Generator, shape: tuple[int, int], scheme: str, scale: float = 1.0) -> np.ndarray:
    choice(scheme, INITS, "init")
    scale = finite_float(scale, "init_scale", minimum=0.0)
    fan_in, fan_out = shape
    if scheme == "xavier":
        lim = np.sqrt(6.0 / (fan_in + fan_out))
        w = rng.uniform(-lim, lim, size=shape)
    elif scheme == "small":
        w = 0.01 * rng.standard_normal(shape)
    else:
        a = rng.standard_normal((max(shape), min(shape)))
        q, r = np.linalg.qr(a)
        q *= np.sign(np.diag(r))
        w = q if shape[0] >= shape[1] else q.T
    return np.ascontiguousarray(w * scale, dtype=np.float64)
