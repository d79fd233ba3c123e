"""What the input layer hands the kiosk: buttons, button edges, per-source health and one snapshot.

All frozen: the UI thread reads them while the reader threads build the next ones.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Button(enum.Enum):
    """The board's buttons in bit order (bit k of a frame's mask = the k-th member)."""

    CAPTURE = "capture"
    JUMP = "jump"
    NEXT_PRINT = "next_print"
    RANDOM = "random"
    NEXT_LANDMARK = "next_landmark"
    SPARE = "spare"


BUTTON_BITS: tuple[Button, ...] = tuple(Button)


@dataclass(frozen=True)
class ButtonEvent:
    button: Button
    pressed: bool
    source: str  # the SourceHealth.name that produced it
    t: float  # time.monotonic() when the frame carrying the edge arrived


@dataclass(frozen=True)
class SourceHealth:
    name: str  # "serial", "evdev"
    kind: str  # "serial" or "evdev"
    connected: bool
    frames_per_s: float
    frames: int
    dropped: int  # lines or events refused (corrupt, wrong version, out of range, overflow)
    lost: int  # sequence gaps: frames the board sent that never arrived
    detail: str  # "ttyACM0 fw 1.1", "disconnected", "waiting for /dev/fse-joystick"


@dataclass(frozen=True)
class InputSnapshot:
    axes: tuple[float, ...]  # 8 values in [-1, 1] after calibration, deadzone and expo
    active: tuple[bool, ...]  # per axis: deflected beyond the deadzone
    events: tuple[ButtonEvent, ...]  # button edges since the previous poll()
    sources: tuple[SourceHealth, ...]
    t: float  # monotonic time of the newest frame (0.0 before any)
