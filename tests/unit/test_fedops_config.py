"""FedOps conf/config.yaml -> task spec."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from fedops.spec import FedopsConfigError, convert_fedops_config

FEDOPS_CONFIG = """
random_seed: 42
learning_rate: 0.001
model_type: 'Pytorch'
model:
  _target_: models.MNISTClassifier
  output_size: 10
dataset:
  name: 'MNIST'
  validation_split: 0.2
task_id: 'mnist-xai'
wandb:
  use: false
  key: 'your wandb api key'
  account: 'your wandb account'
  project: '${dataset.name}_${task_id}'
num_epochs: 1
batch_size: 128
num_rounds: 2
clients_per_round: 2
server:
  strategy:
    _target_: flwr.server.strategy.FedAvg
    fraction_fit: 0.00001
    fraction_evaluate: 0.000001
    min_fit_clients: ${clients_per_round}
    min_available_clients: ${clients_per_round}
    min_evaluate_clients: ${clients_per_round}
xai:
  enabled: true
  run_location: client
  target_layer_index: -1
  output_dir: outputs/gradcam
"""


def _config(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(FEDOPS_CONFIG)
    document.update(changes)
    return document


def test_a_fedops_mnist_xai_config_converts() -> None:
    conversion = convert_fedops_config(_config())
    spec = conversion.spec

    assert spec.name == "mnist-xai"
    assert spec.rounds == 2 and spec.training.epochs == 1 and spec.training.batch_size == 128
    assert spec.training.learning_rate == 0.001 and spec.training.seed == 42
    assert spec.strategy.name == "FedAvg"
    assert spec.clients.min_train == 2 and spec.clients.min_available == 2 and spec.clients.min_evaluate == 2
    assert spec.clients.fraction_train == pytest.approx(0.00001)
    assert spec.xai.enabled and spec.xai.target_layer == -1 and spec.xai.output_dir == "outputs/gradcam"
    assert spec.model.target == "models.MNISTClassifier" and spec.dataset.name == "MNIST"


def test_unmapped_keys_are_reported_and_secrets_are_not_echoed() -> None:
    notes = {note.key: note.message for note in convert_fedops_config(_config()).notes}

    assert "model_type" in notes and "wandb.use" in notes and "wandb.project" in notes
    assert "wandb.key" not in notes
    assert "your wandb api key" not in " ".join(notes.values())


def test_unknown_keys_are_reported() -> None:
    notes = {note.key for note in convert_fedops_config(_config(mystery=1)).notes}

    assert "mystery" in notes


def test_legacy_strategy_parameters_are_renamed() -> None:
    document = _config()
    document["server"]["strategy"]["_target_"] = "flwr.server.strategy.Krum"
    document["server"]["strategy"]["num_malicious_clients"] = 1

    spec = convert_fedops_config(document).spec

    assert spec.strategy.name == "Krum" and spec.strategy.params == {"num_malicious_nodes": 1}


def test_every_problem_is_reported_at_once_with_the_fedops_key() -> None:
    document = _config(num_rounds=-3, task_id="Not A Label")
    document["server"]["strategy"]["_target_"] = "my.own.Strategy"

    with pytest.raises(FedopsConfigError) as caught:
        convert_fedops_config(document)

    keys = {problem.key for problem in caught.value.problems}
    assert keys == {"server.strategy._target_"}  # conversion stops before validation

    document["server"]["strategy"]["_target_"] = "flwr.server.strategy.FedAvg"
    with pytest.raises(FedopsConfigError) as caught:
        convert_fedops_config(document)
    assert {p.key for p in caught.value.problems} == {"num_rounds", "task_id"}


def test_a_name_can_replace_an_invalid_task_id() -> None:
    spec = convert_fedops_config(_config(task_id="MNIST XAI"), name="mnist-xai").spec

    assert spec.name == "mnist-xai"
