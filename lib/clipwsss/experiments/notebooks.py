"""What the notebooks share: resolving a profile into model + data, scoring CAMs in memory,
writing metrics, provenance, and running notebooks through papermill with checked names.

Runner layer: notebooks call these so that they only configure, run, plot and tabulate.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from clipwsss.cams.labels import cams_to_label
from clipwsss.clip.loading import ClipModel, load_clip, resolve_device
from clipwsss.data import SegmentationDataset, build_dataset, load_image, load_label_png
from clipwsss.experiments.parameters import validate_parameters as validate_parameters
from clipwsss.experiments.profiles import TOY_IMAGE_SIZE, Profile, get_profile
from clipwsss.methods.clip_es import ClipES
from clipwsss.metrics import SegScores, confusion_matrix, seg_scores
from clipwsss.vocab import ClassVocabulary

REPO_ROOT = Path(__file__).resolve().parents[3]
RESULTS_ENV = "CLIPWSSS_RESULTS_DIR"  # where save_metrics writes when results_dir is ''


def repo_path(path: str | Path) -> Path:
    """``path`` as given when absolute, else relative to the repository root (not to the
    working folder), so a notebook reads ``results/...`` the same when run from
    ``notebooks/``, from the repository root or by papermill from anywhere."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else REPO_ROOT / path


@dataclass(frozen=True)
class Setup:
    """A profile resolved into a model, a vocabulary and a data split."""

    profile: Profile
    clip: ClipModel
    vocab: ClassVocabulary
    dataset: SegmentationDataset
    ids: tuple[str, ...]  # the images the notebook scores (after ``limit``)
    weights_note: str = ""  # non-empty: the weights are not the profile's model (not results)

    def clip_es(self, **overrides) -> ClipES:
        """A ClipES with the profile's config, a few fields replaced (an ablation)."""
        from dataclasses import replace

        return ClipES(self.clip, self.vocab, replace(self.profile.clip_es, **overrides))


def setup(
    profile: str = "toy",
    *,
    data_root: str = "",
    split: str = "",
    limit: int = 0,
    seed: int = 0,
    n_toy_images: int = 200,  # the size of results/toy (scripts/toy_report.py)
    device: str = "auto",
    pretrained: str = "",
) -> Setup:
    """Resolve a profile; on ``toy``, generate the split first if it is missing.

    Args:
        profile: "toy", "voc12" or "coco14".
        data_root: data folder ('' = the profile's default).
        split: split to score ('' = the profile's default: toy val, VOC/COCO train).
        limit: score only the first ``limit`` images (0 = all).
        seed: toy data seed (and torch seed).
        n_toy_images: size of the generated toy split.
        device: "auto" (CUDA when present), "cpu" or "cuda".
        pretrained: CLIP weights of a real profile: a local file (``ViT-B-16.pt``),
            ``"openai"`` or ``"env"`` ($CLIPWSSS_PRETRAINED); '' for the profile's own.

    When the weights loaded are not the profile's model (random initialisation, or a file
    whose architecture is not the profile's, such as a small test CLIP), the setup prints so
    and :func:`reading` marks every reading as not a result.
    """
    torch.manual_seed(seed)
    overrides = {"data_root": data_root} if data_root else {}
    prof = get_profile(profile, pretrained=pretrained, **overrides)
    split = split or prof.split
    root = Path(prof.data_root)
    if prof.name == "toy":
        root = root / f"seed{seed}_n{n_toy_images}" if not data_root else root
        _ensure_toy_split(root, split, n_toy_images, seed)
    kw = {"class_names": prof.class_names()} if prof.name == "toy" else {}
    dataset = build_dataset(prof.dataset, root, split, **kw)
    clip = load_profile_clip(prof, device=device)
    ids = tuple(dataset.ids[:limit] if limit else dataset.ids)
    return Setup(prof, clip, prof.vocabulary(), dataset, ids, _WEIGHTS_NOTE)


_WEIGHTS_NOTE = ""  # set by load_profile_clip(): the readings of stand-in weights say so


def load_profile_clip(profile: Profile, *, device: str = "auto") -> ClipModel:
    """The profile's CLIP (``profile.pretrained``); prints, and remembers for
    :func:`reading`, when the weights are not the profile's model (:func:`stand_in_weights`)."""
    global _WEIGHTS_NOTE
    clip = load_clip(profile.model, profile.pretrained, device=resolve_device(device))
    _WEIGHTS_NOTE = stand_in_weights(clip, profile)
    if _WEIGHTS_NOTE:
        print(f"Not results: {_WEIGHTS_NOTE}")
    return clip


