"""The ``clipwsss`` command line: ``cams`` -> ``masks`` -> ``eval`` (CLIP-ES stages 1-3), and
``train <method>`` / ``predict`` for the trained methods (``cli/methods.py``).

    clipwsss cams  --dataset voc12 --root data/VOCdevkit/VOC2012 --split train \\
                   --out outputs/voc12/cams
    clipwsss masks --cams outputs/voc12/cams --dataset voc12 --root data/VOCdevkit/VOC2012 \\
                   --split train --out outputs/voc12/masks
    clipwsss eval  --pred outputs/voc12/cams --dataset voc12 --root data/VOCdevkit/VOC2012 \\
                   --split train --choose-exponent-on-gt --json outputs/voc12/cams_metrics.json

Every switch of ``ClipEsConfig`` has a flag; ``docs/cli.md`` describes the outputs and the
resume / shard / bad-input behaviour. Exit status: 0 done, 1 bad input or data error,
2 usage error or CLIP weights not found, 130 interrupted (Ctrl-C) and 143 terminated
(SIGTERM): rerun the command to resume.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import signal
import sys
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

# Only modules without torch at the top: `clipwsss --help` must start fast (the torch-heavy
# ones are imported by the command that needs them).
from clipwsss.cli.config_flags import add_config_arguments, config_from_args
from clipwsss.cli.methods import PREDICT_HELP, TRAIN_HELP
from clipwsss.cli.methods import add_subcommands as add_method_commands
from clipwsss.data import (
    DATASETS,
    AnnotationError,
    CorruptImageError,
    DatasetLayoutError,
    SegmentationDataset,
    atomic_write_text,
    build_dataset,
)
from clipwsss.io.camfiles import (
    CamFileError,
    MissingCamKeyError,
    OutputMismatchError,
    read_run_record,
)
from clipwsss.io.locks import FolderLockedError
from clipwsss.pipelines.common import BadImageError, UnknownLabelError, parse_shard, select_ids
from clipwsss.pipelines.launch import launched_processes

if TYPE_CHECKING:
    from clipwsss.pipelines.evaluate import EvalResult

# One line per command in `clipwsss --help` (also used when only that list is built).
HELP = {
    "cams": "CAM files <id>.npy (Softmax-GradCAM + CAA)",
    "masks": "pseudo masks <id>.png (dense CRF + confidence)",
    "eval": "mIoU of CAM files or masks against the GT",
    "train": TRAIN_HELP,
    "predict": PREDICT_HELP,
    "toy-data": "write the synthetic toy data set (VOC layout) for the toy profile",
}

RANDOM_WEIGHTS_BANNER = """\
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
!! WARNING: --pretrained none: CLIP has RANDOM weights. The CAMs are meaningless; use  !!
!! this for tests and timing only.                                                     !!
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"""


class UsageError(Exception):
    """A bad combination of flags (exit status 2)."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (a scheduler, ``kill``): stops like Ctrl-C, exit status 143."""


