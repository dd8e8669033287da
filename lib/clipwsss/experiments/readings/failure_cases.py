"""Reading of notebook 20 (failure cases: small objects and occlusion)."""

from __future__ import annotations

from clipwsss.experiments.intervals import Interval


def reading(
    *,
    profile: str,
    n_images: int,
    miou: float,
    size: Interval,
    n_small: int,
    small_miou: float,
    rest_miou: float,
    gap: Interval,
    occlusion: Interval | None = None,
    objects: Interval | None = None,
    one_object_size: Interval | None = None,
) -> str:
    """The paragraph of the ``## Reading``.

    Args:
        profile: the profile's name.
        n_images: images scored; ``miou`` their pooled mIoU (%).
        size: Spearman's rho of per-image mIoU with the smallest object's size.
        n_small: images with the smallest objects; ``small_miou`` and ``rest_miou`` the pooled
            mIoU of that group and of the rest, ``gap`` their difference.
        occlusion, objects: rho with the occluded share and with the number of objects (the toy
            world's exact scenes; None where no scene geometry is known).
        one_object_size: rho with the size on the one-object images.

    Returns:
        The paragraph (``nbk.reading`` joins its lines).
    """

    def rho(r: Interval) -> str:
        return r.text(digits=2)

    text = f"""
Per-image mIoU of the official CLIP-ES on the {profile} profile ({n_images} images,
pooled {miou:.1f} %) against the size of the smallest object: Spearman
rho {rho(size)}. The {n_small} images with the smallest objects reach
{small_miou:.1f} % against {rest_miou:.1f} % for the rest, a gap of
{gap.text()}."""
    if occlusion is not None and objects is not None and one_object_size is not None:
        verdict = (
            "bears out"
            if one_object_size.low > 0 and occlusion.high < 0
            else "does not fully bear out"
        )
        text += f""" Occlusion and overlap (the share of an object's box covered by other
objects) correlate with per-image mIoU by rho {rho(occlusion)}, and the number of objects by
{rho(objects)}. The three measures are confounded (more objects means smaller and more
often covered ones); on the images with one object, where nothing occludes, size alone gives
rho {rho(one_object_size)}. So the toy world {verdict} the paper's reading of its bad cases
(small objects and occlusion), which the paper shows only as pictures."""
    return text