def stand_in_weights(clip: ClipModel, profile: Profile) -> str:
    """Why ``clip`` is not the profile's model ('' when it is): random initialisation, or
    weights whose image tower is not the profile's open_clip architecture (a small test CLIP
    loaded from a file). Numbers from such weights test the code path, not the method."""
    if clip.fingerprint == "random-init":
        return f"the CLIP weights are random (pretrained=None), not {profile.model}'s"
    if profile.model.startswith("local-dir:"):
        return ""
    import open_clip

    vision = (open_clip.get_model_config(profile.model) or {}).get("vision_cfg", {})
    tower = getattr(clip.model.visual, "transformer", None)
    if tower is None or not vision:
        return ""
    width, layers = tower.width, len(tower.resblocks)
    if (width, layers) == (vision.get("width"), vision.get("layers")):
        return ""
    return (
        f"the weights from {clip.pretrained} are a {layers}-block, {width}-wide ViT, not "
        f"{profile.model} ({vision.get('layers')} blocks, {vision.get('width')} wide), "
        "such as the random small CLIP of the tests: every number below checks that the "
        "notebook runs and says nothing about the method"
    )


def _ensure_toy_split(root: Path, split: str, n_images: int, seed: int) -> None:
    """Generate the toy split under ``root`` unless its list exists (one process at a time).

    Notebooks run side by side (papermill batches, ``pytest -n``) may ask for the same folder at
    once: the first generates it under a lock beside the folder, the others wait, then find it.
    """
    from clipwsss.io.locks import folder_lock
    from clipwsss.toy import generate_toy_voc

    root.parent.mkdir(parents=True, exist_ok=True)
    with folder_lock(root.parent, f".{root.name}.lock"):
        if not (root / "ImageSets" / "Segmentation" / f"{split}.txt").is_file():
            n_train, n_val = (n_images, 0) if split == "train" else (0, n_images)
            generate_toy_voc(
                root, n_train=n_train, n_val=n_val, seed=seed, image_size=TOY_IMAGE_SIZE
            )


@dataclass(frozen=True)
class CamScores:
    """Scores of one CLIP-ES configuration on a split (CAMs kept in memory, no files)."""

    initial: SegScores
    refined: SegScores | None
    scores: tuple[np.ndarray, ...]  # per image, the (K,) target scores (sharpness)
    seconds: float
    initial_hists: np.ndarray | None = None  # (N, n, n) confusion matrix of each image
    refined_hists: np.ndarray | None = None  # (N, n, n), None without refinement

    def image_hists(self, stage: str = "initial") -> np.ndarray:
        """(N, n, n) per-image confusion matrices of "initial" or "refined" (bootstrap)."""
        hists = self.initial_hists if stage == "initial" else self.refined_hists
        if hists is None:
            raise ValueError(f"no per-image confusion matrices for stage {stage!r}")
        return hists


def score_cams(
    es: ClipES,
    dataset: SegmentationDataset,
    ids: Sequence[str],
    *,
    exponent: float = 1.0,
) -> CamScores:
    """mIoU of the initial and refined CAMs of ``es`` over ``ids`` (bg = (1 - max)^k).

    Images without labels are skipped (nothing to localise). Shapes follow the GT. The
    upsampled CAMs are rounded to float16 before scoring, as the CAM files store them (the
    official ``.npy`` layout), so an in-memory score equals the file pipeline's
    (``run_stages``, ``evaluate``) instead of differing in the last decimal of a class IoU.
    Per-image confusion matrices are kept for the image bootstrap
    (:func:`clipwsss.metrics.bootstrap_mious`).
    """
    n = dataset.n_classes
    initial, refined = [], []
    target_scores, t0 = [], time.perf_counter()
    for image_id in ids:
        sample = dataset.sample(image_id)
        if not sample.labels:
            continue
        image = load_image(sample.image_path)
        gt = load_label_png(sample.gt_path)
        out = es(image, sample.labels)
        target_scores.append(out.scores.cpu().numpy())
        initial.append(_image_hist(es, out.cams, out.keys, gt, exponent, n))
        if out.refined is not None:
            refined.append(_image_hist(es, out.refined, out.keys, gt, exponent, n))
    has_refined = es.config.refine != "none" and es.clip.is_vit
    initial_hists = np.stack(initial) if initial else np.zeros((0, n, n), np.int64)
    refined_hists = np.stack(refined) if has_refined and refined else None
    return CamScores(
        initial=seg_scores(initial_hists.sum(0)),
        refined=seg_scores(refined_hists.sum(0)) if refined_hists is not None else None,
        scores=tuple(target_scores),
        seconds=time.perf_counter() - t0,
        initial_hists=initial_hists,
        refined_hists=refined_hists,
    )


def _image_hist(
    es: ClipES, cams: torch.Tensor, keys: torch.Tensor, gt: np.ndarray, exponent: float, n: int
) -> np.ndarray:
    """(n, n) confusion matrix of one image's CAMs (K, h, w), upsampled to ``gt`` and
    rounded to float16 as in the CAM files."""
    up = es.upsample(cams, gt.shape).half().float()
    return confusion_matrix(cams_to_label(up, keys, exponent=exponent), gt, n)


