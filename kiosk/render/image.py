"""Designs into pictures: the generator band by band, a render resampled to another size, the plain
design's colours and the print on top. Pure numpy (and the models passed in), for the design and capture workers."""

from __future__ import annotations

import threading

import numpy as np

BAND_PIXELS = 24_576
"""Pixels per full-resolution band (45 rows at 540 px, 24 at 1024): ~20 ms each on the 2-core CPU,
the longest a new move waits for the render in flight before its draft starts."""

PLAIN_BACKGROUND = np.array([18, 20, 28], np.float32)
PLAIN_GARMENT = np.array([244, 240, 232], np.float32)
"""A design without a print: the garment in off-white on the kiosk's dark panel colour."""

_PRINT_LOCK = threading.Lock()
"""One full-size print at a time (live view, warm-up, capture): the print graph keeps ~100 bytes
of intermediates per pixel while it runs (~100 MB at 1024 px). Drafts' prints are small and skip
it, so a capture's print never holds up the design in motion."""


def apply_print(prints, design: np.ndarray, weights: np.ndarray, draft: bool = False) -> np.ndarray:
    if draft:
        return prints.apply(design, weights)
    with _PRINT_LOCK:
        return prints.apply(design, weights)


def plain_rgb(design: np.ndarray) -> np.ndarray:
    """(H, W) in [0, 1] -> (H, W, 3) uint8 with garment = light, background = the panel colour."""
    d = np.clip(np.nan_to_num(design), 0.0, 1.0)[..., None]
    return (PLAIN_BACKGROUND + (PLAIN_GARMENT - PLAIN_BACKGROUND) * d).astype(np.uint8)


def render_bands(models, z: np.ndarray, size: int, stale=lambda: False) -> np.ndarray | None:
    """The (size, size) design in [0, 1], band by band; None as soon as `stale()` says so.

    Bands also bound the generator's working memory (a 1024 px capture in one run would keep
    ~64 floats per pixel of intermediates in onnxruntime's arena).
    """
    out = np.empty((size, size), np.float32)
    rows = max(1, BAND_PIXELS // size)
    for top in range(0, size, rows):
        if stale():
            return None
        out[top : top + rows] = models.generate(z, size, size, rows=slice(top, top + rows))[0]
    return out


def resample(design: np.ndarray, size: int) -> np.ndarray:
    """A (side, side) render as the (size, size) render of the same design, bilinear on the
    coordinate grid (contract.space.coordinates: the first and last pixel centres are the square's
    edges at every size). Against the generator's own 28 px render, from a 96 px draft: 0.003 apart
    on average, up to 0.25 on a sharp edge; good for the canvas while the design moves."""
    at = np.linspace(0.0, design.shape[0] - 1.0, size)
    return _bilinear(design, at, at)


def _bilinear(image: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """`image` (h, w, ...) sampled at fractional rows `ys` and columns `xs` (source pixel indices,
    clamped to the image) -> (len(ys), len(xs), ...) float32."""

    def axis(x: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x = np.clip(x, 0, n - 1)
        lo = np.floor(x).astype(np.intp)
        return lo, np.minimum(lo + 1, n - 1), (x - lo).astype(np.float32)

    y0, y1, fy = axis(ys, image.shape[0])
    x0, x1, fx = axis(xs, image.shape[1])
    fy = fy.reshape((-1,) + (1,) * (image.ndim - 1))
    fx = fx.reshape((1, -1) + (1,) * (image.ndim - 2))
    a = image.astype(np.float32)
    rows = a[y0] * (1 - fy) + a[y1] * fy  # (len(ys), w, ...)
    return rows[:, x0] * (1 - fx) + rows[:, x1] * fx
