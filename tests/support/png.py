"""A tiny PNG decoder (8-bit RGB/RGBA, non-interlaced: what Chromium writes) for screenshot checks."""

from __future__ import annotations

import struct
import zlib


def decode(data: bytes) -> tuple[int, int, int, bytes]:
    """Returns (width, height, channels, raw pixel bytes row by row)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert header is not None
    width, height, depth, color, _, _, interlace = header
    assert depth == 8 and color in (2, 6) and interlace == 0, f"unsupported PNG {header}"
    channels = 4 if color == 6 else 3
    raw = zlib.decompress(idat)
    stride = width * channels
    out = bytearray()
    previous = bytearray(stride)
    for row in range(height):
        start = row * (stride + 1)
        kind = raw[start]
        line = bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            up_left = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - up_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
                predictor = left if pa <= pb and pa <= pc else (up if pb <= pc else up_left)
                line[i] = (line[i] + predictor) & 0xFF
        out += line
        previous = line
    return width, height, channels, bytes(out)


def colour_stats(data: bytes, background: tuple[int, int, int] = (255, 255, 255)) -> tuple[int, int, set]:
    """(pixels differing from the background, total pixels, distinct colours, coarsely quantised)."""
    width, height, channels, pixels = decode(data)
    differing = 0
    colours: set[tuple[int, int, int]] = set()
    for i in range(0, len(pixels), channels):
        rgb = (pixels[i], pixels[i + 1], pixels[i + 2])
        if rgb != background:
            differing += 1
        colours.add((rgb[0] >> 4, rgb[1] >> 4, rgb[2] >> 4))
    return differing, width * height, colours
