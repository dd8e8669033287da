"""`clipwsss --help` builds only the command list: no torch, accelerate or open_clip import."""

import json
import subprocess
import sys

_PROBE = """
import json, sys
from clipwsss.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps({m: m in sys.modules for m in ("torch", "accelerate", "open_clip")}))
"""


def _imported(*argv: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_help_imports_no_torch():
    assert _imported("--help") == {"torch": False, "accelerate": False, "open_clip": False}


def test_the_probe_sees_torch_when_a_command_needs_it():
    """The check can fail: the flags of `cams` come from ClipEsConfig, whose module uses torch."""
    assert _imported("cams", "--help")["torch"]


def test_package_names_load_on_first_use():
    code = (
        "import sys, clipwsss as cw; a = 'torch' in sys.modules; cw.load_clip; "
        "print(a, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]
