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
    view          ScreenView: what the widgets draw from, one small view of the kiosk per frame

A `Widget` has a `rect`, and two layers: `draw_static(surface, view)` (panels, labels: drawn when
`static_inputs(view)` changes, then kept as a copy) and `draw(surface, view)` (what moves: drawn over
that copy when `inputs(view)` changes, only inside `moving_rects()`). `view` is the frame's
ScreenView (view.py): the small, read-only view of the kiosk every widget draws from. `refresh` does the bookkeeping
and returns the rects it redrew, so the app presents only what changed: while a stick moves, the
slider knobs' strips and the "you are here" signature, not the whole screen. Interactive widgets also have `press(pos, commands)`,
`drag(pos, commands)` and `release(pos, commands)` (kiosk/commands.py), returning True when they took the event.
`screen.Screen` holds them all, in their places, and the back buffer they draw into.
"""

from __future__ import annotations

import pygame


class Widget:
    rect: pygame.Rect

    _static_key = None
    _key = None
    _background: pygame.Surface | None = None

    def static_inputs(self, view) -> tuple:
        """What the static layer is drawn from (compared with ==)."""
        return ()

    def inputs(self, view) -> tuple:
        """What the moving layer is drawn from (compared with ==)."""
        return ()

    def moving_rects(self) -> list[pygame.Rect]:
        """Where `draw` may draw (screen coordinates): restored from the static copy before it draws."""
        return [self.rect]

    def covers_moving_rects(self) -> bool:
        """True when `draw` paints every pixel of `moving_rects()` opaquely (an image): then the
        static copy is not restored under it first (0.5 ms a frame for the 720 px design)."""
        return False

    def draw_static(self, surface: pygame.Surface, view) -> None:
        pass

    def draw(self, surface: pygame.Surface, view) -> None:
        pass

    def refresh(self, frame: pygame.Surface, view, force: bool = False) -> list[pygame.Rect]:
        """Redraw into `frame` (the app's back buffer) what changed; the rects redrawn (maybe none)."""
        static, key = self.static_inputs(view), self.inputs(view)
        whole = force or static != self._static_key or self._background is None
        if not whole and key == self._key:
            return []
        frame.set_clip(self.rect)
        try:
            if whole:
                from .theme import BG

                frame.fill(BG, self.rect)
                self.draw_static(frame, view)
                self._keep_background(frame)
                dirty = [self.rect]
            else:
                dirty = self.moving_rects()
                for rect in [] if self.covers_moving_rects() else dirty:
                    frame.blit(self._background, rect, rect.move(-self.rect.x, -self.rect.y))
            self.draw(frame, view)
        finally:
            frame.set_clip(None)
        self._static_key, self._key = static, key
        return dirty

    def _keep_background(self, frame: pygame.Surface) -> None:
        """The static layer, kept for restoring under the moving one: blitted into a surface kept
        from the last time (subsurface().copy() of a 476x820 panel took 2.2 ms, this 0.4 ms)."""
        if self._background is None or self._background.get_size() != self.rect.size:
            self._background = pygame.Surface(self.rect.size).convert(frame)
        self._background.blit(frame, (0, 0), self.rect)


class ClickWidget(Widget):
    """Base for widgets that only take a press: dragging across them or releasing does nothing."""

    def drag(self, pos, commands) -> bool:
        return False

    def release(self, pos, commands) -> bool:
        return False
