"""OpenAPI links: which response supplies which path parameter of other operations.

They document how the API is walked (create a task, then act on it by its id) and let a
stateful fuzzer (tests/fuzz) chain real requests instead of guessing ids.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

__all__ = ["install_links"]

# operation that creates -> (its success status, {path parameter: runtime expression})
_SOURCES: dict[str, tuple[str, dict[str, str]]] = {
    "createTask": ("201", {"task_id": "$response.body#/id"}),
    "enrollClient": ("201", {"task_id": "$response.body#/task_id", "client_id": "$response.body#/client_id"}),
    "uploadArtifact": ("201", {"task_id": "$response.body#/task_id", "artifact_id": "$response.body#/id"}),
}


def install_links(app: FastAPI) -> None:
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _add_links(generate())
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend it


def _add_links(document: dict[str, Any]) -> None:
    operations = [op for path in document["paths"].values() for op in path.values()]
    by_id = {op["operationId"]: op for op in operations}
    for source_id, (status, supplies) in _SOURCES.items():
        source = by_id.get(source_id)
        if source is None or status not in source["responses"]:
            continue  # a component this process does not serve
        links = source["responses"][status].setdefault("links", {})
        for target in operations:
            path_parameters = {p["name"] for p in target.get("parameters", []) if p["in"] == "path"}
            # Link only where this response supplies every id the target's path needs
            # beyond task_id, so a client id never comes from a task response.
            if not path_parameters or not path_parameters <= supplies.keys():
                continue
            if path_parameters == {"task_id"} and len(supplies) > 1 and source_id != "createTask":
                continue  # task-level operations are linked from createTask
            links[target["operationId"]] = {
                "operationId": target["operationId"],
                "parameters": {name: supplies[name] for name in sorted(path_parameters)},
            }
