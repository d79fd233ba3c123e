"""The kiosk's one state object: where the visitor is in the fashion space and how they got there.

Every widget draws from an `ExplorerState`; every input (keys, mouse, joystick, attract loop)
changes it through the methods here, so "how did we get here" is recorded in one place. Pure
numpy, no pygame, no inference: the app steps it with `update(now)` once a frame.

    state = ExplorerState(z=np.zeros(8, np.float32))
    state.glide_to(landmark.z, "landmark", now, duration=1.0)
    state.update(now + 0.5)          # halfway there, eased
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from contract.space import LATENT_DIM

SLIDER_LOW, SLIDER_HIGH = -1.0, 1.0
"""Every parameter lives in [-1, 1] (FashionModels.slider_range)."""

KEY_RATE = 0.35
"""Parameter units per second when a number key has just been pressed: fine control for a tap."""
KEY_RATE_MAX = 1.6
"""... rising to this after KEY_ACCEL_S of holding, so crossing the whole range takes ~1.5 s."""
KEY_ACCEL_S = 1.2

BRUSH_WHITE, BRUSH_BLACK = 1.0, 0.0
"""Canvas values: the encoder's Fashion-MNIST convention, garment = 1 on background = 0."""


def ease(t: float) -> float:
    """Smoothstep: a glide starts and lands gently instead of a linear jump cut."""
    t = min(max(t, 0.0), 1.0)
    return t * t * (3.0 - 2.0 * t)


@dataclass
class Glide:
    start: np.ndarray
    target: np.ndarray
    t0: float
    duration: float
    how: str
    landmark: int | None = None

    def at(self, now: float) -> tuple[np.ndarray, bool]:
        """(z at `now`, finished?)."""
        if self.duration <= 0:
            return self.target.copy(), True
        f = (now - self.t0) / self.duration
        return (self.start + (self.target - self.start) * ease(f)).astype(np.float32), f >= 1.0


@dataclass
class ExplorerState:
    z: np.ndarray
    print_name: str = "none"
    how: str = "start"
    glide: Glide | None = None
    landmark: int | None = None          # the landmark last chosen (highlighted while near it)
    canvas: np.ndarray = field(default_factory=lambda: np.zeros((28, 28), np.float32))
    canvas_drawn: bool = False           # True while the canvas shows the visitor's drawing
    brush: float = BRUSH_WHITE
    attract: bool = False
    map_mode: bool = False
    diagnostics: bool = False
    version: int = 0                     # bumped on every z change; widgets re-render on change

    def __post_init__(self) -> None:
        self.z = clamp(self.z)

    # -- changing z ---------------------------------------------------------------------------
    def set_z(self, z: np.ndarray, how: str, *, keep_glide: bool = False) -> None:
        z = clamp(z)
        if not keep_glide:
            self.glide = None
        if not np.array_equal(z, self.z):
            self.z = z
            self.version += 1
        self.how = how

    def nudge(self, dim: int, delta: float, how: str) -> None:
        """Move one parameter by delta (clamped); interrupts any glide from where it is."""
        z = self.z.copy()
        z[dim] += delta
        self.set_z(z, how)

    def glide_to(self, target: np.ndarray, how: str, now: float, duration: float,
                 landmark: int | None = None) -> None:
        self.glide = Glide(self.z.copy(), clamp(target), now, duration, how, landmark)
        self.landmark = landmark
        self.how = how

    def stop_glide(self) -> None:
        """Freeze where we are (any visitor input during attract or a glide)."""
        self.glide = None

    def update(self, now: float) -> bool:
        """Advance a glide; True when it just landed."""
        if self.glide is None:
            return False
        z, done = self.glide.at(now)
        how = self.glide.how
        self.set_z(z, how, keep_glide=True)
        if done:
            self.glide = None
            return True
        return False

    # -- the canvas ---------------------------------------------------------------------------
    def paint(self, row: int, col: int, radius: float = 1.2) -> bool:
        """A soft round brush stroke at canvas cell (row, col); True if anything changed."""
        rr, cc = np.mgrid[0:28, 0:28]
        d = np.sqrt((rr - row) ** 2 + (cc - col) ** 2)
        weight = np.clip(radius + 0.5 - d, 0.0, 1.0).astype(np.float32)
        before = self.canvas
        self.canvas = (before * (1 - weight) + self.brush * weight).astype(np.float32)
        self.canvas_drawn = True
        return not np.array_equal(before, self.canvas)

    def clear_canvas(self) -> None:
        self.canvas = np.zeros((28, 28), np.float32)
        self.canvas_drawn = True


def clamp(z) -> np.ndarray:
    """z as 8 finite float32 values in the slider range (NaN -> 0, inf -> the nearest end)."""
    z = np.asarray(z, np.float32).reshape(LATENT_DIM)
    z = np.nan_to_num(z, nan=0.0, posinf=SLIDER_HIGH, neginf=SLIDER_LOW)
    return np.clip(z, SLIDER_LOW, SLIDER_HIGH).astype(np.float32)


class KeyRepeat:
    """Accelerating hold-to-move for the number keys: rate grows from KEY_RATE to KEY_RATE_MAX."""

    def __init__(self) -> None:
        self.held: dict[int, tuple[float, float]] = {}   # dim -> (direction, time pressed)

    def press(self, dim: int, direction: float, now: float) -> None:
        self.held[dim] = (direction, now)

    def release(self, dim: int) -> None:
        self.held.pop(dim, None)

    def clear(self) -> None:
        self.held.clear()

    def deltas(self, now: float, dt: float) -> dict[int, float]:
        out = {}
        for dim, (direction, t0) in self.held.items():
            f = min(max(now - t0, 0.0) / KEY_ACCEL_S, 1.0)
            out[dim] = direction * (KEY_RATE + (KEY_RATE_MAX - KEY_RATE) * f * f) * dt
        return out
