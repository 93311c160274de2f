"""The fedops ServerApp: runs a task's rounds with the strategy its spec names.

Per round it times configure / wait / aggregate / evaluate, checkpoints the global model
(atomically, on the task's volume), registers the model version with the registry and
reports the round to monitoring (through a disk spool, so a monitoring outage loses
nothing). A restarted server resumes from the last checkpoint with its round numbers:
round ``k`` of a resumed Flower run is round ``done + k`` of the task.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.serverapp import Grid, ServerApp

from fedops.api import ApiError, FedopsClient
from fedops.api.schemas import ModelVersionCreate, RunResult
from fedops.child_processes import die_with_parent
from fedops.client.spool import Spool
from fedops.flower_tuning import tune_flower
from fedops.spec import TaskSpec
from fedops_services.flserver.checkpoints import CheckpointStore
from fedops_services.flserver.grid import FastGrid
from fedops_services.flserver.strategies import RoundRecorder, build_strategy

__all__ = ["app"]

logger = logging.getLogger(__name__)

app = ServerApp()
# This module is imported by Flower's ServerApp process (`flwr-serverapp`, a child of
# Flower's SuperExec): shorten its payload-pull backoff, and make sure it ends with its
# parent. Flower's own parent check does not end a ServerApp blocked in a round, so a
# killed FL server would otherwise leave it running.
tune_flower(supernode=False)
die_with_parent()
if os.getppid() == 1:  # the parent died before the line above took effect
    os._exit(70)


@dataclass
class ServerEnvironment:
    """What the provisioner hands the runtime (environment variables, inherited by Flower)."""

    task_id: str
    api_url: str
    monitoring_url: str | None
    token: str
    data_dir: Path
    round_timeout: float
    wait_for_clients: float

    @classmethod
    def from_env(cls) -> ServerEnvironment:
        return cls(
            task_id=os.environ["FEDOPS_TASK_ID"],
            api_url=os.environ["FEDOPS_API_URL"],
            monitoring_url=os.environ.get("FEDOPS_MONITORING_URL") or None,
            token=os.environ["FEDOPS_SERVER_TOKEN"],
            data_dir=Path(os.environ["FEDOPS_SERVER_DATA_DIR"]),
            round_timeout=float(os.environ.get("FEDOPS_ROUND_TIMEOUT_SECONDS", "300")),
            wait_for_clients=float(os.environ.get("FEDOPS_WAIT_FOR_CLIENTS_SECONDS", "600")),
        )


@dataclass
class RoundState:
    """What the per-round bookkeeping needs between Flower's callbacks."""

    offset: int
    model_version: int


def _initial_arrays(grid: FastGrid, env: ServerEnvironment) -> ArrayRecord:
    """No checkpoint yet: ask one client for its freshly built model (the server holds no
    user code, so it cannot build the model itself)."""
    deadline = time.monotonic() + env.wait_for_clients
    nodes: list[int] = []
    while time.monotonic() < deadline and not nodes:
        nodes = list(grid.get_node_ids())
        if not nodes:
            time.sleep(0.2)
    if not nodes:
        raise RuntimeError(f"no client connected within {env.wait_for_clients:.0f} s")
    query = Message(
        RecordDict({"config": ConfigRecord({"fedops-action": "initial-arrays"})}),
        dst_node_id=nodes[0],
        message_type="query",
    )
    replies = list(grid.send_and_receive([query], timeout=env.round_timeout))
    if not replies or replies[0].has_error():
        reason = replies[0].error.reason if replies else "no reply"
        raise RuntimeError(f"could not get the initial model from a client: {reason}")
    arrays: ArrayRecord = replies[0].content["arrays"]
    return arrays


def _spool(api: FedopsClient, directory: Path) -> Spool:
    def deliver(bodies: list[dict[str, Any]]) -> None:
        api.monitoring.ingest_documents(bodies)

    def upload(_fields: dict[str, str], _content: bytes) -> None:
        raise RuntimeError("the server uploads no artifacts")

    return Spool(directory, deliver, upload)


