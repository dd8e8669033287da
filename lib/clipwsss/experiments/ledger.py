"""The claim ledger: every number of a paper beside ours, per profile, with its provenance.

Runner layer. The notebooks write ``<results_dir>/NN_topic.json`` through
:func:`clipwsss.experiments.notebooks.save_metrics`
(``{"profile", "notebook", "metrics": {key: value}}``); a metric whose key is a paper key
(``clipwsss.experiments.paper``, e.g. ``"t2_caa"``) is comparable with that paper number.
:func:`build_ledger` reads whatever files exist (any subset, any profiles) and returns one
row per paper number and profile: the paper's value, ours, the notebook and the command that
produce it, and a status:

========================================  ==============================================
status                                    meaning
========================================  ==============================================
measured                                  a notebook reported this key on this profile
not measured: needs real data            a DeepLab row without a toy analogue (VOC
                                          test server, COCO: Tables 4, 5, 7), on toy
not measured: needs COCO-init DeepLab     a DeepLab row trained from COCO-pretrained
                                          weights (Tables 4, 7 "COCO init"; S3's mu)
not measured on this profile              the notebook ran on this profile without
                                          reporting the key (e.g. it needs real weights)
not measured yet                          a notebook addresses the key; no result file yet
not addressed by a notebook               no committed notebook mentions the key
========================================  ==============================================

Which notebook addresses a key is read from the result files and, for keys not measured
yet, from the committed notebooks' code (a quoted key such as ``"t2_caa"``, or an f-string
such as ``f"t8_{name}_orig"`` that can build it).
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pandas as pd

from clipwsss.experiments.paper import paper_numbers

MEASURED = "measured"
NEEDS_REAL_DATA = "not measured: needs real data"
NEEDS_COCO_INIT = "not measured: needs COCO-init DeepLab"
NOT_ON_PROFILE = "not measured on this profile"
NOT_YET = "not measured yet"
NOT_ADDRESSED = "not addressed by a notebook"
STATUSES = (MEASURED, NEEDS_REAL_DATA, NEEDS_COCO_INIT, NOT_ON_PROFILE, NOT_YET, NOT_ADDRESSED)

# Numbers of a segmentation network trained on the pseudo masks (DeepLabV2, supp. E).
# Notebook 12 measures the VOC-val rows from ImageNet/random init (t4_val, t7_voc_*) on any
# profile. The COCO-init rows need COCO-pretrained DeepLab weights (Table S3's mu sweep was run
# from the COCO-init model: its 0.95 row is 73.8); the VOC-test and COCO rows have no toy data.
COCO_INIT_KEY = re.compile(r"^(t4_\w+_coco|t7_voccoco_\w+|s3_mu_\w+)$")
REAL_DATA_KEY = re.compile(r"^(t4_test|t5_\w+|t7_coco_\w+)$")
NOTEBOOK_NAME = re.compile(r"^\d\d_\w+$")
DATA_HINT = {"voc12": "/path/to/VOC2012", "coco14": "/path/to/coco2014"}
COLUMNS = (
    "key",
    "source",
    "setting",
    "split",
    "metric",
    "paper",
    "ours",
    "difference",
    "profile",
    "notebook",
    "command",
    "status",
    "rests on",
    "also reported by",
)
# What a toy row that is not a plain measurement of the quantity rests on (key prefix).
TOY_CAVEATS = {
    "t3_": "timing of this CPU: a random-weight ViT-B/16 on a few images, extrapolated to "
    "10,582 images with the CRF split over this machine's processes (notebook 09)",
    "s3_mu_": "toy measurement, not the paper's model: a random-init ResNet-18 DeepLab "
    "trained 300 iterations on the toy pseudo masks (the paper's S3 sweep starts "
    "from COCO-pretrained DeepLab weights; notebook 12)",
    "s3_conf_": "toy measurement: the dense-CRF confidence histogram of the micro-CLIP's CAA "
    "CAMs on the toy world (no DeepLab involved; notebook 07)",
    "s1_cls_": "toy measurement, not a fair replay: the micro-CLIP was trained with avg "
    "pooling, so its class token never served as the embedding (notebook 03)",
}


def table_order(source: str) -> tuple:
    """Sort key of a ledger ``source``: numbered tables first (main before supplementary
    "S" tables, by number), then sources without a number ("main paper", "official README")."""
    m = re.search(r"(S?)(\d+)$", source)
    if m is None:
        return (1, False, 0, source)
    return (0, bool(m.group(1)), int(m.group(2)), source)


def rests_on(key: str, status: str, profile: str) -> str:
    """What a ledger row's status rests on, in words (a toy timing or a row that is not a
    fair replay must not read as a plain measurement)."""
    if status == MEASURED:
        if profile == "toy":
            caveat = next((v for k, v in TOY_CAVEATS.items() if key.startswith(k)), None)
            return caveat or "toy measurement (micro-CLIP on synthetic scenes, not VOC)"
        return f"{profile} measurement"
    return {
        NEEDS_REAL_DATA: "real data needed (VOC test / COCO: no toy counterpart)",
        NEEDS_COCO_INIT: "a COCO-pretrained DeepLab needed (not available offline)",
        NOT_ON_PROFILE: "real profile needed" if profile == "toy" else "not run on this profile",
        NOT_YET: "notebook not run on this profile yet",
        NOT_ADDRESSED: "no notebook",
    }[status]


@dataclass(frozen=True)
class NotebookResult:
    """One metrics file written by a notebook.

    Attributes:
        profile: the profile it ran on ("toy", "voc12", ...).
        notebook: the notebook's stem, e.g. "06_caa_vs_mhsa".
        metrics: key -> value as written (percent for mIoU/IoU).
        path: the JSON file.
    """

    profile: str
    notebook: str
    metrics: dict[str, object]
    path: Path


def read_results(results_dir: str | Path) -> list[NotebookResult]:
    """Every ``NN_*.json`` in ``results_dir`` and in its sub-folders (one per profile).

    A file that is not valid metrics JSON is skipped with a warning (it names the file).
    The profile is the file's ``"profile"`` field, else its folder's name.

    Returns:
        The results sorted by (profile, notebook); empty when the folder does not exist.
    """
    root = Path(results_dir)
    if not root.is_dir():
        return []
    paths = sorted({*root.glob("[0-9][0-9]_*.json"), *root.glob("*/[0-9][0-9]_*.json")})
    out = []
    for path in paths:
        try:
            data = json.loads(path.read_text())
            metrics = data["metrics"]
            if not isinstance(metrics, dict):
                raise TypeError("'metrics' is not an object")
        except (OSError, ValueError, KeyError, TypeError) as err:
            warnings.warn(f"skipping {path}: not a metrics file ({err})", stacklevel=2)
            continue
        profile = str(data.get("profile") or path.parent.name)
        notebook = str(data.get("notebook") or path.stem)
        out.append(NotebookResult(profile, notebook, dict(metrics), path))
    return sorted(out, key=lambda r: (r.profile, r.notebook))


FSTRING = re.compile(r"""\bf(["'])([^"'\n{]+\{[^"'\n]*)\1""")  # f"t8_{cls}_{s}"


def _key_patterns(source: str) -> list[re.Pattern]:
    """Regexes for the keys a notebook's f-strings can build: ``f"t8_{c}_orig"`` ->
    ``t8_\\w+_orig``. Only templates that start with literal text are kept."""
    out = []
    for _, template in FSTRING.findall(source):
        parts = re.split(r"\{[^{}]*\}", template)
        out.append(re.compile(r"\w+".join(re.escape(p) for p in parts)))
    return out


def addressed_keys(notebooks_dir: str | Path, keys: Iterable[str]) -> dict[str, list[str]]:
    """Which committed notebooks mention each paper key in their code: as a quoted string
    (``"t2_caa"``) or as what an f-string template can build (``f"t8_{name}_orig"``).

    Returns:
        key -> notebook stems (sorted); keys no notebook mentions are absent.
    """
    keys = list(keys)
    found: dict[str, list[str]] = {}
    for path in sorted(Path(notebooks_dir).glob("[0-9][0-9]_*.ipynb")):
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception as err:  # a notebook being written: not fatal for the ledger
            warnings.warn(f"skipping {path}: {err}", stacklevel=2)
            continue
        source = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        templates = _key_patterns(source)
        for key in keys:
            quoted = re.search(rf"[\"']{re.escape(key)}[\"']", source)
            if quoted or any(t.fullmatch(key) for t in templates):
                found.setdefault(key, []).append(path.stem)
    return found


def command_for(notebook: str, profile: str) -> str:
    """The command that produces a notebook's numbers on a profile."""
    if not notebook:
        return ""
    if profile == "toy":
        return "make toy"
    data = DATA_HINT.get(profile, "/path/to/data")
    return f"make run NB={notebook} PROFILE={profile} DATA={data}"


