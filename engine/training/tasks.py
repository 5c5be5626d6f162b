"""Tasks: what a session trains on, built from a ``Config`` over ``engine.data``.

Every task offers the same small interface to the session and the app:

- ``input_size``, ``output_size``, ``loss`` ("cross_entropy"/"mse"), ``output`` ("all"/"last"),
  ``stateful`` (carry the hidden state from batch to batch: chunked language models);
- ``batch(rng) -> (inputs, targets)`` with the shapes the models document, and ``epoch_start``
  (True when a stateful stream just wrapped around, so the carried state must be reset);
- ``validation() -> (inputs, targets)`` a fixed held-out set; ``metric(model) -> float``
  (``metric_name``, ``higher_is_better``, ``baseline``: the trivial predictor's value); the
  stateful tasks' ``metric(model, state)`` reads the held-out text from the carried state;
- ``view(model) -> dict``: what the task view draws (samples, a decision boundary, predictions).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .. import data
from ..nn.losses import log_softmax, softmax
from .config import BUILTIN_CORPORA, Config

Array = np.ndarray


class Task:
    name = ""
    loss = "cross_entropy"
    output = "all"
    stateful = False
    metric_name = ""
    higher_is_better = True
    baseline: float | None = None
    baseline_name = "trivial baseline"  # what the baseline is, in the loss plot's words
    input_size = 0
    output_size = 0

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.epoch_start = False

    def batch(self, rng: np.random.Generator) -> tuple[Array, Array]:
        raise NotImplementedError

    def validation(self) -> tuple[Array, Array]:
        raise NotImplementedError

    def metric(self, model) -> float:
        raise NotImplementedError

    def view(self, model, rng: np.random.Generator | None = None) -> dict[str, Any]:
        return {"kind": "none"}

    def describe(self) -> str:
        return self.name

    def state_dict(self) -> dict[str, Any]:
        """Where the data stream stands, as plain values: ``{"kind": "none"}`` for tasks that
        draw every batch from the session's generator."""
        return {"kind": "none"}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Put back what ``state_dict`` returned; ``ValueError`` if it belongs to another kind of task."""
        self._check_kind(state, "none")

    def _check_kind(self, state: dict[str, Any], kind: str) -> None:
        got = state.get("kind") if isinstance(state, dict) else None
        if got != kind:
            raise ValueError(f"task state: expected kind {kind!r} for task {self.name!r}, got {str(got)[:20]!r}")


# ---------------------------------------------------------------------------------- language models
class LanguageModelTask(Task):
    """Next-token prediction on a token stream, chunked and stateful (the hidden state is carried
    from chunk to chunk, gradient is not). Validation: the last 10% of the text, read from the
    state training carries (see ``metric``)."""

    stateful = True
    metric_name = "validation loss / token"
    higher_is_better = False
    max_val_tokens = 5000

    #: built-in corpora that are lists, one item per line, ranked (most frequent first): their order
    #: is a ranking, not a sequence. Streamed in that order the data drifts from common to rare
    #: items within every epoch, so a stateful model chases the drift (forgetting the head of the
    #: list while it reads the tail) and the last 10% held out for validation is not like the
    #: training text. Their lines are shuffled once, with a fixed generator, before the split.
    LIST_CORPORA = ("names",)
    LIST_SHUFFLE_SEED = 20_240_601

    def __init__(self, cfg: Config) -> None:
        super().__init__(cfg)
        text = self._read(cfg.corpus)
        if cfg.corpus in self.LIST_CORPORA:
            text = self._shuffle_lines(text)
        train_text, val_text = data.train_val_split(text, 0.1)
        self.vocab = self._vocab(train_text)
        self.train_ids = self._encode(train_text)
        self.val_ids = self._encode(val_text)[: self.max_val_tokens + 1]
        if len(self.train_ids) < cfg.seq_len * cfg.batch_size + 1:
            raise ValueError(f"corpus {cfg.corpus!r}: {len(self.train_ids)} training tokens are too few for "
                             f"batch_size {cfg.batch_size} x seq_len {cfg.seq_len}")
        self.stream = data.chunk_stream(self.train_ids, cfg.seq_len, stride=cfg.stride, batch_size=cfg.batch_size,
                                        drop_last=True)
        self._iter = None
        self.input_size = self.output_size = self.vocab.size
        self.epoch = 0
        self.chunk = 0  # chunks handed out in the current epoch (a saved session restores it)

    @staticmethod
    def _read(corpus: str) -> str:
        if corpus in BUILTIN_CORPORA:
            return data.load_corpus(corpus)
        try:
            return data.load_text(Path(corpus).expanduser())
        except FileNotFoundError:
            raise ValueError(f"corpus: no such file {corpus!r}; use a built-in corpus "
                             f"({', '.join(BUILTIN_CORPORA)}) or a path to a UTF-8 text file") from None
        except IsADirectoryError:
            raise ValueError(f"corpus: {corpus!r} is a folder, not a text file") from None
        except OSError as e:
            raise ValueError(f"corpus: cannot read {corpus!r}: {e.strerror}") from None

    @classmethod
    def _shuffle_lines(cls, text: str) -> str:
        """The same lines (each ending in a newline) in an order fixed once for every session."""
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        order = np.random.default_rng(cls.LIST_SHUFFLE_SEED).permutation(len(lines))
        return "".join(lines[i] + "\n" for i in order)

    def _vocab(self, text: str):
        raise NotImplementedError

    def _encode(self, text: str) -> Array:
        return self.vocab.encode(text)

    def batch(self, rng):
        self.epoch_start = False
        if self._iter is None:
            self._iter = iter(self.stream)
            self.epoch_start = True
        try:
            chunk = next(self._iter)
        except StopIteration:
            self.epoch += 1
            self._iter = iter(self.stream)
            self.epoch_start = True
            self.chunk = 0
            chunk = next(self._iter)
        self.chunk += 1
        return chunk.inputs, chunk.targets

    def seek(self, chunk: int) -> None:
        """Continue the current epoch after ``chunk`` chunks (restoring a saved session)."""
        self._iter = self.stream.iter_from(chunk)
        self.chunk = chunk

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without the chunk iterator (a generator): unpickling makes it again at the same
        chunk (a training process hands sessions to the app this way)."""
        state = dict(vars(self))
        state["_iter"] = self._iter is not None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        started = state.pop("_iter")
        vars(self).update(state, _iter=None)
        if started:
            self.seek(self.chunk)

    def state_dict(self) -> dict[str, Any]:
        """``kind`` "stream"; ``started`` (a batch was drawn), ``epoch``, ``chunk`` (chunks of
        this epoch handed out) and ``epoch_start`` (the last batch began an epoch)."""
        return {"kind": "stream", "started": self._iter is not None, "epoch": int(self.epoch),
                "chunk": int(self.chunk), "epoch_start": bool(self.epoch_start)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue the stream where ``state`` says; ``ValueError`` for values out of range."""
        self._check_kind(state, "stream")
        started, epoch_start, epoch, chunk = state["started"], state["epoch_start"], state["epoch"], state["chunk"]
        if not isinstance(started, bool) or not isinstance(epoch_start, bool):
            raise ValueError("task state: started and epoch_start must be true or false")
        for key, v, hi in (("epoch", epoch, None), ("chunk", chunk, len(self.stream))):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0 or (hi is not None and v > hi):
                limit = f"0 to {hi}" if hi is not None else "0 or more"
                raise ValueError(f"task state: {key}: expected a whole number from {limit}, got {str(v)[:40]!r}")
        self.epoch = int(epoch)
        self.epoch_start = epoch_start
        if started:
            self.seek(int(chunk))
        else:  # nothing drawn yet: the first batch starts the stream
            self._iter = None
            self.chunk = 0

    def validation(self):
        ids = self.val_ids
        n = (len(ids) - 1)
        return ids[None, :n], ids[None, 1:n + 1]

    def metric(self, model, state=None) -> float:
        """Mean loss per token of the held-out text, read from ``state`` (the hidden state the
        session carries, a tuple of ``(B, H)`` arrays; its first row is used) or from zeros (None).

        Why the carried state: training runs the text as one stream and starts from zeros only at
        the first chunk of each epoch, so zeros are a state the model has almost never been trained
        from. A saturated tanh RNN can have two mirror-image attractors (h and about -h); the
        classic min-char-rnn set-up reaches one within a few Adagrad steps (the first step moves
        every weight by about lr, so W_hh's spectral radius jumps to 3-8), the carried state sits
        in it, and a zero state falls into the other one, where the output layer was never fitted:
        over its first epoch (1,300 iterations) that model, read from zeros, is worse than uniform
        guessing on the held-out names while it is well below it from the state it carries. Read
        from the carried state, validation measures the model as training runs it."""
        x, y = self.validation()
        if x.shape[1] == 0:
            return float("nan")
        h0 = None
        if state is not None:
            rows = tuple(np.asarray(a)[:1] for a in state)
            h0 = rows if len(rows) > 1 else rows[0]
        out, _ = model.forward(x, h0=h0)  # forward only: a backward pass here cost 3x more for nothing
        logp = log_softmax(out)
        loss = -float(np.take_along_axis(logp, y[..., None], axis=-1).sum())
        return loss / x.shape[1]

    def sample(self, model, n: int, temperature: float, rng: np.random.Generator, prime: str | None = None) -> str:
        """Sample ``n`` tokens: feed the prime (default: a random token), then draw each next token
        from ``softmax(y / temperature)`` and feed it back."""
        if prime:
            ids = [int(i) for i in self.vocab.encode(prime)]
        else:
            ids = [int(self.train_ids[rng.integers(len(self.train_ids))])]
        out, state = model.forward(np.array([ids]))
        logits = out[0, -1]
        generated = []
        for _ in range(n):
            p = softmax(logits / temperature)
            nxt = int(rng.choice(len(p), p=p))
            generated.append(nxt)
            out, state = model.forward(np.array([[nxt]]), h0=state if len(state) > 1 else state[0])
            logits = out[0, -1]
        return self._join(ids if prime else [], generated)

    def _join(self, prime_ids, ids) -> str:
        return self.vocab.decode(list(prime_ids) + list(ids))

    def view(self, model, rng=None):
        rng = rng or np.random.default_rng(self.cfg.seed)
        return {"kind": "text", "sample": self.sample(model, self.cfg.sample_length, self.cfg.temperature, rng)}


class CharTask(LanguageModelTask):
    """Characters; the metric is validation bits per character and the baseline uniform guessing
    over the alphabet, ``log2(V)`` bits (a model above it is worse than chance)."""

    name = "chars"
    metric_name = "validation bits / char"
    baseline_name = "chance"  # uniform guessing: log2(V) bits

    def __init__(self, cfg: Config) -> None:
        super().__init__(cfg)
        self.baseline = float(np.log2(self.vocab.size))

    def _vocab(self, text):
        return data.CharVocab(text)

    def metric(self, model, state=None) -> float:
        return super().metric(model, state) / np.log(2.0)

    def describe(self):
        return f"character LM on {self.cfg.corpus} ({self.vocab.size} symbols)"


class WordTask(LanguageModelTask):
    name = "words"
    metric_name = "validation perplexity"

    def _vocab(self, text):
        return data.WordVocab(text, max_size=self.cfg.vocab_size)

    def _encode(self, text: str) -> Array:
        return self.vocab.encode_stream(text)

    def metric(self, model, state=None) -> float:
        return float(np.exp(min(50.0, super().metric(model, state))))

    def _join(self, prime_ids, ids) -> str:
        return " ".join(self.vocab.lookup(list(prime_ids) + list(ids)))

    def describe(self):
        return f"word LM on {self.cfg.corpus} ({self.vocab.size} words incl. <unk>)"


# ---------------------------------------------------------------------------------- synthetic
class SyntheticTask(Task):
    """Adding, copy, parity (Hochreiter & Schmidhuber 1997) and sine regression: a fresh random
    batch every iteration, and a fixed validation batch of 256 sequences."""

    def __init__(self, cfg: Config) -> None:
        super().__init__(cfg)
        self.name = cfg.task
        self.spec = data.TASKS[cfg.task]
        self.metric_name = f"validation {self.spec.metric_name}"
        self.higher_is_better = self.spec.higher_is_better
        self._val = self._make(256, np.random.default_rng(cfg.seed + 1_000_003))
        self.baseline = float(self.spec.baseline(self._val))
        b = self._val
        self.input_size = b.input_size
        self.output_size = b.n_classes if b.n_classes is not None else b.targets.shape[-1]
        self.loss = "cross_entropy" if b.n_classes is not None else "mse"
        self.output = "last" if b.many_to_one else "all"

    def _make(self, n: int, rng) -> data.Batch:
        c = self.cfg
        if c.task == "adding":
            return data.adding_problem(n, c.seq_len, c.lag, seed=rng)
        if c.task == "copy":
            lag = c.lag if c.lag is not None else c.seq_len - c.n_remember
            return data.copy_task(n, n_remember=c.n_remember, lag=lag, seed=rng)
        if c.task == "parity":
            return data.parity_task(n, c.seq_len, seed=rng)
        return data.sine_task(n, c.seq_len, noise=min(c.noise, 1.0), seed=rng)

    def batch(self, rng):
        b = self._make(self.cfg.batch_size, rng)
        return np.array(b.inputs), np.array(b.targets)

    def validation(self):
        return np.array(self._val.inputs), np.array(self._val.targets)

    def _outputs(self, model, x):
        out, _ = model.forward(x)
        return out[:, -1] if self.output == "last" else out

    def metric(self, model) -> float:
        x, y = self.validation()
        return float(self.spec.metric(self._outputs(model, x), y))

    def view(self, model, rng=None):
        x, y = self.validation()
        x, y = x[:1], y[:1]
        out = self._outputs(model, x)
        if self.name == "sine":
            return {"kind": "series", "input": x[0, :, 0], "target": y[0, :, 0], "prediction": out[0, :, 0]}
        return {"kind": "sequence", "inputs": x[0], "targets": y[0], "outputs": out[0]}

    def describe(self):
        lag = f", lag {self.cfg.lag}" if self.cfg.lag else ""
        return f"{self.name} task, T={self.cfg.seq_len}{lag}"


# ---------------------------------------------------------------------------------- MLP data
class ClassificationTask(Task):
    """2-D toy sets and the 8x8 digits, for the MLP: minibatches (or the whole training set when
    batch_size >= its size) and accuracy on a held-out test split."""

    output = "last"
    metric_name = "test accuracy"

    def __init__(self, cfg: Config) -> None:
        super().__init__(cfg)
        self.name = cfg.task
        if cfg.task == "digits":
            X, y = data.load_digits()
        else:
            gen = {"xor": data.xor, "circles": data.circles, "spirals": data.spirals, "blobs": data.blobs}[cfg.task]
            X, y = gen(cfg.n_samples, noise=cfg.noise, seed=cfg.seed)
        self.X_train, self.X_test, self.y_train, self.y_test = data.train_test_split(
            X, y, test_fraction=cfg.test_fraction, seed=cfg.seed)
        self.input_size = X.shape[1]
        self.output_size = int(y.max()) + 1
        counts = np.bincount(self.y_test, minlength=self.output_size)
        self.baseline = float(counts.max() / counts.sum())
        self._order = np.arange(len(self.y_train))
        self._pos = len(self._order)

    def batch(self, rng):
        B = self.cfg.batch_size
        if B >= len(self.y_train):
            return self.X_train, self.y_train
        if self._pos + B > len(self._order):
            rng.shuffle(self._order)
            self._pos = 0
        idx = self._order[self._pos:self._pos + B]
        self._pos += B
        return self.X_train[idx], self.y_train[idx]

    def state_dict(self) -> dict[str, Any]:
        """``kind`` "shuffle"; ``order`` the current shuffled order of the training examples
        (int64 ``(N_train,)``, the task's own array) and ``pos`` the cursor into it."""
        return {"kind": "shuffle", "pos": int(self._pos), "order": np.asarray(self._order, dtype=np.int64)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Put back the order and cursor; ``ValueError`` unless ``order`` is a permutation of the
        training examples and ``pos`` lies within it."""
        self._check_kind(state, "shuffle")
        n = len(self._order)
        order = np.asarray(state["order"])
        if order.shape != (n,) or order.dtype.kind not in "iu" or not np.array_equal(np.sort(order), np.arange(n)):
            raise ValueError(f"task state: order is not a permutation of the {n} training examples")
        pos = state["pos"]
        if isinstance(pos, bool) or not isinstance(pos, (int, np.integer)) or not 0 <= pos <= n:
            raise ValueError(f"task state: pos: expected a whole number from 0 to {n}, got {str(pos)[:40]!r}")
        self._order[...] = order
        self._pos = int(pos)

    def validation(self):
        return self.X_test, self.y_test

    def metric(self, model) -> float:
        return float(np.mean(np.argmax(model.forward(self.X_test), -1) == self.y_test))

    def view(self, model, rng=None):
        if self.name == "digits":
            x = self.X_test[:16]
            return {"kind": "digits", "images": x.reshape(-1, 8, 8), "labels": self.y_test[:16],
                    "predicted": np.argmax(model.forward(x), -1)}
        xx, yy, pts = data.grid(np.vstack([self.X_train, self.X_test]), resolution=80)
        probs = softmax(model.forward(pts))
        return {"kind": "boundary", "xx": xx, "yy": yy, "probs": probs.reshape(*xx.shape, -1),
                "X": self.X_train, "y": self.y_train}

    def describe(self):
        return f"{self.name} ({len(self.y_train)} train / {len(self.y_test)} test)"


def make_task(cfg: Config) -> Task:
    if cfg.task == "chars":
        return CharTask(cfg)
    if cfg.task == "words":
        return WordTask(cfg)
    if cfg.task in ("adding", "copy", "parity", "sine"):
        return SyntheticTask(cfg)
    return ClassificationTask(cfg)
