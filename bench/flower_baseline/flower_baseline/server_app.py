"""The baseline ServerApp: FedAvg, train only; writes each round's end time to BENCH_OUT."""

from __future__ import annotations

import json
import os
import time

from flwr.app import ArrayRecord, Context, MetricRecord
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAvg

from flower_baseline.task import build_model, to_arrays

app = ServerApp()


@app.main()  # type: ignore[untyped-decorator]
def main(grid: Grid, context: Context) -> None:
    ends: list[float] = []

    def round_ended(server_round: int, _arrays: ArrayRecord) -> MetricRecord | None:
        if server_round > 0:  # Flower also calls this once before round 1
            ends.append(time.time())
        return None

    strategy = FedAvg(fraction_train=1.0, fraction_evaluate=0.0, min_train_nodes=2, min_available_nodes=2)
    result = strategy.start(
        grid=grid,
        initial_arrays=ArrayRecord(to_arrays(build_model())),
        num_rounds=int(context.run_config["num-server-rounds"]),
        evaluate_fn=round_ended,
        timeout=600,
    )
    compute = {int(r): float(m["compute-seconds"]) for r, m in result.train_metrics_clientapp.items()}
    with open(os.environ["BENCH_OUT"], "w") as handle:  # noqa: PTH123 - the ServerApp runs in Flower's process
        json.dump({"round_ends": ends, "client_compute": compute}, handle)
