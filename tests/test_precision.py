"""bf16 vs fp32 CAMs on the toy profile: the numbers docs/cli.md states are the measured ones
(to a tolerance for other CPUs' bf16 kernels), and bf16 really changes the numerics."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from clipwsss.experiments.precision import precision_gap

DOCS = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def _documented() -> dict[str, float]:
    text = " ".join(DOCS.read_text().split())
    m = re.search(
        r"bf16 vs fp32 max \|difference\| ([\d.]+) \(initial CAMs\) and ([\d.]+) "
        r"\(refined CAMs, mean ([\d.]+)\), CRF pseudo-mask pixel agreement ([\d.]+) %",
        text,
    )
    assert m, "docs/cli.md no longer states the bf16 numbers"
    cam, ref, mean, agree = (float(x) for x in m.groups())
    return {"cam": cam, "refined": ref, "mean": mean, "agree": agree / 100}


@pytest.mark.slow  # about 15 s: 24 toy images through fp32 and bf16, 48 CRFs
def test_bf16_cams_and_crf_agreement_are_the_documented_ones(tmp_path):
    doc = _documented()
    gap = precision_gap("bf16", data_root=str(tmp_path / "toy"))
    assert gap.n_images == 24
    assert gap.max_abs_cam > 1e-3  # bf16 ran (fp32 rounding differences are ~1e-6)
    for measured, stated in (
        (gap.max_abs_cam, doc["cam"]),
        (gap.max_abs_refined, doc["refined"]),
        (gap.mean_abs_refined, doc["mean"]),
    ):
        # A max over 24 images: other CPUs' bf16 kernels (AVX-512 BF16, AVX2, none) move it
        # both ways; without ATen's vector kernels the refined max is 0.4x the stated one.
        assert stated / 4 <= measured <= stated * 2, (measured, stated)
    assert abs(gap.crf_agreement - doc["agree"]) <= 0.003, (gap.crf_agreement, doc["agree"])
