"""The kiosk's screen: every widget in its place, the back buffer they draw into, and the overlays
drawn over it (a tool's tooltip, the attract prompt, toasts, F12).

    ui = Screen(display_surface, models_dir, state_dir, prints, print_names, landmarks)
    rects = ui.draw(app.view())          # what changed, drawn; the areas to present
    pygame.display.update(rects)

Each widget redraws only when its own inputs change (kiosk/ui/__init__.py); `draw` copies just
those areas, and the overlays, to the display surface. With nothing changing the whole screen is
still presented every IDLE_REDRAW_S.
"""

from __future__ import annotations

from pathlib import Path

import pygame

from ..render.schedule import PREVIEW_POSITIONS
from . import actions, canvas, design_view, diagnostics, map_view, print_selector, sliders, status
from .landmarks import LandmarkStrip
from .share_card import ShareCard
from .theme import BG, Layout
from .view import ScreenView

IDLE_REDRAW_S = 0.5
"""With nothing changing, the whole screen is still presented this often (a safety net should
the display lose it); otherwise only the areas whose widgets redrew are presented."""


class Screen:
    def __init__(
        self,
        surface: pygame.Surface,
        models_dir: Path,
        state_dir: Path | None,
        prints=None,
        print_names: list[str] = ("none",),
        landmarks: list = (),
    ) -> None:
        """prints, print_names, landmarks: what never changes while the kiosk runs, given to the
        widgets that show it (the print catalogue, None when prints are off; the models' landmarks)."""
        self.surface = surface
        self.layout = L = Layout(*surface.get_size())
        self.frame = pygame.Surface(surface.get_size()).convert()  # the back buffer the widgets draw into
        self.frame.fill(BG)
        self.status = status.StatusBar(L)
        self.canvas = canvas.CanvasWidget(L)
        self.actions = actions.ActionButtons(L)
        self.map_actions = actions.ActionButtons(L, beside_map=True)
        self.print_selector = print_selector.PrintSelector(L, prints, list(print_names))
        self.design_view = design_view.DesignView(L, self.frame, prints)
        self.sliders = sliders.ParameterSliders(L, PREVIEW_POSITIONS, self.frame)
        self.landmark_strip = LandmarkStrip(L, list(landmarks))
        self.diagnostics = diagnostics.DiagnosticsOverlay(L)
        self.map = map_view.MapView(L, models_dir, state_dir)
        self.share_card = ShareCard(L)  # over the canvas for a minute after a shared capture
        self.redraw_every_frame = False  # the benchmark's "before": every widget redrawn every frame
        self.frames_drawn = 0
        self._visible: list = []
        self._overlay_rects: list = []
        self._last_present = -IDLE_REDRAW_S
        self._whole_frame = False  # display_changed: the next draw presents the whole frame

    def display_changed(self) -> None:
        """The window was resized or uncovered, or the display changed: present the whole frame next,
        on the display's surface as it is now (SDL may have made a new one). The layout stays: SCALED
        (kiosk/startup.py) scales the logical screen to the window, so nothing is ever clipped; a
        surface of another size (a driver without SCALED) is set back to the logical size."""
        surface = pygame.display.get_surface()
        if surface is not None and surface.get_size() != self.frame.get_size():
            flags = surface.get_flags() & (pygame.FULLSCREEN | pygame.SCALED | pygame.RESIZABLE)
            surface = pygame.display.set_mode(self.frame.get_size(), flags)
        self.surface = surface if surface is not None else self.surface
        self._last_present = float("-inf")
        self._whole_frame = True

    def widgets(self, map_mode: bool) -> list:
        """The widgets shown, in hit-test order (the map covers the canvas column when shown)."""
        drawing = self.share_card if self.share_card.visible else self.canvas
        left = [self.map, self.map_actions] if map_mode else [drawing, self.actions, self.print_selector]
        return [self.status, *left, self.sliders, self.landmark_strip, self.design_view]

    def draw(self, view: ScreenView) -> list:
        """Widgets redraw what changed into the back buffer; only those areas, and the overlays,
        go to the display surface. The rects to present."""
        screen, frame = self.surface, self.frame
        self.share_card.expire(view.now)
        visible = self.widgets(view.map_mode)
        switched = visible != self._visible  # map mode on / off: the column under it changes
        if switched:
            frame.fill(BG)
            self._visible = visible
        force = switched or self.redraw_every_frame
        dirty = [rect for widget in visible for rect in widget.refresh(frame, view, force)]
        if switched or self._whole_frame:
            dirty = [frame.get_rect()]
            self._whole_frame = False
        under_overlays = self._overlay_rects
        self._overlay_rects = []
        if not (dirty or under_overlays or self.has_overlays(view)):
            if view.now - self._last_present < IDLE_REDRAW_S:
                return []
            dirty = [frame.get_rect()]
        for rect in dirty + under_overlays:
            screen.blit(frame, rect, rect)
        self._overlay_rects = self.draw_overlays(view)
        self._last_present = view.now
        rects = dirty + under_overlays + self._overlay_rects
        self.frames_drawn += bool(rects)
        return rects

    def has_overlays(self, view: ScreenView) -> bool:
        return bool(
            view.attract
            or view.diagnostics is not None
            or self.status.toasts
            or view.operator_exit_in is not None
            or (self.canvas.hover_tool is not None and not view.map_mode and not view.cursor_hidden)
        )

    def draw_overlays(self, view: ScreenView) -> list:
        screen, rects = self.surface, []
        if not view.map_mode:
            tip = self.canvas.draw_tooltip(screen, view)
            if tip is not None:
                rects.append(tip)
        if view.attract:
            rects.append(self.status.draw_attract(screen, view.now))
        rects += self.status.draw_toasts(screen, view.now)
        if view.diagnostics is not None:
            rects.append(self.diagnostics.draw(screen, view.diagnostics))
        if view.operator_exit_in is not None:
            rects.append(self.status.draw_operator_exit(screen, view.operator_exit_in))
        return [r.clip(screen.get_rect()) for r in rects]
