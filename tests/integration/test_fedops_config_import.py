"""POST /api/v1/conversions/fedops-config: the console's import of a FedOps conf/config.yaml."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from fedops.api.schemas import MAX_FEDOPS_CONFIG_CHARS
from fedops.spec import TaskSpec
from tests.integration.helpers import bearer, create_task, enroll, error_code
from tests.unit.test_fedops_config import FEDOPS_CONFIG

URL = "/api/v1/conversions/fedops-config"


def fields(response: Any) -> dict[str, str]:
    return {d["field"]: d["message"] for d in response.json()["error"]["details"]}


def test_a_fedops_config_becomes_a_spec_with_its_notes_and_nothing_is_created(api: TestClient) -> None:
    response = api.post(URL, json={"config": FEDOPS_CONFIG})

    assert response.status_code == 200, response.text
    body = response.json()
    spec = TaskSpec.model_validate(body["spec"])  # the answer is a spec POST /tasks accepts
    assert spec.name == "mnist-xai" and spec.rounds == 2 and spec.training.seed == 42
    assert spec.strategy.name == "FedAvg" and spec.clients.min_train == 2
    notes = {note["key"]: note["message"] for note in body["notes"]}
    assert "model_type" in notes and notes["wandb.use"].startswith("not mapped")
    assert not any(key.endswith(".key") for key in notes)  # a secret's key is never echoed
    assert api.get("/api/v1/tasks").json()["count"] == 0
    created = api.post("/api/v1/tasks", json=body["spec"])
    assert created.status_code == 201, created.text


def test_the_name_replaces_the_task_id(api: TestClient) -> None:
    response = api.post(URL, json={"config": FEDOPS_CONFIG, "name": "imported"})
    assert response.json()["spec"]["name"] == "imported"


def test_unusable_keys_are_named_in_the_file(api: TestClient) -> None:
    config = "task_id: t\nnum_rounds: 0\nserver:\n  strategy:\n    _target_: flwr.server.strategy.Nope\n"
    response = api.post(URL, json={"config": config})

    assert response.status_code == 422 and error_code(response) == "validation_error"
    assert set(fields(response)) == {"config.server.strategy._target_"}
    assert "not a supported strategy" in fields(response)["config.server.strategy._target_"]
    invalid_value = api.post(URL, json={"config": "task_id: t\nnum_rounds: 0\n"})
    assert invalid_value.status_code == 422 and "config.num_rounds" in fields(invalid_value)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("task_id: [unclosed\n", "not valid YAML at line 2"),
        ("- a\n- list\n", "must be a YAML mapping (key: value lines), not a list"),
        ("just text", "not a str"),
        ("", "not empty"),
        ("task_id: t\nlearning_rate: .inf\n", "not a finite number"),
        ('task_id: "a\\0b"\n', "NUL"),
        ("a: &a [x, x, x, x, x, x, x, x, x, x]\n"
         "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
         "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
         "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
         "e: {e1: *d, e2: *d, e3: *d, e4: *d, e5: *d, e6: *d, e7: *d, e8: *d}\n",
         "more than 10000 values"),
        ("a: " + "[" * 5000 + "]" * 5000 + "\n", "deeper"),
        ("!!python/object:os.system {}\n", "not valid YAML"),
        ("task_id: t\nstarted: 2001-13-45\n", "not valid YAML: month must be in 1..12"),
        ("task_id: t\nserver: {strategy: {params: {d: 2001-12-14}}}\n", "must be text, a number"),
        ("task_id: !!binary aGVsbG8=\n", "must be text, a number"),
    ],
)  # fmt: skip
def test_files_that_are_not_a_usable_mapping_are_422_naming_config(
    api: TestClient, config: str, message: str
) -> None:
    response = api.post(URL, json={"config": config})

    assert response.status_code == 422 and error_code(response) == "validation_error", response.text
    (field,) = fields(response)
    assert field.startswith("config") and message in fields(response)[field]


def test_a_file_over_the_limit_is_refused(api: TestClient) -> None:
    too_large = "task_id: t\n" + "#" * MAX_FEDOPS_CONFIG_CHARS + "\n"
    response = api.post(URL, json={"config": too_large})
    assert response.status_code == 422 and set(fields(response)) == {"config"}
    at_the_limit = ("task_id: t\n" + "#" * MAX_FEDOPS_CONFIG_CHARS)[:MAX_FEDOPS_CONFIG_CHARS]
    assert api.post(URL, json={"config": at_the_limit}).status_code == 200


def test_only_the_admin_converts(api: TestClient) -> None:
    task = create_task(api)
    client = enroll(api, task["id"])
    refused = api.post(URL, json={"config": FEDOPS_CONFIG}, headers=bearer(client["credential"]))
    anonymous = api.post(URL, json={"config": FEDOPS_CONFIG}, headers={"Authorization": ""})
    assert refused.status_code == 403 and error_code(refused) == "forbidden"
    assert anonymous.status_code == 401
