"""Small real image files for upload and proof-file tests."""

from __future__ import annotations

import struct
import zlib


def png_bytes(width: int = 1, height: int = 1, rgba: bytes = b"\x00\x00\x00\x00") -> bytes:
    """A valid PNG of one colour (transparent unless told), 1×1 unless told."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    rows = (b"\x00" + rgba * width) * height  # filter byte, RGBA pixels
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))
