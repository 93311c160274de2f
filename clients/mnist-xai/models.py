"""The MNIST example's model and its training/evaluation functions (FedOps layout).

`train_torch()` and `test_torch()` are factories, as FedOps projects write them: the
platform calls the functions they return with the model, a data loader and the config.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader


class MNISTClassifier(nn.Module):
    """Two convolutions and two dense layers: small enough for CPU rounds in seconds."""

    def __init__(self, output_size: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, kernel_size=3)
        self.conv2 = nn.Conv2d(8, 16, kernel_size=3)
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(16 * 5 * 5, 64)
        self.fc2 = nn.Linear(64, output_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(torch.relu(self.conv1(x)))
        x = self.pool(torch.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        return self.fc2(torch.relu(self.fc1(x)))


def train_torch() -> Callable[..., nn.Module]:
    def custom_train_torch(
        model: nn.Module, train_loader: DataLoader[Any], epochs: int, cfg: Any
    ) -> nn.Module:
        optimizer = torch.optim.SGD(model.parameters(), lr=float(cfg.learning_rate), momentum=0.9)
        loss_fn = nn.CrossEntropyLoss()
        proximal_mu = float(getattr(cfg, "proximal_mu", 0.0) or 0.0)
        global_params = [p.detach().clone() for p in model.parameters()] if proximal_mu > 0 else []
        model.train()
        for _ in range(epochs):
            for images, labels in train_loader:
                optimizer.zero_grad()
                loss = loss_fn(model(images), labels)
                if proximal_mu > 0:  # FedProx: keep the local model near the global one
                    proximal = sum(
                        ((p - g) ** 2).sum() for p, g in zip(model.parameters(), global_params, strict=True)
                    )
                    loss = loss + proximal_mu / 2 * proximal
                loss.backward()
                optimizer.step()
        return model

    return custom_train_torch


def test_torch() -> Callable[..., tuple[float, float, dict[str, float]]]:
    def custom_test_torch(
        model: nn.Module, test_loader: DataLoader[Any], cfg: Any
    ) -> tuple[float, float, dict[str, float]]:
        loss_fn = nn.CrossEntropyLoss(reduction="sum")
        model.eval()
        total_loss, correct, count = 0.0, 0, 0
        with torch.no_grad():
            for images, labels in test_loader:
                outputs = model(images)
                total_loss += float(loss_fn(outputs, labels))
                correct += int((outputs.argmax(1) == labels).sum())
                count += len(labels)
        count = max(count, 1)
        return total_loss / count, correct / count, {"error_rate": 1 - correct / count}

    return custom_test_torch
