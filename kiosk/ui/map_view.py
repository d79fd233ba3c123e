"""Map mode (--show2d, M): a 2-D map of the fashion space, as the original's show2d.

Reads the analysis' precomputed map, `onnx_models/fashion_map.npz` (training points' 2-D
positions, their z and class; format in analysis/mapfile.py, numpy only). The visitor's position
and this booth's captures are placed on it the way the analysis places trail points. Points are coloured by class; hovering shows
the design there (the nearest point's z), clicking glides to it. Until the file exists, the
panel says so. The map covers the canvas + prints column; the design and sliders stay visible.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pygame

from . import theme
from . import ClickWidget

MAP_FILE = "fashion_map.npz"
CLASS_COLOURS = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (67, 99, 216), (245, 130, 49),
                 (145, 30, 180), (66, 212, 244), (240, 50, 230), (191, 239, 69), (250, 190, 212)]


def load_map(path: Path):
    """(FashionMap, "") or (None, why): the format is analysis/mapfile.py's (numpy only)."""
    if not path.is_file():
        return None, (f"Map mode needs {path.name}, made by the analysis "
                      f"(fse-analyze ... --write-kiosk-map); it is not in {path.parent} yet.")
    try:
        from analysis.mapfile import load_map as read_map   # numpy only: the one reader of the format
    except ImportError as e:
        return None, f"the map reader (analysis/mapfile.py) is not installed ({e}); reinstall fse"
    try:
        fmap = read_map(path)
    except ValueError as e:
        return None, str(e)
    if fmap.xy.ndim != 2 or fmap.xy.shape[1] != 2 or fmap.z.shape != (len(fmap.xy), 8) or not np.isfinite(fmap.xy).all():
        return None, f"{path} has unexpected shapes (xy {fmap.xy.shape}, z {fmap.z.shape}); rebuild it with fse-analyze."
    return fmap, ""


def captured_z(state_dir: Path) -> np.ndarray:
    """(M, 8) z of this booth's captures, newest 500, for the map's capture markers."""
    from contract.capture_schema import DB_NAME, open_db, recent_capture_z

    db = Path(state_dir) / DB_NAME
    if not db.is_file():
        return np.zeros((0, 8), np.float32)
    try:
        conn = open_db(db, read_only=True)
        try:
            return recent_capture_z(conn, 500)
        finally:
            conn.close()
    except Exception:
        return np.zeros((0, 8), np.float32)


class MapView(ClickWidget):
    def __init__(self, layout: theme.Layout, models_dir: Path, state_dir: Path | None = None) -> None:
        self.layout = layout
        self.rect = layout.r(16, 76, 628, 820)
        self.area = layout.r(30, 124, 600, 600)
        self.state_dir = state_dir
        self.data, self.message = load_map(Path(models_dir) / MAP_FILE)
        self._surface: pygame.Surface | None = None
        self._captures: np.ndarray | None = None      # (M, 2) screen points, refreshed on entering
        self.hover_index: int | None = None
        self._captures_version = 0

    def to_screen(self, xy: np.ndarray) -> np.ndarray:
        """Map xy in [0, 1] (y up) -> screen pixels inside the map area."""
        a, xy = self.area, np.clip(np.atleast_2d(xy), 0, 1)
        return np.stack([a.x + xy[:, 0] * a.w, a.bottom - xy[:, 1] * a.h], axis=1)

    def screen_points(self) -> np.ndarray:
        return self.to_screen(self.data.xy)

    def refresh_captures(self) -> None:
        """Place this booth's captures on the map (called when map mode opens)."""
        if self.data is None or self.state_dir is None:
            return
        zs = captured_z(self.state_dir)
        self._captures = self.to_screen(self.data.place(zs)) if len(zs) else None
        self._captures_version += 1

    def inputs(self, app) -> tuple:
        return (app.state.z.tobytes(), self.hover_index, app.cursor_hidden, self._captures_version)

    def draw(self, surface: pygame.Surface, app) -> None:
        s = self.layout.s
        theme.panel(surface, self.rect, "MAP OF THE FASHION SPACE", s)
        if self.data is None:
            for i, line in enumerate(theme.wrap(self.message, int(28 * s), self.rect.w - 60 * s)):
                theme.text(surface, line, (self.rect.x + 30 * s, self.rect.y + 90 * s + i * 38 * s), int(28 * s), theme.TEXT)
            theme.text(surface, "M: back to the canvas", (self.rect.x + 30 * s, self.rect.bottom - 30 * s), int(24 * s),
                       theme.TEXT_DIM, anchor="bottomleft")
            return
        if self._surface is None:
            self._surface = pygame.Surface(self.area.size, pygame.SRCALPHA)
            pts = self.screen_points() - np.array(self.area.topleft)
            dot = max(2, int(4 * s))
            for (x, y), label in zip(pts, self.data.label):
                self._surface.fill((*CLASS_COLOURS[int(label) % 10], 210), (int(x), int(y), dot, dot))
        surface.blit(self._surface, self.area)
        if self._captures is not None:   # visitors' captures: small white diamonds
            for x, y in self._captures.tolist():
                d = 6 * s
                pygame.draw.polygon(surface, theme.TEXT, [(x, y - d), (x + d, y), (x, y + d), (x - d, y)], 1)
        # Where the visitor is, placed the way the analysis places trail points.
        hx, hy = (float(v) for v in self.to_screen(self.data.place(app.state.z))[0])
        pygame.draw.circle(surface, theme.TEXT, (hx, hy), 14 * s, width=max(2, int(4 * s)))
        pygame.draw.circle(surface, theme.ACCENT, (hx, hy), 5 * s)
        names = list(self.data.class_names) or [str(i) for i in range(10)]
        for i, name in enumerate(names[:10]):
            x = self.rect.x + 30 * s + (i % 2) * 290 * s
            y = self.area.bottom + 20 * s + (i // 2) * 30 * s
            pygame.draw.circle(surface, CLASS_COLOURS[i], (x + 8 * s, y + 12 * s), 8 * s)
            theme.text(surface, name, (x + 24 * s, y), int(22 * s), theme.TEXT)
        if self.hover_index is not None and not app.cursor_hidden:
            self.draw_hover(surface, app)

    def draw_hover(self, surface, app) -> None:
        s = self.layout.s
        z = self.data.z[self.hover_index]
        design = app.models.generate(z, 28, 28)[0]   # 28x28: well under a millisecond
        grey = (design * 255).astype(np.uint8).T
        tile = pygame.transform.smoothscale(pygame.surfarray.make_surface(np.stack([grey] * 3, -1)),
                                            (int(140 * s), int(140 * s)))
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

    def hover(self, pos, app) -> None:
        self.hover_index = self.nearest(pos)

    def press(self, pos, app) -> bool:
        if not self.rect.collidepoint(pos):
            return False
        i = self.nearest(pos)
        if i is not None:
            app.glide(self.data.z[i], "map")
        return True
