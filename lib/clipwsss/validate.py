"""Range checks for configuration values, shared by the config dataclasses (issue 12, #5).

Out-of-range switches do not fail on their own: ``box_threshold=1.5`` gives empty boxes and
all-zero refined CAMs, a template without ``{}`` gives one sentence for every class, a mask
threshold of 2 marks every pixel 255, a background power <= 0 makes the background win
everywhere. The dataclasses call these in ``__post_init__``, so the CLI, the notebooks and
the Python API refuse such values the same way, before any file is written.
"""

from __future__ import annotations


def check_box_threshold(value: float) -> float:
    """CAA box threshold lambda: 0 <= lambda < 1 (boxes keep pixels strictly above
    ``int(lambda * max)`` of the uint8 CAM, so lambda >= 1 never gives a box; lambda = 0 is
    the left end of the paper's Fig. S2 sweep)."""
    if not 0.0 <= float(value) < 1.0:
        raise ValueError(
            f"box_threshold (lambda) must be in [0, 1), got {value}: at 1 or above no CAM "
            "pixel is above the threshold, so every refined CAM would be 0"
        )
    return value


def check_template(template: str) -> str:
    """A prompt template must contain one ``{}`` placeholder for the class name."""
    try:
        a, b = template.format("\0a"), template.format("\0b")
    except (IndexError, KeyError, ValueError) as err:
        raise ValueError(f"template {template!r} is not a format string with {{}}: {err}") from None
    if a == b:
        raise ValueError(
            f"template {template!r} has no {{}} placeholder for the class name "
            "(e.g. 'a clean origami {}.'): every class would get the same text"
        )
    return template


def check_unit_interval(name: str, value: float) -> float:
    """A value in [0, 1] (confidence threshold mu)."""
    if not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value}")
    return value


def check_bg_exponent(value: float) -> float:
    """Background power k of (1 - max cam)^k: k > 0 (k <= 0 gives a background >= 1)."""
    if not float(value) > 0.0:
        raise ValueError(
            f"bg_exponent (k) must be > 0, got {value}: (1 - max cam)^k would be >= 1 "
            "everywhere and the background would win every pixel"
        )
    return value
