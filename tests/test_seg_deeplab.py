"""DeepLabV2 on the torchvision ResNet (``arch="torchvision"``, our option): ASPP, output stride
8, initialisation and its errors. The default Caffe network: tests/test_fidelity_deeplab.py."""

import pytest
import torch
from torchvision.models import resnet18

from clipwsss.clip.loading import WeightsNotFoundError
from clipwsss.seg import ASPP, DeepLabConfig, DeepLabV2, build_deeplab, dilated_resnet


def _random(**kw):
    cfg = DeepLabConfig(init="random", arch="torchvision", **kw)
    with pytest.warns(UserWarning, match="RANDOM"):
        return build_deeplab(cfg, allow_random=True)


def test_aspp_sums_four_dilated_branches():
    torch.manual_seed(0)
    aspp = ASPP(8, 5, rates=(6, 12, 18, 24))
    x = torch.randn(2, 8, 30, 30)
    assert [b.dilation for b in aspp.branches] == [(6, 6), (12, 12), (18, 18), (24, 24)]
    assert all(b.kernel_size == (3, 3) for b in aspp.branches)
    expected = sum(
        torch.nn.functional.conv2d(x, b.weight, b.bias, padding=r, dilation=r)
        for b, r in zip(aspp.branches, (6, 12, 18, 24), strict=True)
    )
    torch.testing.assert_close(aspp(x), expected)
    assert aspp(x).shape == (2, 5, 30, 30)


@pytest.mark.parametrize("name", ["resnet18", "resnet101"])
def test_output_stride_is_8(name):
    cfg = DeepLabConfig(backbone=name, init="random", n_classes=7, arch="torchvision")
    net = DeepLabV2(cfg).eval()
    with torch.no_grad():
        assert net(torch.randn(1, 3, 64, 64)).shape == (1, 7, 8, 8)
        assert net(torch.randn(1, 3, 65, 81)).shape == (1, 7, 9, 11)


def test_resnet101_is_dilated_like_torchvision():
    net = dilated_resnet("resnet101")
    assert net.layer3[1].conv2.dilation == (2, 2) and net.layer4[1].conv2.dilation == (4, 4)
    assert net.layer4[0].conv2.stride == (1, 1)


def test_random_init_needs_opt_in_and_warns():
    with pytest.raises(ValueError, match="allow_random"):
        build_deeplab(DeepLabConfig(init="random"))
    _random(backbone="resnet18")


def test_missing_weights_file_is_a_clear_error(tmp_path):
    cfg = DeepLabConfig(backbone="resnet18", weights=str(tmp_path / "none.pth"), arch="torchvision")
    with pytest.raises(WeightsNotFoundError, match="none.pth"):
        build_deeplab(cfg)
    with pytest.raises(ValueError, match="weights"):
        DeepLabConfig(init="coco")


def test_local_imagenet_file_and_coco_deeplab_with_another_head(tmp_path):
    torch.manual_seed(1)
    ref = resnet18()
    torch.save(ref.state_dict(), tmp_path / "r18.pth")
    tv = {"arch": "torchvision"}
    net = build_deeplab(DeepLabConfig(backbone="resnet18", weights=str(tmp_path / "r18.pth"), **tv))
    torch.testing.assert_close(net.backbone.layer4[1].conv2.weight, ref.layer4[1].conv2.weight)
    coco = _random(backbone="resnet18", n_classes=81, freeze_bn=False)
    torch.save({"state_dict": coco.state_dict()}, tmp_path / "coco.pth")
    voc = build_deeplab(
        DeepLabConfig(
            backbone="resnet18", n_classes=21, init="coco", weights=str(tmp_path / "coco.pth"), **tv
        )
    )
    torch.testing.assert_close(voc.backbone.conv1.weight, coco.backbone.conv1.weight)
    assert voc.aspp.branches[0].weight.shape[0] == 21  # the 81-class head is not loaded
    with pytest.raises(ValueError, match="do not fit"):
        build_deeplab(DeepLabConfig(backbone="resnet50", weights=str(tmp_path / "r18.pth"), **tv))


def test_frozen_bn_stays_in_eval_mode():
    net = _random(backbone="resnet18", freeze_bn=True).train()
    bns = [m for m in net.backbone.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and not any(m.training for m in bns)
    assert not any(m.weight.requires_grad for m in bns)
    assert all(p.requires_grad for p in net.aspp.parameters())


@pytest.mark.parametrize(
    "build, kwargs, match",
    [
        ("augment", {"crop": 0}, "--crop"),
        ("augment", {"scales": (0.5, -1.0)}, "--scales"),
        ("augment", {"scales": ()}, "at least one"),
        ("augment", {"std": (0.2, 0.0, 0.2)}, "--std"),
        ("augment", {"resize": "bicubic"}, "resize"),
        ("infer", {"scales": (float("nan"),)}, "--scales"),
        ("infer", {"crf_image": "lab"}, "crf_image"),
        ("infer", {"normalization": "imagenet"}, "normalization"),
        ("model", {"head_std": 0.0}, "--head-std"),
        ("model", {"aspp_rates": (6, 0)}, "--aspp-rates"),
        ("model", {"msc_scales": (0.5, -0.75)}, "--msc-scales"),
        ("model", {"n_classes": 0}, "--n-classes"),
    ],
)
def test_seg_configs_refuse_out_of_range_values(build, kwargs, match):
    from clipwsss.seg.data import AugmentConfig
    from clipwsss.seg.infer import InferConfig

    config = {"augment": AugmentConfig, "infer": InferConfig, "model": DeepLabConfig}[build]
    with pytest.raises(ValueError, match=match):
        config(**kwargs)
