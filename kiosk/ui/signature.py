"""The signature diagram: a design's 8 values as one closed, smooth blue curve around a circle.

Parameter k sits at angle 90 deg + k * 45 deg, going anticlockwise from the top; its value sets
the radius there (-1 = the inner ring, +1 = the outer edge). Between the 8 samples the radius
follows a periodic Catmull-Rom spline, so the curve is smooth and passes through every value.
The same drawing is used for the landmarks and for the current design, so visitors learn to read it.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import pygame

from . import theme

SAMPLES_PER_SEGMENT = 16
INNER = 0.22
"""Radius of value -1 as a fraction of the full radius: a low value shrinks, never vanishes."""


_T = np.linspace(0, 1, SAMPLES_PER_SEGMENT, endpoint=False)[:, None]
_CATMULL_ROM = 0.5 * np.hstack(
    [-_T + 2 * _T**2 - _T**3, 2 - 5 * _T**2 + 3 * _T**3, _T + 4 * _T**2 - 3 * _T**3, -(_T**2) + _T**3]
)  # (S, 4): weights of p0..p3
"""Uniform Catmull-Rom weights for the samples between two values, computed once (the "you are
here" curve is redrawn every frame while a stick moves)."""
_ANGLES = math.pi / 2 + 2 * math.pi * np.arange(8 * SAMPLES_PER_SEGMENT) / (8 * SAMPLES_PER_SEGMENT)
_COS, _SIN = np.cos(_ANGLES), np.sin(_ANGLES)


def radii(values: np.ndarray, samples: int = SAMPLES_PER_SEGMENT) -> tuple[np.ndarray, np.ndarray]:
    """(angles, radius fractions in [0, 1]) of the smooth closed curve through the 8 values."""
    assert samples == SAMPLES_PER_SEGMENT, "the spline weights are precomputed for SAMPLES_PER_SEGMENT"
    v = np.clip(np.nan_to_num(np.asarray(values, np.float64)), -1, 1)
    r = INNER + (1 - INNER) * (v + 1) / 2  # (8,)
    # Catmull-Rom (uniform) on the periodic sequence: passes through each sample.
    neighbours = np.stack([np.roll(r, 1), r, np.roll(r, -1), np.roll(r, -2)])  # (4, 8): p0..p3 per segment
    curve = _CATMULL_ROM @ neighbours  # (S, 8)
    curve = np.clip(curve.T.reshape(-1), 0.05, 1.0)  # segment k, then k+1, ...
    return _ANGLES, curve


def points(values: np.ndarray, centre, radius: float) -> np.ndarray:
    """(M, 2) screen points of the curve (y grows downwards, so anticlockwise is +angle, -y)."""
    _, r = radii(values)
    return np.stack([centre[0] + radius * r * _COS, centre[1] - radius * r * _SIN], axis=1)


_cache: OrderedDict = OrderedDict()
CACHE_SIZE = 64
"""Rendered signatures kept: the landmarks' never change, so the strip costs one blit each."""


def draw(
    surface: pygame.Surface, values: np.ndarray, centre, radius: float, *, dots: bool = False, highlight: bool = False
) -> None:
    """One signature at `centre`; dots=True marks each parameter in its slider colour."""
    values = np.asarray(values, np.float32)
    key = (values.tobytes(), round(radius, 2), dots, highlight)
    layer = _cache.get(key)
    if layer is None:
        layer = _render(values, radius, dots, highlight)
        _cache[key] = layer
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    else:
        _cache.move_to_end(key)
    surface.blit(layer, layer.get_rect(center=(int(centre[0]), int(centre[1]))))


def _render(values: np.ndarray, radius: float, dots: bool, highlight: bool) -> pygame.Surface:
    size = int(radius * 2 + 8)
    layer = pygame.Surface((size, size), pygame.SRCALPHA)
    c = (size / 2, size / 2)
    ring = (60, 66, 90, 255) if not highlight else (*theme.ACCENT, 255)
    pygame.draw.circle(layer, ring, c, radius, width=1 if not highlight else 2)
    pygame.draw.circle(layer, (60, 66, 90, 255), c, radius * (INNER + (1 - INNER) / 2), width=1)
    for k in range(8):
        a = math.pi / 2 + k * math.pi / 4
        pygame.draw.line(layer, (44, 48, 66, 255), c, (c[0] + radius * math.cos(a), c[1] - radius * math.sin(a)))
    pts = points(values, c, radius).tolist()
    pygame.draw.polygon(layer, (*theme.SIGNATURE, 90), pts)
    width = max(2, int(radius / 22))
    pygame.draw.lines(layer, (*theme.SIGNATURE, 255), True, pts, width)
    pygame.draw.aalines(layer, (*theme.SIGNATURE, 255), True, pts)
    if dots:
        v = np.clip(np.nan_to_num(np.asarray(values, np.float64)), -1, 1)
        for k in range(8):
            a = math.pi / 2 + k * math.pi / 4
            rr = radius * (INNER + (1 - INNER) * (v[k] + 1) / 2)
            pygame.draw.circle(
                layer, theme.PARAM_COLOURS[k], (c[0] + rr * math.cos(a), c[1] - rr * math.sin(a)), max(3, radius / 14)
            )
    return layer
