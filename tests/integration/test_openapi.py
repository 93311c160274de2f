"""The OpenAPI document: stable operation ids, documented errors, security on everything."""

from __future__ import annotations

from fastapi.testclient import TestClient

STABLE_OPERATION_IDS = {
    "createTask", "listTasks", "getTask", "updateTask", "deleteTask", "listTaskRevisions",
    "provisionServer", "getServerStatus", "scaleServer", "pauseServer", "resumeServer", "getServerLogs",
    "startRun", "stopRun", "reportRunResult", "deleteServer",
    "createEnrollmentToken", "enrollClient", "listClients", "sendHeartbeat", "getManagerState",
    "registerModelVersion", "listModelVersions", "getLatestModelVersion",
    "ingestReport", "ingestReports", "listReports", "listRounds", "uploadArtifact", "listArtifacts",
    "downloadArtifact", "uploadCheckpoint", "downloadCheckpoint",
    "getHealth", "getReadiness", "getWhoAmI", "getMetrics",
    "signIn", "getSession", "signOut", "convertFedopsConfig",
}  # fmt: skip
UNAUTHENTICATED = {"getHealth", "getReadiness", "getMetrics"}


def test_operation_ids_are_the_published_ones(api: TestClient) -> None:
    document = api.get("/openapi.json").json()
    operations = [op for path in document["paths"].values() for op in path.values()]

    ids = [op["operationId"] for op in operations]
    assert len(ids) == len(set(ids))
    assert set(ids) == STABLE_OPERATION_IDS
    for operation in operations:
        if operation["operationId"] not in UNAUTHENTICATED:
            assert operation.get("security"), operation["operationId"]
            assert "401" in operation["responses"], operation["operationId"]
