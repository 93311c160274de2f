"""Grad-CAM generation on the MNIST example model: files, scores, no side effects."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from fedops.xai import explain_classes, resolve_target_layer
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
    assert all(isinstance(e.faithfulness, float) for e in explanations)
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
