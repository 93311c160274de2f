"""Recognise JPEG and PNG by their bytes; file names and declared types are not trusted."""

from __future__ import annotations

import struct

__all__ = ["sniff_image_type"]

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def sniff_image_type(content: bytes) -> str | None:
    """Return ``image/png`` or ``image/jpeg`` when the bytes are one, else None."""
    if _is_png(content):
        return "image/png"
    if _is_jpeg(content):
        return "image/jpeg"
    return None


def _is_png(content: bytes) -> bool:
    # Signature, then an IHDR chunk of 13 bytes with non-zero dimensions, and an IEND trailer.
    if len(content) < 8 + 25 + 12 or not content.startswith(_PNG_SIGNATURE):
        return False
    length, chunk = struct.unpack(">I4s", content[8:16])
    if length != 13 or chunk != b"IHDR":
        return False
    width, height = struct.unpack(">II", content[16:24])
    return width > 0 and height > 0 and content[-8:-4] == b"IEND"


def _is_jpeg(content: bytes) -> bool:
    # Start-of-image marker followed by another marker, end-of-image at the end
    # (trailing padding after EOI is tolerated, as decoders do).
    if len(content) < 4 or content[:3] != b"\xff\xd8\xff":
        return False
    return b"\xff\xd9" in content[-64:]
