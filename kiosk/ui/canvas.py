"""The Design Canvas: the current design at 28x28, drawn large, and the place to draw.

It shows the decoded design until the visitor draws; then it shows their drawing, which the app
re-encodes (throttled) so the whole screen follows the drawing. Garment = white (1) on black (0),
the encoder's Fashion-MNIST convention.
"""
from __future__ import annotations

import numpy as np
import pygame

from . import theme
from ..state import BRUSH_BLACK, BRUSH_WHITE

TOOLS = (("R", "random", "R: a new random design"),
         ("C", "clear", "C: clear the canvas and draw from scratch"),
         ("W", "white", "W: draw with the white brush (the garment)"),
         ("B", "black", "B: draw with the black brush (erase)"))


class CanvasWidget:
    def __init__(self, layout: theme.Layout) -> None:
        self.layout = layout
        self.drawing = False
        self.hover_tool: int | None = None

    def cell(self, pos) -> tuple[int, int] | None:
        r = self.layout.canvas
        if not r.collidepoint(pos):
            return None
        col = int((pos[0] - r.x) * 28 / r.w)
        row = int((pos[1] - r.y) * 28 / r.h)
        return min(row, 27), min(col, 27)

    def draw(self, surface: pygame.Surface, app) -> None:
        L, s, state = self.layout, self.layout.s, app.state
        theme.panel(surface, L.left, "DRAW HERE", s)
        image = state.canvas if state.canvas_drawn else app.design28
        grey = (np.clip(np.nan_to_num(image), 0, 1) * 255).astype(np.uint8).T   # surfarray is (x, y)
        small = pygame.surfarray.make_surface(np.stack([grey] * 3, axis=-1))
        surface.blit(pygame.transform.scale(small, L.canvas.size), L.canvas)
        pygame.draw.rect(surface, theme.ACCENT if self.drawing else theme.PANEL_EDGE, L.canvas,
                         width=max(1, int(2 * s)))
        for i, (key, word, _) in enumerate(TOOLS):
            rect = L.tools[i]
            selected = (key == "W" and state.brush == BRUSH_WHITE) or (key == "B" and state.brush == BRUSH_BLACK)
            fill = (60, 64, 88) if self.hover_tool == i else (40, 43, 60)
            pygame.draw.rect(surface, fill, rect, border_radius=int(10 * s))
            pygame.draw.rect(surface, theme.ACCENT if selected else theme.PANEL_EDGE, rect,
                             width=max(1, int((4 if selected else 2) * s)), border_radius=int(10 * s))
            theme.text(surface, key, (rect.centerx, rect.y + 6 * s), int(36 * s), theme.TEXT, bold=True, anchor="midtop")
            theme.text(surface, word, (rect.centerx, rect.bottom - 6 * s), int(20 * s), theme.TEXT_DIM, anchor="midbottom")

    def draw_tooltip(self, surface: pygame.Surface, app) -> None:
        if self.hover_tool is None or app.cursor_hidden:
            return
        s = self.layout.s
        tip = TOOLS[self.hover_tool][2]
        rect = self.layout.tools[self.hover_tool]
        image = theme.font(int(22 * s)).render(tip, True, theme.BG)
        box = image.get_rect(midbottom=(rect.centerx + 150 * s, rect.y - 8 * s)).inflate(20 * s, 12 * s)
        box.x = max(box.x, int(8 * s))
        pygame.draw.rect(surface, theme.ACCENT, box, border_radius=int(8 * s))
        surface.blit(image, image.get_rect(center=box.center))

    def hover(self, pos) -> None:
        self.hover_tool = next((i for i, r in enumerate(self.layout.tools) if r.collidepoint(pos)), None)

    def press(self, pos, app) -> bool:
        for i, rect in enumerate(self.layout.tools):
            if rect.collidepoint(pos):
                app.tool(TOOLS[i][0])
                return True
        cell = self.cell(pos)
        if cell is None:
            return False
        self.drawing = True
        app.stroke(*cell)
        return True

    def drag(self, pos, app) -> bool:
        if not self.drawing:
            return False
        cell = self.cell(pos)
        if cell is not None:
            app.stroke(*cell)
        return True

    def release(self, pos, app) -> bool:
        was, self.drawing = self.drawing, False
        return was