def _number(value: object) -> float | None:
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if x != x else x  # NaN counts as not measured


def build_ledger(
    results_dir: str | Path,
    *,
    profiles: Sequence[str] = (),
    notebooks_dir: str | Path | None = None,
    paper: str = "CLIP-ES",
) -> pd.DataFrame:
    """One row per paper number and profile: paper value, ours, provenance and status.

    Args:
        results_dir: A folder of ``NN_*.json`` metrics files, or a folder of such folders
            (``results/`` with ``toy/``, ``voc12/``...). Missing or empty is fine.
        profiles: Profiles to list even without results (e.g. ``["toy"]``); the profiles
            found in the files are always listed.
        notebooks_dir: The committed notebooks; if given, keys without a result are
            attributed to the notebooks whose code mentions them.
        paper: Whose numbers (``clipwsss.experiments.paper.paper_numbers``).

    Returns:
        DataFrame with columns :data:`COLUMNS`, in the paper's table order, then by profile.
        ``difference`` is ours minus the paper's value.
    """
    numbers = paper_numbers(paper)
    results = read_results(results_dir)
    all_profiles = list(dict.fromkeys([*profiles, *sorted({r.profile for r in results})]))
    mentions = addressed_keys(notebooks_dir, numbers["key"]) if notebooks_dir else {}
    rows = []
    for num in numbers.itertuples(index=False):
        for profile in all_profiles or ["toy"]:
            row = {c: getattr(num, c) for c in ("key", "source", "setting", "split", "metric")}
            row.update(paper=num.value, profile=profile)
            row.update(
                _provenance(
                    num.key,
                    num.value,
                    profile,
                    results,
                    mentions,
                    scanned=notebooks_dir is not None,
                )
            )
            row["command"] = command_for(row["notebook"], profile)
            row["rests on"] = rests_on(num.key, row["status"], profile)
            rows.append(row)
    return pd.DataFrame(rows)[list(COLUMNS)]


