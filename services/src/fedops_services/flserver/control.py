"""Submit, watch and stop Flower runs through the SuperLink's Control API (loopback only)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

__all__ = ["AdmittedNode", "RunControl", "RunState"]


@dataclass(frozen=True)
class RunState:
    status: str  # pending | starting | running | finished
    sub_status: str  # completed | failed | stopped (when finished)
    details: str


@dataclass(frozen=True)
class AdmittedNode:
    """A SuperNode the SuperLink knows, by the public key it was registered with."""

    node_id: int
    public_key: str  # PEM, as registered
    revoked: bool  # unregistered: Flower refuses the key and never registers it again


class RunControl:
    def __init__(self, address: str, *, root_certificates: bytes | None = None) -> None:
        from flwr.supercore.control.control_http_client import ControlHttpClient

        self._client = ControlHttpClient.from_server_address(
            server_address=address,
            insecure=root_certificates is None,
            root_certificates=root_certificates,
            interceptors=[],
        )

    def start(self, task_id: str) -> int:
        """Submit a run of the fedops ServerApp for the task."""
        from fedops_services.flserver.fab import build_fab

        content, digest = build_fab()
        return self.submit(content, digest, {"fedops-task-id": task_id})

    def submit(self, fab: bytes, fab_hash: str, overrides: dict[str, str | int | float | bool]) -> int:
        """Submit a run of any Flower App bundle; returns its run id."""
        from flwr.common.serde import fab_to_proto, user_config_to_proto
        from flwr.proto.control_pb2 import StartRunRequest
        from flwr.supercore.fab import Fab

        request = StartRunRequest(
            fab=fab_to_proto(Fab(fab_hash, fab, {})),
            override_config=user_config_to_proto(overrides),
            federation="",
        )
        return int(self._client.StartRun(request).run_id)

    def state(self, run_id: int) -> RunState:
        from flwr.proto.control_pb2 import ListRunsRequest

        run = self._client.ListRuns(ListRunsRequest(run_id=run_id)).run_dict[run_id]
        return RunState(run.status.status, run.status.sub_status, run.status.details)

    def stop(self, run_id: int) -> None:
        from flwr.proto.control_pb2 import StopRunRequest

        try:
            self._client.StopRun(StopRunRequest(run_id=run_id))
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code != 412:  # 412: the run is finished already
                raise

    def register_node(self, public_key_pem: bytes, name: str) -> None:
        """Allow the SuperNode holding the matching private key to connect."""
        from flwr.proto.control_pb2 import RegisterNodeRequest

        try:
            self._client.RegisterNode(RegisterNodeRequest(public_key=public_key_pem, name=name))
        except httpx.HTTPStatusError as exc:  # registered before (the SuperLink's state survives restarts)
            if exc.response.status_code >= 500:
                raise

    def nodes(self) -> list[AdmittedNode]:
        """Every SuperNode registered with the SuperLink, unregistered ones included."""
        from flwr.proto.control_pb2 import ListNodesRequest
        from flwr.supercore.constant import NodeStatus

        return [
            AdmittedNode(
                int(node.node_id),
                bytes(node.public_key).decode(errors="replace"),
                node.status == NodeStatus.UNREGISTERED,
            )
            for node in self._client.ListNodes(ListNodesRequest()).nodes_info
        ]

    def unregister_node(self, node_id: int) -> None:
        """Refuse the SuperNode from now on (its key stays in the SuperLink, marked unregistered)."""
        from flwr.proto.control_pb2 import UnregisterNodeRequest

        try:
            self._client.UnregisterNode(UnregisterNodeRequest(node_id=node_id))
        except httpx.HTTPStatusError as exc:  # unregistered meanwhile: the outcome we wanted
            if exc.response.status_code >= 500:
                raise

    def logs(self, run_id: int) -> str:
        from flwr.proto.control_pb2 import StreamLogsRequest

        return "".join(
            reply.log_output for reply in self._client.StreamLogs(StreamLogsRequest(run_id=run_id))
        )

    def close(self) -> None:
        self._client.close()
