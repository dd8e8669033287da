"""Imports only go down the layers of lib/clipwsss (docs/architecture.md, STYLE.md "Layers").

Every module of the package is parsed (not imported), every ``import`` in it, at any depth
(function-level imports included), is resolved to a clipwsss module, and its layer is compared
with the importer's. Same-layer imports are allowed; an import of a higher layer fails, and so
does any import of the package ``__init__`` itself (``import clipwsss``, ``from clipwsss import
ClipES``): the top-level exports are for users, not for the package.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "lib" / "clipwsss"

# Longest prefix wins. 1 = bottom.
LAYERS: dict[str, int] = {
    "clipwsss._version": 1,
    "clipwsss.clip": 1,
    "clipwsss.vocab": 1,
    "clipwsss.data": 1,
    "clipwsss.io": 1,
    "clipwsss.metrics": 1,
    "clipwsss.perturb": 1,  # test-only stand-in for another CPU (noise at chosen steps)
    "clipwsss.validate": 1,  # range checks and YAML/JSON reading shared by configs and readers
    "clipwsss.toy": 1,  # the synthetic world: scenes, shapes, textures (writes VOC via data/)
    "clipwsss.cams": 2,
    "clipwsss.methods": 3,
    "clipwsss.seg": 3,
    "clipwsss.train": 4,
    "clipwsss.pipelines": 4,
    "clipwsss.toy.train": 4,  # trains the micro-CLIP
    "clipwsss.toy.evaluate": 4,  # scores CLIP-ES on toy scenes
    "clipwsss.experiments": 5,
    "clipwsss.cli": 5,
}


def layer_of(module: str) -> int:
    """Layer of a clipwsss module name (longest matching prefix of ``LAYERS``)."""
    best = ""
    for prefix in LAYERS:
        if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > len(best):
            best = prefix
    if not best:
        raise KeyError(f"{module} has no layer: add it to LAYERS in tests/test_layers.py")
    return LAYERS[best]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _is_module(name: str) -> bool:
    rel = Path(*name.split(".")[1:])
    return (PACKAGE / rel).with_suffix(".py").is_file() or (PACKAGE / rel / "__init__.py").is_file()


def imported_modules(importer: str, source: str, *, is_package: bool = False) -> list[str]:
    """clipwsss modules imported anywhere in ``source``; ``"clipwsss"`` for the package init."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] == "clipwsss"]
        elif isinstance(node, ast.ImportFrom):
            mod = _resolve(importer, is_package, node)
            if mod.split(".")[0] != "clipwsss":
                continue
            # "from clipwsss.pkg import sub" imports the submodule, not only the package init
            subs = [f"{mod}.{a.name}" for a in node.names if _is_module(f"{mod}.{a.name}")]
            if len(subs) < len(node.names):
                found.append(mod)
            found += subs
    return found


def upward_imports(importer: str, source: str, *, is_package: bool = False) -> list[str]:
    """The imports of ``source`` that break the layering, as readable strings."""
    bad = []
    own = layer_of(importer)
    for mod in imported_modules(importer, source, is_package=is_package):
        if mod == "clipwsss":
            bad.append(f"{importer} imports the package __init__")
        elif layer_of(mod) > own:
            bad.append(f"{importer} (layer {own}) imports {mod} (layer {layer_of(mod)})")
    return bad


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p != PACKAGE / "__init__.py")


def test_every_module_has_a_layer():
    for path in _modules():
        layer_of(module_name(path))


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_only_go_down(path: Path):
    name = module_name(path)
    assert upward_imports(name, path.read_text(), is_package=path.name == "__init__.py") == []


def test_the_checker_catches_upward_and_init_imports():
    # The walk must see function-level imports, relative imports and the package init.
    src = (
        "from clipwsss.clip.dense import dense_forward\n"
        "def f():\n    from clipwsss.pipelines.cams import generate_cams\n"
        "from ..experiments import sweeps\n"
        "import clipwsss\n"
        "from clipwsss import ClipES\n"
    )
    bad = upward_imports("clipwsss.cams.caa", src)
    assert len(bad) == 4, bad
    assert any("clipwsss.pipelines.cams" in b for b in bad)
    assert any("clipwsss.experiments.sweeps" in b for b in bad)
    assert sum("package __init__" in b for b in bad) == 2
    assert (
        upward_imports(
            "clipwsss.experiments.sweeps",
            src.replace("import clipwsss\n", "").replace("from clipwsss import ClipES\n", ""),
        )
        == []
    )
