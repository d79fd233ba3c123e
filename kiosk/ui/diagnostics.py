"""The operator's F12 overlay: the kiosk's figures (kiosk/diagnostics.py gathers them) beside every
control (from kiosk/controls.py), on an opaque panel."""

from __future__ import annotations

import pygame

from .. import controls
from . import theme


class DiagnosticsOverlay:
    def __init__(self, layout: theme.Layout) -> None:
        self.layout = layout

    def _box(self, surface, lines: list[str], rect: pygame.Rect, size: int, title: str) -> pygame.Rect:
        """Lines word-wrapped to the rect's width on a dark box as tall as they need; the box drawn."""
        s = self.layout.s
        wrapped = [theme.wrap(title, size, rect.w - 40 * s, bold=True)[0]]
        for line in lines:
            if theme.font(size).size(line)[0] <= rect.w - 40 * s:
                wrapped.append(line)  # as written: the figures' columns keep their spacing
                continue
            pieces = theme.wrap(line, size, rect.w - 60 * s) or [""]
            wrapped += [pieces[0]] + ["    " + p for p in pieces[1:]]
        box = pygame.Rect(rect.x, rect.y, rect.w, len(wrapped) * (size + 6) + 30).clip(surface.get_rect())
        pygame.draw.rect(surface, theme.BG, box)  # opaque: labels behind showed through the figures
        pygame.draw.rect(surface, theme.ACCENT, box, width=2)
        for i, line in enumerate(wrapped):
            theme.text(
                surface,
                line,
                (box.x + 20 * s, box.y + 15 + i * (size + 6)),
                size,
                theme.ACCENT if i == 0 else theme.TEXT,
                bold=i == 0,
            )
        return box

    def draw(self, surface: pygame.Surface, lines: tuple[str, ...]) -> pygame.Rect:
        """The kiosk's figures on the right, every control (kiosk/controls.py) on the left; the area covered."""
        L, s = self.layout, self.layout.s
        status = self._box(surface, list(lines), L.r(668, 80, 1232, 0), int(22 * s), "DIAGNOSTICS (F12)")
        help_box = self._box(surface, controls.help_lines(), L.r(20, 80, 636, 0), int(20 * s), "CONTROLS")
        return status.union(help_box)
