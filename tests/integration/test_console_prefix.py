"""A real `fedops up` under FEDOPS_PATH_PREFIX: the API, the console and the session cookie
under the prefix, probes at the root, and CSRF refused before a body is read.

Over a real uvicorn because the prefix meets Starlette's routing there (a ``root_path``
would be stripped from paths), and over raw sockets for the body, as in
test_body_limits.py: an HTTP client library would send the whole body first.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from http.cookies import SimpleCookie

import httpx
import pytest

from fedops.api.client import FedopsClient
from tests.conftest import ADMIN_TOKEN, HTTP_SERVER_COMMAND
from tests.integration.helpers import bearer
from tests.integration.test_body_limits import CHUNK, HUGE, _head, _read_answer
from tests.support.stack import FedopsStack, running_stack
from tests.unit.test_fedops_config import FEDOPS_CONFIG

pytestmark = pytest.mark.slow

PREFIX = "/fedops"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FedopsStack]:
    root = tmp_path_factory.mktemp("console-prefix")
    env = {
        "FEDOPS_ADMIN_TOKEN": ADMIN_TOKEN,
        "FEDOPS_PATH_PREFIX": PREFIX,
        "FEDOPS_SERVER_COMMAND": HTTP_SERVER_COMMAND,
    }
    with running_stack(root / "data", env=env) as running:
        yield running


@pytest.fixture(scope="module")
def session(stack: FedopsStack) -> tuple[str, str]:
    """(the cookie's secret, the CSRF token) of a signed-in console."""
    response = httpx.post(f"{stack.url}{PREFIX}/api/v1/session", headers=bearer(ADMIN_TOKEN))
    assert response.status_code == 201, response.text
    cookie: SimpleCookie = SimpleCookie()
    cookie.load(response.headers["set-cookie"])
    morsel = cookie["fedops_session"]
    assert morsel["path"] == f"{PREFIX}/" and morsel["httponly"] and morsel["samesite"].lower() == "strict"
    return morsel.value, response.json()["csrf_token"]


def test_the_api_and_the_console_answer_under_the_prefix_and_probes_at_the_root(
    stack: FedopsStack, session: tuple[str, str]
) -> None:
    secret, csrf = session
    with httpx.Client(base_url=stack.url, cookies={"fedops_session": secret}) as browser:
        page = browser.get(f"{PREFIX}/")
        assert page.status_code == 200 and 'src="console/app.js"' in page.text
        assert browser.get(f"{PREFIX}/console/app.js").status_code == 200
        assert browser.get(PREFIX).headers["location"] == f"{PREFIX}/"
        created = browser.post(f"{PREFIX}/api/v1/tasks", json={"name": "t"}, headers={"X-CSRF-Token": csrf})
        assert created.status_code == 201, created.text
        assert browser.get(f"{PREFIX}/api/v1/tasks").json()["count"] == 1
        assert browser.get("/api/v1/tasks").status_code == 404
        assert browser.get("/").status_code == 404
    for probe in ("/healthz", "/readyz", "/metrics"):
        assert httpx.get(f"{stack.url}{probe}").status_code == 200, probe


def test_the_sdk_converts_a_fedops_config_through_a_base_url_with_the_prefix(stack: FedopsStack) -> None:
    with FedopsClient(f"{stack.url}{PREFIX}", ADMIN_TOKEN) as client:
        conversion = client.registry.convert_fedops_config(FEDOPS_CONFIG, name="from-sdk")
    assert conversion.spec.name == "from-sdk" and conversion.notes


@pytest.mark.parametrize("csrf", [None, "wrong"])
@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_a_huge_body_signed_in_by_cookie_without_the_csrf_token_is_403_after_a_few_kib(
    stack: FedopsStack, session: tuple[str, str], csrf: str | None, method: str
) -> None:
    secret, _ = session
    path = f"{PREFIX}/api/v1/tasks" if method == "POST" else f"{PREFIX}/api/v1/tasks/any"
    head = _head(path, content_type="application/json", length=HUGE).replace(
        b"POST ", f"{method} ".encode(), 1
    )
    extra = f"Cookie: fedops_session={secret}\r\n" + (f"X-CSRF-Token: {csrf}\r\n" if csrf else "")
    head = head[:-2] + extra.encode() + b"\r\n"
    with socket.create_connection(("127.0.0.1", stack.port), timeout=30) as sock:
        sock.sendall(head + b"x" * CHUNK)  # 64 KiB of 300 MiB: the answer must come without the rest
        status, body = _read_answer(sock)
    assert status == 403 and body["error"]["code"] == "csrf_token_invalid"


def test_signing_out_ends_the_session(stack: FedopsStack) -> None:
    signed_in = httpx.post(f"{stack.url}{PREFIX}/api/v1/session", headers=bearer(ADMIN_TOKEN))
    cookies = {"fedops_session": signed_in.cookies["fedops_session"]}
    csrf = {"X-CSRF-Token": signed_in.json()["csrf_token"]}
    with httpx.Client(base_url=f"{stack.url}{PREFIX}", cookies=cookies) as browser:
        assert browser.get("api/v1/session").status_code == 200
        assert browser.delete("api/v1/session", headers=csrf).status_code == 204
    with httpx.Client(base_url=f"{stack.url}{PREFIX}", cookies=cookies) as stale:
        assert stale.get("api/v1/tasks").status_code == 401
