"""Layer 3: CAM methods (``nn.Module``-style objects built from a config dataclass).

``base`` holds the small ``CamMethod`` protocol and the registry; ``clip_es`` is CLIP-ES. Kept
free of imports so that ``import clipwsss.methods.x`` loads only what ``x`` needs.
"""
