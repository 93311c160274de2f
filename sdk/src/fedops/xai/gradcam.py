"""Grad-CAM explanations with pytorch-grad-cam: one overlay image per class.

For every class, ``samples_per_class`` validation records of that class are explained in
one batch; the overlays are placed side by side in ``gradcam_class_<label>.jpg``. The model's
train/eval mode is restored and every hook removed afterwards.

Each image also gets a faithfulness score, "confidence kept" (:func:`confidence_kept`): per
sample, the model's softmax probability of the explained class on the image multiplied by
its map, divided by that on the image, clipped to [0, 1]; the mean over the class's
samples. 1.0: the highlighted regions alone keep all the model's confidence (the map holds
what drives the decision); near 0: without the rest of the image the model no longer sees
the class (the map misses it). Unlike a raw logit change it reads the same for any model.
"""

from __future__ import annotations

import io
import operator
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

__all__ = ["METHODS", "Explanation", "confidence_kept", "explain_classes", "resolve_target_layer"]

METHODS = {
    "gradcam": "GradCAM",
    "gradcam++": "GradCAMPlusPlus",
    "hirescam": "HiResCAM",
    "gradcamelementwise": "GradCAMElementWise",
    "xgradcam": "XGradCAM",
    "layercam": "LayerCAM",
    "eigencam": "EigenCAM",
    "eigengradcam": "EigenGradCAM",
    "scorecam": "ScoreCAM",
    "ablationcam": "AblationCAM",
    "fullgrad": "FullGrad",
}


@dataclass(frozen=True)
class Explanation:
    class_label: int
    path: Path
    jpeg: bytes
    samples: int
    faithfulness: float  # confidence kept, in [0, 1], averaged over the class's samples


def resolve_target_layer(model: nn.Module, target: str | int) -> nn.Module:
    """An attribute path such as ``conv2`` / ``features.3``, or an index among conv layers."""
    if isinstance(target, int) or (isinstance(target, str) and target.lstrip("-").isdigit()):
        convolutions = [m for m in model.modules() if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d))]
        if not convolutions:
            raise ValueError("the model has no convolution layer to explain")
        index = int(target)
        if not -len(convolutions) <= index < len(convolutions):
            raise ValueError(
                f"target_layer {index} is out of range: the model has {len(convolutions)} conv layers"
            )
        return convolutions[index]
    try:
        layer = operator.attrgetter(target)(model)
    except AttributeError:
        names = ", ".join(name for name, _ in model.named_modules() if name) or "none"
        raise ValueError(f"the model has no layer {target!r}; its layers: {names}") from None
    if not isinstance(layer, nn.Module):
        raise ValueError(f"{target!r} is not a layer of the model")
    return layer


def _samples_by_class(batches: Iterable[Any], classes: int, per_class: int) -> dict[int, torch.Tensor]:
    found: dict[int, list[torch.Tensor]] = {c: [] for c in range(classes)}
    for images, labels in batches:
        for image, label in zip(images, labels, strict=True):
            bucket = found.get(int(label))
            if bucket is not None and len(bucket) < per_class:
                bucket.append(image)
        if all(len(bucket) == per_class for bucket in found.values()):
            break
    return {c: torch.stack(images) for c, images in found.items() if images}


def confidence_kept(model: nn.Module, images: torch.Tensor, maps: np.ndarray, label: int) -> np.ndarray:
    """Per sample, p(label | image x map) / p(label | image), clipped to [0, 1].

    ``maps`` are the explanations (B x H x W, values in [0, 1], at the input's resolution);
    each multiplies every channel of its image. Two forward passes without gradients, in the
    model's current mode (the CAM put it in eval mode).
    """
    with torch.no_grad():
        masks = torch.as_tensor(maps, dtype=images.dtype, device=images.device).unsqueeze(1)
        before = torch.softmax(model(images), dim=1)[:, label]
        after = torch.softmax(model(images * masks), dim=1)[:, label]
        # A probability of exactly 0 before (underflow) would divide by zero: nothing to keep.
        kept = torch.where(before > 0, after / before.clamp_min(torch.finfo(before.dtype).tiny), 0.0)
    return kept.clamp(0.0, 1.0).cpu().numpy().astype(np.float64)


def _as_rgb(images: torch.Tensor) -> np.ndarray:
    """B x C x H x W tensors as B x H x W x 3 floats in [0, 1], for the overlay."""
    array = images.detach().cpu().numpy().astype(np.float32)
    low = array.min(axis=(1, 2, 3), keepdims=True)
    high = array.max(axis=(1, 2, 3), keepdims=True)
    array = (array - low) / np.maximum(high - low, 1e-8)
    array = np.transpose(array, (0, 2, 3, 1))
    if array.shape[-1] == 1:
        array = np.repeat(array, 3, axis=-1)
    return array[..., :3]


def _jpeg(tiles: list[np.ndarray], scale: int) -> bytes:
    strip = np.concatenate(tiles, axis=1)
    image = Image.fromarray(strip)
    if scale > 1:  # 28 x 28 digits are too small to look at
        image = image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def explain_classes(
    model: nn.Module,
    batches: Iterable[Any],
    *,
    num_classes: int,
    output_dir: Path,
    method: str = "gradcam",
    target_layer: str | int = -1,
    samples_per_class: int = 1,
) -> list[Explanation]:
    """Explain ``samples_per_class`` records of every class found in ``batches``."""
    import pytorch_grad_cam
    from pytorch_grad_cam.utils.image import show_cam_on_image
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    if method not in METHODS:
        raise ValueError(f"unknown XAI method {method!r}; use one of {', '.join(METHODS)}")
    layer = resolve_target_layer(model, target_layer)
    samples = _samples_by_class(batches, num_classes, samples_per_class)
    output_dir.mkdir(parents=True, exist_ok=True)
    was_training = model.training
    cam_class = getattr(pytorch_grad_cam, METHODS[method])
    explanations: list[Explanation] = []
    try:
        with cam_class(model=model, target_layers=[layer]) as cam:  # `with`: hooks are removed
            for label, images in sorted(samples.items()):
                targets = [ClassifierOutputTarget(label)] * len(images)
                maps = cam(input_tensor=images, targets=targets)
                scores = confidence_kept(model, images, maps, label)
                rgb = _as_rgb(images)
                tiles = [show_cam_on_image(rgb[i], maps[i], use_rgb=True) for i in range(len(images))]
                scale = max(1, 112 // max(1, rgb.shape[1]))
                content = _jpeg(tiles, scale)
                path = output_dir / f"gradcam_class_{label}.jpg"
                path.write_bytes(content)
                explanations.append(Explanation(label, path, content, len(images), float(np.mean(scores))))
    finally:
        model.train(was_training)
    return explanations
