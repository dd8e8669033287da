"""Reading of notebook 11 (the claim ledger of CLIP-ES, WeCLIP or WeakCLIP)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from clipwsss.experiments import ledger as lg


def reading(
    *,
    paper: str,
    profile: str,
    n_rows: int,
    counts: Mapping[str, int],
    n_measured_iou: int,
    below: int,
    above: Sequence[str],
) -> str:
    """What the ledger measured, what it cannot, and what a toy row means.

    Args:
        paper: "CLIP-ES", "WeCLIP" or "WeakCLIP".
        profile: the profile name.
        n_rows: numbers of the paper the ledger lists.
        counts: rows per status (:data:`clipwsss.experiments.ledger.STATUSES`).
        n_measured_iou: measured mIoU / IoU rows; below: how many lie below the paper's.
        above: "source setting" of the measured rows above the paper's.
    """
    above_text = "; above it: " + ", ".join(above) if above else ""
    toy = (
        "A measured toy row is not a reproduction of the paper's number: of the "
        f"{n_measured_iou} measured mIoU / IoU rows, {below} lie below the diagonal of the "
        f"scatter{above_text}; only the direction of a difference between rows means anything"
    )
    if paper == "CLIP-ES":
        return (
            f"The ledger lists {n_rows} numbers of the paper; {counts[lg.MEASURED]} are measured "
            f"on the {profile} profile. Of the DeepLab rows (Tables 4, 5 and 7, and the μ sweep "
            f"of Table S3), notebook 12 measures the VOC-val ones on this profile; "
            f"{counts[lg.NEEDS_REAL_DATA]} need real data (VOC test, COCO) and "
            f"{counts[lg.NEEDS_COCO_INIT]} need a COCO-pretrained DeepLab (Table S3's sweep was "
            f"run from that model), which cannot be had offline. {toy}, and the toy world often "
            "does not bear even that out (see notebooks 02-08). The Table 3 rows on the toy "
            "profile are timings of a random-weight ViT-B/16 on this CPU, extrapolated, not a "
            "run on VOC. Comparing values with the paper needs the voc12 profile: `make run "
            "NB=... PROFILE=voc12 DATA=...` for each notebook, then this notebook with "
            "`PROFILE=voc12`."
        )
    return (
        f"The ledger lists {n_rows} numbers of the {paper} paper; {counts[lg.MEASURED]} are "
        f"measured on the {profile} profile, {counts[lg.NOT_ON_PROFILE]} are not measured on this "
        f"profile and {counts[lg.NOT_ADDRESSED]} are addressed by no notebook. {toy}. Comparing "
        "values with the paper needs a real profile."
    )
