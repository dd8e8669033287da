"""The learning path through the notebooks: the index and the claims table of the docs.

``notebooks/README.md`` and ``docs/notebooks.md`` hold two tables rendered here (and kept
equal by ``tests/test_course.py``; ``python scripts/notebook_index.py`` rewrites them):

* :func:`index_table`: one line per notebook with what it teaches, the notebooks to read
  first and its run time, read from the header's "about N s" that
  ``scripts/execute_notebooks.py`` writes from the committed run's provenance cell.
* :func:`claims_table`: for CLIP-ES, WeCLIP and WeakCLIP, what the toy world shows,
  contradicts or cannot test, and why. Every number comes from ``results/toy`` (the claim
  ledger of :mod:`clipwsss.experiments.ledger`, the metrics files, the bootstrap tables) and
  every verdict from the stored paired image-bootstrap intervals.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import nbformat

from clipwsss.experiments.ledger import MEASURED, build_ledger, rests_on
from clipwsss.experiments.photos import REAL_WEIGHTS_NOTEBOOKS

SHOWS = "shows"
CONTRADICTS = "contradicts"
NOT_SHOWN = "not shown"
CANNOT = "cannot test"


@dataclass(frozen=True)
class Entry:
    """One notebook of the learning path.

    Attributes:
        stem: the notebook's file stem, e.g. "06_caa_vs_mhsa".
        teaches: what a reader learns there, in one line.
        first: the notebooks (two-digit numbers) to read before it.
    """

    stem: str
    teaches: str
    first: tuple[str, ...] = ()


PATH: tuple[Entry, ...] = (
    Entry(
        "01_overview",
        "the three stages of CLIP-ES (CAM, CAA, CRF) on one toy image and "
        "the whole toy val split; the toy world and its micro-CLIP",
    ),
    Entry(
        "02_softmax_background",
        "GradCAM of the logit vs of the softmax (Eq. 1-4) and the background word set",
        ("01",),
    ),
    Entry("03_pooling_backbone", "avg-token vs cls-token pooling, ViT vs ResNet", ("02",)),
    Entry("04_sharpness_prompts", "choosing a prompt by sharpness (Eq. 5)", ("02",)),
    Entry(
        "05_synonym_fusion",
        "synonyms of a class name, fused at sentence, feature or CAM level",
        ("02",),
    ),
    Entry(
        "06_caa_vs_mhsa",
        "class-aware attention refinement (CAA, Eq. 6-7) against plain attention (MHSA)",
        ("01", "02"),
    ),
    Entry("07_lambda_mu_sweeps", "the box threshold λ and the confidence threshold μ", ("06",)),
    Entry(
        "08_crf_pseudo_masks", "the dense CRF, confidence and the pseudo masks (Eq. 8-9)", ("06",)
    ),
    Entry("09_efficiency", "time and memory of each stage", ("01",)),
    Entry(
        "10_official_vs_paper",
        "where the official code and the paper differ, and what each difference costs",
        ("06", "08"),
    ),
    Entry("11_claim_ledger", "every CLIP-ES number beside ours, with what it rests on", ("01",)),
    Entry(
        "12_deeplab_cgl",
        "training DeepLab on the pseudo masks: cross entropy vs the "
        "confidence-guided loss (reads `make toy-train`)",
        ("08",),
    ),
    Entry(
        "13_weclip_overview",
        "WeCLIP: a decoder on a frozen CLIP, trained on its own CAA "
        "labels (reads `make toy-train`)",
        ("06", "08"),
    ),
    Entry(
        "14_weclip_ablations",
        "WeCLIP's ablations: affinity loss, its target, decoder input, scales",
        ("13",),
    ),
    Entry(
        "15_weakclip_overview",
        "WeakCLIP: adapting CLIP to refine CAM seeds (reads `make toy-train`)",
        ("08",),
    ),
    Entry(
        "16_weakclip_ablations",
        "WeakCLIP's ablations: learnable prompts, the init of γ/β, faithful vs corrected, "
        "adapter, co-attention and boundary loss off",
        ("15",),
    ),
    Entry("17_three_methods", "CLIP-ES, WeCLIP and WeakCLIP side by side", ("11", "13", "15")),
    Entry(
        "18_prompt_ablations",
        "prompt ensembles, a customised class prompt, background "
        "sets of every size and unrelated words",
        ("02", "04", "05"),
    ),
    Entry(
        "19_caa_ablations",
        "CAA's parts: blocks averaged, Sinkhorn, symmetrisation, the GradCAM block",
        ("06",),
    ),
    Entry("20_failure_cases", "the worst toy images and what makes them hard", ("08",)),
    Entry(
        "21_real_photos",
        "Fig. 1 and Fig. 5 on real photos (needs CLIP ViT-B/16 weights)",
        ("02", "06"),
    ),
)


def run_time(path: Path) -> str:
    """The notebook's run time as its header states it (``about N s``, written by
    ``scripts/execute_notebooks.py`` from the committed run), or why there is none."""
    if path.stem in REAL_WEIGHTS_NOTEBOOKS:
        return "not recorded (needs real weights)"
    header = nbformat.read(path, as_version=4).cells[0].source
    found = re.findall(r"about (\d+) s\b", header)
    if len(found) != 1:
        raise ValueError(f"{path.name}: the header needs exactly one 'about N s'")
    return f"{found[0]} s"


def index_table(notebooks_dir: str | Path) -> str:
    """The learning path as a Markdown table: one line per committed notebook.

    Raises:
        ValueError: a committed notebook without an :data:`PATH` entry, or an entry without
            a notebook, or a prerequisite that does not come first.
    """
    paths = {p.stem: p for p in sorted(Path(notebooks_dir).glob("[0-9][0-9]_*.ipynb"))}
    stems = [e.stem for e in PATH]
    if sorted(paths) != sorted(stems):
        raise ValueError(
            f"notebooks without an entry: {sorted(set(paths) - set(stems))}; "
            f"entries without a notebook: {sorted(set(stems) - set(paths))}"
        )
    rows = [
        "| notebook | what it teaches | read first | run time (toy, 2 CPU cores) |",
        "| --- | --- | --- | --- |",
    ]
    for entry in PATH:
        late = [n for n in entry.first if n >= entry.stem[:2]]
        if late:
            raise ValueError(f"{entry.stem}: prerequisites {late} do not come first")
        first = ", ".join(entry.first) or "-"
        rows.append(
            f"| `{entry.stem}` | {entry.teaches} | {first} | {run_time(paths[entry.stem])} |"
        )
    return "\n".join(rows)


# --- The claims table -------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """One claim of a paper and where ``results/toy`` holds its toy measurement.

    Value specs (see :class:`Results`): ``ledger:PAPER:KEY`` (ours, or missing with what the
    ledger says it rests on), ``metric:NOTEBOOK:KEY``, ``csv:FILE:ROW:COLUMN``,
    ``nb:NOTEBOOK:ROW:I`` (the I-th number of a row of the committed run's printed tables).
    Interval specs name a paired difference ``better - worse`` with its 95 % interval;
    a leading ``-`` flips a stored ``worse - better``.

    Attributes:
        paper: "CLIP-ES", "WeCLIP" or "WeakCLIP".
        claim: what the paper says, in words.
        paper_values: ``(better, worse)`` value specs of the paper's numbers, or ``()``.
        ours: ``(better, worse)`` value specs of the toy values, or ``()``.
        intervals: interval specs (one per training seed where there are several).
        why: what the toy result means, a format string over ``facts``.
        facts: name -> value spec, for ``why``.
        notebooks: the notebooks that show it.
    """

    paper: str
    claim: str
    paper_values: tuple[str, ...]
    ours: tuple[str, ...]
    intervals: tuple[str, ...]
    why: str
    notebooks: str
    facts: tuple[tuple[str, str], ...] = ()


class MissingValue(LookupError):
    """A value ``results/toy`` does not hold; the message says why."""


class Results:
    """Reads the values that the claims name from a results folder (``results/toy``)."""

    def __init__(self, results_dir: str | Path, notebooks_dir: str | Path) -> None:
        self.root = Path(results_dir)
        self.notebooks_dir = Path(notebooks_dir)
        self._ledgers: dict[str, object] = {}

    def ledger(self, paper: str):
        if paper not in self._ledgers:
            led = build_ledger(
                self.root, profiles=["toy"], paper=paper, notebooks_dir=self.notebooks_dir
            )
            self._ledgers[paper] = led[led.profile == "toy"].set_index("key")
        return self._ledgers[paper]

    def paper_value(self, spec: str) -> float:
        kind, paper, key = spec.split(":", 2)
        if kind != "ledger":
            raise ValueError(f"a paper value comes from the ledger, not {spec!r}")
        return float(self.ledger(paper).loc[key, "paper"])

    def value(self, spec: str) -> float:
        kind, rest = spec.split(":", 1)
        if kind == "ledger":
            paper, key = rest.split(":", 1)
            row = self.ledger(paper).loc[key]
            if row["status"] != MEASURED:
                raise MissingValue(f"ledger: {rests_on(key, row['status'], 'toy')}")
            return float(row["ours"])
        if kind == "metric":
            notebook, key = rest.split(":", 1)
            metrics = self._metrics(notebook)
            if key not in metrics:
                raise MissingValue(f"no stored run ({notebook}.json has no {key!r})")
            return float(metrics[key])
        if kind == "csv":
            name, row, column = rest.split(":", 2)
            with open(self.root / name, newline="") as f:
                for line in csv.DictReader(f):
                    if next(iter(line.values())) == row:
                        return float(line[column])
            raise MissingValue(f"no row {row!r} in {name}")
        if kind == "nb":
            notebook, rest = rest.split(":", 1)
            row, index = rest.rsplit(":", 1)
            return self._printed_row(notebook, row)[int(index)]
        raise ValueError(f"unknown value spec {spec!r}")

    def _metrics(self, notebook: str) -> dict:
        path = self.root / f"{notebook}.json"
        return json.loads(path.read_text())["metrics"] if path.is_file() else {}

    def _printed_row(self, notebook: str, row: str) -> list[float]:
        """The numbers of the first printed table row that starts with ``row`` in the
        committed run ``results_dir/<notebook>.ipynb``."""
        nb = nbformat.read(self.root / f"{notebook}.ipynb", as_version=4)
        for cell in nb.cells:
            for out in cell.get("outputs", []):
                text = out.get("text", "") + out.get("data", {}).get("text/plain", "")
                for line in text.splitlines():
                    rest = line[len(row) :] if line.startswith(row) else None
                    numbers = re.findall(r"-?\d+(?:\.\d+)?", rest or "")
                    if rest is not None and rest[:1].isspace() and numbers:
                        return [float(x) for x in numbers]
        raise MissingValue(f"no printed row {row!r} in {notebook}.ipynb")

    def interval(self, spec: str) -> tuple[float, float, float]:
        """``(difference, 95 % low, 95 % high)`` of ``better - worse``."""
        sign = -1.0 if spec.startswith("-") else 1.0
        kind, rest = spec.lstrip("-").split(":", 1)
        if kind == "csv":
            name, row = rest.split(":", 1)
            d, lo, hi = (
                self.value(f"csv:{name}:{row}:{c}") for c in ("mIoU", "95% low", "95% high")
            )
        elif kind == "nb":
            notebook, row = rest.split(":", 1)
            d, lo, hi = self._printed_row(notebook, row)[:3]
        elif kind == "metric":  # "<name>: 95% low" / "<name> 95% low" beside "<name>: mIoU"
            notebook, name = rest.split(":", 1)
            metrics = self._metrics(notebook)
            sep = next((s for s in (": ", " ") if f"{name}{s}95% low" in metrics), None)
            if sep is None:
                raise MissingValue(f"no interval {name!r} in {notebook}.json")
            lo, hi = (float(metrics[f"{name}{sep}95% {s}"]) for s in ("low", "high"))
            d = float(metrics.get(f"{name}{sep}mIoU", float("nan")))  # not always stored
        elif kind == "json":  # a row of a bootstrap table written by a script
            name, table, run = rest.split(":", 2)
            data = json.loads((self.root / name).read_text())
            rows = data["tables"][table]["rows"] if table else data["rows"]
            found = next((r for r in rows if r["run"] == run), None)
            if found is None:
                raise MissingValue(f"no run {run!r} in {name}")
            keys = ("mIoU", "low", "high") if "low" in found else ("diff", "diff low", "diff high")
            d, lo, hi = (float(found[k]) for k in keys)
        else:
            raise ValueError(f"unknown interval spec {spec!r}")
        if sign < 0:
            d, lo, hi = -d, -hi, -lo
        return d, lo, hi


def verdict(intervals: Sequence[tuple[float, float, float]]) -> str:
    """``shows`` when every interval lies above zero, ``contradicts`` when every one lies
    below, else ``not shown`` (within the image noise, or the seeds disagree)."""
    if all(lo > 0 for _, lo, _ in intervals):
        return SHOWS
    if all(hi < 0 for _, _, hi in intervals):
        return CONTRADICTS
    return NOT_SHOWN


def _fmt(x: float) -> str:
    return f"{x:.1f}"


def _signed(x: float) -> str:
    return f"{x:+.1f}"


def claim_row(claim: Claim, results: Results) -> dict[str, str]:
    """The rendered row of one claim: paper numbers, toy numbers, verdict, why."""
    paper = (
        " → ".join(_fmt(results.paper_value(s)) for s in reversed(claim.paper_values))
        if claim.paper_values
        else "no number"
    )
    try:
        ours_values = [results.value(s) for s in reversed(claim.ours)]
        ivs = [results.interval(s) for s in claim.intervals]
        facts = {name: results.value(spec) for name, spec in claim.facts}
    except MissingValue as err:
        return {
            "paper": claim.paper,
            "claim": claim.claim,
            "paper numbers": paper,
            "toy (ours)": "-",
            "verdict": CANNOT,
            "why": f"{claim.why} ({err})",
            "notebooks": claim.notebooks,
        }
    ours = " → ".join(_fmt(v) for v in ours_values)
    if ivs:
        found = verdict(ivs)
    elif len(set(ours_values)) == 1:  # the same number: nothing to interval
        found = NOT_SHOWN
    else:
        raise ValueError(f"{claim.claim!r}: a difference needs a stored interval")
    diffs = "; ".join(
        ("" if d != d else f"{_signed(d)} ") + f"[{_signed(lo)}, {_signed(hi)}]"
        for d, lo, hi in ivs
    )
    toy = f"{ours} ({diffs})" if ours and diffs else ours or diffs
    return {
        "paper": claim.paper,
        "claim": claim.claim,
        "paper numbers": paper,
        "toy (ours)": toy,
        "verdict": found,
        "why": claim.why.format(**facts),
        "notebooks": claim.notebooks,
    }


def claims_table(results_dir: str | Path, notebooks_dir: str | Path) -> str:
    """The claims of the three papers as one Markdown table (see :data:`CLAIMS`)."""
    results = Results(results_dir, notebooks_dir)
    columns = ("paper", "claim", "paper numbers", "toy (ours)", "verdict", "why", "notebooks")
    rows = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    for claim in CLAIMS:
        row = claim_row(claim, results)
        rows.append("| " + " | ".join(row[c] for c in columns) + " |")
    return "\n".join(rows)


_NOISE = "noise.csv"
CLAIMS: tuple[Claim, ...] = (
    Claim(
        "CLIP-ES",
        "GradCAM of the softmax score with the background words beats GradCAM "
        "of the logit (Table 6, initial CAMs)",
        ("ledger:CLIP-ES:t6_softmax_bg", "ledger:CLIP-ES:t6_nosoftmax_20"),
        ("ledger:CLIP-ES:t6_softmax_bg", "ledger:CLIP-ES:t6_nosoftmax_20"),
        (f"csv:{_NOISE}:softmax + background set (default) - no softmax, classes only",),
        "The whole gain comes from the background words (next two rows).",
        "02",
    ),
    Claim(
        "CLIP-ES",
        "The softmax over the classes alone already beats the logit (Table 6)",
        ("ledger:CLIP-ES:t6_softmax_20", "ledger:CLIP-ES:t6_nosoftmax_20"),
        ("ledger:CLIP-ES:t6_softmax_20", "ledger:CLIP-ES:t6_nosoftmax_20"),
        (f"csv:{_NOISE}:softmax, classes only - no softmax, classes only",),
        "Not explained yet: without background words some toy classes collapse (train "
        "IoU {train_logit:.1f} with the logit, {train_softmax:.1f} with the softmax).",
        "02",
        (
            ("train_logit", "metric:02_softmax_background:iou_train_nosoftmax_classes"),
            ("train_softmax", "metric:02_softmax_background:iou_train_softmax_classes"),
        ),
    ),
    Claim(
        "CLIP-ES",
        "Adding the background words to the softmax helps (Table 6)",
        ("ledger:CLIP-ES:t6_softmax_bg", "ledger:CLIP-ES:t6_softmax_20"),
        ("ledger:CLIP-ES:t6_softmax_bg", "ledger:CLIP-ES:t6_softmax_20"),
        (f"csv:{_NOISE}:softmax + background set (default) - softmax, classes only",),
        "Any words help, class-related or not (next row).",
        "02, 18",
    ),
    Claim(
        "CLIP-ES",
        "The background words work because they are class-related (water, "
        "railway: Section 3.1, supp. G)",
        (),
        (
            "metric:18_prompt_ablations:one prompt (official) initial",
            "metric:18_prompt_ablations:background: unrelated initial",
        ),
        ("-nb:18_prompt_ablations:background: unrelated - one prompt (official)",),
        "Unrelated words do better than the toy world's class-related set (initial-CAM mIoU, "
        "unrelated → class-related): the toy world does not reward class-related words; "
        "notebook 18 shows the per-class view.",
        "02, 18",
    ),
    Claim(
        "CLIP-ES",
        "CAA improves the initial CAMs (Table 2)",
        ("ledger:CLIP-ES:t2_caa", "ledger:CLIP-ES:t2_initial"),
        ("ledger:CLIP-ES:t2_caa", "ledger:CLIP-ES:t2_initial"),
        (f"csv:{_NOISE}:+ CAA - initial CAM",),
        "The micro-CLIP's attention does not group objects: averaging only its last block "
        "gives {last1:.1f}, above the initial {initial:.1f}, while the official rule (its "
        "last 3 of 4 blocks) loses.",
        "06, 10, 19",
        (
            ("last1", "metric:19_caa_ablations:layers: last 1 refined"),
            ("initial", "metric:19_caa_ablations:official initial"),
        ),
    ),
    Claim(
        "CLIP-ES",
        "CAA beats class-agnostic attention (MHSA) (Table 2)",
        ("ledger:CLIP-ES:t2_caa", "ledger:CLIP-ES:t2_mhsa"),
        ("ledger:CLIP-ES:t2_caa", "ledger:CLIP-ES:t2_mhsa"),
        ("nb:06_caa_vs_mhsa:+ CAA - + MHSA",),
        "MHSA hurts more than CAA; both stay below the initial CAMs (row above).",
        "06",
    ),
    Claim(
        "CLIP-ES",
        "The dense CRF improves the CAA CAMs (Table 2)",
        ("ledger:CLIP-ES:t2_caa_dcrf", "ledger:CLIP-ES:t2_caa"),
        ("ledger:CLIP-ES:t2_caa_dcrf", "ledger:CLIP-ES:t2_caa"),
        (f"csv:{_NOISE}:+ CAA + dCRF - + CAA",),
        "Direction as in the paper.",
        "08",
    ),
    Claim(
        "CLIP-ES",
        "Synonyms of the class names improve the CAMs (Table 8, person)",
        ("ledger:CLIP-ES:t8_person_syn", "ledger:CLIP-ES:t8_person_orig"),
        (
            "metric:05_synonym_fusion:miou_initial_synonyms",
            "metric:05_synonym_fusion:miou_initial_name_only",
        ),
        ("nb:05_synonym_fusion:synonyms, initial - name only, initial",),
        "All toy classes, initial CAMs.",
        "05",
    ),
    Claim(
        "CLIP-ES",
        "Synonyms resolve an ambiguous name (crane: the bird, not the tower "
        "crane; Section 3.2.2, Table 8 bird)",
        ("ledger:CLIP-ES:t8_bird_syn", "ledger:CLIP-ES:t8_bird_orig"),
        (
            "metric:05_synonym_fusion:crane_initial_syn",
            "metric:05_synonym_fusion:crane_initial_orig",
        ),
        (),
        'Cannot happen by construction: the micro-CLIP maps "crane", "bird" and '
        '"wading bird" to one point (cosine {cos_bird:.2f} and {cos_wading:.2f}), and the '
        "toy world never draws a tower crane with the crane class.",
        "05",
        (
            ("cos_bird", "nb:05_synonym_fusion:crane: name only:0"),
            ("cos_wading", "nb:05_synonym_fusion:crane: name only:1"),
        ),
    ),
    Claim(
        "CLIP-ES",
        "DeepLab learns more from the pseudo masks with the confidence-guided "
        "loss than with cross entropy (Table 7, two training seeds)",
        ("ledger:CLIP-ES:t7_voc_cgl", "ledger:CLIP-ES:t7_voc_ce"),
        ("ledger:CLIP-ES:t7_voc_cgl", "ledger:CLIP-ES:t7_voc_ce"),
        ("metric:12_deeplab_cgl:cgl - ce, seed 0", "metric:12_deeplab_cgl:cgl - ce, seed 1"),
        "Underpowered: the toy DeepLab underfits, {ce:.1f} mIoU against {masks:.1f} for the "
        "pseudo masks it learns from, and a {long_it:.0f}-step schedule levels off far below "
        "them (at most {late_gain:.1f} points gained in its last third); there CGL - CE is "
        "{long_diff:+.1f} ({long_low:+.1f} to {long_high:+.1f}, the mean of {long_seeds:.0f} "
        "training seeds).",
        "12",
        (
            ("ce", "ledger:CLIP-ES:t7_voc_ce"),
            ("masks", "csv:stages.csv:pseudo-mask (conf >= 0.95):mIoU"),
            ("long_it", "metric:12_deeplab_cgl:long iterations"),
            ("late_gain", "metric:12_deeplab_cgl:long late gain"),
            ("long_diff", "metric:12_deeplab_cgl:long cgl minus ce"),
            ("long_seeds", "metric:12_deeplab_cgl:long seeds"),
            ("long_low", "metric:12_deeplab_cgl:long cgl minus ce 95% low"),
            ("long_high", "metric:12_deeplab_cgl:long cgl minus ce 95% high"),
        ),
    ),
    Claim(
        "CLIP-ES",
        "The VOC test and COCO results (Tables 4, 5, 7)",
        (),
        ("ledger:CLIP-ES:t5_val",),
        (),
        "The toy world has no VOC test set and no COCO",
        "11",
    ),
    Claim(
        "WeCLIP",
        "WeCLIP's predictions (a decoder trained on a frozen CLIP) make better "
        "pseudo labels than CLIP-ES's (supp. Table 1, VOC train; two training seeds)",
        ("ledger:WeCLIP:we_s1_weclip", "ledger:WeCLIP:we_s1_clipes"),
        ("ledger:WeCLIP:we_s1_weclip", "ledger:WeCLIP:we_s1_clipes"),
        (
            "json:weclip/summary.json:train:WeCLIP seed 0 - CLIP-ES + CAA + dCRF",
            "json:weclip/summary.json:train:WeCLIP seed 1 - CLIP-ES + CAA + dCRF",
        ),
        "WeCLIP stays below even its own CAA supervision ({caa:.1f} on train, no CRF), and "
        "its toy decoder has more trainable parameters ({decoder:,.0f}) than the frozen "
        "micro-CLIP has in all ({clip:,.0f}): the inverse of the paper's premise.",
        "13, 17",
        (
            ("caa", "metric:13_weclip_overview:train: CLIP-ES + CAA"),
            ("decoder", "metric:17_three_methods:weclip_trainable_toy"),
            ("clip", "nb:13_weclip_overview:frozen CLIP:0"),
        ),
    ),
    Claim(
        "WeCLIP",
        "The affinity loss helps (supp. Table 4: λ = 0.1 against λ = 0; one training seed)",
        ("ledger:WeCLIP:we_s4_lambda_01", "ledger:WeCLIP:we_s4_lambda_0"),
        ("ledger:WeCLIP:we_s4_lambda_01", "ledger:WeCLIP:we_s4_lambda_0"),
        ("-json:weclip/ablations.json::seed 0: aff_weight=0",),
        "Direction as in the paper, much larger on toy.",
        "14",
    ),
    Claim(
        "WeCLIP",
        "The refinement module (RFM) improves the online labels (Section 3.3)",
        (),
        ("metric:14_weclip_ablations:seed 0: rfm off",),
        (),
        "Not ablated yet",
        "13, 14",
    ),
    Claim(
        "WeakCLIP",
        "WeakCLIP's pseudo masks beat the CLIP-ES seeds it refines (two training seeds, toy val)",
        ("ledger:WeakCLIP:wk_pseudo_voc", "ledger:CLIP-ES:t1_dcrf"),
        (),
        (
            "metric:17_three_methods:WeakCLIP (seed 0) - CLIP-ES dCRF (val):",
            "metric:17_three_methods:WeakCLIP (seed 1) - CLIP-ES dCRF (val):",
        ),
        "WeakCLIP trains an adapter and prompts on the toy world; unlike WeCLIP (above), it "
        "ends above the labels it starts from.",
        "15, 17",
    ),
    Claim(
        "WeakCLIP",
        "N = 8 learnable text embeddings beat N = 16 (ablation table)",
        ("ledger:WeakCLIP:wk_abl_n_8", "ledger:WeakCLIP:wk_abl_n_16"),
        ("ledger:WeakCLIP:wk_abl_n_8", "ledger:WeakCLIP:wk_abl_n_16"),
        ("-metric:16_weakclip_ablations:N 16 minus default",),
        "The paper's differences (tenths of a point) are far below the toy image noise.",
        "16",
    ),
    Claim(
        "WeakCLIP",
        "Each component helps: adapter, co-attention, boundary loss",
        (),
        (),
        (
            "-metric:16_weakclip_ablations:no adapter minus default",
            "-metric:16_weakclip_ablations:no co-attention minus default",
            "-metric:16_weakclip_ablations:no boundary loss minus default",
        ),
        "Default minus the model without the adapter, the co-attention, the boundary loss "
        "(150 toy steps, one training seed each); the faithful default never trains its "
        "adapter (lr 0).",
        "16",
    ),
)


# --- The pages that hold the tables -----------------------------------------------------

PAGES = ("notebooks/README.md", "docs/notebooks.md")
_MARKER = re.compile(r"(<!-- begin (\w+): [^>]*-->\n)(?:.*?\n)?(<!-- end \2 -->)", re.S)


def render_page(text: str, tables: dict[str, str]) -> str:
    """``text`` with the table between each ``<!-- begin NAME: ... -->`` and
    ``<!-- end NAME -->`` marker pair replaced by ``tables[NAME]``.

    Raises:
        ValueError: a marker names no table, or a table has no marker.
    """
    found = [m.group(2) for m in _MARKER.finditer(text)]
    if sorted(found) != sorted(tables):
        raise ValueError(f"markers {found}, tables {sorted(tables)}")
    return _MARKER.sub(lambda m: m.group(1) + tables[m.group(2)] + "\n" + m.group(3), text)


def render_pages(root: str | Path) -> dict[Path, str]:
    """The index pages (:data:`PAGES`) of the repository at ``root`` as they should read,
    with the tables rendered from its notebooks and ``results/toy``."""
    root = Path(root)
    tables = {
        "index": index_table(root / "notebooks"),
        "claims": claims_table(root / "results" / "toy", root / "notebooks"),
    }
    return {root / p: render_page((root / p).read_text(), tables) for p in PAGES}