def _on_sigterm(signum, frame) -> None:
    raise Terminated()


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """While a command runs, SIGTERM unwinds it as an interrupt (workers are stopped)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# --------------------------------------------------------------------------- parser


def _shard(text: str) -> tuple[int, int]:
    try:
        return parse_shard(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _add_data_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data")
    g.add_argument("--dataset", required=True, choices=DATASETS, help="data set kind")
    g.add_argument(
        "--root",
        required=True,
        type=Path,
        help="VOC2012 folder, COCO 2014 folder, or (custom) the image folder",
    )
    g.add_argument(
        "--split",
        default=None,
        help="split list name (default train; VOC: train, train_aug, val, ...)",
    )
    g.add_argument("--labels", type=Path, help="custom: labels file (txt, json or yaml)")
    g.add_argument(
        "--classes",
        type=Path,
        help="class list: a .txt (one name a line) or a vocabulary YAML/JSON "
        "(classes with synonyms, background words); required for custom",
    )
    g.add_argument("--gt-dir", type=Path, help="folder of GT label PNGs (overrides default)")
    g.add_argument(
        "--label-source",
        choices=("xml", "png"),
        help="voc12: image-level labels from Annotations XML (default) or GT PNGs",
    )
    r = p.add_argument_group("run")
    r.add_argument("--limit", type=_non_negative, help="handle only the first N ids")
    r.add_argument(
        "--shard",
        type=_shard,
        default=(0, 1),
        metavar="I/N",
        help="handle ids[I::N] (0 <= I < N); default 0/1",
    )
    r.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_output_args(p, bad: str) -> None:
    """--out, --skip-bad-images and --overlays (shared by `cams` and `masks`)."""
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument(
        "--skip-bad-images", action="store_true", help=f"skip {bad}, list them in OUT/failed.txt"
    )
    p.add_argument("--overlays", action="store_true", help="also write OUT/overlays/<id>.jpg")


def _add_cams(sub) -> None:
    from clipwsss.methods.clip_es import ClipEsConfig
    from clipwsss.pipelines.cams import MAX_IMAGE_PIXELS
    from clipwsss.pipelines.masks import MaskOptions

    p = sub.add_parser(
        "cams",
        help=HELP["cams"],
        description="Stages 1-2: write <out>/<id>.npy CAM files.",
    )
    _add_data_args(p)
    _add_output_args(p, "missing/corrupt images")
    m = p.add_argument_group("model")
    m.add_argument(
        "--model",
        default="ViT-B-16",
        help="open_clip model name, or local-dir:/path (default ViT-B-16)",
    )
    m.add_argument(
        "--pretrained",
        default=None,
        help="open_clip tag (default openai), a checkpoint file, 'env' "
        "($CLIPWSSS_PRETRAINED), or 'none' (random; needs --allow-random-weights); "
        "not with a local-dir: model (the folder holds its weights)",
    )
    m.add_argument(
        "--allow-random-weights",
        action="store_true",
        help="accept --pretrained none (tests and timing only)",
    )
    m.add_argument(
        "--activation",
        choices=("auto", "quick_gelu", "gelu"),
        default="auto",
        help="MLP activation for a checkpoint file (auto: TorchScript and plain state dicts "
        "QuickGELU as OpenAI CLIP, open_clip training checkpoints their config's)",
    )
    m.add_argument("--device", default="auto", help="auto (cuda if available), cpu, cuda, ...")
    m.add_argument(
        "--max-image-pixels",
        type=_non_negative,
        default=MAX_IMAGE_PIXELS,
        help=f"refuse images with more pixels (H*W; default {MAX_IMAGE_PIXELS} = 1024x1024; "
        "0: no limit); --skip-bad-images skips them",
    )
    m.add_argument(
        "--batch-size",
        type=_positive,
        default=1,
        help="images per forward, grouped by padded patch grid (default 1: one image per "
        "forward, the reference path; >1: one batched forward + GradCAM backward + CAA)",
    )
    m.add_argument(
        "--loader-workers",
        type=_non_negative,
        default=2,
        help="DataLoader processes decoding and resizing images for --batch-size > 1 (2)",
    )
    m.add_argument(
        "--precision",
        choices=("fp32", "bf16", "fp16"),
        default="fp32",
        help="autocast of the forward and GradCAM (fp32: the official numerics; fp16: CUDA "
        "only; bf16/fp16 use the batched path; docs/cli.md gives the measured differences)",
    )
    a = p.add_argument_group(
        "ablation switches (ClipEsConfig fields; defaults reproduce the official code)"
    )
    add_config_arguments(a, ClipEsConfig)
    a.add_argument("--no-synonyms", action="store_true", help="plain class names (Table 8)")
    k = p.add_argument_group(
        "one pass: also the pseudo masks (MaskOptions fields; official defaults)"
    )
    k.add_argument(
        "--masks",
        type=Path,
        default=None,
        metavar="DIR",
        help="also write DIR/<id>.png pseudo masks (dense CRF in --workers processes while "
        "the model runs; the files of `clipwsss masks --cams OUT --out DIR`)",
    )
    k.add_argument("--workers", type=_non_negative, default=2, help="CRF processes (2)")
    add_config_arguments(k, MaskOptions, skip=("n_classes",))


def _add_masks(sub) -> None:
    from clipwsss.pipelines.masks import MaskOptions

    p = sub.add_parser(
        "masks",
        help=HELP["masks"],
        description="Stage 3: dense CRF and the confidence mask (CGL).",
    )
    p.add_argument("--cams", required=True, type=Path, help="folder of <id>.npy CAM files")
    _add_data_args(p)
    _add_output_args(p, "missing/corrupt images or CAM files")
    p.add_argument("--workers", type=_non_negative, default=2, help="CRF processes (2)")
    add_config_arguments(
        p.add_argument_group("pseudo-mask switches (MaskOptions fields; official defaults)"),
        MaskOptions,
        skip=("n_classes",),  # from the data set
    )


def _add_eval(sub) -> None:
    p = sub.add_parser(
        "eval",
        help=HELP["eval"],
        description="Split-level mIoU with the official semantics.",
    )
    p.add_argument("--pred", required=True, type=Path, help="folder of <id>.npy or <id>.png")
    _add_data_args(p)
    p.add_argument("--kind", choices=("auto", "cams", "masks"), default="auto")
    p.add_argument("--cam-key", choices=("attn_highres", "highres"), default="attn_highres")
    p.add_argument(
        "--bg-exponent",
        type=float,
        default=1.0,
        help="fixed background power k of (1 - max cam)^k (default 1)",
    )
    p.add_argument(
        "--choose-exponent-on-gt",
        action="store_true",
        help="also report the best k chosen on the GT (leaks labels, as the "
        "official eval_cam.py): {1,2} for attn_highres, 1..10 for highres",
    )
    p.add_argument(
        "--only-existing",
        action="store_true",
        help="score only ids that have a prediction file (partial runs)",
    )
    p.add_argument("--json", type=Path, help="also write the scores as JSON")


def build_parser(command: str | None = "all") -> argparse.ArgumentParser:
    """The ``clipwsss`` argument parser.

    Args:
        command: the command whose flags are built ("all": every command's); the others
            get only their line in ``--help``, so ``clipwsss --help`` imports no torch.
    """
    parser = argparse.ArgumentParser(
        prog="clipwsss",
        description="CLIP-ES pseudo masks: cams -> masks -> eval. See docs/cli.md.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    builders = {
        "cams": _add_cams,
        "masks": _add_masks,
        "eval": _add_eval,
        "train": None,
        "predict": None,
        "toy-data": _add_toy_data,
    }
    methods = command in ("all", "train", "predict")  # cli/methods.py adds both
    for name, add in builders.items():
        if add is None and methods:
            if name == "train":
                add_method_commands(sub)  # train <method>, predict (cli/methods.py)
        elif command not in ("all", name):
            sub.add_parser(name, help=HELP[name])
        else:
            add(sub)
    return parser


def _add_toy_data(sub) -> None:
    p = sub.add_parser(
        "toy-data",
        help=HELP["toy-data"],
        description="Write the toy world's images, label PNGs, XMLs and split lists in the VOC "
        "2012 layout (clipwsss.toy.generate_toy_voc); same arguments give the same bytes. "
        "Then e.g. `clipwsss train deeplab --profile toy --root OUT --masks "
        "OUT/SegmentationClass --allow-random-weights` or any command with --root OUT.",
    )
    p.add_argument("--out", type=Path, help="folder (default: the toy profile's data root)")
    p.add_argument("--n-train", type=_non_negative, default=200, help="train images (200)")
    p.add_argument("--n-val", type=_non_negative, default=100, help="val images (100)")
    p.add_argument("--seed", type=_non_negative, default=0, help="scene seed (0)")
    p.add_argument("--image-size", type=int, default=96, help="square image side (96 px)")
    p.set_defaults(handler=cmd_toy_data)


def cmd_toy_data(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """``clipwsss toy-data``: the toy data set (refuses a folder that holds other files)."""
    from clipwsss.experiments.profiles import get_profile
    from clipwsss.toy import generate_toy_voc

    out = args.out or Path(get_profile("toy").data_root)
    check_output_path(out, "--out")
    if out.is_dir() and any(out.iterdir()) and not (out / "classes.yaml").is_file():
        raise UsageError(f"--out {out} holds other files; give an empty or new folder")
    summary = generate_toy_voc(
        out,
        n_train=args.n_train,
        n_val=args.n_val,
        seed=args.seed,
        image_size=args.image_size,
        progress=True,
    )
    print(
        f"wrote {args.n_train} train and {args.n_val} val toy images to {out} "
        f"in {summary['seconds']:.1f} s"
    )
    return 0


# --------------------------------------------------------------------------- commands


def _vocabulary(args: argparse.Namespace):
    """The class vocabulary: --classes if given, else the data set's official one."""
    from clipwsss.vocab import coco_vocabulary, load_vocabulary, make_vocabulary, voc_vocabulary

    if args.classes is not None:
        if not args.classes.is_file():  # a usage slip, not a per-image bad input: no hint
            raise DatasetLayoutError(f"class list not found: {args.classes} (--classes)")
        if args.classes.suffix.lower() in (".yaml", ".yml", ".json"):
            return load_vocabulary(args.classes)
        from clipwsss.data import read_class_list

        return make_vocabulary(read_class_list(args.classes))
    if args.dataset == "voc12":
        return voc_vocabulary()
    if args.dataset == "coco14":
        return coco_vocabulary()
    raise UsageError("--dataset custom needs --classes (a class list or vocabulary YAML)")


def split_source(value: str) -> tuple[str, Path | None]:
    """``--split``: a split name, or a path to an id list with or without ``.txt``.

    Returns:
        (split name, id-list file or None). ``train`` -> ("train", None);
        ``lists/mine.txt`` and ``lists/mine`` -> ("mine", Path("lists/mine.txt")); a bare
        ``train.txt`` that is not a file here is the split name ``train``.

    Raises:
        DatasetLayoutError: a path (it has a folder part) that is not a file, with or
            without ``.txt``.
    """
    explicit = "/" in value or os.sep in value or value.endswith(".txt")
    if not explicit:
        return value, None
    path = Path(value).expanduser()
    tried = [path] if path.suffix == ".txt" else [path, path.with_name(path.name + ".txt")]
    for candidate in tried:
        if candidate.is_file():
            return candidate.stem, candidate
    if path.parent == Path(".") and path.suffix == ".txt":
        return path.stem, None
    raise DatasetLayoutError(
        f"--split {value}: no id list at {' nor '.join(str(p) for p in tried)} "
        "(give a split name such as train, or the path of an id list)"
    )


def _dataset(args: argparse.Namespace) -> SegmentationDataset:
    """The data set of the flags; one with no image id is an error (not 0 images, exit 0)."""
    dataset = _build_dataset(args)
    if not dataset.ids:
        source = getattr(dataset, "labels_file", None) or getattr(dataset, "split_file", None)
        raise DatasetLayoutError(f"no image ids in {source or args.root}: nothing to do")
    return dataset


def _build_dataset(args: argparse.Namespace) -> SegmentationDataset:
    kwargs: dict = {}
    if args.gt_dir is not None:
        kwargs["gt_dir"] = args.gt_dir
    names = list(_vocabulary(args).names) if args.classes is not None else None
    if args.dataset == "custom":
        if args.labels is None:
            raise UsageError("--dataset custom needs --labels (the labels file)")
        if names is None:
            raise UsageError("--dataset custom needs --classes (a class list or vocabulary)")
        missing_ok = getattr(args, "skip_bad_images", False)  # skipped per image
        return build_dataset(
            "custom",
            args.root,
            labels_file=args.labels,
            class_list=names,
            missing_ok=missing_ok,
            **kwargs,
        )
    if args.labels is not None:
        raise UsageError("--labels is for --dataset custom; VOC/COCO labels come with the data")
    if args.dataset == "voc12":
        if args.label_source:
            kwargs["label_source"] = args.label_source
        if names is not None:
            kwargs["class_names"] = names
    split, split_file = split_source(args.split or "train")
    if split_file is not None:
        kwargs["split_file"] = split_file
    return build_dataset(args.dataset, args.root, split, **kwargs)


def _record(args: argparse.Namespace, argv: Sequence[str]) -> dict:
    return {
        "dataset": args.dataset,
        "root": str(args.root),
        "split": args.split or ("train" if args.dataset != "custom" else str(args.labels)),
        "command": ["clipwsss", *argv],
    }


def check_output_path(path: Path, flag: str, *, is_file: bool = False) -> None:
    """Refuse an output that cannot be written, before any model loads.

    ``path`` is a folder to create or reuse (``is_file``: a file to write): it must not be
    a file (a folder), sit below a file, or lie in a folder without write permission.

    Raises:
        UsageError: naming the flag and the reason.
    """
    if is_file and path.is_dir():
        raise UsageError(f"{flag} {path} is a folder; give a file name")
    if not is_file and path.exists() and not path.is_dir():
        raise UsageError(f"{flag} {path} is a file; give a folder")
    start = path.parent if is_file or not path.exists() else path
    for folder in (start, *start.parents):
        if folder.exists():
            if not folder.is_dir():
                raise UsageError(f"{flag} {path}: {folder} is a file, so nothing can go below it")
            if not os.access(folder, os.W_OK | os.X_OK):
                raise UsageError(f"{flag} {path}: {folder} is not writable")
            return


def _device(name: str) -> str:
    from clipwsss.clip.loading import resolve_device

    try:
        return resolve_device(name)
    except ValueError as err:
        raise UsageError(f"--{err}") from None


def cmd_cams(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from clipwsss.clip.loading import load_clip
    from clipwsss.methods.clip_es import ClipES, ClipEsConfig
    from clipwsss.pipelines.cams import generate_cams

    local_dir = args.model.startswith("local-dir:")
    if local_dir and args.pretrained is not None:  # never silently ignored
        raise UsageError(
            f"--pretrained {args.pretrained} with --model {args.model}: a local-dir: folder "
            "loads its own weights (open_clip_model.*); drop --pretrained, or give the "
            "checkpoint file with an open_clip model name (e.g. --model ViT-B-16)"
        )
    pretrained = "openai" if args.pretrained is None else args.pretrained
    pretrained = None if pretrained.lower() == "none" else pretrained
    if local_dir:
        pretrained = args.model[len("local-dir:") :]
    if pretrained is None and not args.allow_random_weights:
        raise UsageError(
            "--pretrained none means random CLIP weights; add --allow-random-weights if that "
            "is really what you want (tests and timing only)"
        )
    vocab = _vocabulary(args)
    if args.no_synonyms:
        vocab = vocab.without_synonyms()
    if not vocab.background and args.use_background is not False:
        warnings.warn(
            "the vocabulary has no background words; CLIP-ES needs them (Table 6): "
            "add `background: [...]` to the vocabulary YAML",
            stacklevel=1,
        )
    # Flags that were given override the data set's official config (box lambda: supp. C).
    config = config_from_args(ClipEsConfig, args, ClipEsConfig.for_dataset(args.dataset))
    dataset = _dataset(args)
    check_output_path(args.out, "--out")
    if args.masks is not None:
        _check_masks_folder(args.masks, args.out, "--masks")
        check_output_path(args.masks, "--masks")
    launch = launched_processes()
    shard = launch.shard(args.shard)
    device = launch.device if launch.n > 1 and args.device == "auto" else _device(args.device)
    if args.precision == "fp16" and not str(device).startswith("cuda"):
        raise UsageError(f"--precision fp16 needs a CUDA device (device {device}); use bf16")
    clip = load_clip(
        args.model, None if local_dir else pretrained, device=device, activation=args.activation
    )
    if clip.load_note:
        print(f"cams: weights {clip.load_note}", file=sys.stderr)
    if pretrained is None:
        print(RANDOM_WEIGHTS_BANNER, file=sys.stderr)
    es = ClipES(clip, vocab, config)
    weights = "RANDOM weights" if pretrained is None else f"weights {pretrained}"
    if local_dir:
        weights = f"weights of {pretrained}"
    n_run = len(select_ids(dataset.ids, shard=shard, limit=args.limit))
    print(
        f"cams{launch.note}: {n_run} of {len(dataset)} images in {args.dataset} {_split(args)}"
        f"{_shard_note(args)}, model {args.model} "
        f"({weights}), device {device} -> {args.out}",
        file=sys.stderr,
    )
    common = dict(
        limit=args.limit,
        shard=shard,
        skip_bad=args.skip_bad_images,
        overlays=args.overlays,
        progress=not args.quiet and launch.rank == 0,
        record=_record(args, argv),
        max_image_pixels=args.max_image_pixels or None,
        batch_size=args.batch_size,
        loader_workers=args.loader_workers,
        precision=args.precision,
    )
    if args.masks is None:
        report = generate_cams(es, dataset, args.out, **common)
        print(f"cams{launch.note}: {report.summary()}")
        launch.finish([report])
        return 0
    from clipwsss.pipelines.masks import MaskOptions
    from clipwsss.pipelines.onepass import generate_cams_and_masks

    options = config_from_args(MaskOptions, args)
    reports = generate_cams_and_masks(
        es, dataset, args.out, args.masks, options=options, workers=args.workers, **common
    )
    print(f"cams{launch.note}: {reports[0].summary()}")
    print(f"masks{launch.note}: {reports[1].summary()}")
    launch.finish(list(reports))
    return 0


def cmd_masks(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from clipwsss.pipelines.masks import MaskOptions, generate_masks

    _check_masks_folder(args.out, args.cams, "--out")
    check_output_path(args.out, "--out")
    dataset = _dataset(args)
    launch = launched_processes()
    report = generate_masks(
        dataset,
        args.cams,
        args.out,
        workers=args.workers,
        options=config_from_args(MaskOptions, args),
        limit=args.limit,
        shard=launch.shard(args.shard),
        skip_bad=args.skip_bad_images,
        overlays=args.overlays,
        progress=not args.quiet and launch.rank == 0,
        record=_record(args, argv),
    )
    print(f"masks{launch.note}: {report.summary()}")
    launch.finish([report])
    return 0


def _check_masks_folder(masks: Path, cams: Path, flag: str) -> None:
    """Refuse a mask folder that is the CAM folder (each stage keeps its own run.json)."""
    if masks.resolve() == cams.resolve():
        raise UsageError(
            f"{flag} {masks} is the CAM folder: each stage keeps its own run.json (the "
            "settings a resumed run is checked against) and `eval` reads a folder as CAMs or "
            "masks, so masks need their own folder, e.g. --cams outputs/voc12/cams --out "
            "outputs/voc12/masks (docs/cli.md, 'Output layout')"
        )


def _shard_note(args: argparse.Namespace) -> str:
    i, n = args.shard
    return f" (shard {i}/{n})" if n > 1 else ""


def _split(args: argparse.Namespace) -> str:
    return f"labels {args.labels}" if args.dataset == "custom" else (args.split or "train")


def format_eval(result: EvalResult) -> str:
    """The per-class IoU table and the mIoU lines (percent, one decimal)."""
    lines = [f"{'class':<16}{'IoU %':>7}"]
    rows = zip(result.class_names, result.scores.iou, result.scores.valid, strict=True)
    lines += [f"{name:<16}{100 * iou:>7.1f}" for name, iou, ok in rows if ok]
    n_absent = int((~result.scores.valid).sum())
    lines.append("-" * 23)
    if n_absent:
        lines.append(f"({n_absent} classes without GT pixels are left out of the mean)")
    miou = 100 * result.scores.miou
    if result.kind == "masks":
        lines.append(f"mIoU {miou:.1f}  (pseudo masks; pixels predicted 255 are not scored)")
        lines.append(
            f"ignored: {100 * result.ignored_fraction:.1f}% of the GT-labelled pixels "
            "are 255 in the masks"
        )
    else:
        k = result.bg_exponent
        lines.append(f"mIoU {miou:.1f}  (background (1 - max cam)^{k:g}, k fixed by the user)")
        choice = result.chosen_on_gt
        if choice is not None:
            ks = ", ".join(f"{e:g}" for e in choice.exponents)
            lines.append(
                f"mIoU {100 * choice.scores.miou:.1f}  (k = {choice.best:g} chosen on ground "
                f"truth over {{{ks}}}: leaks labels, as the official eval_cam.py)"
            )
    if result.n_missing:
        lines.append(f"note: {result.n_missing} image(s) without a prediction were left out")
    return "\n".join(lines)


def cmd_eval(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from clipwsss.pipelines.evaluate import evaluate

    if args.json is not None:
        check_output_path(args.json, "--json", is_file=True)
    dataset = _dataset(args)
    result = evaluate(
        dataset,
        args.pred,
        kind=args.kind,
        cam_key=args.cam_key,
        bg_exponent=args.bg_exponent,
        choose_exponent_on_gt=args.choose_exponent_on_gt,
        only_existing=args.only_existing,
        limit=args.limit,
        shard=args.shard,
        progress=not args.quiet,
    )
    run = read_run_record(args.pred)
    what = "CAM files, " + result.cam_key if result.kind == "cams" else "pseudo masks"
    print(
        f"{args.dataset} {_split(args)}: {result.n_images} images; predictions {args.pred} ({what})"
    )
    unrefined = ((run or {}).get("config") or {}).get("refine") == "none"
    if result.kind == "cams" and result.cam_key == "attn_highres" and unrefined:
        print("note: these CAMs were made with --refine none: attn_highres holds the initial CAMs")
    print(format_eval(result))
    if args.json is not None:
        payload = {
            **result.to_dict(),
            "pred": str(args.pred),
            **_record(args, argv),
            "pred_run": run,
        }
        atomic_write_text(args.json, json.dumps(payload, indent=2) + "\n")
        print(f"scores written to {args.json}")
    return 0


# --------------------------------------------------------------------------- entry point

_INPUT_ERRORS = (
    FileNotFoundError,
    CorruptImageError,
    AnnotationError,
    UnknownLabelError,
    CamFileError,
    MissingCamKeyError,
    OutputMismatchError,
    ValueError,
    FolderLockedError,  # another process trains in the run folder
    FloatingPointError,  # a training run diverged (clipwsss.train.DivergedError)
    OSError,  # a full disk, a read-only folder, a path that is a file
)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``clipwsss`` command line; returns the exit status.

    Set ``CLIPWSSS_TRACEBACK=1`` to see the traceback of a data error.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    # Only the command asked for is built (its flags may import torch); none for --help.
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command if command in HELP else None)
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "takes_method_flags", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.method_flags = extra  # `predict` parses them once it knows the run's method
    commands = {"cams": cmd_cams, "masks": cmd_masks, "eval": cmd_eval}
    hint = ""
    if args.command in ("cams", "masks"):
        hint = "\n(--skip-bad-images skips such inputs and lists them in OUT/failed.txt)"
    from clipwsss.clip.loading import WeightsNotFoundError

    with warnings.catch_warnings(), _sigterm_as_interrupt():
        warnings.showwarning = _show_warning
        try:
            return (getattr(args, "handler", None) or commands[args.command])(args, argv)
        except UsageError as err:
            print(f"clipwsss {args.command}: error: {err}", file=sys.stderr)
            return 2
        except WeightsNotFoundError as err:
            print(f"clipwsss {args.command}: error: {err}", file=sys.stderr)
            return 2
        except KeyboardInterrupt as err:
            # Terminated: SIGTERM outside a training loop; the loop's TrainingStopped says
            # which signal stopped it (after a checkpoint of the current step).
            term = isinstance(err, Terminated) or getattr(err, "signum", None) == signal.SIGTERM
            what = "terminated (SIGTERM)" if term else "interrupted"
            print(
                f"\n{what}; finished files are kept: rerun the same command to resume",
                file=sys.stderr,
            )
            return 143 if term else 130
        except _INPUT_ERRORS as err:
            if os.environ.get("CLIPWSSS_TRACEBACK"):
                raise
            per_image = (FileNotFoundError, CorruptImageError, CamFileError, BadImageError)
            bad_input = isinstance(err, per_image) and not isinstance(err, DatasetLayoutError)
            note = hint if bad_input else ""
            if isinstance(err, OSError) and err.errno == errno.ENOSPC:
                note = "\n(the disk is full: free some space, then rerun the same command)"
            print(f"clipwsss {args.command}: error: {err}{note}", file=sys.stderr)
            return 1


if __name__ == "__main__":
    sys.exit(main())
