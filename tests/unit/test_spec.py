"""The task spec: what it accepts, and the messages for what it refuses."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from pydantic import ValidationError

from fedops.spec import STRATEGY_NAMES, TaskSpec, strategy_parameters


def _errors(document: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        TaskSpec.model_validate(document)
    return {".".join(str(p) for p in e["loc"]): e["msg"] for e in caught.value.errors()}


def test_defaults_make_a_complete_spec() -> None:
    spec = TaskSpec(name="mnist")

    assert spec.strategy.name == "FedAvg"
    assert spec.resources.cpu == "1" and spec.resources.memory == "2Gi" and spec.resources.gpu == 0
    assert spec.xai.enabled is False and spec.xai.method == "gradcam"


def test_round_trip_through_json_keeps_every_field() -> None:
    spec = TaskSpec.model_validate(
        {
            "name": "fedprox-xai",
            "strategy": {"name": "FedProx", "params": {"proximal_mu": 0.1}},
            "xai": {"enabled": True, "method": "gradcam++", "target_layer": "conv2", "samples_per_class": 2},
            "resources": {"cpu": "500m", "memory": "1Gi", "gpu": "1"},
        }
    )

    assert TaskSpec.model_validate(spec.to_document()) == spec
    assert spec.resources.gpu == 1


@pytest.mark.parametrize("name", ["Upper", "has_underscore", "-dash-first", "dash-last-", "x" * 49, ""])
def test_name_must_be_a_short_dns_label(name: str) -> None:
    assert "name" in _errors({"name": name})


@pytest.mark.parametrize("gpu", ["0.5", 0.5, "one", -1, True])
def test_gpu_must_be_a_whole_number(gpu: object) -> None:
    errors = _errors({"name": "t", "resources": {"gpu": gpu}})

    assert "resources.gpu" in errors


@pytest.mark.parametrize(
    ("field", "value"), [("cpu", "lots"), ("cpu", "0"), ("memory", "2GB"), ("memory", "0.5")]
)
def test_quantities_are_checked(field: str, value: str) -> None:
    assert f"resources.{field}" in _errors({"name": "t", "resources": {field: value}})


def test_negative_rounds_are_refused() -> None:
    assert "rounds" in _errors({"name": "t", "rounds": -1})


def test_unknown_keys_are_refused_not_ignored() -> None:
    assert "training.epoch" in _errors({"name": "t", "training": {"epoch": 3}})


def test_unknown_strategy_names_the_field() -> None:
    assert "strategy.name" in _errors({"name": "t", "strategy": {"name": "FedMagic"}})


def test_parameter_of_another_strategy_is_refused_with_the_accepted_list() -> None:
    errors = _errors({"name": "t", "strategy": {"name": "FedAvg", "params": {"proximal_mu": 0.1}}})

    assert "FedAvg does not accept parameter 'proximal_mu'" in errors["strategy.params"]


def test_client_selection_parameters_point_to_the_clients_section() -> None:
    errors = _errors({"name": "t", "strategy": {"name": "FedAvg", "params": {"min_train_nodes": 3}}})

    assert "clients.min_train" in errors["strategy.params"]


def test_parameter_types_follow_the_constructor() -> None:
    errors = _errors({"name": "t", "strategy": {"name": "Krum", "params": {"num_malicious_nodes": 1.5}}})

    assert "whole number" in errors["strategy.params"]


def test_required_constructor_parameters_are_required() -> None:
    errors = _errors({"name": "t", "strategy": {"name": "QFedAvg"}})

    assert "client_learning_rate" in errors["strategy.params"]


def test_min_train_cannot_exceed_min_available() -> None:
    assert "clients" in _errors({"name": "t", "clients": {"min_train": 3, "min_available": 2}})


@pytest.mark.parametrize("strategy", STRATEGY_NAMES)
def test_every_accepted_parameter_is_a_real_constructor_keyword(strategy: str) -> None:
    from flwr.serverapp import strategy as flwr_strategies

    real = inspect.signature(getattr(flwr_strategies, strategy).__init__).parameters
    accepted = strategy_parameters(strategy)

    for name, parameter in accepted.items():
        assert name in real
        if not parameter.required:
            assert real[name].default == parameter.default
    params = {name: p.default if not p.required else 0.1 for name, p in accepted.items()}
    spec = TaskSpec.model_validate({"name": "t", "strategy": {"name": strategy, "params": params}})
    assert set(spec.strategy.params) == set(accepted)


@pytest.mark.parametrize("replicas", [2, 16])
def test_more_than_one_replica_is_refused_with_the_reason(replicas: int) -> None:
    errors = _errors({"name": "mnist", "resources": {"replicas": replicas}})

    message = errors["resources.replicas"]
    assert "at most 1 replica" in message and "ReadWriteOnce" in message and "cpu, memory and gpu" in message
    assert TaskSpec.model_validate({"name": "mnist", "resources": {"replicas": 0}}).resources.replicas == 0


def test_a_seed_the_clients_cannot_use_is_refused() -> None:
    assert (
        TaskSpec.model_validate({"name": "seeded", "training": {"seed": 2**32 - 1}}).training.seed
        == 2**32 - 1
    )
    with pytest.raises(ValidationError, match="less than or equal"):
        TaskSpec.model_validate({"name": "seeded", "training": {"seed": 2**32}})
