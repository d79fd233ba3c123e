"""The kiosk's widgets: each owns one area of the screen and redraws it only when its inputs change.

    canvas        the 28x28 drawing canvas and its R / C / W / B tools
    actions       the hyperspace-jump and capture buttons
    design_view   the designed image (the hero)
    print_selector  the print swatches
    sliders       the 8 parameters with their preview strips
    landmarks     the landmark strip with signature diagrams (signature.py draws them)
    status        the top bar, toasts and the attract prompt
    diagnostics   the operator's F12 overlay with the controls
    splash        the start-up splash and the full-screen error
    map_view      map mode (--show2d)

A `Widget` has a `rect`, and two layers: `draw_static(surface, app)` (panels, labels: drawn when
`static_inputs(app)` changes, then kept as a copy) and `draw(surface, app)` (what moves: drawn over
that copy when `inputs(app)` changes). `refresh` does the bookkeeping and returns the rect it
redrew, so the app presents only what changed. Interactive widgets also have `press(pos, app)`,
`drag(pos, app)` and `release(pos, app)`, returning True when they took the event.
"""
from __future__ import annotations

import pygame


class Widget:
    rect: pygame.Rect

    _static_key = None
    _key = None
    _background: pygame.Surface | None = None

    def static_inputs(self, app) -> tuple:
        """What the static layer is drawn from (compared with ==)."""
        return ()

    def inputs(self, app) -> tuple:
        """What the moving layer is drawn from (compared with ==)."""
        return ()

    def draw_static(self, surface: pygame.Surface, app) -> None:
        pass

    def draw(self, surface: pygame.Surface, app) -> None:
        pass

    def refresh(self, frame: pygame.Surface, app, force: bool = False) -> pygame.Rect | None:
        """Redraw into `frame` (the app's back buffer) if an input changed; the rect redrawn, or None."""
        static, key = self.static_inputs(app), self.inputs(app)
        if not force and static == self._static_key and key == self._key and self._background is not None:
            return None
        frame.set_clip(self.rect)
        try:
            if force or static != self._static_key or self._background is None:
                from .theme import BG
                frame.fill(BG, self.rect)
                self.draw_static(frame, app)
                self._background = frame.subsurface(self.rect).copy()
            else:
                frame.blit(self._background, self.rect)
            self.draw(frame, app)
        finally:
            frame.set_clip(None)
        self._static_key, self._key = static, key
        return self.rect


class ClickWidget(Widget):
    """Base for widgets that only take a press: dragging across them or releasing does nothing."""

    def drag(self, pos, app) -> bool:
        return False

    def release(self, pos, app) -> bool:
        return False
