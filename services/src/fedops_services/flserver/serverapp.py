"""The fedops ServerApp: runs a task's rounds with the strategy its spec names.

Per round it times configure / wait / aggregate / evaluate, checkpoints the global model
(atomically, on the task's volume), registers the model version with the registry,
reports the round to monitoring and uploads the checkpoint there. All of it is staged on
the volume before the checkpoint counts (``outbox``), so none is lost when the registry or
monitoring is down or the server crashes at any step. A restarted server first delivers
what it still owes, then resumes from the last checkpoint with its round numbers: round
``k`` of a resumed Flower run is round ``done + k`` of the task.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.serverapp import Grid, ServerApp

from fedops.api import ApiError, FedopsClient
from fedops.api.schemas import ModelVersionCreate, RunResult
from fedops.child_processes import die_with_parent
from fedops.durable.spool import Spool
from fedops.flower_tuning import tune_flower
from fedops.spec import TaskSpec
from fedops_services.flserver.checkpoints import CheckpointStore
from fedops_services.flserver.faults import crash_point
from fedops_services.flserver.grid import FastGrid
from fedops_services.flserver.outbox import RoundOutbox, RoundRecord
from fedops_services.flserver.strategies import RoundRecorder, build_strategy

__all__ = ["app"]

logger = logging.getLogger(__name__)

app = ServerApp()
# This module is imported by Flower's ServerApp process (`flwr-serverapp`, a child of
# Flower's SuperExec): shorten its payload-pull backoff, and make sure it ends with its
# parent. Flower's own parent check does not end a ServerApp blocked in a round, so a
# killed FL server would otherwise leave it running. (fedops-server's launcher for
# `flwr-serverapp` already armed the signal and checked the parent before exec; this
# covers a ServerApp started some other way.)
tune_flower(supernode=False)
die_with_parent()


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


# How long a finished run keeps trying to deliver what it owes before it reports its end;
# anything still waiting then stays on the volume and goes out with the next run.
_FINAL_DELIVERY_SECONDS = 120.0
_FINAL_DELIVERY_RETRY_SECONDS = 2.0


@dataclass
class RoundState:
    """What the per-round bookkeeping needs between Flower's callbacks."""

    offset: int
    model_version: int
    run_id: int  # the Flower run: names this attempt in report ids


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


def _outbox(api: FedopsClient, spool: Spool, env: ServerEnvironment) -> RoundOutbox:
    def register(record: RoundRecord) -> int:
        request = ModelVersionCreate(
            round=record.round, checkpoint_uri=record.checkpoint_uri, metadata={"sha256": record.sha256}
        )
        return api.registry.register_model_version(env.task_id, request).version

    def upload(record: RoundRecord) -> None:
        assert record.version is not None  # the outbox uploads registered versions only
        # Streamed from the volume, never read whole (a checkpoint may be hundreds of MiB).
        path = Path(url2pathname(urlsplit(record.checkpoint_uri).path))
        api.monitoring.upload_checkpoint(env.task_id, record.version, path)

    return RoundOutbox(env.data_dir / "outbox", spool, register, upload, fault_dir=env.data_dir)


def _deliver_before_exit(outbox: RoundOutbox, committed_round: int) -> None:
    """Retry what the run still owes for a while (bounded), so a short outage at the very
    end loses nothing; what is left stays on the volume for the next run."""
    deadline = time.monotonic() + _FINAL_DELIVERY_SECONDS
    while not outbox.deliver(committed_round):
        if time.monotonic() >= deadline:
            logger.warning("%d round(s) still wait to be delivered; kept for the next run", outbox.pending())
            return
        time.sleep(_FINAL_DELIVERY_RETRY_SECONDS)  # pacing between retries, not a wait for a condition


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
    outbox = _outbox(api, spool, env)
    latest = checkpoints.latest()
    done = latest.round if latest else 0
    outbox.deliver(done)  # what a crashed run still owed for its committed rounds
    fast = FastGrid(grid)
    logger.info("task %s: %d of %d rounds done", env.task_id, done, spec.rounds)
    if done < spec.rounds:
        initial = ArrayRecord(latest.arrays) if latest else _initial_arrays(fast, env)
        version = outbox.latest_version or _latest_version(api, env.task_id)
        state = RoundState(offset=done, model_version=version, run_id=context.run_id)
        recorder = RoundRecorder(fast)
        strategy = build_strategy(spec, recorder)

        def end_of_round(server_round: int, arrays: ArrayRecord) -> MetricRecord | None:
            if server_round > 0:
                _finish_round(outbox, checkpoints, env, state, recorder, done + server_round, arrays)
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
    _deliver_before_exit(outbox, checkpoints.latest_round())
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
    outbox: RoundOutbox,
    checkpoints: CheckpointStore,
    env: ServerEnvironment,
    state: RoundState,
    recorder: RoundRecorder,
    round_number: int,
    arrays: ArrayRecord,
) -> None:
    """Checkpoint the round and deliver what it owes, in the order ``outbox`` explains."""

    def step(name: str) -> None:
        crash_point(env.data_dir, name, round_number)  # fault injection, tests only

    step("before-checkpoint")
    checkpoint = checkpoints.write(round_number, arrays.to_numpy_ndarrays())
    step("after-checkpoint-file")
    timings = recorder.timings(round_number)
    evaluation = recorder.evaluate_metrics.get(round_number)
    training = recorder.train_metrics.get(round_number)
    report = {
        "kind": "server_round",
        # The run names the attempt: only a committed attempt is ever sent, and a resend
        # after a crash keeps this id (it is staged with the record).
        "report_id": f"server-round-{round_number}-run-{state.run_id}",
        "task_id": env.task_id,
        "round": round_number,
        "num_clients": recorder.clients.get(round_number, 0),
        "num_failures": recorder.failures(round_number),
        "loss": _metric(evaluation, "eval_loss") or _metric(training, "val_loss"),
        "accuracy": _metric(evaluation, "eval_accuracy") or _metric(training, "val_accuracy"),
        "metrics": {k: float(v) for k, v in (evaluation or {}).items() if isinstance(v, (int, float))},
        "timings": timings,
    }
    uri = checkpoint.path.resolve().as_uri()
    outbox.stage(RoundRecord(round=round_number, checkpoint_uri=uri, sha256=checkpoint.sha256, report=report))
    step("after-stage")
    checkpoints.commit(checkpoint)
    step("after-commit")
    outbox.deliver(round_number)  # a failure here is retried at the next round end and at exit
    if outbox.latest_version is not None:
        state.model_version = outbox.latest_version
    step("after-deliver")
    logger.info("round %d done: %s", round_number, timings)
