"""PNG files for the kiosk and the exporters, by pygame's libpng (no display needed, safe on any
thread): capture images, print swatches, `fse-stylize`'s input and output. (H, W, 3) uint8 RGB."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np


def _surface(rgb: np.ndarray):
    import pygame  # noqa: PLC0415 - fse-export imports the capture log and needs no pygame

    pixels = np.ascontiguousarray(rgb, dtype=np.uint8)
    if pixels.ndim != 3 or pixels.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB image, got shape {pixels.shape}")
    return pygame.image.frombuffer(pixels.tobytes(), (pixels.shape[1], pixels.shape[0]), "RGB")


def encode_png(rgb: np.ndarray) -> bytes:
    out = io.BytesIO()
    import pygame  # noqa: PLC0415

    pygame.image.save(_surface(rgb), out, "image.png")  # the name says which format
    return out.getvalue()


def write_png(path: Path, rgb: np.ndarray) -> None:
    Path(path).write_bytes(encode_png(rgb))


def read_png(path: Path) -> np.ndarray:
    """Raises pygame.error or FileNotFoundError for a file that is not a readable image."""
    import pygame  # noqa: PLC0415

    surface = pygame.image.load(str(path))
    return np.ascontiguousarray(pygame.surfarray.array3d(surface).transpose(1, 0, 2))
