"""XAI artifacts: concurrent identical uploads never fail, and a client reads only its own.

Real threads send real requests at once through the app's thread pool to a real database
(both backends) and the real filesystem store.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.integration.helpers import bearer, create_task, enroll, error_code, upload_image
from tests.integration.test_concurrent_writes import at_once
from tests.unit.test_errors_and_sniffing import png_bytes

SENDERS = 16
# The race (both requests find no row, both insert) is hit in roughly one trial of three
# before the fix; eight trials make missing it on unfixed code unlikely, and every trial
# must hold on fixed code.
TRIALS = 8


def _stored_files(api: TestClient) -> list[Any]:
    services = api.app.state.services  # type: ignore[attr-defined]
    return [p for p in services.settings.artifact_dir.rglob("*") if p.is_file()]


def test_concurrent_uploads_of_one_artifact_id_store_it_once_and_never_fail(api: TestClient) -> None:
    task = create_task(api)
    client = enroll(api, task["id"])
    image = png_bytes(8, 8)

    for trial in range(TRIALS):
        key = f"race-{trial}"

        def send(_index: int, key: str = key) -> Any:
            return upload_image(api, task["id"], client, image, artifact_id=key)

        responses = at_once(SENDERS, send)

        statuses = Counter(r.status_code for r in responses)
        assert statuses == {201: 1, 200: SENDERS - 1}, (trial, statuses, [r.text for r in responses])
        assert len({r.json()["id"] for r in responses}) == 1
        with api.app.state.services.engine.connect() as connection:  # type: ignore[attr-defined]
            query = text("SELECT count(*) FROM artifacts WHERE artifact_key = :key")
            assert connection.execute(query, {"key": key}).scalar_one() == 1
        assert len(_stored_files(api)) == trial + 1


def test_a_client_downloads_only_the_artifacts_it_sent(api: TestClient) -> None:
    task = create_task(api)
    one = enroll(api, task["id"], "edge-1")
    two = enroll(api, task["id"], "edge-2")
    image = png_bytes(8, 8)
    created = upload_image(api, task["id"], one, image, artifact_id="mine")
    assert created.status_code == 201, created.text
    url = f"/api/v1/monitoring/artifacts/{created.json()['id']}/content"

    own = api.get(url, headers=bearer(one["credential"]))
    other = api.get(url, headers=bearer(two["credential"]))
    admin = api.get(url)

    assert own.status_code == 200 and own.content == image
    # Out of a credential's scope is 403 throughout the API (a foreign task's credential too).
    assert other.status_code == 403 and error_code(other) == "forbidden"
    assert admin.status_code == 200 and admin.content == image
