"""Console sign-in: the admin token exchanged for a session cookie, CSRF, sign-out, expiry.

In-process against real SQLite and PostgreSQL; the raw-socket proof that a CSRF-less
request is refused before its body is read is in test_console_prefix.py (a real uvicorn).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from http.cookies import SimpleCookie
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import create_engine, text

from fedops_services.app import create_app
from fedops_services.config import Settings
from fedops_services.db import autocommit_reads
from fedops_services.db.tables import utcnow
from fedops_services.security import hash_token
from fedops_services.security.sessions import ConsoleSessions
from tests.conftest import ADMIN_TOKEN
from tests.integration.helpers import bearer, create_task, enroll, error_code, upload_image
from tests.unit.test_errors_and_sniffing import png_bytes

SESSION = "/api/v1/session"


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(settings: Settings, clock: Clock) -> Iterator[FastAPI]:
    """The app, its console sessions on a clock the test moves."""
    application = create_app(settings, reconcile=False)
    with TestClient(application):  # runs the lifespan: the services are built
        services = application.state.services
        services.console_sessions = ConsoleSessions(
            services.sessions,
            autocommit_reads(services.engine),
            ADMIN_TOKEN,
            settings.session_ttl_seconds,
            clock=clock,
        )
        yield application


@pytest.fixture
def browser(app: FastAPI) -> TestClient:
    """A client without an Authorization header: like the console, it has only its cookie.
    (Not entered: that would run the lifespan again and rebuild the services.)"""
    return TestClient(app)


def sign_in(client: TestClient, token: str = ADMIN_TOKEN) -> str:
    """Signs ``client`` in; returns the CSRF token."""
    response = client.post(SESSION, headers=bearer(token))
    assert response.status_code == 201, response.text
    csrf: str = response.json()["csrf_token"]
    return csrf


def set_cookie(response: object) -> SimpleCookie:
    cookie: SimpleCookie = SimpleCookie()
    cookie.load(response.headers["set-cookie"])  # type: ignore[attr-defined]
    return cookie


def test_sign_in_sets_a_locked_down_cookie_and_answers_the_csrf_token(
    browser: TestClient, settings: Settings
) -> None:
    response = browser.post(SESSION, headers=bearer(ADMIN_TOKEN))

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"csrf_token", "expires_at", "role"} and body["role"] == "admin"
    expires = datetime.fromisoformat(body["expires_at"])
    assert timedelta(hours=11, minutes=59) < expires - utcnow() <= timedelta(hours=12)
    morsel = set_cookie(response)["fedops_session"]
    assert morsel["httponly"] is True and morsel["samesite"].lower() == "strict"
    assert morsel["path"] == "/" and morsel["max-age"] == str(settings.session_ttl_seconds)
    assert not morsel["secure"]  # plain http here; see the https test
    assert len(morsel.value) >= 40 and body["csrf_token"] not in response.headers["set-cookie"]
    # The cookie alone now authenticates reads, as the admin.
    assert browser.get("/api/v1/whoami").json()["role"] == "admin"
    assert browser.get(SESSION).json() == body


def test_the_cookie_is_secure_when_the_request_came_over_https(app: FastAPI) -> None:
    with TestClient(app, base_url="https://testserver") as client:
        response = client.post(SESSION, headers=bearer(ADMIN_TOKEN))
    assert response.status_code == 201
    assert set_cookie(response)["fedops_session"]["secure"] is True


def test_only_the_secret_hash_is_stored(browser: TestClient, database_url: str) -> None:
    sign_in(browser)
    secret = browser.cookies["fedops_session"]
    engine = create_engine(database_url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT secret_hash, admin_binding FROM console_sessions")).all()
    engine.dispose()
    assert [row.secret_hash for row in rows] == [hash_token(secret)]
    assert secret not in rows[0].admin_binding and hash_token(ADMIN_TOKEN) != rows[0].admin_binding


@pytest.mark.parametrize(
    ("method", "path", "json"),
    [
        ("POST", "/api/v1/tasks", {"name": "made-by-csrf"}),
        ("PUT", "/api/v1/tasks/{id}", {"name": "victim", "rounds": 9}),
        ("PATCH", "/api/v1/tasks/{id}/server", {"replicas": 1}),
        ("DELETE", "/api/v1/tasks/{id}", None),
    ],
)
def test_a_mutating_request_by_cookie_needs_the_csrf_token(
    browser: TestClient, api: TestClient, method: str, path: str, json: object
) -> None:
    task = create_task(api, name="victim")
    csrf = sign_in(browser)
    url = path.format(id=task["id"])

    missing = browser.request(method, url, json=json)
    wrong = browser.request(method, url, json=json, headers={"X-CSRF-Token": csrf[:-1] + "x"})
    other_session = TestClient(browser.app)
    other_csrf = sign_in(other_session)
    borrowed = browser.request(method, url, json=json, headers={"X-CSRF-Token": other_csrf})

    for refused in (missing, wrong, borrowed):
        assert refused.status_code == 403 and error_code(refused) == "csrf_token_invalid"
    assert api.get(f"/api/v1/tasks/{task['id']}").json()["revision"] == 1  # nothing changed
    assert api.get("/api/v1/tasks").json()["count"] == 1

    accepted = browser.request(method, url, json=json, headers={"X-CSRF-Token": csrf})
    # Past the guard: the route's own answer (PATCH of a server never provisioned is 409).
    assert accepted.status_code in (200, 201, 204, 409), accepted.text
    assert accepted.status_code != 409 or error_code(accepted) == "server_not_provisioned"


def test_signing_out_revokes_the_session_at_once(browser: TestClient) -> None:
    csrf = sign_in(browser)
    secret = browser.cookies["fedops_session"]
    assert browser.get("/api/v1/tasks").status_code == 200  # now remembered by this process

    refused = browser.delete(SESSION)
    assert refused.status_code == 403 and error_code(refused) == "csrf_token_invalid"
    response = browser.delete(SESSION, headers={"X-CSRF-Token": csrf})

    assert response.status_code == 204
    cleared = set_cookie(response)["fedops_session"]
    assert cleared.value == "" and cleared["max-age"] == "0" and cleared["path"] == "/"
    # Even a browser that kept the cookie is refused, and within the cache's lifetime.
    browser.cookies.set("fedops_session", secret)
    for answer in (browser.get("/api/v1/tasks"), browser.get(SESSION)):
        assert answer.status_code == 401 and error_code(answer) == "unauthenticated"


def test_an_expired_session_is_refused_and_removed_at_the_next_sign_in(
    browser: TestClient, clock: Clock, settings: Settings, database_url: str
) -> None:
    sign_in(browser)
    assert browser.get("/api/v1/tasks").status_code == 200

    clock.now += timedelta(seconds=settings.session_ttl_seconds + 1)

    assert browser.get("/api/v1/tasks").status_code == 401
    assert browser.get(SESSION).status_code == 401
    sign_in(TestClient(browser.app))
    engine = create_engine(database_url)
    with engine.connect() as connection:
        count = connection.execute(text("SELECT count(*) FROM console_sessions")).scalar_one()
    engine.dispose()
    assert count == 1  # the expired one is gone


def test_a_session_ends_when_the_admin_token_changes(settings: Settings) -> None:
    with TestClient(create_app(settings, reconcile=False)) as before:
        sign_in(before)
        secret = before.cookies["fedops_session"]
    other_token = settings.model_copy(update={"admin_token": SecretStr("another-admin-token-0123456789")})
    same_token = settings.model_copy()
    with TestClient(create_app(other_token, reconcile=False), cookies={"fedops_session": secret}) as after:
        changed = after.get("/api/v1/tasks")
    with TestClient(create_app(same_token, reconcile=False), cookies={"fedops_session": secret}) as again:
        unchanged = again.get("/api/v1/tasks")  # a restart with the same token keeps it
    assert changed.status_code == 401 and error_code(changed) == "unauthenticated"
    assert unchanged.status_code == 200


def test_only_the_admin_token_opens_a_session(browser: TestClient, api: TestClient) -> None:
    task = create_task(api)
    client = enroll(api, task["id"])
    enrolment = api.post(f"/api/v1/tasks/{task['id']}/enrollment-tokens", json={}).json()["token"]

    for token in (client["credential"], enrolment):
        refused = browser.post(SESSION, headers=bearer(token))
        assert refused.status_code == 403 and error_code(refused) == "forbidden"
    wrong = browser.post(SESSION, headers=bearer("not-the-admin-token-at-all"))
    assert wrong.status_code == 401
    assert "fedops_session" not in browser.cookies


def test_the_cookie_cannot_open_another_session(browser: TestClient) -> None:
    csrf = sign_in(browser)
    response = browser.post(SESSION, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 401 and error_code(response) == "unauthenticated"


def test_signing_in_again_ends_the_previous_session(browser: TestClient) -> None:
    sign_in(browser)
    first = browser.cookies["fedops_session"]
    sign_in(browser)
    assert browser.cookies["fedops_session"] != first
    with TestClient(browser.app, cookies={"fedops_session": first}) as stale:
        assert stale.get("/api/v1/tasks").status_code == 401


def test_the_authorization_header_wins_over_the_cookie(browser: TestClient, api: TestClient) -> None:
    task = create_task(api)
    client = enroll(api, task["id"])
    csrf = sign_in(browser)

    as_client = browser.post(
        "/api/v1/tasks", json={"name": "x"}, headers={**bearer(client["credential"]), "X-CSRF-Token": csrf}
    )
    forged = browser.get("/api/v1/tasks", headers=bearer("fedops_cli_forged"))

    assert as_client.status_code == 403 and error_code(as_client) == "forbidden"
    assert forged.status_code == 401


def test_no_session_is_401(browser: TestClient, api: TestClient) -> None:
    assert browser.get(SESSION).status_code == 401
    assert api.get(SESSION).status_code == 401  # a bearer token is not a session
    browser.cookies.set("fedops_session", "made-up")
    assert browser.get("/api/v1/tasks").status_code == 401
    browser.cookies.set("fedops_session", "x" * 5000)
    assert browser.get("/api/v1/tasks").status_code == 401


def test_the_cookie_loads_xai_images(browser: TestClient, api: TestClient) -> None:
    task = create_task(api)
    client = enroll(api, task["id"])
    stored = upload_image(api, task["id"], client, png_bytes())
    assert stored.status_code == 201, stored.text
    sign_in(browser)

    image = browser.get(f"/api/v1/monitoring/artifacts/{stored.json()['id']}/content")

    assert image.status_code == 200 and image.content == png_bytes()
    assert image.headers["content-type"] == "image/png"


@pytest.fixture
def prefixed(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings.model_copy(update={"path_prefix": "/fedops"}), reconcile=False)
    with TestClient(app) as client:
        yield client


def test_under_a_prefix_everything_but_the_probes_moves(prefixed: TestClient) -> None:
    response = prefixed.post("/fedops/api/v1/session", headers=bearer(ADMIN_TOKEN))
    assert response.status_code == 201
    assert set_cookie(response)["fedops_session"]["path"] == "/fedops/"
    csrf = response.json()["csrf_token"]
    created = prefixed.post("/fedops/api/v1/tasks", json={"name": "t"}, headers={"X-CSRF-Token": csrf})
    assert created.status_code == 201, created.text
    assert prefixed.get("/fedops/api/v1/tasks").json()["count"] == 1
    assert prefixed.get("/api/v1/tasks", headers=bearer(ADMIN_TOKEN)).status_code == 404

    page = prefixed.get("/fedops/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert prefixed.get("/fedops/console/app.js").status_code == 200
    redirect = prefixed.get("/fedops", follow_redirects=False)
    assert redirect.status_code == 308 and redirect.headers["location"] == "/fedops/"
    assert prefixed.get("/").status_code == 404

    for probe in ("/healthz", "/readyz", "/metrics"):
        assert prefixed.get(probe).status_code == 200, probe
        assert prefixed.get(f"/fedops{probe}").status_code == 404, probe
    assert "/fedops/api/v1/tasks" in prefixed.get("/fedops/openapi.json").json()["paths"]


def test_every_route_that_changes_something_passes_the_csrf_check(app: FastAPI) -> None:
    # The CSRF check lives in the guard's authentication, so a mutating route that did not
    # declare the principal would take a cookie-authenticated request without the token.
    from fastapi.routing import APIRoute

    from fedops_services.api.guard import depends_on_principal
    from fedops_services.security.sessions import SAFE_METHODS

    def walk(routes: list[Any]) -> Iterator[APIRoute]:
        for route in routes:
            if isinstance(route, APIRoute):
                yield route
            elif hasattr(route, "original_router"):  # FastAPI keeps included routers as such
                yield from walk(route.original_router.routes)

    mutating = [r for r in walk(app.routes) if set(r.methods or ()) - SAFE_METHODS]
    assert len(mutating) > 15
    assert [r.path for r in mutating if not depends_on_principal(r.dependant)] == []
