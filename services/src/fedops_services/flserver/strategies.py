"""Build the Flower strategy a spec names, instrumented to time every phase of a round."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from flwr.app import ArrayRecord, ConfigRecord, Message, MetricRecord
from flwr.serverapp import Grid

from fedops.spec import TaskSpec
from fedops_services.flserver.grid import FastGrid

__all__ = ["RoundRecorder", "build_strategy", "strategy_kwargs"]


class RoundRecorder:
    """Collects, per task round, phase timings, reply counts and aggregated metrics."""

    def __init__(self, grid: FastGrid) -> None:
        self._grid = grid
        self.round_offset = 0
        self.model_version: Callable[[], int] = lambda: 0
        self._phases: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        self._started: dict[int, float] = {}
        self.clients: dict[int, int] = {}  # replies aggregated per task round
        self.asked: dict[int, int] = {}  # clients asked to train per task round
        self.train_metrics: dict[int, MetricRecord | None] = {}
        self.evaluate_metrics: dict[int, MetricRecord | None] = {}

    def task_round(self, server_round: int) -> int:
        return self.round_offset + server_round

    def begin(self, server_round: int) -> None:
        number = self.task_round(server_round)
        self._started.setdefault(number, time.perf_counter())

    def add(self, server_round: int, phase: str, seconds: float) -> None:
        self._phases[self.task_round(server_round)][phase] += seconds

    def take_wait(self, server_round: int, phase: str = "wait") -> None:
        """Move the grid's accumulated reply wait into a phase of this round."""
        self.add(server_round, phase, self._grid.wait_seconds)
        self._grid.wait_seconds = 0.0

    def failures(self, number: int) -> int:
        """Clients asked to train that replied with an error or not at all (round timeout)."""
        return max(0, self.asked.get(number, 0) - self.clients.get(number, 0))

    def timings(self, number: int) -> dict[str, float]:
        phases = dict(self._phases.get(number, {}))
        started = self._started.get(number)
        if started is not None:
            phases["total"] = time.perf_counter() - started
        return {k: round(v, 6) for k, v in phases.items()}


def strategy_kwargs(spec: TaskSpec) -> dict[str, Any]:
    clients = spec.clients
    return {
        **spec.strategy.params,
        "fraction_train": clients.fraction_train,
        "fraction_evaluate": clients.fraction_evaluate,
        "min_train_nodes": clients.min_train,
        "min_evaluate_nodes": clients.min_evaluate,
        "min_available_nodes": clients.min_available,
    }


def build_strategy(spec: TaskSpec, recorder: RoundRecorder) -> Any:
    """An instance of the named ``flwr.serverapp.strategy`` class that reports to ``recorder``."""
    from flwr.serverapp import strategy as flwr_strategies

    base = getattr(flwr_strategies, spec.strategy.name)

    class Instrumented(base):  # type: ignore[misc, valid-type]
        def configure_train(
            self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
        ) -> Iterable[Message]:
            recorder.begin(server_round)
            config["fedops-round"] = recorder.task_round(server_round)
            config["fedops-model-version"] = recorder.model_version()
            started = time.perf_counter()
            messages = list(super().configure_train(server_round, arrays, config, grid))
            recorder.add(server_round, "configure", time.perf_counter() - started)
            recorder.asked[recorder.task_round(server_round)] = len(messages)
            return messages

        def aggregate_train(
            self, server_round: int, replies: Iterable[Message]
        ) -> tuple[ArrayRecord | None, MetricRecord | None]:
            recorder.take_wait(server_round)
            replies = list(replies)
            recorder.clients[recorder.task_round(server_round)] = sum(1 for r in replies if not r.has_error())
            started = time.perf_counter()
            arrays, metrics = super().aggregate_train(server_round, replies)
            recorder.add(server_round, "aggregate", time.perf_counter() - started)
            recorder.train_metrics[recorder.task_round(server_round)] = metrics
            return arrays, metrics

        def configure_evaluate(
            self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
        ) -> Iterable[Message]:
            config["fedops-round"] = recorder.task_round(server_round)
            started = time.perf_counter()
            messages = list(super().configure_evaluate(server_round, arrays, config, grid))
            recorder.add(server_round, "configure", time.perf_counter() - started)
            return messages

        def aggregate_evaluate(self, server_round: int, replies: Iterable[Message]) -> MetricRecord | None:
            recorder.take_wait(server_round, "evaluate")  # waiting for evaluations is evaluating
            started = time.perf_counter()
            metrics = super().aggregate_evaluate(server_round, list(replies))
            recorder.add(server_round, "evaluate", time.perf_counter() - started)
            recorder.evaluate_metrics[recorder.task_round(server_round)] = metrics
            return metrics

    Instrumented.__name__ = f"Instrumented{spec.strategy.name}"
    return Instrumented(**strategy_kwargs(spec))
