"""Layer 1: CLIP itself. ``loading`` (checkpoints, environment, I/O), ``dense`` (any-size dense
forward: tokens, attention, per-block streams), ``text`` (prompt embeddings)."""
