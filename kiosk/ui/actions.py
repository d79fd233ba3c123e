"""The two big buttons a visitor can always find: hyperspace jump and capture."""

from __future__ import annotations

import pygame

from .. import controls
from . import ClickWidget, theme


class ActionButtons(ClickWidget):
    """beside_map=False: the lower part of the left column's panel (the canvas widget owns the upper
    part); True: a panel of their own under the map, so map mode keeps both buttons."""

    def __init__(self, layout: theme.Layout, beside_map: bool = False) -> None:
        self.layout, self.beside_map = layout, beside_map
        if beside_map:
            self.rect, self.jump, self.capture = layout.map_actions, layout.map_jump, layout.map_capture
        else:
            self.jump, self.capture = layout.jump, layout.capture
            self.rect = pygame.Rect(
                layout.left.x,
                layout.jump.y - 8 * layout.s,
                layout.left.w,
                layout.left.bottom - layout.jump.y + 8 * layout.s,
            )

    def static_inputs(self, view) -> tuple:
        return (view.capture_busy,)

    def draw_static(self, surface: pygame.Surface, view) -> None:
        L, s = self.layout, self.layout.s
        theme.panel(surface, self.rect if self.beside_map else L.left, None, s)
        self._button(surface, self.jump, "HYPERSPACE JUMP", controls.hint("jump"), (52, 46, 110), s, 0)
        label = "SAVING..." if view.capture_busy else "CAPTURE"
        self._button(surface, self.capture, label, controls.hint("capture"), (110, 40, 52), s, 36)
        # A small camera glyph, so the button reads without the word.
        cam = pygame.Rect(0, 0, int(56 * s), int(40 * s))
        cam.midleft = (self.capture.x + 22 * s, self.capture.centery)
        pygame.draw.rect(surface, theme.TEXT, cam, width=max(2, int(3 * s)), border_radius=int(6 * s))
        pygame.draw.circle(surface, theme.TEXT, cam.center, 11 * s, width=max(2, int(3 * s)))

    @staticmethod
    def _button(surface, rect, title, hint, fill, s, shift) -> None:
        pygame.draw.rect(surface, fill, rect, border_radius=int(16 * s))
        pygame.draw.rect(surface, theme.PANEL_EDGE, rect, width=max(1, int(2 * s)), border_radius=int(16 * s))
        theme.text(
            surface,
            title,
            (rect.centerx + shift * s, rect.centery - 14 * s),
            int(36 * s),
            theme.TEXT,
            bold=True,
            anchor="center",
        )
        theme.text(
            surface,
            hint,
            (rect.centerx + shift * s, rect.centery + 26 * s),
            int(22 * s),
            theme.TEXT_DIM,
            anchor="center",
        )

    def press(self, pos, commands) -> bool:
        if self.jump.collidepoint(pos):
            commands.run("jump")
            return True
        if self.capture.collidepoint(pos):
            commands.run("capture")
            return True
        return False
