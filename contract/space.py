"""The fashion space's geometry, shared by training and the kiosk (numpy only).

`coordinates()` is the one definition of the CPPN's input grid: training builds its 28x28 grid
with it, the exporter documents it in the manifest, and the kiosk builds every resolution
it renders (28x28 canvas, preview strips, 1024x1024 captures) with it. Keeping it in one place
means a design rendered at any size is the same design.
"""

from __future__ import annotations

import numpy as np

LATENT_DIM = 8
"""The 8 parameters a visitor steers."""

COORD_SCALE = 1.0
"""Half-width of the CPPN's coordinate square: x, y run over [-COORD_SCALE, COORD_SCALE]."""


def coordinates(width: int, height: int, scale: float = COORD_SCALE) -> np.ndarray:
    """The CPPN input grid, shape (height, width, 3) float32: x, y and r = sqrt(x^2 + y^2).

    Pixel centres of any resolution span the same square, so a 1024x1024 render is the
    28x28 design drawn smoothly, not pixelated.
    """
    if width < 1 or height < 1:
        raise ValueError(f"coordinates need a positive size, got {width}x{height}")
    xs = np.linspace(-scale, scale, width, dtype=np.float32) if width > 1 else np.zeros(1, np.float32)
    ys = np.linspace(-scale, scale, height, dtype=np.float32) if height > 1 else np.zeros(1, np.float32)
    x, y = np.meshgrid(xs, ys)  # (H, W) each
    r = np.sqrt(x * x + y * y)
    return np.stack([x, y, r], axis=-1).astype(np.float32)  # (H, W, 3)
