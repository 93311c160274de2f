"""The console's files as the browser gets them: every import resolves, nothing inline that the
Content-Security-Policy would block, the vendored library is the released one, compressed sizes."""

from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fedops_services.app import create_app
from fedops_services.config import Settings
from fedops_services.console.assets import STATIC_DIR, StaticAssets
from fedops_services.console.routes import SECURITY_HEADERS

# htm 3.1.1's preact/standalone.module.js (Preact and its hooks with htm, one ES module), as
# published on npm; the licences of both sit beside it.
VENDORED_SHA256 = "72284e8e9079c87817145df1110f74e8a2aa040b2fc384922e18dfcb46fc1fd7"
_IMPORT = re.compile(r"""(?:import|export)\s[^"';]*?from\s+["']([^"']+)["']""")


def _modules() -> list[Path]:
    return sorted(STATIC_DIR.rglob("*.js"))


def test_every_relative_import_of_every_module_names_a_file_that_is_served() -> None:
    served = set(StaticAssets().names())
    checked = 0
    for module in _modules():
        for target in _IMPORT.findall(module.read_text()):
            assert target.startswith("."), (
                f"{module.name} imports {target!r}: no bare imports without a build"
            )
            resolved = (module.parent / target).resolve().relative_to(STATIC_DIR.resolve()).as_posix()
            assert resolved in served, f"{module.name} imports {target}, which is not served"
            checked += 1
    assert checked > 10


def test_nothing_inline_that_the_content_security_policy_would_block() -> None:
    for path in STATIC_DIR.rglob("*"):
        if path.suffix not in (".js", ".html") or "vendor" in path.parts:
            continue
        # Comments may name what is forbidden; the code may not use it.
        text = "\n".join(line for line in path.read_text().splitlines() if not line.strip().startswith("//"))
        assert not re.search(r"\sstyle\s*=", text), f"{path.name}: inline style attributes are blocked by CSP"
        assert not re.search(r"\son[a-z]+\s*=\s*\"", text), f"{path.name}: inline event handlers are blocked"
        if path.suffix == ".html":
            assert not re.search(r"<script(?![^>]*\bsrc=)", text), "inline <script> is blocked by CSP"


def test_the_vendored_library_is_the_released_file_with_its_licences() -> None:
    content = (STATIC_DIR / "vendor" / "htm-preact-standalone.module.js").read_bytes()
    assert hashlib.sha256(content).hexdigest() == VENDORED_SHA256
    assert "Apache License" in (STATIC_DIR / "vendor" / "LICENSE-htm.txt").read_text()
    assert "MIT License" in (STATIC_DIR / "vendor" / "LICENSE-preact.txt").read_text()


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    return TestClient(create_app(Settings(data_dir=tmp_path, admin_token="t" * 32)))


def test_the_page_and_its_files_are_served_with_the_security_headers(client: TestClient) -> None:
    with client:
        page = client.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        for name, value in SECURITY_HEADERS.items():
            assert page.headers[name] == value
        module = client.get("/console/app.js")
        assert module.headers["content-type"].startswith("text/javascript")
        assert (
            client.get("/console/app.js", headers={"If-None-Match": module.headers["etag"]}).status_code
            == 304
        )


@pytest.mark.parametrize("path", ["/console/missing.js", "/console/../config.py", "/console/%2e%2e/app.py"])
def test_a_file_outside_the_console_is_not_found(client: TestClient, path: str) -> None:
    with client:
        answer = client.get(path)
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"


def test_a_compressible_file_is_kept_gzipped_with_its_own_etag() -> None:
    asset = StaticAssets().get("app.js")
    assert asset is not None and asset.gzipped is not None
    file = (STATIC_DIR / "app.js").read_bytes()
    assert gzip.decompress(asset.gzipped) == file
    assert len(asset.gzipped) < len(file)
    # One strong ETag per content coding (RFC 9110 8.8.3): the two bodies differ.
    assert asset.gzip_etag == asset.etag[:-1] + '-gz"'


def _raw(client: TestClient, path: str, headers: dict[str, str]) -> tuple[dict[str, str], bytes]:
    """The headers and the body as served, not decoded (TestClient, like httpx, would gunzip it)."""
    with client.stream("GET", path, headers=headers) as answer:
        return dict(answer.headers), b"".join(answer.iter_raw())


def test_gzip_is_served_when_asked_with_the_gzip_etag(client: TestClient) -> None:
    asset = StaticAssets().get("app.js")
    assert asset is not None
    with client:
        zipped, body = _raw(client, "/console/app.js", {"Accept-Encoding": "gzip"})
        plain, identity = _raw(client, "/console/app.js", {"Accept-Encoding": "identity"})
    assert zipped["content-encoding"] == "gzip"
    assert gzip.decompress(body) == (STATIC_DIR / "app.js").read_bytes()
    assert "content-encoding" not in plain
    assert identity == (STATIC_DIR / "app.js").read_bytes()
    assert (zipped["etag"], plain["etag"]) == (asset.gzip_etag, asset.etag)
    assert zipped["vary"] == plain["vary"] == "Accept-Encoding"


@pytest.mark.parametrize(
    ("accept", "gzipped"),
    [
        ("gzip", True),
        ("GZIP", True),
        ("deflate, gzip;q=0.5", True),
        ("x-gzip", True),
        ("*", True),
        ("br, *;q=0.1", True),
        ("identity", False),
        ("gzip;q=0", False),
        ("gzip; q=0.000", False),
        ("gzip;q=0, *", False),  # named wins over *
        ("br, *;q=0", False),
        ("gzip;q=nonsense", False),
        ("deflate", False),
    ],
)
def test_gzip_only_when_acceptable_by_its_q_value(client: TestClient, accept: str, gzipped: bool) -> None:
    with client:
        headers, _ = _raw(client, "/console/app.js", {"Accept-Encoding": accept})
    assert (headers.get("content-encoding") == "gzip") is gzipped


def test_a_304_is_for_the_etag_of_the_representation_asked_for(client: TestClient) -> None:
    asset = StaticAssets().get("app.js")
    assert asset is not None and asset.gzip_etag is not None
    gz, plain = {"Accept-Encoding": "gzip"}, {"Accept-Encoding": "identity"}
    with client:
        assert (
            client.get("/console/app.js", headers={**gz, "If-None-Match": asset.gzip_etag}).status_code == 304
        )
        assert (
            client.get("/console/app.js", headers={**plain, "If-None-Match": asset.etag}).status_code == 304
        )
        # The other coding's validator does not match: the body comes, with its own ETag.
        crossed = client.get("/console/app.js", headers={**plain, "If-None-Match": asset.gzip_etag})
        assert (crossed.status_code, crossed.headers["etag"]) == (200, asset.etag)
        crossed = client.get("/console/app.js", headers={**gz, "If-None-Match": asset.etag})
        assert (crossed.status_code, crossed.headers["etag"]) == (200, asset.gzip_etag)
        listed = f'"other", W/{asset.gzip_etag}'  # a list, and weak comparison
        assert client.get("/console/app.js", headers={**gz, "If-None-Match": listed}).status_code == 304


def test_no_page_on_the_consoles_origin_loads_scripts_from_elsewhere(client: TestClient) -> None:
    # FastAPI's /docs and /redoc pull Swagger UI and ReDoc from a CDN: a compromised package
    # would run with the console's session. Only the console's own page is HTML here.
    with client:
        for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
            assert client.get(path).status_code == 404
        assert client.get("/openapi.json").status_code == 200
