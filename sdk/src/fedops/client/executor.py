"""The warm executor: runs every Flower task of one SuperNode in this process.

Flower 1.41 starts a new ``flwr-clientapp`` process for every message (about 5 s of
imports and torch warm-up each time). With ``--isolation process`` the SuperNode runs
nothing itself; this loop claims its tasks over the SuperNode's Runtime API (loopback)
and runs the already-imported ClientApp, so the model, data and torch stay warm.

It reuses flwr's task helpers but none of flwr's retry or heartbeat helpers: those
send SIGINT to their own process on a revoked task token, which would kill a
long-lived executor at the end of every run.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import httpx

from fedops.client.trainer import TaskTimings

__all__ = ["WarmExecutor"]

logger = logging.getLogger(__name__)
_COMPONENT = "flwr-clientapp"  # the SuperNode checks this name's version compatibility


def _runtime_client(address: str, token: str | None = None) -> Any:
    from flwr.supercore.interceptors import RuntimeTokenHttpInterceptor, RuntimeVersionHttpInterceptor
    from flwr.supercore.runtime import RuntimeHttpClient

    interceptors: list[Any] = [RuntimeVersionHttpInterceptor(component_name=_COMPONENT)]
    if token:
        interceptors.append(RuntimeTokenHttpInterceptor(token))
    return RuntimeHttpClient.from_server_address(
        server_address=address, insecure=True, root_certificates=None, interceptors=interceptors
    )


def _pull_task_input(client: Any) -> tuple[Any, Any]:
    """flwr's ``pull_task_input`` with short retries.

    The SuperNode creates the task before it has downloaded the message, so the first
    pulls may find nothing; flwr backs off from 1 s, which would add seconds per round.
    """
    from flwr.app import Message
    from flwr.common.serde import context_from_proto
    from flwr.proto.node_pb2 import Node
    from flwr.proto.runtime_pb2 import PullAppMessagesRequest, PullTaskInputRequest
    from flwr.supercore.inflatable.inflatable_protobuf_utils import (
        make_confirm_message_received_fn_protobuf,
        make_pull_object_fn_protobuf,
    )
    from flwr.supercore.inflatable.inflatable_utils import pull_and_inflate_object_from_tree
    from flwr.supercore.task_identity import TaskIdentity

    task_input = client.PullTaskInput(PullTaskInputRequest())
    TaskIdentity.task_id, TaskIdentity.run_id = task_input.task_id, task_input.run.run_id
    TaskIdentity.node_id = task_input.context.node_id
    context = context_from_proto(task_input.context)
    for _ in range(400):  # at most ~20 s
        pulled = client.PullMessages(PullAppMessagesRequest())
        if pulled.messages_list:
            break
        time.sleep(0.05)
    else:
        raise RuntimeError("the SuperNode delivered no message for the task")
    node = Node(node_id=context.node_id)
    tree = pulled.message_object_trees[0]
    message = pull_and_inflate_object_from_tree(
        tree,
        make_pull_object_fn_protobuf(client.PullObject, node, context.run_id),
        make_confirm_message_received_fn_protobuf(client.ConfirmMessageReceived, node, context.run_id),
        return_type=Message,
        initial_backoff=0.02,
        backoff_cap=0.5,
    )
    message.metadata.__dict__["_message_id"] = tree.object_id
    return message, context


class WarmExecutor:
    def __init__(self, address: str, app: Any, timings: TaskTimings, poll_seconds: float = 0.02) -> None:
        self.address = address
        self.app = app
        self.timings = timings
        self.poll_seconds = poll_seconds
        self.tasks_run = 0

    def serve(self, stop: threading.Event) -> None:
        """Claim and run tasks until ``stop`` is set."""
        from flwr.proto.runtime_pb2 import AcquireTaskRequest
        from flwr.supercore.constant import TaskType

        control = _runtime_client(self.address)
        idle_since = time.perf_counter()
        try:
            while not stop.is_set():
                try:
                    claimed = control.AcquireTask(
                        AcquireTaskRequest(supported_task_types=[TaskType.CLIENT_APP])
                    )
                except httpx.HTTPError:  # the SuperNode is (re)starting
                    stop.wait(0.5)
                    continue
                if not (claimed.HasField("task") and claimed.token):
                    stop.wait(self.poll_seconds)
                    continue
                self.timings.wait = time.perf_counter() - idle_since
                self._run(claimed.token)
                self.tasks_run += 1
                idle_since = time.perf_counter()
        finally:
            control.close()

    def _run(self, token: str) -> None:
        from flwr.app import Message
        from flwr.app.error import Error
        from flwr.common.constant import ErrorCode, SubStatus
        from flwr.proto.runtime_pb2 import SendTaskHeartbeatRequest
        from flwr.supercore.heartbeat import HeartbeatSender
        from flwr.supernode.runtime.run_clientapp import push_message, push_task_output

        client = _runtime_client(self.address, token)

        def beat() -> bool:
            try:
                return bool(client.SendTaskHeartbeat(SendTaskHeartbeatRequest()).success)
            except httpx.HTTPError:
                return False

        heartbeat = HeartbeatSender(beat)
        heartbeat.start()
        message = context = reply = None
        status, details = SubStatus.FAILED, ""
        try:
            started = time.perf_counter()
            message, context = _pull_task_input(client)
            self.timings.load = time.perf_counter() - started
            reply = self.app(message=message, context=context)
            status = SubStatus.COMPLETED
        except Exception as exc:
            logger.exception("the ClientApp failed")
            details = f"{type(exc).__name__}: {exc}"
            if message is not None:
                reply = Message(
                    Error(code=ErrorCode.CLIENT_APP_RAISED_EXCEPTION, reason=details), reply_to=message
                )
        finally:
            try:
                if reply is not None and context is not None:
                    push_message(client, reply, context)
            finally:
                push_task_output(client, context, status, details)  # ends the task, keeps context.state
                heartbeat.stop()
                client.close()
