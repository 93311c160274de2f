"""Error catalogue completeness and image recognition by content."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from fedops_services.artifacts import sniff_image_type
from fedops_services.artifacts.sniff import MAX_IMAGE_SIDE
from fedops_services.errors import STATUS_BY_CODE, ErrorCode, FedopsError


def test_every_error_code_has_a_status() -> None:
    assert set(STATUS_BY_CODE) == set(ErrorCode)
    assert all(400 <= status < 600 for status in STATUS_BY_CODE.values())


def png_bytes(width: int = 2, height: int = 2) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\x00" + b"\x80" * width for _ in range(height)))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def jpeg_bytes(width: int = 8, height: int = 8, **options: object) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, format="JPEG", **options)
    return buffer.getvalue()


def test_png_and_jpeg_are_recognised() -> None:
    assert sniff_image_type(png_bytes()) == "image/png"
    assert sniff_image_type(jpeg_bytes()) == "image/jpeg"
    assert sniff_image_type(jpeg_bytes(64, 48, progressive=True, quality=90)) == "image/jpeg"


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"GIF89a....",
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,  # signature without a valid header
        b"\xff\xd8\xff\xe0" + b"\x00" * 100,  # JPEG start without an end
        b"\xff\xd8\xff\xe0" + b"\x00" * 100 + b"\xff\xd9",  # markers of a JPEG, no image
        b"#!/bin/sh\nrm -rf /\n",
        # Decoded, not sniffed: a signature (or a whole image) followed by another document
        b"\x89PNG\r\n\x1a\n<html><script>alert(1)</script></html>",
        png_bytes() + b"<html><script>alert(1)</script></html>",
        jpeg_bytes() + b"<html><script>alert(1)</script></html>",
        png_bytes()[:-20] + b"IEND\xaeB`\x82",  # the right trailer, pixels cut short
        jpeg_bytes()[:-40] + b"\xff\xd9",  # truncated scan
    ],
)
def test_anything_else_is_not_an_image(content: bytes) -> None:
    assert sniff_image_type(content) is None


def test_an_image_too_large_to_decode_safely_is_refused_before_decoding() -> None:
    # refused from the size in its header alone
    with pytest.raises(FedopsError) as refused:
        sniff_image_type(png_bytes(width=MAX_IMAGE_SIDE + 1, height=1))
    assert refused.value.code is ErrorCode.PAYLOAD_TOO_LARGE
