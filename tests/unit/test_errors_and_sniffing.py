"""Error catalogue completeness and image recognition by content."""

from __future__ import annotations

import struct
import zlib

import pytest

from fedops_services.artifacts import sniff_image_type
from fedops_services.errors import STATUS_BY_CODE, ErrorCode


def test_every_error_code_has_a_status() -> None:
    assert set(STATUS_BY_CODE) == set(ErrorCode)
    assert all(400 <= status < 600 for status in STATUS_BY_CODE.values())


def png_bytes(width: int = 2, height: int = 2) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\x00" + b"\x80" * width for _ in range(height)))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def test_png_and_jpeg_are_recognised() -> None:
    assert sniff_image_type(png_bytes()) == "image/png"
    assert sniff_image_type(b"\xff\xd8\xff\xe0" + b"\x00" * 100 + b"\xff\xd9") == "image/jpeg"


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"GIF89a....",
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,  # signature without a valid header
        b"\xff\xd8\xff\xe0" + b"\x00" * 100,  # JPEG start without an end
        b"#!/bin/sh\nrm -rf /\n",
    ],
)
def test_anything_else_is_not_an_image(content: bytes) -> None:
    assert sniff_image_type(content) is None
