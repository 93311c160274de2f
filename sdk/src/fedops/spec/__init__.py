"""The task spec shared by the registry API, the CLI and the edge client."""

from fedops.spec.fedops_config import Conversion, ConversionNote, FedopsConfigError, convert_fedops_config
from fedops.spec.strategies import STRATEGY_NAMES, StrategyName, strategy_parameters
from fedops.spec.task import (
    ClientsSpec,
    DatasetSpec,
    ModelSpec,
    ResourcesSpec,
    StrategySpec,
    TaskSpec,
    TrainingSpec,
    XaiMethod,
    XaiSpec,
)

__all__ = [
    "STRATEGY_NAMES",
    "ClientsSpec",
    "Conversion",
    "ConversionNote",
    "DatasetSpec",
    "FedopsConfigError",
    "ModelSpec",
    "ResourcesSpec",
    "StrategyName",
    "StrategySpec",
    "TaskSpec",
    "TrainingSpec",
    "XaiMethod",
    "XaiSpec",
    "convert_fedops_config",
    "strategy_parameters",
]
