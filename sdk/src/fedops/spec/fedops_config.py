"""Convert a FedOps ``conf/config.yaml`` (Hydra style) into a task spec.

FedOps users already have such files. Every key is either mapped to the spec, or
reported with a reason; nothing is dropped silently. Keys that make a spec impossible
(an unknown strategy, an invalid value) raise :class:`FedopsConfigError` listing all of
them at once, so a person fixes the file in one pass.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from fedops.spec.strategies import STRATEGY_NAMES
from fedops.spec.task import TaskSpec

__all__ = [
    "Conversion",
    "ConversionNote",
    "FedopsConfigError",
    "convert_fedops_config",
    "resolve_interpolations",
]

_INTERPOLATION = re.compile(r"^\$\{([A-Za-z0-9_.]+)\}$")

# Top-level scalar keys: FedOps name -> spec path.
_DIRECT = {
    "task_id": "name",
    "random_seed": "training.seed",
    "learning_rate": "training.learning_rate",
    "num_epochs": "training.epochs",
    "batch_size": "training.batch_size",
    "num_rounds": "rounds",
    "clients_per_round": "clients.min_train",
    "model._target_": "model.target",
    "model.output_size": "model.output_size",
    "dataset.name": "dataset.name",
    "dataset.validation_split": "dataset.validation_split",
    "server.strategy.fraction_fit": "clients.fraction_train",
    "server.strategy.fraction_evaluate": "clients.fraction_evaluate",
    "server.strategy.min_fit_clients": "clients.min_train",
    "server.strategy.min_available_clients": "clients.min_available",
    "server.strategy.min_evaluate_clients": "clients.min_evaluate",
    "xai.enabled": "xai.enabled",
    "xai.run_location": "xai.run_location",
    "xai.output_dir": "xai.output_dir",
    "xai.save_dir": "xai.output_dir",
    "xai.target_layer_index": "xai.target_layer",
    "xai.layer": "xai.target_layer",
    "xai.method": "xai.method",
    "xai.samples_per_class": "xai.samples_per_class",
}
# Legacy `flwr.server.strategy` keyword -> `flwr.serverapp.strategy` keyword.
_RENAMED_STRATEGY_PARAMS = {
    "num_malicious_clients": "num_malicious_nodes",
    "q_param": "q",
    "qffl_learning_rate": "client_learning_rate",
}
_IGNORED_WITH_REASON = {
    "model_type": "fedops clients run PyTorch models; the key is not needed",
    "wandb": "fedops records metrics itself (monitoring API, Prometheus); keep API keys out of config files",
}


@dataclass(frozen=True)
class ConversionNote:
    """A key of the FedOps file and what became of it."""

    key: str
    message: str


@dataclass
class Conversion:
    spec: TaskSpec
    notes: list[ConversionNote] = field(default_factory=list)


class FedopsConfigError(ValueError):
    """The file cannot become a spec; ``problems`` names every offending key."""

    def __init__(self, problems: list[ConversionNote]) -> None:
        self.problems = problems
        lines = "\n".join(f"  {p.key}: {p.message}" for p in problems)
        super().__init__(f"the FedOps config cannot be converted:\n{lines}")


def _flatten(doc: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in doc.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and path != "server.strategy.params":
            flat.update(_flatten(value, f"{path}."))
        else:
            flat[path] = value
    return flat


def _resolve(flat: dict[str, Any], value: Any, seen: tuple[str, ...] = ()) -> Any:
    """Resolve Hydra's simple ``${other.key}`` interpolation, which FedOps files use."""
    if not isinstance(value, str):
        return value
    match = _INTERPOLATION.match(value.strip())
    if match is None:
        return value
    target = match.group(1)
    if target in seen or target not in flat:
        raise KeyError(target)
    return _resolve(flat, flat[target], (*seen, target))


def resolve_interpolations(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The document with every ``${other.key}`` value replaced by what it refers to.

    Raises
    ------
    KeyError
        An interpolation names a key the document does not have (or a cycle).
    """
    flat = _flatten(doc)

    def walk(node: Mapping[str, Any], prefix: str) -> dict[str, Any]:
        resolved: dict[str, Any] = {}
        for key, value in node.items():
            path = f"{prefix}{key}"
            resolved[key] = walk(value, f"{path}.") if isinstance(value, Mapping) else _resolve(flat, value)
        return resolved

    return walk(doc, "")


def _assign(tree: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for part in parents:
        tree = tree.setdefault(part, {})
    tree[leaf] = value


def _strategy_name(target: Any) -> str | None:
    if not isinstance(target, str):
        return None
    short = target.rsplit(".", 1)[-1]
    return short if short in STRATEGY_NAMES else None


def convert_fedops_config(doc: Mapping[str, Any], *, name: str | None = None) -> Conversion:
    """Build a :class:`TaskSpec` from a parsed FedOps ``config.yaml``.

    ``name`` overrides ``task_id`` (FedOps task ids are often not DNS-1123 labels).
    """
    flat = _flatten(doc)
    tree: dict[str, Any] = {}
    notes: list[ConversionNote] = []
    problems: list[ConversionNote] = []
    strategy_params: dict[str, Any] = {}

    for key, raw in flat.items():
        try:
            value = _resolve(flat, raw)
        except KeyError as missing:
            problems.append(ConversionNote(key, f"interpolation refers to unknown key {missing}"))
            continue
        top = key.split(".", 1)[0]
        if top in _IGNORED_WITH_REASON:
            if not key.endswith(".key"):  # never echo a secret, not even its presence
                notes.append(ConversionNote(key, f"not mapped: {_IGNORED_WITH_REASON[top]}"))
            continue
        if key in _DIRECT:
            _assign(tree, _DIRECT[key], value)
        elif key == "server.strategy._target_":
            strategy = _strategy_name(value)
            if strategy is None:
                problems.append(
                    ConversionNote(
                        key,
                        f"{value!r} is not a supported strategy; use one of {', '.join(STRATEGY_NAMES)}",
                    )
                )
            else:
                _assign(tree, "strategy.name", strategy)
        elif key.startswith("server.strategy."):
            param = key.removeprefix("server.strategy.")
            strategy_params[_RENAMED_STRATEGY_PARAMS.get(param, param)] = value
        else:
            notes.append(ConversionNote(key, "not mapped: fedops has no such setting"))

    if name is not None:
        tree["name"] = name
    if "name" not in tree:
        problems.append(ConversionNote("task_id", "missing; add task_id or pass a name"))
    if "clients" in tree and "min_available" not in tree["clients"] and "min_train" in tree["clients"]:
        tree["clients"]["min_available"] = tree["clients"]["min_train"]
    if strategy_params:
        tree.setdefault("strategy", {})["params"] = strategy_params
    if problems:
        raise FedopsConfigError(problems)

    try:
        spec = TaskSpec.model_validate(tree)
    except ValidationError as exc:
        raise FedopsConfigError(
            [
                ConversionNote(_source_key(".".join(str(p) for p in err["loc"])), err["msg"])
                for err in exc.errors()
            ]
        ) from None
    return Conversion(spec=spec, notes=notes)


def _source_key(spec_path: str) -> str:
    """Name the FedOps key behind a spec path, so errors point into the user's file."""
    for source, target in _DIRECT.items():
        if target == spec_path:
            return source
    if spec_path.startswith("strategy.params"):
        return "server.strategy"
    return spec_path
