"""The floor of `make bench`: Flower's deprecated `start_server` / `start_client` path.

One long-lived gRPC stream per client and no per-message processes: the fastest Flower
can go, at the price of what the deployment engine adds (run management, isolation).
Run as ``python -m bench.legacy_baseline server|client ...``; the server writes its
round end times to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

EXAMPLE = Path(__file__).resolve().parents[1] / "clients" / "mnist-xai"


def _server(address: str, rounds: int, out: Path) -> None:
    from flwr.server import ServerConfig, start_server
    from flwr.server.strategy import FedAvg

    sys.path.insert(0, str(Path(__file__).resolve().parent / "flower_baseline"))
    from flower_baseline.task import build_model, to_arrays
    from flwr.common import ndarrays_to_parameters

    ends: list[float] = []
    compute: dict[int, float] = {}

    class Timed(FedAvg):  # type: ignore[misc]
        def aggregate_fit(self, server_round: int, results: Any, failures: Any) -> Any:
            aggregated = super().aggregate_fit(server_round, results, failures)
            ends.append(time.time())
            compute[server_round] = max(float(fit.metrics["compute-seconds"]) for _, fit in results)
            return aggregated

    strategy = Timed(
        fraction_fit=1.0, fraction_evaluate=0.0, min_fit_clients=2, min_available_clients=2,
        initial_parameters=ndarrays_to_parameters(to_arrays(build_model())),
    )  # fmt: skip
    start_server(server_address=address, config=ServerConfig(num_rounds=rounds), strategy=strategy)
    out.write_text(json.dumps({"round_ends": ends, "client_compute": compute}))


def _client(address: str, partition_id: int) -> None:
    from flwr.client import NumPyClient, start_client

    sys.path.insert(0, str(Path(__file__).resolve().parent / "flower_baseline"))
    from flower_baseline.task import build_model, load_arrays, local_train, to_arrays

    class MnistClient(NumPyClient):  # type: ignore[misc]
        def fit(self, parameters: Any, config: Any) -> Any:
            model = build_model()
            load_arrays(model, parameters)
            examples, seconds = local_train(model, partition_id, 2)
            return to_arrays(model), examples, {"compute-seconds": seconds}

    start_client(server_address=address, client=MnistClient().to_client())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["server", "client"])
    parser.add_argument("--address", required=True)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--partition-id", type=int, default=0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    sys.path.insert(0, str(EXAMPLE))
    if args.role == "server":
        _server(args.address, args.rounds, args.out)
    else:
        _client(args.address, args.partition_id)


if __name__ == "__main__":
    main()
