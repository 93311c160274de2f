"""Aggregation strategies a task may name, checked against Flower's real constructors.

FedOps' UI offered strategy parameters that did not match Flower's signatures, so runs
failed at start-up. Here the accepted parameters are read from the installed
``flwr.serverapp.strategy`` classes themselves, so the spec and the runtime cannot drift.
"""

from __future__ import annotations

import inspect
import types
import typing
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, get_args

__all__ = [
    "CLIENT_SELECTION_PARAMETERS",
    "STRATEGY_NAMES",
    "StrategyName",
    "StrategyParameter",
    "check_strategy_params",
    "strategy_parameters",
]

StrategyName = Literal[
    "FedAvg",
    "FedAvgM",
    "FedProx",
    "FedAdam",
    "FedYogi",
    "FedAdagrad",
    "FedMedian",
    "FedTrimmedAvg",
    "Krum",
    "MultiKrum",
    "Bulyan",
    "QFedAvg",
]
STRATEGY_NAMES: tuple[str, ...] = get_args(StrategyName)

# Set through the spec's `clients` section, so that one place says how many clients a
# round needs whatever the strategy.
CLIENT_SELECTION_PARAMETERS = {
    "fraction_train": "clients.fraction_train",
    "fraction_evaluate": "clients.fraction_evaluate",
    "min_train_nodes": "clients.min_train",
    "min_evaluate_nodes": "clients.min_evaluate",
    "min_available_nodes": "clients.min_available",
}
# Wiring between the ServerApp and the strategy, fixed by the fedops runtime.
_RUNTIME_OWNED = {"weighted_by_key", "arrayrecord_key", "configrecord_key", "train_loss_key"}

ParamValue = bool | int | float | str


@dataclass(frozen=True)
class StrategyParameter:
    """One keyword a strategy constructor accepts from a task spec."""

    name: str
    kind: type  # int, float, str or bool
    required: bool
    default: ParamValue | None


def _scalar_type(annotation: Any) -> type | None:
    """Map a constructor annotation to the scalar a spec may carry, or None (callables)."""
    if isinstance(annotation, str):  # postponed annotations
        annotation = {"int": int, "float": float, "str": str, "bool": bool}.get(annotation)
    if annotation in (int, float, str, bool):
        return typing.cast(type, annotation)
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        scalars = [_scalar_type(arg) for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(scalars) == 1:
            return scalars[0]
    return None


@cache
def strategy_parameters(name: str) -> dict[str, StrategyParameter]:
    """Keywords the named Flower strategy accepts from a spec, read from its signature."""
    from flwr.serverapp import strategy as flwr_strategies  # 0.4 s import: only when needed

    cls = getattr(flwr_strategies, name)
    accepted: dict[str, StrategyParameter] = {}
    for param in inspect.signature(cls.__init__).parameters.values():
        if param.name == "self" or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if param.name in CLIENT_SELECTION_PARAMETERS or param.name in _RUNTIME_OWNED:
            continue
        kind = _scalar_type(param.annotation)
        if kind is None:  # callables such as metric aggregators cannot come from YAML
            continue
        required = param.default is inspect.Parameter.empty
        accepted[param.name] = StrategyParameter(
            name=param.name,
            kind=kind,
            required=required,
            default=None if required else param.default,
        )
    return accepted


def _coerce(value: object, param: StrategyParameter, strategy: str) -> ParamValue:
    where = f"{strategy} parameter '{param.name}'"
    if param.kind is bool:
        if isinstance(value, bool):
            return value
        raise ValueError(f"{where} must be true or false, got {value!r}")
    if isinstance(value, bool):
        raise ValueError(f"{where} must be a {param.kind.__name__}, got a boolean")
    if param.kind is int:
        if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
            return int(value)
        raise ValueError(f"{where} must be a whole number, got {value!r}")
    if param.kind is float:
        if isinstance(value, (int, float)):
            return float(value)
        raise ValueError(f"{where} must be a number, got {value!r}")
    if isinstance(value, str):
        return value
    raise ValueError(f"{where} must be a string, got {value!r}")


def check_strategy_params(name: str, params: dict[str, Any]) -> dict[str, ParamValue]:
    """Return ``params`` coerced to the constructor's types, or raise ValueError naming the key."""
    accepted = strategy_parameters(name)
    checked: dict[str, ParamValue] = {}
    for key, value in params.items():
        if key in CLIENT_SELECTION_PARAMETERS:
            raise ValueError(
                f"'{key}' is set through {CLIENT_SELECTION_PARAMETERS[key]}, not strategy.params"
            )
        if key not in accepted:
            names = ", ".join(sorted(accepted)) or "none"
            raise ValueError(f"{name} does not accept parameter '{key}'; parameters it accepts: {names}")
        checked[key] = _coerce(value, accepted[key], name)
    missing = [p.name for p in accepted.values() if p.required and p.name not in checked]
    if missing:
        raise ValueError(f"{name} requires parameter(s) {', '.join(missing)} in strategy.params")
    return checked
