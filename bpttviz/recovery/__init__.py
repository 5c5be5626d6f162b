"""Recovery: autosave, the restore offer, crash logs and hostile-file handling."""
