import os

# Qt must see this before it is imported anywhere in the test session.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# One BLAS thread, as the app uses (bpttviz/__init__.py): the engine's small products only lose
# to thread hand-overs, and on a busy 2-core machine extra threads make long runs many times slower.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
# The tests exercise the installed package. The source tree's bpttviz/ folder does not hold the
# engine (the wheel maps engine/ into it), so a child Python started in the checkout must not put
# the current directory first on sys.path (Python 3.11+ honours this variable).
os.environ["PYTHONSAFEPATH"] = "1"
# Windows built by tests train on the UI thread (deterministic, no child process per window);
# tests of the training process ask for it explicitly.
os.environ.setdefault("BPTTVIZ_TRAINING_PROCESS", "0")

try:
    import bpttviz.engine  # noqa: E402, F401
except ImportError as e:  # the checkout's bpttviz/ shadows the installed package, or it is missing
    import pytest

    pytest.exit(f"bpttviz is not installed ({e}); run the tests from an installed copy: "
                "pip install '.[test]' then pytest", returncode=4)

from hypothesis import settings  # noqa: E402

# Same examples on every run: a test suite that passes must pass again (CI, a learner's machine).
# Gradient checks in float64 sit near the limits of central differences for rare saturated shapes,
# and a random new example each run would make such a limit look like a flaky failure.
settings.register_profile("bpttviz", derandomize=True, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "bpttviz"))


def pytest_xdist_auto_num_workers(config):
    """``-n auto`` (set in pyproject.toml): a worker per core when the run covers the suite or a
    folder; one process (0 workers) when the command line names only files or single tests, which
    start at once and keep plain tracebacks. ``-n 2`` (any number) or the
    ``PYTEST_XDIST_AUTO_NUM_WORKERS`` variable choose for themselves."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    args = [str(a).split("::")[0] for a in config.args]
    if args and all(os.path.isfile(a) for a in args):
        return 0
    return None


def pytest_configure(config):
    """Every test process (each parallel worker too) gets its own home-like folders, so autosaves,
    crash logs, settings and desktop entries never touch the user's and never meet another
    worker's. Tests that need a particular folder still set it themselves."""
    import shutil
    import tempfile

    root = tempfile.mkdtemp(prefix="bpttviz-tests-")
    for var in ("XDG_STATE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        path = os.path.join(root, var.lower())
        os.makedirs(path, exist_ok=True)
        os.environ[var] = path
    config.add_cleanup(lambda: shutil.rmtree(root, ignore_errors=True))


def pytest_addoption(parser):
    parser.addoption("--soak", action="store_true", default=False,
                     help="run the long soak tests (always on when the CI variable is set)")


def pytest_collection_finish(session):
    """Everything imported so far (numpy, Qt, pyqtgraph, the test modules) lives until the end:
    moved out of the garbage collector's reach, each full collection during the run walks only
    what the tests made. The app tests free a window tree per test, so full collections are
    frequent."""
    import gc

    gc.collect()
    gc.freeze()


def pytest_collection_modifyitems(config, items):
    """The long soak tests run in CI (``.ci/run`` sets CI=true) or with ``--soak``, not in every
    local run."""
    if config.getoption("--soak") or os.environ.get("CI"):
        return
    import pytest

    skip = pytest.mark.skip(reason="long soak: runs in CI, or locally with --soak")
    for item in items:
        if "soak" in item.keywords:
            item.add_marker(skip)
