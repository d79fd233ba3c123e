"""The 8 parameters: for each, a preview strip and a slider aligned with it.

Preview j of row k is the current design with parameter k set to slider position j (the rest
unchanged). The strip spans the slider's scale, so the knob sits under the picture it produces.
Clicking a preview moves the parameter there; dragging along the row moves it continuously.
"""

from __future__ import annotations

import numpy as np
import pygame

from .. import controls
from ..explorer import SLIDER_HIGH, SLIDER_LOW
from . import Widget, theme

LATENT_DIM = 8


class ParameterSliders(Widget):
    def __init__(self, layout: theme.Layout, positions: np.ndarray, pixel_format: pygame.Surface | None = None) -> None:
        """pixel_format: a surface in the format the thumbs are drawn into (the screen's back buffer)."""
        self.layout = layout
        self.pixel_format = pixel_format
        self.rect = layout.params
        self.positions = np.asarray(positions, np.float32)
        self.dragging: int | None = None
        self.previews: list[list[pygame.Surface | None]] = [[None] * len(self.positions) for _ in range(LATENT_DIM)]
        self.preview_seq = 0

    def make_previews(self, images: np.ndarray) -> list[list[pygame.Surface]]:
        """A preview batch, grey uint8 (8, N, s, s), as the thumbs' surfaces: one surface for all of
        them, scaled once, cut into thumbs. Runs on the preview worker (PreviewRenderer's `prepare`)."""
        from ..render.image import plain_rgb

        n = len(self.positions)
        size = images.shape[-1]
        sheet = plain_rgb(images.astype(np.float32) / 255.0)  # (8, N, s, s, 3)
        sheet = np.ascontiguousarray(sheet.transpose(0, 2, 1, 3, 4).reshape(LATENT_DIM * size, n * size, 3))
        surface = theme.in_format(
            pygame.image.frombuffer(sheet.tobytes(), (n * size, LATENT_DIM * size), "RGB"), self.pixel_format
        )
        thumb = self.thumb(0, 0).size
        if thumb != (size, size):  # rendered smaller: scale once here, not every frame
            surface = pygame.transform.smoothscale(surface, (n * thumb[0], LATENT_DIM * thumb[1]))
        return [[surface.subsurface((j * thumb[0], k * thumb[1], *thumb)) for j in range(n)] for k in range(LATENT_DIM)]

    def show_previews(self, frame) -> None:
        """A finished preview batch (kiosk.render.previews.PreviewFrame) becomes the strips."""
        self.previews = frame.shown if frame.shown is not None else self.make_previews(frame.images)
        self.preview_seq = frame.seq

    # -- geometry: one place decides where row k, preview j and value v are -------------------
    def badge(self, k: int) -> pygame.Rect:
        row, s = self.layout.param_rows[k], self.layout.s
        return pygame.Rect(row.x, row.y + 8 * s, 40 * s, 40 * s)

    def thumb(self, k: int, j: int) -> pygame.Rect:
        row, s = self.layout.param_rows[k], self.layout.s
        n = len(self.positions)
        x0, width = row.x + 52 * s, row.w - 52 * s
        step = width / n
        size = min(step - 4 * s, row.h - 30 * s)
        return pygame.Rect(round(x0 + j * step + (step - size) / 2), row.y, round(size), round(size))

    def track(self, k: int) -> tuple[float, float, float]:
        """(x of value -1, x of value +1, y) of row k's slider: the first and last preview centres."""
        first, last = self.thumb(k, 0), self.thumb(k, len(self.positions) - 1)
        return first.centerx, last.centerx, first.bottom + 14 * self.layout.s

    def value_at(self, k: int, x: float) -> float:
        x0, x1, _ = self.track(k)
        f = (x - x0) / max(1.0, x1 - x0)
        return float(np.clip(SLIDER_LOW + f * (SLIDER_HIGH - SLIDER_LOW), SLIDER_LOW, SLIDER_HIGH))

    def row_at(self, pos) -> int | None:
        return next((k for k, r in enumerate(self.layout.param_rows) if r.collidepoint(pos)), None)

    # -- drawing --------------------------------------------------------------------------------
    def nearest(self, z) -> tuple[int, ...]:
        """Per row, the preview the knob sits under (outlined)."""
        return tuple(int(i) for i in np.argmin(np.abs(self.positions[None, :] - np.asarray(z)[:, None]), axis=1))

    def static_inputs(self, view) -> tuple:
        return (self.preview_seq, self.nearest(view.z))

    def inputs(self, view) -> tuple:
        return (view.z.tobytes(),)

    def moving_rects(self) -> list[pygame.Rect]:
        """The strip along each slider's track that its knob can cover."""
        s, out = self.layout.s, []
        for k in range(LATENT_DIM):
            x0, x1, y = self.track(k)
            out.append(pygame.Rect(x0 - 14 * s, y - 14 * s, x1 - x0 + 28 * s, 28 * s))
        return out

    def draw_static(self, surface: pygame.Surface, view) -> None:
        """Panel, badges, previews, their outlines and the tracks: everything but the knobs."""
        L, s = self.layout, self.layout.s
        theme.panel(surface, L.params, "PARAMETERS", s)
        for i, line in enumerate(controls.SLIDER_HINT):
            theme.text(
                surface,
                line,
                (L.params.right - 18 * s, L.params.y + (4 + 20 * i) * s),
                int(19 * s),
                theme.TEXT_DIM,
                anchor="topright",
            )
        nearest = self.nearest(view.z)
        for k in range(LATENT_DIM):
            colour = theme.PARAM_COLOURS[k]
            pygame.draw.ellipse(surface, colour, self.badge(k))
            theme.text(surface, str(k + 1), self.badge(k).center, int(28 * s), theme.BG, bold=True, anchor="center")
            for j in range(len(self.positions)):
                rect = self.thumb(k, j)
                image = self.previews[k][j]
                if image is not None:
                    surface.blit(image, rect)
                else:
                    pygame.draw.rect(surface, (34, 36, 48), rect)
                near = j == nearest[k]
                pygame.draw.rect(
                    surface, colour if near else theme.PANEL_EDGE, rect, width=max(1, int((3 if near else 1) * s))
                )
            x0, x1, y = self.track(k)
            pygame.draw.line(surface, (70, 74, 96), (x0, y), (x1, y), max(2, int(6 * s)))

    def draw(self, surface: pygame.Surface, view) -> None:
        """The knobs: the only thing that moves while a stick is held."""
        s, z = self.layout.s, view.z
        for k in range(LATENT_DIM):
            colour = theme.PARAM_COLOURS[k]
            x0, x1, y = self.track(k)
            knob_x = x0 + (float(z[k]) - SLIDER_LOW) / (SLIDER_HIGH - SLIDER_LOW) * (x1 - x0)
            pygame.draw.line(surface, colour, (x0 + (x1 - x0) / 2, y), (knob_x, y), max(2, int(6 * s)))
            pygame.draw.circle(surface, colour, (knob_x, y), 11 * s)
            pygame.draw.circle(surface, theme.TEXT, (knob_x, y), 11 * s, width=max(1, int(2 * s)))

    # -- mouse / touch ----------------------------------------------------------------------------
    def press(self, pos, commands) -> bool:
        k = self.row_at(pos)
        if k is None:
            return False
        for j in range(len(self.positions)):
            if self.thumb(k, j).collidepoint(pos):
                commands.set_parameter(k, float(self.positions[j]), "slider")
                return True
        self.dragging = k
        commands.set_parameter(k, self.value_at(k, pos[0]), "slider")
        return True

    def drag(self, pos, commands) -> bool:
        if self.dragging is None:
            return False
        commands.set_parameter(self.dragging, self.value_at(self.dragging, pos[0]), "slider")
        return True

    def release(self, pos, commands) -> bool:
        was, self.dragging = self.dragging, None
        return was is not None
