"""The landmark strip: "you are here" first, then every named landmark with its signature.

All landmarks are visible at once along the bottom: a joystick visitor can't scroll, and putting
the current design's signature beside the landmarks' invites comparing them. Clicking one glides
there; the one being visited (or glided to) is highlighted.
"""

from __future__ import annotations

import numpy as np
import pygame

from . import ClickWidget, signature, theme

NEAR = 0.12
"""Max distance (per-parameter RMS) at which the current design counts as "at" a landmark."""


class LandmarkStrip(ClickWidget):
    """landmarks: the models' landmarks (kiosk.models.Landmark), in the strip's order."""

    def __init__(self, layout: theme.Layout, landmarks: list) -> None:
        self.layout, self.landmarks = layout, list(landmarks)
        self.rect = layout.landmarks
        self._zs = np.stack([m.z for m in self.landmarks]) if self.landmarks else None  # (L, 8)
        self._here_cell: pygame.Rect | None = None

    def cells(self, count: int) -> list[pygame.Rect]:
        L, s = self.layout, self.layout.s
        inner = L.landmarks.inflate(-16 * s, -12 * s)
        width = inner.w / (count + 1)
        return [
            pygame.Rect(round(inner.x + i * width), inner.y, round(width - 6 * s), inner.h) for i in range(count + 1)
        ]

    def at_landmark(self, view) -> int | None:
        """The landmark being glided to, else the one the design is at (within NEAR), else None."""
        if view.gliding_to is not None:
            return view.gliding_to
        if self._zs is None:
            return None
        d = np.sqrt(np.mean((self._zs - view.z) ** 2, axis=1))  # per-parameter RMS distance
        i = int(np.argmin(d))
        return i if d[i] < NEAR else None

    def static_inputs(self, view) -> tuple:
        return (self.at_landmark(view),)

    def inputs(self, view) -> tuple:
        return (view.z.tobytes(),)

    def _radius(self, cells) -> float:
        return min(cells[0].w / 2 - 8 * self.layout.s, 46 * self.layout.s)

    def draw_static(self, surface: pygame.Surface, view) -> None:
        """Every landmark with its signature and name, and the "you are here" cell without its curve."""
        L, s = self.layout, self.layout.s
        pygame.draw.rect(surface, theme.PANEL, L.landmarks, border_radius=int(14 * s))
        marks = self.landmarks
        cells = self.cells(len(marks))
        here = self.at_landmark(view)
        radius = self._radius(cells)
        for i, cell in enumerate(cells):
            if i == 0:
                name, hot = "YOU ARE HERE", True
                pygame.draw.rect(surface, (36, 40, 58), cell, border_radius=int(10 * s))
            else:
                name, hot = marks[i - 1].name, (i - 1) == here
                if hot:
                    pygame.draw.rect(surface, (60, 52, 30), cell, border_radius=int(10 * s))
                    pygame.draw.rect(surface, theme.ACCENT, cell, width=max(1, int(3 * s)), border_radius=int(10 * s))
                signature.draw(surface, marks[i - 1].z, (cell.centerx, cell.y + 8 * s + radius), radius, highlight=hot)
            lines = theme.wrap(name.replace("/", " / ").replace("  ", " "), int(20 * s), cell.w - 4 * s, bold=hot)[:2]
            for n, line in enumerate(lines):
                theme.text(
                    surface,
                    line,
                    (cell.centerx, cell.y + 16 * s + 2 * radius + n * 22 * s),
                    int(20 * s),
                    theme.ACCENT if (hot and i > 0) else theme.TEXT,
                    bold=hot,
                    anchor="midtop",
                )

    def moving_rects(self) -> list[pygame.Rect]:
        return [self._here_cell] if self._here_cell is not None else [self.rect]

    def draw(self, surface: pygame.Surface, view) -> None:
        """The current design's signature: the only part that follows the sticks."""
        cells = self.cells(len(self.landmarks))
        radius = self._radius(cells)
        centre = (cells[0].centerx, cells[0].y + 8 * self.layout.s + radius)
        signature.draw(surface, view.z, centre, radius, dots=True)
        self._here_cell = pygame.Rect(0, 0, 2 * radius + 12, 2 * radius + 12)
        self._here_cell.center = (int(centre[0]), int(centre[1]))

    def press(self, pos, commands) -> bool:
        if not self.layout.landmarks.collidepoint(pos):
            return False
        for i, cell in enumerate(self.cells(len(self.landmarks))):
            if i > 0 and cell.collidepoint(pos):
                commands.goto_landmark(i - 1)
                return True
        return True
