"""Tests for clipwsss.sharpness (CLIP-ES Eq. 5)."""

import pytest
import torch

from clipwsss.cams.sharpness import sharpness


def test_hand_computed_example():
    # var: (0.04, 0) -> 0.04 (population variance); means: (0.4, 0.5) -> 0.9
    value = sharpness([torch.tensor([0.2, 0.6]), torch.tensor([0.5])])
    assert isinstance(value, float)
    assert value == pytest.approx(0.04 / 0.9, rel=1e-6)  # float32 inputs


def test_three_classes_population_variance():
    s = torch.tensor([0.1, 0.2, 0.6])
    var = ((s - s.mean()) ** 2).mean()
    assert sharpness([s]) == pytest.approx(float(var / s.mean()), rel=1e-6)


def test_single_class_images_give_zero_and_equal_scores_give_zero():
    assert sharpness([torch.tensor([0.7]), torch.tensor([0.3])]) == 0.0
    assert sharpness([torch.tensor([0.25, 0.25, 0.25])]) == 0.0


def test_lower_when_scores_are_spread():
    peaked = sharpness([torch.tensor([0.9, 0.05])])
    spread = sharpness([torch.tensor([0.5, 0.45])])
    assert spread < peaked


def test_errors():
    with pytest.raises(ValueError):
        sharpness([])
    with pytest.raises(ValueError):
        sharpness([torch.tensor([0.0, 0.0])])


def test_numpy_and_list_scores_equal_tensor_scores():
    import numpy as np

    tensors = [torch.tensor([0.2, 0.6], dtype=torch.float64), torch.tensor([0.5])]
    arrays = [np.array([0.2, 0.6]), np.array([0.5], np.float16)]
    assert sharpness(arrays) == pytest.approx(sharpness(tensors), rel=1e-3)
    assert sharpness([[0.2, 0.6], [0.5]]) == pytest.approx(sharpness(tensors), rel=1e-12)
    with pytest.raises(ValueError, match="at least one"):
        sharpness([np.array([])])
