import os

# Qt must see this before it is imported anywhere in the test session.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
