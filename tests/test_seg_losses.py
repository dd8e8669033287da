"""DeepLab losses: CGL (Eq. 9) against CE, balanced CE on a hand-made batch."""

import math

import pytest
import torch
import torch.nn.functional as F

from clipwsss.seg import balanced_cross_entropy, segmentation_loss


@pytest.fixture
def batch():
    torch.manual_seed(0)
    logits = torch.randn(2, 4, 6, 6)
    target = torch.randint(0, 4, (2, 6, 6))
    target[0, 0, :3] = 255
    conf = torch.rand(2, 6, 6)
    return logits, target, conf


def test_cgl_at_mu_0_is_plain_ce(batch):
    logits, target, conf = batch
    expected = F.cross_entropy(logits, target, ignore_index=255)
    torch.testing.assert_close(
        segmentation_loss(logits, target, conf, kind="cgl", mu=0.0), expected
    )
    torch.testing.assert_close(segmentation_loss(logits, target, conf, kind="ce"), expected)


def test_cgl_ignores_low_confidence_pixels(batch):
    logits, target, conf = batch
    loss = segmentation_loss(logits, target, conf, kind="cgl", mu=0.6)
    low = (conf < 0.6)[:, None].expand_as(logits)
    changed = logits.masked_fill(low, 50.0)  # anything at the ignored pixels
    torch.testing.assert_close(segmentation_loss(changed, target, conf, kind="cgl", mu=0.6), loss)
    masked = target.masked_fill(conf < 0.6, 255)
    torch.testing.assert_close(loss, F.cross_entropy(logits, masked, ignore_index=255))
    assert not torch.allclose(loss, F.cross_entropy(logits, target, ignore_index=255))


def test_balanced_ce_on_a_hand_made_batch():
    # 4 pixels: three background, one foreground (class 2), one ignored.
    logits = torch.zeros(1, 3, 1, 5)
    logits[0, 0, 0, 0] = math.log(2.0)  # p(bg) = 2 / 4 at pixel 0
    target = torch.tensor([[[0, 0, 0, 2, 255]]])
    ce = [-math.log(0.5), math.log(3.0), math.log(3.0)]  # the three bg pixels
    expected = 0.5 * (sum(ce) / 3) + 0.5 * math.log(3.0)  # fg pixel: uniform -> log 3
    assert balanced_cross_entropy(logits, target).item() == pytest.approx(expected, rel=1e-6)
    plain = F.cross_entropy(logits, target, ignore_index=255).item()
    assert plain == pytest.approx((sum(ce) + math.log(3.0)) / 4, rel=1e-6)
    assert plain != pytest.approx(expected)


def test_balanced_ce_without_foreground_is_finite():
    logits = torch.randn(1, 3, 4, 4)
    target = torch.zeros(1, 4, 4, dtype=torch.long)
    torch.testing.assert_close(
        balanced_cross_entropy(logits, target), F.cross_entropy(logits, target)
    )
    empty = torch.full((1, 4, 4), 255)
    assert balanced_cross_entropy(logits, empty).item() == 0.0


def test_labels_are_shrunk_to_the_logits():
    logits = torch.randn(1, 3, 4, 4)
    target = torch.arange(3).repeat_interleave(22)[:64].reshape(1, 8, 8) % 3
    small = target[:, 1::2, 1::2]  # pixel centres (PIL NEAREST = torch nearest-exact)
    torch.testing.assert_close(
        segmentation_loss(logits, target, kind="ce"), F.cross_entropy(logits, small)
    )
    with pytest.raises(ValueError, match="loss kind"):
        segmentation_loss(logits, target, kind="dice")


def test_logits_can_be_upsampled_to_the_labels_instead():
    logits = torch.randn(1, 3, 4, 4)
    target = torch.randint(0, 3, (1, 8, 8))
    up = F.interpolate(logits, size=(8, 8), mode="bilinear", align_corners=False)
    torch.testing.assert_close(
        segmentation_loss(logits, target, kind="ce", resize="logits"), F.cross_entropy(up, target)
    )
