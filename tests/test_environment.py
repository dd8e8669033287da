"""pyproject.toml and environment.yml pin the same dependencies (the conda file is for GPU
users; CI installs from pyproject)."""

from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

ROOT = Path(__file__).resolve().parents[1]
IGNORED = {"pip", "python"}


def _pins(lines) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in lines:
        if line.strip().startswith("-e"):
            continue
        req = Requirement(line)
        name = canonicalize_name(req.name)
        if name in IGNORED:
            continue
        spec = str(req.specifier)
        assert pins.get(name, spec) == spec, f"{name} pinned twice differently"
        pins[name] = spec
    return pins


def _pyproject_pins() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project.get("optional-dependencies", {})
    return _pins(project["dependencies"] + extras.get("dev", []) + extras.get("notebooks", []))


def _environment_pins() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = [d for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip) == 1, "environment.yml needs exactly one pip: section"
    return _pins(pip[0]["pip"])


def test_environment_yml_has_every_pyproject_pin():
    env = _environment_pins()
    for name, spec in _pyproject_pins().items():
        assert name in env, f"{name} missing from environment.yml"
        assert env[name] == spec, f"{name}: pyproject {spec!r} != environment.yml {env[name]!r}"


def test_pyproject_has_every_environment_yml_pin():
    project = _pyproject_pins()
    for name, spec in _environment_pins().items():
        assert name in project, f"{name} in environment.yml but not in pyproject.toml"
        assert project[name] == spec


def test_environment_yml_installs_the_package_and_python():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-e ." in pip
    assert any(d.startswith("python") for d in conda) and "pip" in conda


def test_pins_parse_with_exact_versions_for_the_core_stack():
    pins = _pyproject_pins()
    for name in ("torch", "open-clip-torch", "opencv-python-headless", "pydensecrf2"):
        assert pins[name].startswith("=="), name
