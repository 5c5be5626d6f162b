"""Building blocks: activations, losses, initialisation and optimisers (with clipping)."""
