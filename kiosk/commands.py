"""What keys, board buttons and the widgets ask the kiosk to do.

The named commands of the controls table (kiosk/controls.py: "jump", "capture", "map", ...) and the
ones a widget gives with a value (a slider's position, a landmark, a print, a stroke on the canvas).
Each runs the explorer's command (kiosk/explorer.py, pure) plus what the rest of the kiosk does with
it: re-encode the canvas, hand a capture to its worker, say in a toast why nothing happened.

    commands = Commands(explorer, renders, ui, clock=lambda: app.now)
    commands.run("jump")                       # by its name in the controls table
    commands.set_parameter(3, 0.5, "slider")   # a widget's
"""

from __future__ import annotations

import math
from collections.abc import Callable

from .explorer import BRUSH_BLACK, BRUSH_WHITE, Explorer

PRINTS_OFF = "Prints are not available right now."
CAPTURES_OFF = "Saving designs is off right now. Please tell the staff."
CAPTURE_FAILED = "This design could not be saved. Please tell the staff."
"""What visitors read when a part is off: short, whole sentences; the reason goes to the journal
(and F12), never a file path on the screen."""

CAPTURE_SLOT = "capture"
"""The toast slot of a capture's messages: one message stays up from the press to "Saved #0042"."""
CAPTURE_WAIT_S = math.inf
""""Capturing..." stays up until the capture worker answers, which it does for every capture it
takes (saved, or why not): on the loaded 2-core CPU a capture took from ~2 s to ~17 s."""


class Commands:
    """renders: the RenderSchedule (canvas encodes, captures); ui: the Screen (toasts,
    the map); clock: the app's time in seconds."""

    def __init__(
        self, explorer: Explorer, renders, ui, clock: Callable[[], float], prints_message: str | None = None
    ) -> None:
        self.explorer, self.state = explorer, explorer.state
        self.renders, self.ui, self.clock = renders, ui, clock
        self.prints_message = prints_message
        self.by_name: dict[str, Callable[[], None]] = {
            "jump": lambda: self.explorer.jump(),
            "random": lambda: self.explorer.random(self.clock()),
            "capture": self.capture,
            "next_print": self.next_print,
            "next_landmark": lambda: self.explorer.next_landmark(self.clock()),
            "clear": self.clear_canvas,
            "brush_white": lambda: self.explorer.brush(BRUSH_WHITE),
            "brush_black": lambda: self.explorer.brush(BRUSH_BLACK),
            "map": self.toggle_map,
            "diagnostics": self.toggle_diagnostics,
        }

    def run(self, name: str) -> None:
        """The command the controls table names `name`."""
        self.by_name[name]()

    def move(self, z, how: str) -> None:
        self.explorer.move(z, how)

    def set_parameter(self, k: int, value: float, how: str) -> None:
        self.explorer.set_parameter(k, value, how)

    def glide(self, target, how: str) -> None:
        self.explorer.glide(target, how, self.clock())

    def goto_landmark(self, i: int) -> None:
        self.explorer.goto_landmark(i, self.clock())

    def select_print(self, name: str) -> None:
        self.explorer.select_print(name)

    def next_print(self) -> None:
        if not self.explorer.next_print():
            # The reason (a missing file, say) is the operator's: in the journal and on F12.
            self.ui.status.toast(PRINTS_OFF, "info", self.clock())

    def clear_canvas(self) -> None:
        self.explorer.clear_canvas()
        self.renders.encode(self.state.canvas)

    def stroke(self, row: float, col: float, start: tuple[float, float] | None = None) -> None:
        """The brush from `start` (None: where the stroke begins) to (row, col), in canvas pixels;
        the first stroke draws over the design shown."""
        self.state.stop_glide()
        if not self.state.canvas_drawn:
            self.state.canvas = self.renders.design28.copy()
        self.state.paint(row, col, start)
        self.renders.encode(self.state.canvas, drawing=True)

    def stroke_done(self) -> None:
        """The stroke's final shape, encoded whatever the throttle held back."""
        self.renders.encode(self.state.canvas)

    def capture(self) -> None:
        if not self.renders.captures_on:
            self.ui.status.toast(CAPTURES_OFF, "warn", self.clock())
            return
        message, level = self.renders.capture(self.state.z, self.state.print_name, self.state.how)
        waiting = self.renders.capture_busy()  # this press, or one before it, is still being saved
        self.ui.status.toast(message, level, self.clock(), CAPTURE_WAIT_S if waiting else 2.0, CAPTURE_SLOT)

    def toggle_diagnostics(self) -> None:
        self.state.diagnostics = not self.state.diagnostics

    def toggle_map(self) -> None:
        self.state.map_mode = not self.state.map_mode
        if self.state.map_mode:
            self.ui.map.refresh_captures()
