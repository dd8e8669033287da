"""Range checks for configuration values, shared by the config dataclasses: a value that would
give silently wrong results is refused where it is set.

Out-of-range switches do not fail on their own: ``box_threshold=1.5`` gives empty boxes and
all-zero refined CAMs, a template without ``{}`` gives one sentence for every class, a mask
threshold of 2 marks every pixel 255, a background power <= 0 makes the background win
everywhere. The dataclasses call these in ``__post_init__``, so the CLI, the notebooks and
the Python API refuse such values the same way, before any file is written.

Also: YAML/JSON files parsed with errors that name the file, and vocabulary word lists
checked for type (a bare string is not a list of words).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


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


def check_range(
    name: str,
    value: float,
    *,
    low: float | None = None,
    high: float | None = None,
    above: float | None = None,
    below: float | None = None,
) -> float:
    """``low <= value <= high`` (``above < value < below`` for open ends), finite.

    The message names the config field and its generated flag (``--name-with-dashes``).

    Raises:
        ValueError: out of range, NaN or infinite.
    """
    import math

    ok = math.isfinite(float(value))
    ok = ok and (low is None or value >= low) and (high is None or value <= high)
    ok = ok and (above is None or value > above) and (below is None or value < below)
    if not ok:
        left = f"[{low}" if low is not None else f"({above}" if above is not None else "(-inf"
        right = f"{high}]" if high is not None else f"{below})" if below is not None else "inf)"
        flag = "--" + name.replace("_", "-")
        raise ValueError(f"{name} ({flag}) must be in {left}, {right}, got {value}")
    return value


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    """``value`` is one of ``choices``; the message names the field and every choice."""
    if value not in choices:
        raise ValueError(f"{name}={value!r}; choose one of {', '.join(choices)}")


def check_bg_exponent(value: float) -> float:
    """Background power k of (1 - max cam)^k: k > 0 (k <= 0 gives a background >= 1)."""
    if not float(value) > 0.0:
        raise ValueError(
            f"bg_exponent (k) must be > 0, got {value}: (1 - max cam)^k would be >= 1 "
            "everywhere and the background would win every pixel"
        )
    return value


class VocabularyError(KeyError, ValueError):
    """A vocabulary file or mapping has the wrong types or names (a ValueError for callers
    that catch bad input, a KeyError for the unknown-class case it replaces)."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0]) if self.args else ""


def read_yaml_or_json(path: Path, *, error: type[Exception] = ValueError) -> Any:
    """Parse a ``.json`` (JSON) or any other (YAML) file; a syntax error names the file.

    Raises:
        error: with ``path:line:column`` and the parser's reason.
    """
    import yaml

    text = Path(path).read_text(encoding="utf-8")
    if Path(path).suffix.lower() == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as err:
            raise error(f"{path}:{err.lineno}:{err.colno}: JSON syntax error: {err.msg}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        reason = getattr(err, "problem", None) or str(err)
        raise error(f"{where}: YAML syntax error: {reason}") from None


def check_words(what: str, value: Any, *, allow_comma_string: bool = False) -> tuple[str, ...]:
    """A list of non-empty strings (``background``, a class's synonyms), checked for type.

    A bare string is refused (``background: sky`` would otherwise become the words s, k, y)
    unless ``allow_comma_string`` (synonyms may be one comma-separated string).
    """
    if value is None:
        return ()
    if isinstance(value, str):
        if allow_comma_string:
            return tuple(w.strip() for w in value.split(",") if w.strip())
        raise VocabularyError(
            f"{what} must be a list of words, got the string {value!r} (write [{value}])"
        )
    if not isinstance(value, (list, tuple)) or not all(isinstance(w, str) for w in value):
        raise VocabularyError(f"{what} must be a list of strings, got {value!r}")
    return tuple(w.strip() for w in value)
