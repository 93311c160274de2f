"""A Grid that waits for replies with a short poll instead of Flower's fixed 3 s sleep.

flwr 1.41's ``HttpGrid.send_and_receive`` sleeps 3 s between pulls; with rounds of a
second or two that sleep is most of the round. Only ``send_and_receive`` changes; the
time spent in it is recorded as the round's "wait" phase.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from flwr.app import Message, RecordDict
from flwr.serverapp import Grid

__all__ = ["FastGrid"]


class FastGrid(Grid):  # type: ignore[misc]
    def __init__(self, inner: Grid, poll_seconds: float = 0.05) -> None:
        self._inner = inner
        self._poll = poll_seconds
        self.wait_seconds = 0.0  # accumulated in send_and_receive since the last reset

    def set_run(self, run: Any) -> None:
        self._inner.set_run(run)

    @property
    def run(self) -> Any:
        return self._inner.run

    def create_message(
        self,
        content: RecordDict,
        message_type: str,
        dst_node_id: int,
        group_id: str,
        ttl: float | None = None,
    ) -> Message:
        return self._inner.create_message(content, message_type, dst_node_id, group_id, ttl)

    def get_node_ids(self) -> Iterable[int]:
        return list(self._inner.get_node_ids())

    def get_nodes(self) -> Iterable[Any]:
        return list(self._inner.get_nodes())

    def push_messages(self, messages: Iterable[Message]) -> Iterable[str]:
        return list(self._inner.push_messages(messages))

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Message]:
        return list(self._inner.pull_messages(message_ids))

    def send_and_receive(
        self, messages: Iterable[Message], *, timeout: float | None = None
    ) -> Iterable[Message]:
        started = time.monotonic()
        pending = {message_id for message_id in self.push_messages(messages) if message_id}
        deadline = None if timeout is None else started + timeout
        replies: list[Message] = []
        while pending and (deadline is None or time.monotonic() < deadline):
            arrived = list(self.pull_messages(pending))
            replies.extend(arrived)
            pending.difference_update(reply.metadata.reply_to_message_id for reply in arrived)
            if pending:
                time.sleep(self._poll)
        self.wait_seconds += time.monotonic() - started
        return replies
