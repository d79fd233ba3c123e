"""The explorer: where the visitor is in the fashion space, how they got there, and every command
that moves them (jump, random nearby, landmark glide, the attract loop). Pure numpy: no pygame, no
inference, so the commands are tested without a screen.

`ExplorerState` is the one state object the widgets draw from; `Explorer` runs the commands on it
(what keys, board buttons and clicks ask for, kiosk/controls.py); `Attract` decides when the attract
loop starts and where it glides next. The app steps them with the clock it keeps:

    explorer = Explorer(ExplorerState(z=np.zeros(8, np.float32)), landmarks, glide_s=1.0)
    explorer.goto_landmark(2, now)
    explorer.state.update(now + 0.5)          # halfway there, eased
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from contract.jumps import JUMP_PROPOSALS, jump_proposals
from contract.latent import hyperspace_jump
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
BRUSH_RADIUS = 1.2
"""The brush is about 2 canvas pixels wide (a line's profile sums to 2.4; on the 392 px canvas, a
finger's width), so a single tap paints at least one pixel fully wherever it lands ..."""
BRUSH_SOFT = 1.0
"""... with edges that fade over this many pixels, as Fashion-MNIST's anti-aliased photos do."""

RANDOM_STEP = 0.6
"""How far "random" goes: a random direction, this far (Euclidean, in slider units; 0.21 per
parameter on average). Far enough to see a new design, near enough that it is a variation of this
one; the hyperspace jump is the button for "anywhere"."""
RANDOM_GLIDE_FRACTION = 0.5
"""A random step glides in half the landmark glide time: it is a short way."""

ATTRACT_DWELL_S = 4.0
"""Seconds the attract loop rests on each landmark (long enough for the full render and print)."""
ATTRACT_GLIDE_S = 2.5


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
    landmark: int | None = None  # the landmark last chosen (highlighted while near it)
    canvas: np.ndarray = field(default_factory=lambda: np.zeros((28, 28), np.float32))
    canvas_drawn: bool = False  # True while the canvas shows the visitor's drawing
    brush: float = BRUSH_WHITE
    attract: bool = False
    map_mode: bool = False
    diagnostics: bool = False
    version: int = 0  # bumped on every z change; widgets re-render on change
    canvas_version: int = 0  # bumped on every change of the canvas drawing

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

    def glide_to(self, target: np.ndarray, how: str, now: float, duration: float, landmark: int | None = None) -> None:
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
    def paint(self, row: float, col: float, start: tuple[float, float] | None = None) -> bool:
        """The brush from `start` (the stroke's last point; None: a dab) to (row, col), in canvas
        pixels (cell centres at whole numbers); True if anything changed. A whole segment at once:
        dabs at the pointer's samples, which jump several cells on a quick drag, left beads."""
        rr, cc = np.mgrid[0:28, 0:28].astype(np.float32)
        r0, c0 = start if start is not None else (row, col)
        dr, dc = row - r0, col - c0
        # each cell's distance to the nearest point of the segment
        t = np.clip(((rr - r0) * dr + (cc - c0) * dc) / max(dr * dr + dc * dc, 1e-9), 0.0, 1.0)
        d = np.hypot(rr - (r0 + t * dr), cc - (c0 + t * dc))
        weight = np.clip((BRUSH_RADIUS + BRUSH_SOFT / 2 - d) / BRUSH_SOFT, 0.0, 1.0)
        before = self.canvas
        self.canvas = (before * (1 - weight) + self.brush * weight).astype(np.float32)
        self.canvas_drawn = True
        self.canvas_version += 1
        return not np.array_equal(before, self.canvas)

    def clear_canvas(self) -> None:
        self.canvas = np.zeros((28, 28), np.float32)
        self.canvas_drawn = True
        self.canvas_version += 1


def clamp(z) -> np.ndarray:
    """z as 8 finite float32 values in the slider range (NaN -> 0, inf -> the nearest end)."""
    z = np.asarray(z, np.float32).reshape(LATENT_DIM)
    z = np.nan_to_num(z, nan=0.0, posinf=SLIDER_HIGH, neginf=SLIDER_LOW)
    return np.clip(z, SLIDER_LOW, SLIDER_HIGH).astype(np.float32)


class KeyRepeat:
    """Accelerating hold-to-move for the number keys: rate grows from KEY_RATE to KEY_RATE_MAX."""

    def __init__(self) -> None:
        self.held: dict[int, tuple[float, float]] = {}  # dim -> (direction, time pressed)

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


def random_nearby(z: np.ndarray, rng: np.random.Generator, step: float = RANDOM_STEP) -> np.ndarray:
    """A design near z: `step` away in a uniformly random direction (clamped to the slider range)."""
    direction = rng.standard_normal(LATENT_DIM)
    direction /= max(float(np.linalg.norm(direction)), 1e-9)
    return clamp(np.asarray(z, np.float32) + step * direction)


class Explorer:
    """The commands a visitor can give, applied to one ExplorerState.

    landmarks: the landmarks' z, in the strip's order. `now` is the app's clock (seconds).
    """

    def __init__(
        self,
        state: ExplorerState,
        landmarks: list[np.ndarray],
        glide_s: float,
        print_names: list[str] | None = None,
        rng: np.random.Generator | None = None,
        jump_temperature: float = 1.0,
        landing=None,
    ) -> None:
        self.state = state
        self.landmarks = [clamp(z) for z in landmarks]
        self.glide_s = glide_s
        self.jump_temperature = jump_temperature
        self.landing = landing  # (N, 8) proposals -> the index a jump lands on (contract.jumps); None: the first
        self.print_names = list(print_names or ["none"])
        self.rng = rng if rng is not None else np.random.default_rng()

    # -- moving ---------------------------------------------------------------------------------
    def move(self, z, how: str) -> None:
        """Every change of z that isn't the canvas's own re-encode: the canvas then shows the design."""
        before = self.state.version
        self.state.set_z(z, how)
        if self.state.version != before:
            self.state.canvas_drawn = False

    def set_parameter(self, k: int, value: float, how: str) -> None:
        z = self.state.z.copy()
        z[k] = value
        self.move(z, how)

    def steer(self, axes, rate: float, dt: float) -> None:
        """The joystick: each parameter moves at `rate` units per second at full deflection."""
        self.move(self.state.z + np.asarray(axes, np.float32) * rate * dt, "joystick")

    def hold_keys(self, keys: KeyRepeat, now: float, dt: float) -> None:
        """Number keys held down: each nudges its parameter, faster the longer it is held."""
        for dim, delta in keys.deltas(now, dt).items():
            self.state.nudge(dim, delta, "keyboard")
            self.state.canvas_drawn = False

    def jump(self, how: str = "jump") -> None:
        """Hyperspace: a random point, reached at once. Without `landing`, uniform in [-1, 1]^8 (as in the
        original) at temperature 1; with it, the first of JUMP_PROPOSALS uniform proposals that reads as
        a garment (contract.jumps). The learned prior behind the sliders aims them at the data."""
        self.state.stop_glide()
        if self.landing is None:
            self.move(hyperspace_jump(self.rng, self.jump_temperature), how)
            return
        proposals = jump_proposals(self.rng, JUMP_PROPOSALS, self.jump_temperature)
        self.move(proposals[self.landing(proposals)], how)

    def random(self, now: float) -> None:
        """A random design nearby (RANDOM_STEP away), reached by a short glide."""
        self.glide(random_nearby(self.state.z, self.rng), "random", now, self.glide_s * RANDOM_GLIDE_FRACTION)

    def glide(self, target, how: str, now: float, duration: float | None = None, landmark: int | None = None) -> None:
        self.state.canvas_drawn = False
        self.state.glide_to(target, how, now, self.glide_s if duration is None else duration, landmark)

    def goto_landmark(self, i: int, now: float, how: str = "landmark") -> None:
        if self.landmarks:
            i %= len(self.landmarks)
            self.glide(self.landmarks[i], how, now, ATTRACT_GLIDE_S if how == "attract" else None, landmark=i)

    def next_landmark(self, now: float) -> None:
        current = self.state.landmark if self.state.landmark is not None else -1
        self.goto_landmark(current + 1, now)

    # -- prints, brush, modes -------------------------------------------------------------------
    def select_print(self, name: str) -> bool:
        if name not in self.print_names:
            return False
        self.state.print_name = name
        return True

    def next_print(self) -> bool:
        """The next print in the selector's order; False when there is nothing to cycle through."""
        if len(self.print_names) < 2:
            return False
        names = self.print_names
        i = names.index(self.state.print_name) if self.state.print_name in names else -1
        self.state.print_name = names[(i + 1) % len(names)]
        return True

    def brush(self, value: float) -> None:
        self.state.brush = value

    def clear_canvas(self) -> None:
        self.state.stop_glide()
        self.state.clear_canvas()

    def visitor_input(self) -> bool:
        """Anything a visitor does: attract mode ends at once, from wherever its glide was. True
        when this input woke the kiosk (then it does nothing else: a press on Space during attract
        mode used to wake and jump away from the design the visitor had just seen)."""
        if not self.state.attract:
            return False
        self.state.attract = False
        self.state.stop_glide()
        return True


class Attract:
    """The attract loop: after `after_s` without input, glide from landmark to landmark (a random
    other one each time), resting ATTRACT_DWELL_S on each; any input ends it (Explorer.visitor_input)."""

    def __init__(self, after_s: float, rng: np.random.Generator | None = None) -> None:
        self.after_s = after_s
        self.rng = rng if rng is not None else np.random.default_rng()
        self.next_at = 0.0

    def update(self, explorer: Explorer, now: float, last_input: float) -> None:
        state = explorer.state
        if not state.attract:
            if now - last_input < self.after_s:
                return
            state.attract = True
            self.next_at = now
        if state.glide is None and now >= self.next_at and explorer.landmarks:
            choices = [i for i in range(len(explorer.landmarks)) if i != state.landmark]
            explorer.goto_landmark(int(self.rng.choice(choices)) if choices else 0, now, "attract")
            self.next_at = now + ATTRACT_GLIDE_S + ATTRACT_DWELL_S
