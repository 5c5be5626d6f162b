"""Command-line commands that need no Qt: the gradient doctor's file check, the desktop entry."""
