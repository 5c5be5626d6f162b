import os

# Qt must see this before it is imported anywhere in the test session.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# One BLAS thread, as the app uses (bpttviz/__init__.py): the engine's small products only lose
# to thread hand-overs, and on a busy 2-core machine extra threads make long runs many times slower.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from hypothesis import settings  # noqa: E402

# Same examples on every run: a test suite that passes must pass again (CI, a learner's machine).
# Gradient checks in float64 sit near the limits of central differences for rare saturated shapes,
# and a random new example each run would make such a limit look like a flaky failure.
settings.register_profile("bpttviz", derandomize=True, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "bpttviz"))
