"""WeakCLIP (Zhu et al., IJCV 2025): CLIP adapted to refine CAM seeds into pseudo masks.

See ``docs/weakclip.md``. Faithful to the official code by default; ``corrected()`` gives the
paper's model.
"""

from .config import WeakClipConfig, corrected, faithful
from .model import ParameterCounts, WeakCLIP, WeakClipOutput, build_weakclip, parameter_counts

__all__ = [
    "ParameterCounts",
    "WeakCLIP",
    "WeakClipConfig",
    "WeakClipOutput",
    "build_weakclip",
    "corrected",
    "faithful",
    "parameter_counts",
]
