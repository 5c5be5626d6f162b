"""Turn a ``seed`` argument into a NumPy random generator."""

from __future__ import annotations

import numpy as np

Seed = int | np.random.Generator


def as_generator(seed: Seed) -> np.random.Generator:
    """Return ``np.random.default_rng(seed)`` for an int, or ``seed`` itself for a Generator.

    A Generator is used (and advanced) in place, so a training loop can draw successive batches
    from one generator; an int always gives the same stream, so the same seed gives the same
    arrays bit for bit.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0:
        return np.random.default_rng(int(seed))
    raise ValueError(f"seed must be a non-negative int or a numpy.random.Generator, got {seed!r}")
