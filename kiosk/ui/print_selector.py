"""The print selector: a column of swatches with names; "none" (plain) is the first choice."""

from __future__ import annotations

import numpy as np
import pygame

from .. import controls
from . import ClickWidget, theme

MAX_SWATCHES = 12
SWATCH_STEP = 96
"""Height per swatch (tile + name) in design pixels; shrinks to fit when there are many prints."""


def _info(prints, name: str):
    """The print's PrintInfo; None for none, without prints, or for a name the prints don't know."""
    if name == "none" or prints is None:
        return None
    try:
        return prints.info(name)
    except Exception:
        return None


def print_label(prints, name: str) -> str:
    """How a print is named on screen ("plain" for none)."""
    if name == "none" or prints is None:
        return "plain"
    info = _info(prints, name)
    return info.label if info is not None else name


def print_swatch(prints, name: str):
    """The print's swatch image (H, W, 3) uint8; None for none."""
    info = _info(prints, name)
    return None if info is None else info.swatch


class PrintSelector(ClickWidget):
    """prints: the catalogue (None: prints are off); print_names: the selector's order, "none" first."""

    def __init__(self, layout: theme.Layout, prints, print_names: list[str]) -> None:
        self.layout, self.prints, self.print_names = layout, prints, list(print_names)
        self.rect = layout.prints
        self._swatches: dict[str, pygame.Surface] = {}

    def rects(self, print_names: list[str]) -> list[tuple[str, pygame.Rect]]:
        L, s = self.layout, self.layout.s
        names = print_names[:MAX_SWATCHES]
        top, bottom = L.prints.y + 52 * s, L.prints.bottom - 44 * s  # room for the "P / Tab" hint
        step = min(SWATCH_STEP * s, (bottom - top) / max(1, len(names)))
        return [
            (name, pygame.Rect(L.prints.x + 14 * s, top + i * step, L.prints.w - 28 * s, step - 6 * s))
            for i, name in enumerate(names)
        ]

    def swatch(self, name: str, size) -> pygame.Surface:
        key = f"{name}@{size}"
        if key not in self._swatches:
            image = print_swatch(self.prints, name)
            if image is None:  # "none": a plain garment-coloured tile
                surface = pygame.Surface(size)
                surface.fill((220, 216, 208))
                pygame.draw.line(surface, (150, 60, 60), (4, size[1] - 4), (size[0] - 4, 4), 3)
            else:
                surface = pygame.transform.smoothscale(
                    pygame.surfarray.make_surface(np.ascontiguousarray(image.transpose(1, 0, 2))), size
                )
            self._swatches[key] = surface
        return self._swatches[key]

    def static_inputs(self, view) -> tuple:
        return (view.print_name,)

    def draw_static(self, surface: pygame.Surface, view) -> None:
        L, s = self.layout, self.layout.s
        theme.panel(surface, L.prints, "PRINTS", s)
        if self.print_names == ["none"]:
            # The reason (a path, a fix) is for the operator: it is in the F12 overlay and the journal.
            for i, line in enumerate(("Prints are", "not available", "on this booth", "yet.")):
                theme.text(
                    surface,
                    line,
                    (L.prints.centerx, L.prints.y + 70 * s + i * 30 * s),
                    int(22 * s),
                    theme.TEXT_DIM,
                    anchor="midtop",
                )
            return
        for name, rect in self.rects(self.print_names):
            selected = name == view.print_name
            tile = pygame.Rect(rect.x, rect.y, rect.w, rect.h - 28 * s)
            surface.blit(self.swatch(name, tile.size), tile)
            pygame.draw.rect(
                surface,
                theme.ACCENT if selected else theme.PANEL_EDGE,
                tile,
                width=max(1, int((5 if selected else 1) * s)),
            )
            theme.text(
                surface,
                print_label(self.prints, name),
                (rect.centerx, rect.bottom),
                int(22 * s),
                theme.ACCENT if selected else theme.TEXT,
                bold=selected,
                anchor="midbottom",
            )
        theme.text(
            surface,
            f"{controls.keys_text(controls.control('next_print'), ' / ')}: next",
            (L.prints.centerx, L.prints.bottom - 12 * s),
            int(20 * s),
            theme.TEXT_DIM,
            anchor="midbottom",
        )

    def press(self, pos, commands) -> bool:
        for name, rect in self.rects(self.print_names):
            if rect.collidepoint(pos):
                commands.select_print(name)
                return True
        return False