def _metric(record: MetricRecord | None, *keys: str) -> float | None:
    if record is None:
        return None
    for key in keys:
        if key in record:
            return float(record[key])
    return None


@app.main()  # type: ignore[untyped-decorator]
def main(grid: Grid, context: Context) -> None:
    env = ServerEnvironment.from_env()
    api = FedopsClient(env.api_url, env.token, monitoring_url=env.monitoring_url)
    spec: TaskSpec = api.registry.get_task(env.task_id).spec
    checkpoints = CheckpointStore(env.data_dir / "checkpoints")
    spool = _spool(api, env.data_dir / "spool")
    latest = checkpoints.latest()
    done = latest.round if latest else 0
    fast = FastGrid(grid)
    logger.info("task %s: %d of %d rounds done", env.task_id, done, spec.rounds)
    if done < spec.rounds:
        initial = ArrayRecord(latest.arrays) if latest else _initial_arrays(fast, env)
        state = RoundState(offset=done, model_version=_latest_version(api, env.task_id))
        recorder = RoundRecorder(fast)
        strategy = build_strategy(spec, recorder)

        def end_of_round(server_round: int, arrays: ArrayRecord) -> MetricRecord | None:
            if server_round > 0:
                _finish_round(api, spool, checkpoints, env, state, recorder, done + server_round, arrays)
            return None

        train_config = ConfigRecord(
            {
                "fedops-round-offset": done,
                "local-epochs": spec.training.epochs,
                "learning-rate": spec.training.learning_rate,
                "batch-size": spec.training.batch_size,
            }
        )
        recorder.round_offset = done
        recorder.model_version = lambda: state.model_version
        strategy.start(
            grid=fast,
            initial_arrays=initial,
            num_rounds=spec.rounds - done,
            timeout=env.round_timeout,
            train_config=train_config,
            evaluate_config=ConfigRecord({"fedops-round-offset": done}),
            evaluate_fn=end_of_round,
        )
    final = checkpoints.latest()
    if final is not None:
        checkpoints.save(final.round, final.arrays, name="final.npz")
    spool.flush()
    try:
        api.registry.report_run_result(env.task_id, RunResult(status="finished", reason=""))
    except ApiError as exc:
        logger.warning("could not report the run result: %s", exc)
    api.close()


def _latest_version(api: FedopsClient, task_id: str) -> int:
    try:
        return api.registry.latest_model_version(task_id).version
    except ApiError:
        return 0


def _finish_round(
    api: FedopsClient,
    spool: Spool,
    checkpoints: CheckpointStore,
    env: ServerEnvironment,
    state: RoundState,
    recorder: RoundRecorder,
    round_number: int,
    arrays: ArrayRecord,
) -> None:
    checkpoint = checkpoints.save(round_number, arrays.to_numpy_ndarrays())
    try:
        version = api.registry.register_model_version(
            env.task_id,
            ModelVersionCreate(
                round=round_number,
                checkpoint_uri=checkpoint.path.resolve().as_uri(),
                metadata={"sha256": checkpoint.sha256},
            ),
        )
        state.model_version = version.version
    except ApiError as exc:  # the checkpoint is safe on disk; the record can wait
        logger.warning("could not register the model of round %d: %s", round_number, exc)
    timings = recorder.timings(round_number)
    evaluation = recorder.evaluate_metrics.get(round_number)
    training = recorder.train_metrics.get(round_number)
    report = {
        "kind": "server_round",
        # A round completes once (the checkpoint decides), so its id is its number.
        "report_id": f"server-round-{round_number}",
        "task_id": env.task_id,
        "round": round_number,
        "num_clients": recorder.clients.get(round_number, 0),
        "loss": _metric(evaluation, "eval_loss") or _metric(training, "val_loss"),
        "accuracy": _metric(evaluation, "eval_accuracy") or _metric(training, "val_accuracy"),
        "metrics": {k: float(v) for k, v in (evaluation or {}).items() if isinstance(v, (int, float))},
        "timings": timings,
        "global_model_version": state.model_version or None,
    }
    spool.add_report(report)
    spool.flush()
    logger.info("round %d done: %s", round_number, timings)
