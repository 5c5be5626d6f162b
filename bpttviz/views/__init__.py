"""Plain widgets that take data and draw it (no engine imports)."""
