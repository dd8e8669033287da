"""The ``clipwsss`` command line: ``cams`` -> ``masks`` -> ``eval`` (CLIP-ES stages 1-3).

    clipwsss cams  --dataset voc12 --root data/VOCdevkit/VOC2012 --split train \\
                   --out outputs/voc12/cams
    clipwsss masks --cams outputs/voc12/cams --dataset voc12 --root data/VOCdevkit/VOC2012 \\
                   --split train --out outputs/voc12/masks
    clipwsss eval  --pred outputs/voc12/cams --dataset voc12 --root data/VOCdevkit/VOC2012 \\
                   --split train --choose-exponent-on-gt --json outputs/voc12/cams_metrics.json

Every switch of ``ClipEsConfig`` has a flag; ``docs/cli.md`` describes the outputs and the
resume / shard / bad-input behaviour. Exit status: 0 done, 1 bad input or data error,
2 usage error or CLIP weights not found, 130 interrupted (rerun the command to resume).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from .backbone import WeightsNotFoundError
from .camfiles import (
    CamFileError,
    MissingCamKeyError,
    OutputMismatchError,
    read_run_record,
)
from .data import (
    DATASETS,
    AnnotationError,
    CorruptImageError,
    DatasetLayoutError,
    SegmentationDataset,
    atomic_write_text,
    build_dataset,
)
from .runner import EvalResult, UnknownLabelError, parse_shard
from .seg.cli import COMMANDS as SEG_COMMANDS
from .seg.cli import add_subcommands as add_seg_subcommands

BOX_THRESHOLD = {"voc12": 0.4, "coco14": 0.7, "custom": 0.4}  # CLIP-ES supp. C

RANDOM_WEIGHTS_BANNER = """\
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
!! WARNING: --pretrained none: CLIP has RANDOM weights. The CAMs are meaningless; use  !!
!! this for tests and timing only.                                                     !!
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"""


class UsageError(Exception):
    """A bad combination of flags (exit status 2)."""


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
    p = sub.add_parser(
        "cams",
        help="CAM files <id>.npy (Softmax-GradCAM + CAA)",
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
        default="openai",
        help="open_clip tag (default openai), a checkpoint file, 'env' "
        "($CLIPWSSS_PRETRAINED), or 'none' (random; needs --allow-random-weights)",
    )
    m.add_argument(
        "--allow-random-weights",
        action="store_true",
        help="accept --pretrained none (tests and timing only)",
    )
    m.add_argument("--device", default="auto", help="auto (cuda if available), cpu, cuda, ...")
    a = p.add_argument_group("ablation switches (defaults reproduce the official code)")
    a.add_argument(
        "--box-threshold", type=float, help="CAA box threshold lambda (default 0.4; 0.7 for coco14)"
    )
    a.add_argument("--no-softmax", action="store_true", help="GradCAM on logits (Table 6)")
    a.add_argument(
        "--no-background", action="store_true", help="no background words in the softmax (Table 6)"
    )
    a.add_argument("--no-synonyms", action="store_true", help="plain class names (Table 8)")
    a.add_argument(
        "--text-set",
        choices=("image", "dataset"),
        default="image",
        help="softmax over the image's classes (official) or all classes",
    )
    a.add_argument(
        "--fusion",
        choices=("sentence", "feature", "cam"),
        default="sentence",
        help="synonym fusion level (Table S2)",
    )
    a.add_argument(
        "--refine",
        choices=("caa", "mhsa", "none"),
        default="caa",
        help="CAM refinement (Table 2); none: attn_highres = highres",
    )
    a.add_argument(
        "--pooling",
        choices=("avg", "cls"),
        default="avg",
        help="image embedding: avg of patch tokens (official) or cls (Table S1)",
    )
    a.add_argument(
        "--corrected-boxes",
        action="store_true",
        help="CAA boxes without the official off-by-one, mask on targets too",
    )
    a.add_argument("--template", help="prompt template with {} (default 'a clean origami {}.')")
    a.add_argument("--caa-layers", type=int, default=8, help="attention blocks averaged (8)")
    a.add_argument("--sinkhorn-iters", type=int, default=3, help="Sinkhorn rounds (3)")
    a.add_argument("--caa-power", type=int, default=2, help="affinity power t (2)")


def _add_masks(sub) -> None:
    p = sub.add_parser(
        "masks",
        help="pseudo masks <id>.png (dense CRF + confidence)",
        description="Stage 3: dense CRF and the confidence mask (CGL).",
    )
    p.add_argument("--cams", required=True, type=Path, help="folder of <id>.npy CAM files")
    _add_data_args(p)
    _add_output_args(p, "missing/corrupt images or CAM files")
    p.add_argument("--workers", type=_non_negative, default=2, help="CRF processes (2)")
    p.add_argument(
        "--threshold",
        type=float,
        default=0.95,
        help="confidence mu; lower pixels become 255 (0.95; 0 keeps all)",
    )
    p.add_argument(
        "--confidence",
        choices=("official", "paper"),
        default="official",
        help="official: max CRF posterior; paper: Eq. 8 on the CAMs",
    )
    p.add_argument("--cam-key", choices=("attn_highres", "highres"), default="attn_highres")
    p.add_argument(
        "--corrected-crf-image",
        action="store_true",
        help="plain RGB image in the CRF (official: wrapped mean-subtracted BGR)",
    )
    p.add_argument(
        "--bg-exponent",
        type=float,
        default=1.0,
        help="background (1 - max cam)^k in the CRF unary (official k = 1)",
    )


def _add_eval(sub) -> None:
    p = sub.add_parser(
        "eval",
        help="mIoU of CAM files or masks against the GT",
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


def build_parser() -> argparse.ArgumentParser:
    """The ``clipwsss`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="clipwsss",
        description="CLIP-ES pseudo masks: cams -> masks -> eval. See docs/cli.md.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _add_cams(sub)
    _add_masks(sub)
    _add_eval(sub)
    add_seg_subcommands(sub)  # train deeplab, predict (clipwsss.seg.cli)
    return parser


# --------------------------------------------------------------------------- commands


def _vocabulary(args: argparse.Namespace):
    """The class vocabulary: --classes if given, else the data set's official one."""
    from .text import coco_vocabulary, load_vocabulary, make_vocabulary, voc_vocabulary

    if args.classes is not None:
        if args.classes.suffix.lower() in (".yaml", ".yml", ".json"):
            return load_vocabulary(args.classes)
        from .data import read_class_list

        if not args.classes.is_file():
            raise FileNotFoundError(f"class list not found: {args.classes}")
        return make_vocabulary(read_class_list(args.classes))
    if args.dataset == "voc12":
        return voc_vocabulary()
    if args.dataset == "coco14":
        return coco_vocabulary()
    raise UsageError("--dataset custom needs --classes (a class list or vocabulary YAML)")


def _dataset(args: argparse.Namespace) -> SegmentationDataset:
    kwargs: dict = {}
    if args.gt_dir is not None:
        kwargs["gt_dir"] = args.gt_dir
    names = list(_vocabulary(args).names) if args.classes is not None else None
    if args.dataset == "custom":
        if args.labels is None:
            raise UsageError("--dataset custom needs --labels (the labels file)")
        if names is None:
            raise UsageError("--dataset custom needs --classes (a class list or vocabulary)")
        return build_dataset(
            "custom", args.root, labels_file=args.labels, class_list=names, **kwargs
        )
    if args.labels is not None:
        raise UsageError("--labels is for --dataset custom; VOC/COCO labels come with the data")
    if args.dataset == "voc12":
        if args.label_source:
            kwargs["label_source"] = args.label_source
        if names is not None:
            kwargs["class_names"] = names
    return build_dataset(args.dataset, args.root, args.split or "train", **kwargs)


def _record(args: argparse.Namespace, argv: Sequence[str]) -> dict:
    return {
        "dataset": args.dataset,
        "root": str(args.root),
        "split": args.split or ("train" if args.dataset != "custom" else str(args.labels)),
        "command": ["clipwsss", *argv],
    }


def _device(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise UsageError(f"--device {name}: {err}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"--device {name}, but no CUDA device is available; use auto or cpu")
    return name


def cmd_cams(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from .backbone import load_clip
    from .clip_es import ClipES, ClipEsConfig
    from .runner import generate_cams
    from .text import CLIP_ES_TEMPLATE

    pretrained = None if args.pretrained.lower() == "none" else args.pretrained
    if pretrained is None and not args.allow_random_weights:
        raise UsageError(
            "--pretrained none means random CLIP weights; add --allow-random-weights if that "
            "is really what you want (tests and timing only)"
        )
    vocab = _vocabulary(args)
    if args.no_synonyms:
        vocab = vocab.without_synonyms()
    if not vocab.background and not args.no_background:
        warnings.warn(
            "the vocabulary has no background words; CLIP-ES needs them (Table 6): "
            "add `background: [...]` to the vocabulary YAML",
            stacklevel=1,
        )
    config = ClipEsConfig(
        template=args.template or CLIP_ES_TEMPLATE,
        pooling=args.pooling,
        softmax=not args.no_softmax,
        use_background=not args.no_background,
        text_set=args.text_set,
        fusion=args.fusion,
        refine=args.refine,
        box_threshold=(
            args.box_threshold if args.box_threshold is not None else BOX_THRESHOLD[args.dataset]
        ),
        caa_layers=args.caa_layers,
        sinkhorn_iters=args.sinkhorn_iters,
        caa_power=args.caa_power,
        official_boxes=not args.corrected_boxes,
    )
    dataset = _dataset(args)
    device = _device(args.device)
    clip = load_clip(args.model, pretrained, device=device)
    if pretrained is None:
        print(RANDOM_WEIGHTS_BANNER, file=sys.stderr)
    es = ClipES(clip, vocab, config)
    weights = "RANDOM weights" if pretrained is None else f"weights {pretrained}"
    print(
        f"cams: {len(dataset)} images in {args.dataset} {_split(args)}, model {args.model} "
        f"({weights}), device {device} -> {args.out}",
        file=sys.stderr,
    )
    report = generate_cams(
        es,
        dataset,
        args.out,
        limit=args.limit,
        shard=args.shard,
        skip_bad=args.skip_bad_images,
        overlays=args.overlays,
        progress=not args.quiet,
        record=_record(args, argv),
    )
    print(f"cams: {report.summary()}")
    return 0


def cmd_masks(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from .runner import generate_masks

    dataset = _dataset(args)
    report = generate_masks(
        dataset,
        args.cams,
        args.out,
        workers=args.workers,
        threshold=args.threshold,
        confidence=args.confidence,
        cam_key=args.cam_key,
        official_crf_image=not args.corrected_crf_image,
        bg_exponent=args.bg_exponent,
        limit=args.limit,
        shard=args.shard,
        skip_bad=args.skip_bad_images,
        overlays=args.overlays,
        progress=not args.quiet,
        record=_record(args, argv),
    )
    print(f"masks: {report.summary()}")
    return 0


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
    from .runner import evaluate

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
)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``clipwsss`` command line; returns the exit status.

    Set ``CLIPWSSS_TRACEBACK=1`` to see the traceback of a data error.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    commands = {"cams": cmd_cams, "masks": cmd_masks, "eval": cmd_eval, **SEG_COMMANDS}
    hint = ""
    if args.command in ("cams", "masks"):
        hint = "\n(--skip-bad-images skips such inputs and lists them in OUT/failed.txt)"
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            return commands[args.command](args, argv)
        except UsageError as err:
            print(f"clipwsss {args.command}: error: {err}", file=sys.stderr)
            return 2
        except WeightsNotFoundError as err:
            print(f"clipwsss {args.command}: error: {err}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print(
                "\ninterrupted; finished files are kept: rerun the same command to resume",
                file=sys.stderr,
            )
            return 130
        except _INPUT_ERRORS as err:
            if os.environ.get("CLIPWSSS_TRACEBACK"):
                raise
            per_image = (FileNotFoundError, CorruptImageError, CamFileError)
            bad_input = isinstance(err, per_image) and not isinstance(err, DatasetLayoutError)
            print(
                f"clipwsss {args.command}: error: {err}{hint if bad_input else ''}", file=sys.stderr
            )
            return 1


if __name__ == "__main__":
    sys.exit(main())
