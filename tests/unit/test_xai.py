"""Grad-CAM generation on the MNIST example model: files, scores, no side effects."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from fedops.xai import confidence_kept, explain_classes, resolve_target_layer
from fedops_services.artifacts import sniff_image_type

EXAMPLE = Path(__file__).resolve().parents[2] / "clients" / "mnist-xai"


@pytest.fixture(scope="module")
def example() -> Iterator[Any]:
    sys.path.insert(0, str(EXAMPLE))
    try:
        import models

        yield models
    finally:
        sys.path.remove(str(EXAMPLE))


def _digits(channels: int = 1, classes: int = 10, per_class: int = 3) -> DataLoader[Any]:
    torch.manual_seed(0)
    images = torch.rand(classes * per_class, channels, 28, 28)
    labels = torch.arange(classes).repeat_interleave(per_class)
    return DataLoader(TensorDataset(images, labels), batch_size=8)


@pytest.mark.parametrize("method", ["gradcam", "gradcam++", "hirescam", "xgradcam", "layercam", "eigencam"])
def test_one_image_per_class_with_a_score(example: Any, tmp_path: Path, method: str) -> None:
    model = example.MNISTClassifier()
    model.train()

    explanations = explain_classes(
        model, _digits(), num_classes=10, output_dir=tmp_path, method=method, target_layer="conv2",
        samples_per_class=2,
    )  # fmt: skip

    assert [e.class_label for e in explanations] == list(range(10))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"gradcam_class_{c}.jpg" for c in range(10))
    assert all(sniff_image_type(e.jpeg) == "image/jpeg" and e.samples == 2 for e in explanations)
    assert all(0.0 <= e.faithfulness <= 1.0 for e in explanations)  # confidence kept, a share
    assert model.training  # mode restored
    assert not any(m._forward_hooks or m._backward_hooks for m in model.modules())  # hooks removed


def test_three_channel_input(tmp_path: Path) -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3), nn.ReLU(), nn.Flatten(),
                          nn.Linear(4 * 24 * 24, 5))  # fmt: skip
    model.eval()

    explanations = explain_classes(model, _digits(channels=3, classes=5), num_classes=5, output_dir=tmp_path)

    assert len(explanations) == 5 and not model.training


def test_target_layers_by_name_or_conv_index(example: Any) -> None:
    model = example.MNISTClassifier()

    assert resolve_target_layer(model, "conv2") is model.conv2
    assert resolve_target_layer(model, -1) is model.conv2
    assert resolve_target_layer(model, 0) is model.conv1
    with pytest.raises(ValueError, match="conv3"):
        resolve_target_layer(model, "conv3")
    with pytest.raises(ValueError, match="out of range"):
        resolve_target_layer(model, 5)


class _CornerDetector(nn.Module):
    """Two classes decided by the top-left 4 x 4 corner alone: class 0's logit is the corner's
    sum minus 8, class 1's is 0. An image with a bright corner is class 0 with p ~ 1; without
    that corner, p(class 0) ~ 0.0003, whatever the rest of the image holds."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        corner = images[:, 0, :4, :4].sum(dim=(1, 2))
        return torch.stack([corner - 8.0, torch.zeros_like(corner)], dim=1)


def test_confidence_kept_is_near_1_when_the_map_holds_the_evidence_and_near_0_when_it_misses() -> None:
    images = torch.ones(3, 1, 8, 8)  # a bright corner (and bright elsewhere: evidence it ignores)
    on_corner = np.zeros((3, 8, 8), dtype=np.float32)
    on_corner[:, :4, :4] = 1.0
    elsewhere = 1.0 - on_corner
    half = on_corner * 0.75  # keeps three quarters of the corner's evidence

    model = _CornerDetector()
    held = confidence_kept(model, images, on_corner, 0)
    missed = confidence_kept(model, images, elsewhere, 0)
    partial = confidence_kept(model, images, half, 0)

    assert held.shape == (3,) and np.all(held > 0.99) and np.all(held <= 1.0)
    assert np.all(missed < 0.01) and np.all(missed >= 0.0)
    assert np.all((partial > missed) & (partial < held))
    # The other class gains confidence without the corner: more than the whole image gave it,
    # which is clipped to 1 (the map cannot keep more than all).
    assert np.all(confidence_kept(model, images, elsewhere, 1) == 1.0)
