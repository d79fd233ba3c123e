"""A reader for GIMP's `.pat` pattern files (the real textures among the prints).

The format (GIMP's devel-docs/pat.txt): a big-endian header of five uint32 -- header size,
version (1), width, height, bytes per pixel (1 grey, 2 grey+alpha, 3 RGB, 4 RGBA) -- then the
magic "GPAT", then the pattern's UTF-8 name, NUL-terminated, up to the header size; then
width x height x bytes raw pixels, row-major. Every way a file can be wrong ends in a
`PatternError` that names the file and what is wrong.

    python -m training.prints.gimp_pat /usr/share/gimp/2.0/patterns/Animal/leopard.pat
"""

from __future__ import annotations

import struct
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAGIC = b"GPAT"
HEADER = struct.Struct(">5I4s")  # header_size, version, width, height, bytes, magic
MAX_SIDE = 8192  # GIMP's own limit on a pattern's side; anything larger is a corrupt header


class PatternError(Exception):
    """A .pat file that cannot be read; the message names the file and the problem."""


@dataclass(frozen=True)
class Pattern:
    name: str
    pixels: np.ndarray  # (H, W, 3) uint8 RGB (grey is repeated, alpha is composited on white)
    path: Path


def read_pat(path: str | Path) -> Pattern:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise PatternError(
            f"{path}: cannot read the file ({e.strerror}); check the path "
            "(`apt-get install gimp-data` installs the GIMP patterns)"
        ) from None
    if len(raw) < HEADER.size:
        raise PatternError(
            f"{path}: {len(raw)} bytes, shorter than the {HEADER.size}-byte .pat header; "
            "the file is truncated or not a GIMP pattern"
        )
    header_size, version, width, height, depth, magic = HEADER.unpack_from(raw)
    if magic != MAGIC:
        raise PatternError(f"{path}: magic {magic!r}, expected {MAGIC!r}; this is not a GIMP .pat file")
    if version != 1:
        raise PatternError(f"{path}: .pat version {version}; only version 1 exists")
    if not (HEADER.size <= header_size <= len(raw)):
        raise PatternError(
            f"{path}: header size {header_size} is outside {HEADER.size}..{len(raw)}; the header is corrupt"
        )
    if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE):
        raise PatternError(f"{path}: size {width}x{height} is outside 1..{MAX_SIDE}; the header is corrupt")
    if depth not in (1, 2, 3, 4):
        raise PatternError(f"{path}: {depth} bytes per pixel; a pattern has 1 (grey), 2, 3 (RGB) or 4 (RGBA)")
    name = raw[HEADER.size : header_size].split(b"\0", 1)[0].decode("utf-8", errors="replace")
    expected = width * height * depth
    body = raw[header_size:]
    if len(body) < expected:
        raise PatternError(
            f"{path}: header declares {width}x{height}x{depth} = {expected} bytes of pixels, "
            f"but the file holds {len(body)}; the file is truncated"
        )
    pixels = np.frombuffer(body, dtype=np.uint8, count=expected).reshape(height, width, depth)
    return Pattern(name=name, pixels=_to_rgb(pixels), path=path)


def _to_rgb(pixels: np.ndarray) -> np.ndarray:
    depth = pixels.shape[2]
    colour = pixels[..., :1].repeat(3, axis=2) if depth <= 2 else pixels[..., :3]
    if depth in (2, 4):  # composite alpha on white, as a pattern would show on a light cloth
        alpha = pixels[..., -1:].astype(np.float32) / 255.0
        colour = np.round(colour * alpha + 255.0 * (1.0 - alpha))
    return np.ascontiguousarray(colour.astype(np.uint8))


def main(argv: list[str] | None = None) -> int:
    paths = sys.argv[1:] if argv is None else argv
    status = 0
    for p in paths:
        try:
            pat = read_pat(p)
            print(f"{p}: {pat.name!r} {pat.pixels.shape[1]}x{pat.pixels.shape[0]}")
        except PatternError as e:
            print(e, file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
