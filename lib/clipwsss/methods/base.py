"""The one interface the pipelines accept: a CAM method, and a registry of them by name.

A method turns an image and its image-level labels into per-class CAMs. CLIP-ES
(``methods/clip_es.py``) is one; WeCLIP and WeakCLIP register theirs the same way, and then
``clipwsss cams | masks | eval`` and the notebooks run them without change.

Example:
    >>> @register_method("my-cams", config=MyConfig)  # doctest: +SKIP
    ... def build(clip, vocab, config): return MyCams(clip, vocab, config)
    >>> method = build_method("my-cams", clip, vocab, MyConfig())  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
from torch import Tensor


@runtime_checkable
class MethodCams(Protocol):
    """What a method returns per image (``ImageCams`` of CLIP-ES has these and more).

    Attributes:
        keys: (K,) 0-based class ids, in label order.
        cams: (K, h, w) initial CAMs in [0, 1].
        refined: (K, h, w) refined CAMs in [0, 1], or None (then ``cams`` are written twice).
    """

    keys: Tensor
    cams: Tensor
    refined: Tensor | None


@runtime_checkable
class CamMethod(Protocol):
    """A CAM method as the data-set loops use it.

    Shapes:
        ``__call__``: image (H, W, 3) uint8, labels (K,) ids -> per-class CAMs (K, h, w).
        ``batch``: B same-size images -> B results. ``upsample``: (K, h, w) -> (K, H, W).
    """

    @property
    def min_image_size(self) -> int:
        """Smallest image side the method accepts (the patch size of a ViT)."""
        ...

    @property
    def n_classes(self) -> int:
        """Foreground classes of its vocabulary (the data set must have as many)."""
        ...

    def __call__(self, image: np.ndarray, labels: Sequence[int]) -> MethodCams: ...

    def batch(
        self, images: Sequence[np.ndarray], labels: Sequence[Sequence[int]]
    ) -> list[MethodCams]: ...

    def upsample(self, cams: Tensor, size: tuple[int, int]) -> Tensor: ...

    def run_record(self) -> dict[str, Any]:
        """Model, weights, vocabulary and every switch, for ``run.json`` (JSON-serialisable)."""
        ...


Factory = Callable[..., CamMethod]  # factory(clip, vocab, config) -> CamMethod


@dataclass(frozen=True)
class MethodEntry:
    """A registered method: its name, its factory and its config dataclass.

    Attributes:
        name: Registry key (``"clip-es"``).
        factory: ``factory(clip, vocab, config) -> CamMethod``.
        config: The config dataclass (the CLI generates its flags from the fields).
    """

    name: str
    factory: Factory
    config: type


_REGISTRY: dict[str, MethodEntry] = {}
# Modules that register a method when imported; loaded on the first registry lookup.
BUILTIN_METHODS = ("clipwsss.methods.clip_es",)


def _load_builtins() -> None:
    import importlib

    for module in BUILTIN_METHODS:
        importlib.import_module(module)


def register_method(name: str, *, config: type) -> Callable[[Factory], Factory]:
    """Decorator: register ``factory`` under ``name`` with its config dataclass.

    Raises:
        ValueError: if ``name`` is taken by another factory.
    """

    def decorate(factory: Factory) -> Factory:
        old = _REGISTRY.get(name)
        if old is not None and old.factory is not factory:
            raise ValueError(f"a CAM method {name!r} is already registered ({old.factory})")
        _REGISTRY[name] = MethodEntry(name, factory, config)
        return factory

    return decorate


def method_entry(name: str) -> MethodEntry:
    """The registry entry of ``name``.

    Raises:
        KeyError: an unknown name (the message lists the known ones).
    """
    if name not in _REGISTRY:
        _load_builtins()
    if name not in _REGISTRY:
        raise KeyError(f"no CAM method {name!r}; registered: {sorted(_REGISTRY)}")
    return _REGISTRY[name]


def build_method(name: str, clip: Any, vocab: Any, config: Any | None = None) -> CamMethod:
    """Build the method ``name`` for a model and vocabulary (default config if None)."""
    entry = method_entry(name)
    if config is None:
        config = entry.config()
    elif not isinstance(config, entry.config):
        raise TypeError(f"{name} takes a {entry.config.__name__}, got {type(config).__name__}")
    return entry.factory(clip, vocab, config)


def registered_methods() -> tuple[str, ...]:
    """Names of the registered methods, sorted."""
    _load_builtins()
    return tuple(sorted(_REGISTRY))
