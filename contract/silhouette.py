"""A design's silhouette drawn crisp at the size it is shown (issue 23), numpy only.

The generator learned its designs from 28 px photos, so its garment outline is a ramp about 0.8 of a
28 px pixel wide, whatever the output size: ~28 px at 1024, out of focus at the 720 px view. Interior
shading (folds, pockets, collars) is as soft in the photos and must stay so. This step steepens the
ramp only where a garment meets the background, with a slope that grows with the output size, so the
outline is OUTLINE_PX wide at every size:

    lo, hi = the lowest and highest value of the design's 28 px render within one pixel, upsampled
             bilinearly to the output (smooth fields, so the outline they place has no stair-steps)
    t      = where a pixel sits on the ramp from lo to hi, 0..1
    out    = lo + (hi - lo) * S(t), S a normalised sigmoid through (0, 0), (0.5, 0.5), (1, 1)

S keeps both levels (no halo: nothing goes past lo or hi) and the half-level crossing (the outline's
place, so the 28 px picture a camera would see is nearly unchanged). Pixels with no background within
a 28 px pixel, or no step, are left exactly as drawn: the interior's shading is untouched.

The kiosk applies it to every full-size render and capture, the quality code to the designs it
measures at 1024 px, the same function at every size.
"""

from __future__ import annotations

import numpy as np

OUTLINE_PX = 2.0
"""The outline's 10-90 % width, in output pixels, that the slope aims for at every size: narrower
than ~1.5 px shows stair-steps along diagonals at 1024 px, wider reads as soft at 720 px."""

SOFT_RAMP = 0.77
"""The trained generator's own outline, 10-90 % width in 28 px pixels (28 px at 1024, measured with
training/outline.py on the v2.1 models): the slope needed is this over OUTLINE_PX, scaled to the size."""

BACKGROUND = 0.12
"""A pixel is on the silhouette only if the design within one 28 px pixel falls below this (the
background draws ~0.01; the darkest garments' interiors ~0.2), fading out to BACKGROUND * 2."""

MIN_STEP = 0.15
"""... and rises above it by at least this much (fading in from half of it): a faint smudge is left soft."""


def _cells(size: int) -> tuple[np.ndarray, np.ndarray]:
    """For each output row (or column): the 28 px cell it falls in (0..26) and how far across (0..1),
    corner-aligned like contract.space.coordinates (the first and last pixel centres are the square's
    edges at every size), so the fields below are exactly the bilinear upsampling of the 28 px ones."""
    at = np.linspace(0.0, 27.0, size)
    i0 = np.minimum(at.astype(int), 26)
    return i0, (at - i0).astype(np.float32)


def _bilinear_at(fields: np.ndarray, cy: np.ndarray, fy: np.ndarray, cx: np.ndarray, fx: np.ndarray) -> np.ndarray:
    """(28, 28, C) fields upsampled bilinearly -> (N, C), at the output pixels whose cells and fractions
    are given (one gather per corner for all the fields together)."""
    flat = fields.reshape(28 * 28, -1)
    i = cy * 28 + cx
    fx, fy = fx[:, None], fy[:, None]
    top = flat[i] * (1 - fx) + flat[i + 1] * fx
    bottom = flat[i + 28] * (1 - fx) + flat[i + 29] * fx
    return top * (1 - fy) + bottom * fy


def _neighbourhood(design28: np.ndarray, pick) -> np.ndarray:
    """`pick` (np.minimum or np.maximum) over each pixel's 3x3 neighbourhood (edges repeated)."""
    padded = np.pad(design28, 1, mode="edge")
    out = design28.copy()
    for dy in range(3):
        for dx in range(3):
            out = pick(out, padded[dy : dy + 28, dx : dx + 28])
    return out


def gain(size: int) -> float:
    """The steepness of S at `size` px: the soft ramp over the aimed width (sigmoid's 10-90 % in t is
    2 ln 9 / gain); 0 (S is then the identity) where the generator's own outline is already that narrow."""
    ramp_px = SOFT_RAMP * size / 28
    if ramp_px <= OUTLINE_PX:
        return 0.0
    return 2 * np.log(9) * ramp_px / (0.8 * OUTLINE_PX)  # 0.8: the 10-90 % of the ramp in t


def sharpen(design: np.ndarray, design28: np.ndarray) -> np.ndarray:
    """The (size, size) render `design` of the design whose 28 px render is `design28`, both in [0, 1],
    with its silhouette steepened to OUTLINE_PX; float32, the input untouched."""
    size = design.shape[0]
    g = gain(size)
    if g == 0.0:
        return design.astype(np.float32, copy=True)
    if design28.shape != (28, 28) or design.shape != (size, size):
        raise ValueError(f"sharpen needs a square design and its 28 px render, got {design.shape}, {design28.shape}")
    lo28 = _neighbourhood(design28, np.minimum)
    hi28 = _neighbourhood(design28, np.maximum)
    # Where the fields' 28 px neighbourhoods say "background next to a garment": 1 there, 0 inside.
    silhouette28 = np.clip(2 - lo28 / BACKGROUND, 0, 1) * np.clip(2 * (hi28 - lo28) / MIN_STEP - 1, 0, 1)
    out = design.astype(np.float32, copy=True)
    # Only the cells with a silhouette corner are touched: a tenth to a third of the pixels.
    active = silhouette28 > 0
    cell = active[:-1, :-1] | active[1:, :-1] | active[:-1, 1:] | active[1:, 1:]  # (27, 27)
    i0, f = _cells(size)
    ys, xs = np.nonzero(cell[i0[:, None], i0[None, :]])
    cy, fy, cx, fx = i0[ys], f[ys], i0[xs], f[xs]
    lo, hi, w = _bilinear_at(np.stack([lo28, hi28, silhouette28], -1), cy, fy, cx, fx).T
    d = out[ys, xs]
    step = np.maximum(hi - lo, 1e-3)
    t = np.clip((d - lo) / step, 0.0, 1.0)
    edge0, edge1 = 1 / (1 + np.exp(g / 2)), 1 / (1 + np.exp(-g / 2))
    s = (1 / (1 + np.exp(-g * (t - 0.5))) - edge0) / (edge1 - edge0)
    # Outside [lo, hi] (the bilinear fields can pass under a sample between pixels) t was clipped:
    # keep the design there, so nothing is pushed past its own value.
    sharp = np.where((d < lo) | (d > hi), d, lo + step * s)
    out[ys, xs] = d + w * (sharp - d)
    return out
