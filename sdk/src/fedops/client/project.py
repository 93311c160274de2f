"""A FedOps-style client project: what the user brings, loaded once per client process.

Layout (as FedOps users have it today)::

    conf/config.yaml        settings (learning_rate, batch_size, model._target_, ...)
    models.py               the nn.Module and the factories train_torch() / test_torch()
    data_preparation.py     load_partition(dataset, validation_split, batch_size, **node)

The same contract is available without files: build a :class:`Registration` yourself
(FedOps' ``registration`` dict has the same keys) and pass it to ``FLClientTask``.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fedops.client.config import Config, load_config

__all__ = ["Registration", "load_project", "node_partition_kwargs", "registration_from_mapping"]

TrainFn = Callable[..., Any]  # (model, train_loader, epochs, cfg) -> model
TestFn = Callable[..., tuple[float, float, dict[str, float]]]  # (model, loader, cfg) -> loss, acc, metrics


@dataclass
class Registration:
    """Everything the platform needs from user code to train and evaluate."""

    train_loader: Any
    val_loader: Any
    test_loader: Any
    model: Any
    model_name: str
    train_torch: TrainFn
    test_torch: TestFn


def registration_from_mapping(values: Mapping[str, Any]) -> Registration:
    """FedOps' ``registration`` dict as a Registration, naming any missing key."""
    required = ("train_loader", "val_loader", "test_loader", "model", "train_torch", "test_torch")
    missing = [key for key in required if key not in values]
    if missing:
        raise ValueError(f"registration is missing {', '.join(missing)}")
    return Registration(
        train_loader=values["train_loader"],
        val_loader=values["val_loader"],
        test_loader=values["test_loader"],
        model=values["model"],
        model_name=str(values.get("model_name", type(values["model"]).__name__)),
        train_torch=values["train_torch"],
        test_torch=values["test_torch"],
    )


def node_partition_kwargs(function: Callable[..., Any], node_config: Mapping[str, Any]) -> dict[str, Any]:
    """Node-config entries (``partition-id`` -> ``partition_id``) the function accepts."""
    parameters = inspect.signature(function).parameters
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    kwargs = {}
    for key, value in node_config.items():
        name = key.replace("-", "_")
        if accepts_any or name in parameters:
            kwargs[name] = value
    return kwargs


def _instantiate(target: str, module: Any, output_size: int | None) -> Any:
    """``models.MNISTClassifier`` (FedOps' ``model._target_``) from the project's models module."""
    attribute = target.rsplit(".", 1)[-1]
    factory = getattr(module, attribute, None)
    if factory is None:
        raise ValueError(f"models.py has no {attribute!r} (model target {target!r})")
    accepts_size = "output_size" in inspect.signature(factory).parameters
    return factory(output_size=output_size) if accepts_size and output_size is not None else factory()


def load_project(
    root: Path, *, overrides: Mapping[str, Any] | None = None, node_config: Mapping[str, Any] | None = None
) -> tuple[Config, Registration]:
    """Load config, model and data of the project in ``root``.

    ``overrides`` (from the task spec) win over ``conf/config.yaml``: the registry is the
    source of truth for training settings.
    """
    root = root.resolve()
    config_path = root / "conf" / "config.yaml"
    if not config_path.is_file():
        raise FileNotFoundError(f"{config_path} not found: is {root} a FedOps-style project?")
    cfg = load_config(config_path).merged(overrides or {})
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    models = importlib.import_module("models")
    data = importlib.import_module("data_preparation")
    model_cfg = cfg.get("model") or Config({})
    target = str(model_cfg.get("_target_", "models.Model"))
    model = _instantiate(target, models, model_cfg.get("output_size"))
    dataset = cfg.get("dataset") or Config({})
    load_partition = data.load_partition
    loaders = load_partition(
        dataset.get("name", ""),
        float(dataset.get("validation_split", 0.2)),
        int(cfg.get("batch_size", 32)),
        **node_partition_kwargs(load_partition, node_config or {}),
    )
    train_loader, val_loader, test_loader = loaders
    registration = Registration(
        train_loader=train_loader,
        val_loader=val_loader,
        test_loader=test_loader,
        model=model,
        model_name=type(model).__name__,
        train_torch=models.train_torch(),
        test_torch=models.test_torch(),
    )
    return cfg, registration
