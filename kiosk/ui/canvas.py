"""The Design Canvas: the current design at 28x28, drawn large, and the place to draw.

It shows the decoded design until the visitor draws; then it shows their drawing, which the app
re-encodes (throttled) so the whole screen follows the drawing. Garment = white (1) on black (0),
the encoder's Fashion-MNIST convention.
"""

from __future__ import annotations

import numpy as np
import pygame

from .. import controls
from ..explorer import BRUSH_BLACK, BRUSH_WHITE
from . import Widget, theme

TOOLS = (("random", "random"), ("clear", "clear"), ("brush_white", "white"), ("brush_black", "black"))
"""The tools under the canvas: (command, the word on the tool); key and tooltip come from kiosk/controls.py."""


class CanvasWidget(Widget):
    def __init__(self, layout: theme.Layout) -> None:
        self.layout = layout
        self.rect = pygame.Rect(
            layout.left.x, layout.left.y, layout.left.w, layout.jump.y - 8 * layout.s - layout.left.y
        )
        self.drawing = False
        self._last: tuple[float, float] | None = None  # the stroke's last point, in canvas pixels
        self.hover_tool: int | None = None

    def point(self, pos) -> tuple[float, float] | None:
        """The screen position in canvas pixels (row, col; a cell's centre is whole), None off the canvas."""
        r = self.layout.canvas
        if not r.collidepoint(pos):
            return None
        return (pos[1] - r.y) * 28 / r.h - 0.5, (pos[0] - r.x) * 28 / r.w - 0.5

    def static_inputs(self, view) -> tuple:
        return (view.brush, self.hover_tool)

    def inputs(self, view) -> tuple:
        return (view.canvas_key, self.drawing)

    def draw_static(self, surface: pygame.Surface, view) -> None:
        L, s = self.layout, self.layout.s
        theme.panel(surface, L.left, "DRAW HERE", s)
        for i, (command, word) in enumerate(TOOLS):
            rect = L.tools[i]
            selected = (command == "brush_white" and view.brush == BRUSH_WHITE) or (
                command == "brush_black" and view.brush == BRUSH_BLACK
            )
            fill = (60, 64, 88) if self.hover_tool == i else (40, 43, 60)
            pygame.draw.rect(surface, fill, rect, border_radius=int(10 * s))
            pygame.draw.rect(
                surface,
                theme.ACCENT if selected else theme.PANEL_EDGE,
                rect,
                width=max(1, int((4 if selected else 2) * s)),
                border_radius=int(10 * s),
            )
            key = controls.key_label(controls.control(command).keys[0])
            theme.text(
                surface, key, (rect.centerx, rect.y + 6 * s), int(36 * s), theme.TEXT, bold=True, anchor="midtop"
            )
            theme.text(
                surface, word, (rect.centerx, rect.bottom - 6 * s), int(20 * s), theme.TEXT_DIM, anchor="midbottom"
            )

    def moving_rects(self) -> list[pygame.Rect]:
        return [self.layout.canvas]

    def draw(self, surface: pygame.Surface, view) -> None:
        L, s = self.layout, self.layout.s
        grey = (np.clip(np.nan_to_num(view.canvas), 0, 1) * 255).astype(np.uint8).T  # surfarray is (x, y)
        small = pygame.surfarray.make_surface(np.stack([grey] * 3, axis=-1))
        surface.blit(pygame.transform.scale(small, L.canvas.size), L.canvas)
        pygame.draw.rect(
            surface, theme.ACCENT if self.drawing else theme.PANEL_EDGE, L.canvas, width=max(1, int(2 * s))
        )

    def draw_tooltip(self, surface: pygame.Surface, view) -> pygame.Rect | None:
        """The hovered tool's tooltip, an overlay on the screen; the rect it covers."""
        if self.hover_tool is None or view.cursor_hidden:
            return None
        s = self.layout.s
        tip = controls.tooltip(TOOLS[self.hover_tool][0])
        rect = self.layout.tools[self.hover_tool]
        image = theme.font(int(22 * s)).render(tip, True, theme.BG)
        box = image.get_rect(midbottom=(rect.centerx + 150 * s, rect.y - 8 * s)).inflate(20 * s, 12 * s)
        box.x = max(box.x, int(8 * s))
        pygame.draw.rect(surface, theme.ACCENT, box, border_radius=int(8 * s))
        surface.blit(image, image.get_rect(center=box.center))
        return box

    def hover(self, pos) -> None:
        self.hover_tool = next((i for i, r in enumerate(self.layout.tools) if r.collidepoint(pos)), None)

    def press(self, pos, commands) -> bool:
        for i, rect in enumerate(self.layout.tools):
            if rect.collidepoint(pos):
                commands.run(TOOLS[i][0])
                return True
        point = self.point(pos)
        if point is None:
            return False
        self.drawing, self._last = True, point
        commands.stroke(*point)
        return True

    def drag(self, pos, commands) -> bool:
        if not self.drawing:
            return False
        point = self.point(pos)
        if point is not None:
            commands.stroke(*point, start=self._last)
        self._last = point  # off the canvas and back: the stroke starts again where it re-enters
        return True

    def release(self, pos, commands) -> bool:
        was, self.drawing, self._last = self.drawing, False, None
        commands.stroke_done()
        return was