def _provenance(
    key: str,
    paper_value: float,
    profile: str,
    results: Sequence[NotebookResult],
    mentions: dict[str, list[str]],
    *,
    scanned: bool,
) -> dict[str, object]:
    """Ours, difference, notebook and status of one paper key on one profile."""
    out: dict[str, object] = {
        "ours": None,
        "difference": None,
        "notebook": "",
        "also reported by": "",
    }
    hits = [
        (r.notebook, _number(r.metrics[key]))
        for r in results
        if r.profile == profile and key in r.metrics
    ]
    hits = [(nb, v) for nb, v in hits if v is not None]
    if hits:  # the first notebook (by name) is the row's; the others are listed
        (notebook, value), *others = hits
        also = ", ".join(f"{nb} ({v:g})" for nb, v in others)
        return {
            **out,
            "ours": value,
            "difference": value - paper_value,
            "notebook": notebook,
            "status": MEASURED,
            "also reported by": also,
        }
    if COCO_INIT_KEY.match(key):
        return {**out, "status": NEEDS_COCO_INIT}
    if REAL_DATA_KEY.match(key) and profile == "toy":
        return {**out, "status": NEEDS_REAL_DATA}
    reporters = {r.notebook for r in results if key in r.metrics}  # on any profile
    candidates = sorted(reporters | set(mentions.get(key, [])))
    if not candidates:
        return {**out, "status": NOT_ADDRESSED if scanned else NOT_YET}
    ran = [
        nb for nb in candidates if any(r.profile == profile and r.notebook == nb for r in results)
    ]
    return {**out, "notebook": (ran or candidates)[0], "status": NOT_ON_PROFILE if ran else NOT_YET}


def status_counts(ledger: pd.DataFrame) -> pd.DataFrame:
    """Rows per status (columns) and profile (rows), every status listed, zeros included."""
    counts = pd.crosstab(ledger["profile"], ledger["status"])
    return counts.reindex(columns=list(STATUSES), fill_value=0).rename_axis(columns=None)
