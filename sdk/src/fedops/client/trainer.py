"""What a client does with each Flower message, using the user's model, data and functions.

- ``train``: load the global model, train ``local-epochs`` epochs (one call of the user's
  train function per epoch, so progress is visible), evaluate on the validation split,
  explain with Grad-CAM when the task asks for it, then spool the round report and the
  images, and reply with the new weights.
- ``evaluate``: score the global model on the held-out test split.
- ``query`` (``initial-arrays``): the freshly built model, which starts the federation.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from flwr.app import ArrayRecord, Message, MetricRecord, RecordDict

from fedops.client.config import Config
from fedops.client.project import Registration
from fedops.client.system import system_snapshot
from fedops.durable.spool import Spool
from fedops.spec import TaskSpec
from fedops.xai import explain_classes

__all__ = ["Progress", "TaskTimings", "Trainer"]

logger = logging.getLogger(__name__)


@dataclass
class TaskTimings:
    """Filled by the executor before each message: idle time and message download time."""

    wait: float = 0.0
    load: float = 0.0


@dataclass
class Progress:
    """Callbacks for terminal output; the default prints nothing."""

    round_started: Callable[[int, int], None] = lambda round_number, epochs: None
    epoch_done: Callable[[int], None] = lambda epoch: None
    round_done: Callable[[int, dict[str, Any]], None] = lambda round_number, summary: None


@dataclass
class Trainer:
    spec: TaskSpec
    cfg: Config
    registration: Registration
    task_id: str
    client_id: str
    spool: Spool
    xai_dir: Path
    progress: Progress = field(default_factory=Progress)
    timings: TaskTimings = field(default_factory=TaskTimings)
    training: bool = False
    model_version: int | None = None

    # --- model weights <-> Flower records --------------------------------------------------

    def _arrays(self) -> ArrayRecord:
        state = self.registration.model.state_dict()
        return ArrayRecord([tensor.detach().cpu().numpy() for tensor in state.values()])

    def _load(self, record: ArrayRecord) -> None:
        model = self.registration.model
        keys = list(model.state_dict().keys())
        arrays = record.to_numpy_ndarrays()
        if len(arrays) != len(keys):
            raise ValueError(f"the global model has {len(arrays)} arrays, the local model {len(keys)}")
        model.load_state_dict(
            OrderedDict((k, torch.from_numpy(np.asarray(a))) for k, a in zip(keys, arrays, strict=True))
        )

    # --- handlers ------------------------------------------------------------------------------

    def initial_arrays(self, message: Message) -> Message:
        return Message(RecordDict({"arrays": self._arrays()}), reply_to=message)

    def train(self, message: Message) -> Message:
        started = time.perf_counter()
        config = message.content["config"]
        round_number = int(config.get("fedops-round", config.get("server-round", 0)))
        # Ids name the attempt: a round the server runs again after a crash (a new Flower
        # run) is new data, while a resend of this attempt's report stays a duplicate.
        attempt = f"round-{round_number}-run-{message.metadata.run_id}"
        self.model_version = int(config.get("fedops-model-version", 0)) or None
        epochs = int(config.get("local-epochs", self.spec.training.epochs))
        cfg = self.cfg.merged(
            {
                "learning_rate": float(config.get("learning-rate", self.spec.training.learning_rate)),
                "proximal_mu": float(config.get("proximal-mu", 0.0)),  # set by FedProx
                "num_epochs": epochs,
            }
        )
        self._load(message.content["arrays"])
        proximal_mu = float(cfg.get("proximal_mu", 0.0))
        # q-FFL (QFedAvg) weighs clients by the global model's loss on their training data.
        initial_train_loss = (
            float(
                self.registration.test_torch(self.registration.model, self.registration.train_loader, cfg)[0]
            )
            if self.spec.strategy.name == "QFedAvg"
            else None
        )
        self.training = True
        self.progress.round_started(round_number, epochs)
        try:
            train_started = time.perf_counter()
            model = self.registration.model
            for epoch in range(epochs):
                model = self.registration.train_torch(model, self.registration.train_loader, 1, cfg) or model
                self.progress.epoch_done(epoch + 1)
            self.registration.model = model
            train_seconds = time.perf_counter() - train_started

            evaluate_started = time.perf_counter()
            val_loss, val_accuracy, extra = self.registration.test_torch(
                model, self.registration.val_loader, cfg
            )
            evaluate_seconds = time.perf_counter() - evaluate_started

            xai_seconds, faithfulness, explained = self._explain(round_number, attempt)
        finally:
            self.training = False
        num_examples = len(self.registration.train_loader.dataset)
        report: dict[str, Any] = {
            "kind": "client_round",
            "report_id": f"client-{self.client_id}-{attempt}",
            "task_id": self.task_id,
            "client_id": self.client_id,
            "round": round_number,
            "num_train_examples": num_examples,
            "num_eval_examples": len(self.registration.val_loader.dataset),
            "val_loss": float(val_loss),
            "val_accuracy": float(val_accuracy),
            "metrics": {
                **{k: float(v) for k, v in (extra or {}).items()},
                **faithfulness,
                **({"proximal_mu": proximal_mu} if proximal_mu else {}),
            },
            "global_model_version": self.model_version,
            "explanations_generated": explained,
        }
        upload_seconds = self.spool.last_flush_seconds  # the last delivery; this one runs in the background
        report["timings"] = {
            "wait": self.timings.wait,
            "load": self.timings.load,
            "train": train_seconds,
            "evaluate": evaluate_seconds,
            "xai": xai_seconds,
            "upload": upload_seconds,
            "total": self.timings.load + time.perf_counter() - started,
        }
        total_seconds = report["timings"]["total"]
        self.spool.add_report(report)
        self.spool.add_report(
            {
                "kind": "system",
                "report_id": f"system-{self.client_id}-{attempt}",
                "task_id": self.task_id,
                "client_id": self.client_id,
                "round": round_number,
                **system_snapshot(),
            }
        )
        self.spool.wake()  # images and reports leave without holding up the reply
        self.progress.round_done(
            round_number, {"val_accuracy": float(val_accuracy), "seconds": total_seconds}
        )
        values = {
            "num-examples": num_examples,
            "val_loss": float(val_loss),
            "val_accuracy": float(val_accuracy),
        }
        if initial_train_loss is not None:
            values["train_loss"] = initial_train_loss
        metrics = MetricRecord(values)
        return Message(RecordDict({"arrays": self._arrays(), "metrics": metrics}), reply_to=message)

    def evaluate(self, message: Message) -> Message:
        self._load(message.content["arrays"])
        loss, accuracy, _ = self.registration.test_torch(
            self.registration.model, self.registration.test_loader, self.cfg
        )
        metrics = MetricRecord(
            {
                "num-examples": len(self.registration.test_loader.dataset),
                "eval_loss": float(loss),
                "eval_accuracy": float(accuracy),
            }
        )
        return Message(RecordDict({"metrics": metrics}), reply_to=message)

    # --- explanations --------------------------------------------------------------------------

    def _explain(self, round_number: int, attempt: str) -> tuple[float, dict[str, float], int]:
        """Seconds spent, faithfulness scores, and how many images were made (and spooled).

        The scores go into the round report's metrics: ``xai_faithfulness_class_<label>`` is
        the class's "confidence kept" (fedops.xai.confidence_kept: the share, 0-1, of the
        model's confidence in the class that the image multiplied by its map keeps; 1 is best)
        and ``xai_faithfulness_mean`` its mean over the classes."""
        xai = self.spec.xai
        if not xai.enabled:
            return 0.0, {}, 0
        started = time.perf_counter()
        explanations = explain_classes(
            self.registration.model,
            self.registration.val_loader,
            num_classes=self.spec.model.output_size,
            output_dir=self.xai_dir / self.task_id / f"round-{round_number}",
            method=xai.method,
            target_layer=xai.target_layer,
            samples_per_class=xai.samples_per_class,
        )
        for explanation in explanations:
            fields = {
                "round": str(round_number),
                "client_id": self.client_id,
                "class_label": str(explanation.class_label),
                "method": xai.method,
                "layer": str(xai.target_layer),
                "faithfulness": f"{explanation.faithfulness:.6f}",
                "artifact_id": f"{self.client_id}-{attempt}-class-{explanation.class_label}",
            }
            self.spool.add_artifact(fields, explanation.jpeg)
        scores = {f"xai_faithfulness_class_{e.class_label}": e.faithfulness for e in explanations}
        if explanations:
            scores["xai_faithfulness_mean"] = float(np.mean([e.faithfulness for e in explanations]))
        return time.perf_counter() - started, scores, len(explanations)
