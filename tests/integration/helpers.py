"""Small helpers over the in-process API client."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient


def create_task(api: TestClient, name: str = "mnist-xai", **spec: Any) -> dict[str, Any]:
    response = api.post("/api/v1/tasks", json={"name": name, **spec})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def enroll(api: TestClient, task_id: str, name: str = "edge-1") -> dict[str, Any]:
    token = api.post(f"/api/v1/tasks/{task_id}/enrollment-tokens", json={}).json()["token"]
    response = api.post(
        f"/api/v1/tasks/{task_id}/clients",
        json={"name": name, "hostname": f"{name}.local"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def error_code(response: Any) -> str:
    code: str = response.json()["error"]["code"]
    return code


def upload_image(api: TestClient, task_id: str, client: dict[str, Any], content: bytes, **fields: Any) -> Any:
    """An XAI upload as the client; the hostile file name must never reach the store's paths."""
    form = {
        "round": "1",
        "client_id": client["client_id"],
        "class_label": "7",
        "method": "gradcam",
        "layer": "conv2",
        **fields,
    }
    return api.post(
        f"/api/v1/monitoring/tasks/{task_id}/artifacts",
        data=form,
        files={"file": ("../../etc/passwd.png", content, "image/png")},
        headers=bearer(client["credential"]),
    )
