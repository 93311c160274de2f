"""Accept an upload only if it decodes as one JPEG or PNG image and nothing else.

Magic bytes are not enough: a PNG signature followed by HTML passed a signature check and
was served back. So the image is decoded with Pillow (after its pixel dimensions are
checked, so a small file cannot expand into gigabytes), and the container must end where
the image ends: no bytes after PNG's IEND chunk or JPEG's end-of-image marker, where a
second document could hide. File names and declared types are never trusted.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, UnidentifiedImageError

from fedops_services.errors import ErrorCode, FedopsError

__all__ = ["MAX_IMAGE_SIDE", "sniff_image_type"]

# Grad-CAM images are a few hundred pixels a side; this leaves room for large inputs while
# keeping one decode below ~50 MB of memory.
MAX_IMAGE_SIDE = 4096
_MAX_PIXELS = 4096 * 4096
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg"}


def sniff_image_type(content: bytes) -> str | None:
    """``image/png`` or ``image/jpeg`` when the bytes are exactly one such image, else None.

    Raises FedopsError (413) when it is an image with more pixels than allowed.
    """
    kind = _container_type(content)
    if kind is None:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content), formats=[kind]) as image:
                width, height = image.size
                if width > MAX_IMAGE_SIDE or height > MAX_IMAGE_SIDE or width * height > _MAX_PIXELS:
                    raise FedopsError(
                        ErrorCode.PAYLOAD_TOO_LARGE,
                        f"file: the image is {width}x{height} pixels; at most {MAX_IMAGE_SIDE} a side",
                    )
                image.load()  # decodes every pixel: truncated or corrupt data fails here
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ):
        return None
    return _TYPES[kind]


def _container_type(content: bytes) -> str | None:
    if content.startswith(_PNG_SIGNATURE):
        return "PNG" if _png_ends_at_iend(content) else None
    if content.startswith(b"\xff\xd8\xff"):
        return "JPEG" if _jpeg_ends_at_eoi(content) else None
    return None


def _png_ends_at_iend(content: bytes) -> bool:
    """Walk the chunks: IHDR first, IEND last and at the very end of the file."""
    position = len(_PNG_SIGNATURE)
    first = True
    while position + 12 <= len(content):
        length = int.from_bytes(content[position : position + 4], "big")
        kind = content[position + 4 : position + 8]
        if first and kind != b"IHDR":
            return False
        first = False
        position += 12 + length
        if kind == b"IEND":
            return position == len(content)
    return False


def _jpeg_ends_at_eoi(content: bytes) -> bool:
    """Walk the marker segments to the end-of-image marker, which must end the file.

    Entropy-coded data after a start-of-scan has no length; inside it 0xFF is always
    followed by 0x00 (stuffing) or a restart marker, so the next other marker ends it.
    """
    position = 2  # after SOI
    end = len(content)
    while position + 4 <= end:
        if content[position] != 0xFF:
            return False
        marker = content[position + 1]
        if marker == 0xFF:  # fill byte before a marker
            position += 1
            continue
        if marker == 0xD9:  # EOI
            return position + 2 == end
        length = int.from_bytes(content[position + 2 : position + 4], "big")
        if length < 2:
            return False
        position += 2 + length
        if marker == 0xDA:  # SOS: skip the entropy-coded segment
            position = _after_entropy_coded(content, position)
            if position < 0:
                return False
    return position + 2 == end and content[position : position + 2] == b"\xff\xd9"


def _after_entropy_coded(content: bytes, position: int) -> int:
    """Where the marker after entropy-coded data starts; -1 if the data runs to the end."""
    while True:
        position = content.find(b"\xff", position)
        if position < 0 or position + 1 >= len(content):
            return -1
        following = content[position + 1]
        if following != 0x00 and not 0xD0 <= following <= 0xD7:
            return position
        position += 2
