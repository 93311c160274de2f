"""The fedops ClientApp. Flower routes each message here; the work is the Trainer's.

The module is imported once by the warm executor, which installs the trainer of the
loaded project with :func:`install`; the Flower App bundle only names this module.
"""

from __future__ import annotations

from flwr.app import Context, Message
from flwr.clientapp import ClientApp

from fedops.client.trainer import Trainer

__all__ = ["app", "install"]

app = ClientApp()
_trainer: Trainer | None = None


def install(trainer: Trainer) -> None:
    global _trainer
    _trainer = trainer


def _current() -> Trainer:
    if _trainer is None:
        raise RuntimeError("no project loaded: run this ClientApp through `fedops-client run`")
    return _trainer


@app.train()  # type: ignore[untyped-decorator]
def train(message: Message, _context: Context) -> Message:
    return _current().train(message)


@app.evaluate()  # type: ignore[untyped-decorator]
def evaluate(message: Message, _context: Context) -> Message:
    return _current().evaluate(message)


@app.query()  # type: ignore[untyped-decorator]
def query(message: Message, _context: Context) -> Message:
    action = message.content["config"].get("fedops-action")
    if action != "initial-arrays":
        raise ValueError(f"unknown query {action!r}")
    return _current().initial_arrays(message)
