"""What the screen draws this frame: one small, read-only view of the kiosk, built once a frame by
the app (`App.view()`) and handed to every widget, so no widget reaches into the App for it.

    view = app.view()
    rects = ui.draw(view)          # each widget compares the parts of the view it draws from

What never changes while the kiosk runs (the landmarks, the print catalogue) is given to the
widgets when they are made instead (kiosk/ui/screen.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ScreenView:
    now: float  # the app's clock, seconds
    z: np.ndarray  # (8,) the design's parameters
    how: str  # how the visitor got here ("joystick", "canvas", "landmark", ...)
    print_name: str
    brush: float  # the canvas brush's value (explorer.BRUSH_WHITE / BRUSH_BLACK)
    canvas: np.ndarray  # (28, 28) what the canvas shows: the visitor's drawing, else the design
    canvas_key: tuple  # changes whenever `canvas` does
    gliding_to: int | None  # the landmark a glide is heading for
    attract: bool
    map_mode: bool
    capture_busy: bool  # a capture is being saved
    joystick: tuple[str, bool]  # the top bar's words for the board, and whether that is good news
    cursor_hidden: bool
    operator_exit_in: float | None  # seconds left while capture + jump are held, else None
    diagnostics: tuple[str, ...] | None  # the F12 lines while F12 is up, else None
