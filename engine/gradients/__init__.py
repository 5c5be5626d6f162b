"""Gradients examined: numerical checks, decay diagnostics, attribution, the bug catalogue, the
doctor."""
