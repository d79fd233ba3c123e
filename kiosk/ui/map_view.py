"""Map mode (--show2d, M): a 2-D map of the fashion space, as the original's show2d.

Draws the reference map shipped with the models (`onnx_models/fashion_map.npz`, listed with its
sha256 in manifest.json; format in contract/mapfile.py, made by `fse-analyze fit-map`): the
training designs coloured by class, this booth's captures as diamonds, and the visitor, all placed
the way the analysis places them. Hovering shows the design there (drawn ahead of time, in the
file), clicking glides to it. The file is read and the captures placed on a worker thread
(map_loader.py); until the map is there, or if it is missing or does not match the manifest,
the panel says so and names the fix. The map covers the canvas + prints column.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pygame

from . import ClickWidget, theme
from .map_loader import MapLoader

CLASS_COLOURS = [
    (230, 25, 75),
    (60, 180, 75),
    (255, 225, 25),
    (67, 99, 216),
    (245, 130, 49),
    (145, 30, 180),
    (66, 212, 244),
    (240, 50, 230),
    (191, 239, 69),
    (250, 190, 212),
]


class MapView(ClickWidget):
    def __init__(self, layout: theme.Layout, models_dir: Path, state_dir: Path | None = None) -> None:
        self.layout = layout
        self.rect, self.area, self.legend = layout.map, layout.map_area, layout.map_legend
        self.loader = MapLoader(Path(models_dir), state_dir)
        self._surface: pygame.Surface | None = None
        self._points: np.ndarray | None = None  # (N, 2) screen points of the map's designs
        self._visitor: tuple[tuple, np.ndarray] | None = None  # (z it was placed for, screen point)
        self._hover_tile: tuple[int, pygame.Surface] | None = None
        self.hover_index: int | None = None

    @property
    def data(self):
        """The reference map, once the loader has read and checked it (None before, or when it can't)."""
        return self.loader.map

    @property
    def message(self) -> str:
        return self.loader.message

    def to_screen(self, xy: np.ndarray) -> np.ndarray:
        """Map xy in [0, 1] (y up) -> screen pixels inside the map area."""
        a, xy = self.area, np.clip(np.atleast_2d(xy), 0, 1)
        return np.stack([a.x + xy[:, 0] * a.w, a.bottom - xy[:, 1] * a.h], axis=1)

    def screen_points(self) -> np.ndarray:
        if self._points is None:
            self._points = self.to_screen(self.data.xy)
        return self._points

    def refresh_captures(self) -> None:
        """Place this booth's captures on the map (called when map mode opens); the loader does it."""
        self.loader.request_captures()

    def visitor_point(self, z) -> np.ndarray:
        """The visitor's screen point, placed again only when z changed."""
        key = tuple(np.round(np.asarray(z, np.float64), 6))
        if self._visitor is None or self._visitor[0] != key:
            self._visitor = (key, self.to_screen(self.loader.place_sliders(z))[0])
        return self._visitor[1]

    def inputs(self, view) -> tuple:
        # the loader's version: a map or captures that arrive from its thread redraw the panel
        return (view.z.tobytes(), self.hover_index, view.cursor_hidden, self.loader.version)

    def draw(self, surface: pygame.Surface, view) -> None:
        s = self.layout.s
        theme.panel(surface, self.rect, "MAP OF THE FASHION SPACE", s)
        if self.data is None:
            for i, line in enumerate(theme.wrap(self.message, int(28 * s), self.rect.w - 60 * s)):
                theme.text(
                    surface, line, (self.rect.x + 30 * s, self.rect.y + 90 * s + i * 38 * s), int(28 * s), theme.TEXT
                )
            self.draw_hint(surface)
            return
        if self._surface is None:
            self._surface = pygame.Surface(self.area.size, pygame.SRCALPHA)
            pts = self.screen_points() - np.array(self.area.topleft)
            dot = max(2, int(4 * s))
            for (x, y), label in zip(pts, self.data.label):
                self._surface.fill((*CLASS_COLOURS[int(label) % 10], 210), (int(x), int(y), dot, dot))
        surface.blit(self._surface, self.area)
        captures = self.loader.captures_xy
        if captures is not None:  # visitors' captures at this booth: diamonds
            for x, y in self.to_screen(captures).tolist():
                self.draw_capture(surface, x, y)
        # Where the visitor is, placed the way the analysis places trail points.
        hx, hy = (float(v) for v in self.visitor_point(view.z))
        self.draw_visitor(surface, hx, hy)
        self.draw_legend(surface)
        self.draw_hint(surface)
        if self.hover_index is not None and not view.cursor_hidden:
            self.draw_hover(surface)

    def draw_capture(self, surface, x: float, y: float) -> None:
        s, d = self.layout.s, 8 * self.layout.s  # filled, dark-edged: visible on any class colour
        corners = [(x, y - d), (x + d, y), (x, y + d), (x - d, y)]
        pygame.draw.polygon(surface, theme.TEXT, corners)
        pygame.draw.polygon(surface, theme.BG, corners, max(1, int(2 * s)))

    def draw_visitor(self, surface, x: float, y: float) -> None:
        s = self.layout.s
        pygame.draw.circle(surface, theme.TEXT, (x, y), 14 * s, width=max(2, int(4 * s)))
        pygame.draw.circle(surface, theme.ACCENT, (x, y), 5 * s)

    def draw_legend(self, surface) -> None:
        """The classes' colours, then the two marks: a capture and the visitor."""
        s, box = self.layout.s, self.legend
        row = 36 * s
        names = list(self.data.class_names) or [str(i) for i in range(10)]
        for i, name in enumerate(names[:10]):
            y = box.y + i * row
            pygame.draw.circle(surface, CLASS_COLOURS[i], (box.x + 8 * s, y + 13 * s), 8 * s)
            theme.text(surface, name, (box.x + 24 * s, y), int(22 * s), theme.TEXT)
        y = box.y + 10.4 * row
        self.draw_capture(surface, box.x + 8 * s, y + 13 * s)
        theme.text(surface, "a capture", (box.x + 24 * s, y), int(22 * s), theme.TEXT)
        y += row
        self.draw_visitor(surface, box.x + 8 * s, y + 13 * s)
        theme.text(surface, "you", (box.x + 30 * s, y), int(22 * s), theme.TEXT)

    def draw_hint(self, surface) -> None:
        s = self.layout.s
        theme.text(
            surface,
            "Touch a dot to go there.   M: back to drawing",
            (self.rect.x + 20 * s, self.rect.bottom - 12 * s),
            int(22 * s),
            theme.TEXT_DIM,
            anchor="bottomleft",
        )

    def draw_hover(self, surface) -> None:
        s = self.layout.s
        if self._hover_tile is None or self._hover_tile[0] != self.hover_index:
            grey = self.data.design[self.hover_index].T  # drawn by fit-map: no inference on the UI thread
            self._hover_tile = (
                self.hover_index,
                pygame.transform.smoothscale(
                    pygame.surfarray.make_surface(np.stack([grey] * 3, -1)), (int(140 * s), int(140 * s))
                ),
            )
        tile = self._hover_tile[1]
        x, y = self.screen_points()[self.hover_index].tolist()
        box = tile.get_rect(bottomleft=(x + 12 * s, y - 12 * s)).clamp(self.area)
        surface.blit(tile, box)
        pygame.draw.rect(surface, theme.ACCENT, box, width=max(2, int(3 * s)))

    def nearest(self, pos) -> int | None:
        if self.data is None or not self.area.collidepoint(pos):
            return None
        d = ((self.screen_points() - np.asarray(pos, np.float32)) ** 2).sum(1)
        i = int(np.argmin(d))
        return i if d[i] < (30 * self.layout.s) ** 2 else None

    def hover(self, pos) -> None:
        self.hover_index = self.nearest(pos)

    def press(self, pos, commands) -> bool:
        if not self.rect.collidepoint(pos):
            return False
        i = self.nearest(pos)
        if i is not None:
            commands.glide(self.loader.sliders_at(i), "map")
        return True