def save_metrics(
    results_dir: str, notebook: str, metrics: Mapping[str, Any], *, profile: str
) -> None:
    """Write ``<results_dir>/<notebook>.json`` ({"profile", "metrics"}); '' writes nothing,
    unless ``$CLIPWSSS_RESULTS_DIR`` names a folder (scripts/execute_notebooks.py sets it to
    results/toy, so the committed notebooks and the metrics the ledger reads are one run).

    Returns nothing, so a notebook cell ending with this call displays no machine path.

    Metric keys that match ``clipwsss.experiments.paper`` keys (e.g. "t2_caa") are compared with the
    paper by the claim ledger; values are percentages for mIoU/IoU, as in the papers.
    """
    results_dir = results_dir or os.environ.get(RESULTS_ENV, "")
    if not results_dir:
        return
    out = Path(results_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{notebook}.json"
    clean = {
        k: (float(v) if isinstance(v, (int, float, np.floating)) else v) for k, v in metrics.items()
    }
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(
        json.dumps(
            {"profile": profile, "notebook": notebook, "metrics": clean}, indent=2, sort_keys=True
        )
        + "\n"
    )
    tmp.replace(path)


def reading(text: str):
    """A notebook's ``## Reading`` rendered from its values: ``text`` (an f-string filled by
    the notebook) as one Markdown paragraph. Lines are joined, so a value such as "+ CAA" or
    "-3.6" at the start of a source line never turns into a list item. After a :func:`setup`
    on stand-in weights (:func:`stand_in_weights`) the paragraph opens with "Not results".
    """
    from IPython.display import Markdown

    note = (
        f"**Not results.** {_WEIGHTS_NOTE[0].upper()}{_WEIGHTS_NOTE[1:]}. " if _WEIGHTS_NOTE else ""
    )
    return Markdown(note + " ".join(text.split()))


def takeaways(first: str, second: str, third: str):
    """A notebook's ``## Takeaways``: three Markdown bullets (f-strings filled from the run's
    values where they quote numbers). After stand-in weights they open with "Not results"."""
    from IPython.display import Markdown

    note = "**Not results** (stand-in weights).\n\n" if _WEIGHTS_NOTE else ""
    bullets = [" ".join(b.split()) for b in (first, second, third)]
    if not all(bullets):
        raise ValueError("a takeaway is empty")
    return Markdown(note + "\n".join(f"- {b}" for b in bullets))


def exercise(answer: Any, expected: Any, *, atol: float = 1e-5) -> str:
    """The verdict on an exercise's answer against the package's value.

    Args:
        answer: the reader's value (None: not attempted yet); a number, array, tensor, or any
            value compared with ``==`` (a string, a set, a tuple of names).
        expected: what the package computes for the same question.
        atol: absolute tolerance for numbers and arrays.

    Returns:
        One line: "not attempted", "correct" or "not yet" with the largest difference.
    """
    if answer is None:
        return "Not attempted: replace None with your answer and rerun this cell."
    numeric = isinstance(expected, (int, float, np.ndarray, torch.Tensor, np.floating))
    if numeric and not isinstance(expected, bool):
        a = np.asarray(answer.detach().cpu() if isinstance(answer, torch.Tensor) else answer)
        b = np.asarray(expected.detach().cpu() if isinstance(expected, torch.Tensor) else expected)
        if a.shape != b.shape:
            return f"Not yet: your answer has shape {a.shape}, the package's {b.shape}."
        diff = float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max(initial=0.0))
        if diff <= atol:
            return f"Correct: equal to the package's value (largest difference {diff:.1e})."
        return f"Not yet: largest difference {diff:.3g} (tolerance {atol:g})."
    if answer == expected:
        return "Correct: equal to the package's value."
    return f"Not yet: {answer!r} is not the package's value."


def provenance(profile: str, seed: int, t0: float) -> dict[str, str]:
    """Versions, hardware and wall time for the last cell of a notebook."""
    import open_clip

    from clipwsss._version import __version__

    return {
        "clipwsss": __version__,
        "torch": torch.__version__,
        "open_clip": open_clip.__version__,
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {platform.processor()}".strip(),
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "profile": profile,
        "seed": str(seed),
        "wall time": f"{time.time() - t0:.1f} s",
    }


def notebook_parameters(path: str | Path) -> dict[str, Any]:
    """The parameters papermill sees in a notebook's ``parameters`` cell (name -> info)."""
    import papermill

    return dict(papermill.inspect_notebook(str(path)))


def run_notebook(
    path: str | Path,
    out_path: str | Path,
    parameters: Mapping[str, Any] | None = None,
    *,
    kernel: str = "python3",
    cell_timeout: int = 1800,
) -> Path:
    """Execute a notebook with papermill, refusing parameter names the notebook lacks.

    papermill itself only warns about unknown names; a typo would silently run the
    defaults. Failures raise (papermill's PapermillExecutionError names the cell).
    """
    import papermill

    parameters = dict(parameters or {})
    known = notebook_parameters(path)
    unknown = sorted(set(parameters) - set(known))
    if unknown:
        raise ValueError(f"{Path(path).name} has no parameter(s) {unknown}; known: {sorted(known)}")
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    papermill.execute_notebook(
        str(path),
        str(out_path),
        parameters=parameters,
        kernel_name=kernel,
        cwd=str(Path(path).resolve().parent),
        execution_timeout=cell_timeout,
        progress_bar=False,
    )
    return out_path
