"""The console's files, read once at start-up and kept in memory, gzipped where it pays."""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

__all__ = ["STATIC_DIR", "Asset", "StaticAssets"]

STATIC_DIR = Path(__file__).parent / "static"
# Text compresses to a fraction; images are compressed already.
_COMPRESSIBLE = {".html", ".js", ".css", ".svg", ".json", ".txt"}
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


@dataclass(frozen=True)
class Asset:
    content: bytes
    gzipped: bytes | None
    content_type: str
    etag: str  # of `content`
    # Of `gzipped`: another representation, so another strong validator (RFC 9110 8.8.3).
    gzip_etag: str | None


class StaticAssets:
    """Every file under ``directory`` by its relative path (``lib/api.js``)."""

    def __init__(self, directory: Path = STATIC_DIR) -> None:
        self._assets: dict[str, Asset] = {}
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                self._assets[path.relative_to(directory).as_posix()] = _load(path)

    def get(self, name: str) -> Asset | None:
        return self._assets.get(name)

    def names(self) -> list[str]:
        return sorted(self._assets)


def _load(path: Path) -> Asset:
    content = path.read_bytes()
    content_type = _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if content_type.startswith("text/") and "charset" not in content_type:
        content_type += "; charset=utf-8"
    # mtime=0: the same bytes on every start, so the ETag below stays valid across restarts.
    gzipped = gzip.compress(content, compresslevel=9, mtime=0) if path.suffix in _COMPRESSIBLE else None
    digest = hashlib.sha256(content).hexdigest()[:20]
    gzip_etag = f'"{digest}-gz"' if gzipped is not None else None
    return Asset(content, gzipped, content_type, f'"{digest}"', gzip_etag)
