"""The multi-layer perceptron.

    a_0 = x                                   (B, n_0)
    z_l = a_{l-1} W_l + b_l,  a_l = f_l(z_l)  (B, n_l)   for hidden layers l = 1..L-1
    y   = a_{L-1} W_L + b_L                   (B, n_L)   softmax+cross-entropy or linear+MSE

Parameters ``W1 (n0, n1), b1 (n1,), W2 (n1, n2), ...``. Backward:
``dz_l = da_l * f_l'(z_l)``, ``dW_l = a_{l-1}^T dz_l``, ``db_l = sum_batch dz_l``,
``da_{l-1} = dz_l W_l^T``; at the output ``dz_L = dL/dy`` (``p - onehot`` for cross-entropy).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from ..checks import choice, float_array, int_array, positive_int
from ..gradients import bugs as bug_lab
from ..nn.activations import ACTIVATIONS, get_activation
from ..nn.init import init_matrix
from ..nn.losses import REDUCTIONS, cross_entropy, squared_error
from ..records import GradientStep, LayerBackward, LayerForward, LossStep, Step, frozen, frozen_dict

OUTPUT_LOSS = {"softmax": "cross_entropy", "linear": "mse"}


class MLP:
    """``MLP([2, 8, 8, 2], activation="tanh", output="softmax", seed=0)``.

    ``activation`` is a name (every hidden layer) or a list with one name per hidden layer.
    ``output="softmax"`` pairs with cross-entropy, ``"linear"`` with mean-squared error."""

    kind = "mlp"

    def __init__(self, layer_sizes: Sequence[int], activation: str | Sequence[str] = "tanh",
                 output: str = "softmax", *, seed: int = 0, init: str = "xavier",
                 init_scale: float = 1.0) -> None:
        if isinstance(layer_sizes, (str, bytes)) or not hasattr(layer_sizes, "__len__") or len(layer_sizes) < 2:
            raise ValueError("layer_sizes: expected a list of at least two positive sizes like [2, 8, 2], "
                             f"got {layer_sizes!r}")
        self.layer_sizes = [positive_int(n, f"layer_sizes[{i}]") for i, n in enumerate(layer_sizes)]
        n_hidden = len(self.layer_sizes) - 2
        if isinstance(activation, str):
            names = [activation] * n_hidden
            get_activation(activation)
        else:
            names = list(activation)
            if len(names) != n_hidden:
                raise ValueError(f"activation: expected one name per hidden layer ({n_hidden}), got {len(names)}")
        self.activations = [get_activation(a, f"activation[{i}]") for i, a in enumerate(names)]
        self.output = choice(output, tuple(OUTPUT_LOSS), "output")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise ValueError(f"seed: expected an integer, got {seed!r}")
        self.seed, self.init, self.init_scale = int(seed), init, init_scale
        rng = np.random.default_rng(self.seed)
        self.params: dict[str, np.ndarray] = {}
        for l, (n_in, n_out) in enumerate(zip(self.layer_sizes[:-1], self.layer_sizes[1:]), start=1):
            self.params[f"W{l}"] = init_matrix(rng, (n_in, n_out), init, init_scale)
            self.params[f"b{l}"] = np.zeros(n_out)
        self.bugs: frozenset[str] = frozenset()

    @property
    def n_layers(self) -> int:
        return len(self.layer_sizes) - 1

    def describe(self) -> dict:
        return dict(kind=self.kind, layer_sizes=list(self.layer_sizes),
                    activation=[a.name for a in self.activations], output=self.output,
                    seed=self.seed, init=self.init, init_scale=self.init_scale)

    def set_bugs(self, bugs) -> None:
        self.bugs = bug_lab.check_bugs(bugs, recurrent=False)

    # ------------------------------------------------------------------ public API
    def forward(self, inputs) -> np.ndarray:
        """Outputs ``(B, n_L)``: logits (softmax output) or values (linear output)."""
        X = self._inputs(inputs)
        return self._forward(X)[-1][1]

    def predict_proba(self, inputs) -> np.ndarray:
        from ..nn.losses import softmax

        return softmax(self.forward(inputs))

    def loss_and_grads(self, inputs, targets, *, reduction: str = "mean", loss: str | None = None):
        """inputs ``(B, n_0)``; targets ``(B,)`` class ids (cross-entropy) or ``(B, n_L)`` floats
        (mse). ``"sum"`` sums over the batch, ``"mean"`` divides by B. Returns ``(loss, grads)``."""
        gen = self._iteration(*self._validate(inputs, targets, reduction, loss), narrate=False)
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value
        raise AssertionError("silent pass yielded a record")  # pragma: no cover

    def steps(self, inputs, targets, *, reduction: str = "mean", loss: str | None = None) -> Iterator[Step]:
        """``LayerForward`` x L, ``LossStep``, ``LayerBackward`` x L (last layer first), ``GradientStep``."""
        return self._iteration(*self._validate(inputs, targets, reduction, loss), narrate=True)

    # ------------------------------------------------------------------ internals
    def _inputs(self, inputs) -> np.ndarray:
        return float_array(inputs, "inputs", (None, self.layer_sizes[0]), "(batch, n_inputs)")

    def _validate(self, inputs, targets, reduction, loss):
        choice(reduction, REDUCTIONS, "reduction")
        want = OUTPUT_LOSS[self.output]
        if loss is None:
            loss = want
        elif loss != want:
            raise ValueError(f"loss: {loss!r} does not match output={self.output!r}; allowed: {want!r} "
                             "(softmax output goes with cross_entropy, linear with mse)")
        X = self._inputs(inputs)
        if X.shape[0] == 0:
            raise ValueError("inputs: expected at least one example, got 0")
        O = self.layer_sizes[-1]
        if loss == "cross_entropy":
            tg = int_array(targets, "targets", (X.shape[0],), upper=O, what="class ids")
        else:
            tg = float_array(targets, "targets", (X.shape[0], O))
        return X, tg, reduction, loss

    def _forward(self, X: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """[(z_l, a_l)] for l = 1..L; the last a is the raw output."""
        out, a = [], X
        for l in range(1, self.n_layers + 1):
            z = a @ self.params[f"W{l}"] + self.params[f"b{l}"]
            a = self.activations[l - 1].fn(z) if l < self.n_layers else z
            out.append((z, a))
        return out

    def _iteration(self, X, tg, reduction, loss, *, narrate: bool):
        bugs, B, L = self.bugs, X.shape[0], self.n_layers
        layers = self._forward(X)
        Y = layers[-1][1]
        probs = None
        if loss == "cross_entropy":
            losses, delta, probs = cross_entropy(
                Y, tg, softmax_axis=0 if "softmax_wrong_axis" in bugs else -1,  # bug lab
                elementwise_derivative="softmax_elementwise" in bugs)
        else:
            losses, delta = squared_error(Y, tg)
        scale = 1.0 / B if reduction == "mean" else 1.0
        total = float(losses.sum() * scale)
        delta *= scale
        if narrate:
            a_in = X
            for l, (z, a) in enumerate(layers, start=1):
                yield LayerForward(l, a_in=frozen(a_in), z=frozen(z), a=frozen(a),
                                   p=frozen(probs) if l == L else None)
                a_in = a
            yield LossStep(0, losses=frozen(losses), per_step=frozen(np.array([total])), total=total,
                           scale=scale, reduction=reduction, loss=loss, dy=frozen(delta))
        grads: dict[str, np.ndarray] = {}
        da = delta
        for l in range(L, 0, -1):
            if l == L:
                dz = da
            else:
                z, a = layers[l - 1]
                if "deriv_wrong_variable" in bugs:  # bug lab
                    z, a = a, z
                dz = da * self.activations[l - 1].deriv(z, a)
            a_prev = layers[l - 2][1] if l > 1 else X
            gW = a_prev.T @ dz
            gb = dz[0].copy() if "bias_not_summed" in bugs else dz.sum(0)  # bug lab
            da_prev = dz @ self.params[f"W{l}"].T
            grads[f"W{l}"], grads[f"b{l}"] = gW, gb
            if narrate:
                yield LayerBackward(l, da=frozen(da), dz=frozen(dz), da_prev=frozen(da_prev),
                                    grads=frozen_dict({f"W{l}": gW, f"b{l}": gb}))
            da = da_prev
        grads = {name: grads[name] for name in self.params}
        if narrate:
            yield GradientStep(0, loss=total, grads=frozen_dict(grads))
        return total, grads


__all__ = ["MLP", "ACTIVATIONS"]
