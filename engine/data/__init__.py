"""Data for bpttviz: shipped corpora and data sets, text pipelines, synthetic tasks, toy sets.

Pure NumPy; every random function takes ``seed`` (an int or a ``numpy.random.Generator``).
"""

from .corpora import CORPORA, load_corpus, load_names
from .digits import load_digits, load_digits_split
from .metrics import accuracy, mse
from .paths import asset_path
from .seeding import Seed, as_generator
from .split import train_test_split
from .synthetic import (
    ADDING_BASELINE_MSE,
    BLANK,
    PARITY_BASELINE_ACCURACY,
    TASKS,
    Batch,
    TaskSpec,
    adding_baseline,
    adding_metric,
    adding_problem,
    copy_baseline,
    copy_chance,
    copy_metric,
    copy_task,
    parity_baseline,
    parity_metric,
    parity_task,
    sine_baseline,
    sine_metric,
    sine_task,
)
from .text import (
    CharVocab,
    Chunk,
    ChunkStream,
    WordVocab,
    chunk_stream,
    load_text,
    split_sentences,
    tokenize_words,
    train_val_split,
)
from .toy2d import blobs, circles, grid, spirals, xor

__all__ = [
    "ADDING_BASELINE_MSE",
    "BLANK",
    "CORPORA",
    "PARITY_BASELINE_ACCURACY",
    "TASKS",
    "Batch",
    "CharVocab",
    "Chunk",
    "ChunkStream",
    "Seed",
    "TaskSpec",
    "WordVocab",
    "accuracy",
    "adding_baseline",
    "adding_metric",
    "adding_problem",
    "as_generator",
    "asset_path",
    "blobs",
    "chunk_stream",
    "circles",
    "copy_baseline",
    "copy_chance",
    "copy_metric",
    "copy_task",
    "grid",
    "load_corpus",
    "load_digits",
    "load_digits_split",
    "load_names",
    "load_text",
    "mse",
    "parity_baseline",
    "parity_metric",
    "parity_task",
    "sine_baseline",
    "sine_metric",
    "sine_task",
    "spirals",
    "split_sentences",
    "tokenize_words",
    "train_test_split",
    "train_val_split",
    "xor",
]
