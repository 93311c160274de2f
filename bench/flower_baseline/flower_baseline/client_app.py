"""The baseline ClientApp: one epoch of local training per round."""

from __future__ import annotations

from flwr.app import ArrayRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from flower_baseline.task import build_model, load_arrays, local_train, to_arrays

app = ClientApp()


@app.train()  # type: ignore[untyped-decorator]
def train(message: Message, context: Context) -> Message:
    model = build_model()
    load_arrays(model, message.content["arrays"].to_numpy_ndarrays())
    examples, seconds = local_train(
        model, int(context.node_config["partition-id"]), int(context.node_config["num-partitions"])
    )
    metrics = MetricRecord({"num-examples": examples, "compute-seconds": seconds})
    return Message(
        RecordDict({"arrays": ArrayRecord(to_arrays(model)), "metrics": metrics}), reply_to=message
    )
