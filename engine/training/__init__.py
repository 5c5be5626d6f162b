"""Training: the config field table, tasks, the session, presets, scenarios and session files."""
