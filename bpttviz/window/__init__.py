"""The main window and the controller, the one bridge from Qt to the engine."""
