"""The designed image, the hero of the screen: never blank, always the newest render available.

While a new render is on its way the last one stays up; a draft (reduced resolution, scaled up
smoothly) may replace it, then the full-resolution render, then the print. The view owns the
image's surface, made on the render worker (`make_image`) and swapped in by `show(frame)`.
"""

from __future__ import annotations

import numpy as np
import pygame

from . import Widget, theme
from .print_selector import print_label


class DesignView(Widget):
    def __init__(self, layout: theme.Layout, pixel_format: pygame.Surface | None = None, prints=None) -> None:
        """pixel_format: a surface in the format the image is drawn into (the screen's back buffer);
        prints: the catalogue the print's name is looked up in (None: prints are off)."""
        self.layout, self.prints = layout, prints
        self.pixel_format = pixel_format
        self.rect = layout.design
        self.image: pygame.Surface | None = None
        self.stage: str | None = None
        self.looks_like = ""
        self.seq = 0

    def make_image(self, rgb: np.ndarray) -> pygame.Surface:
        """A finished render (H, W, 3) uint8 as the surface shown, scaled to the view once. Runs on
        the render worker (DesignRenderer's `prepare`): smoothscale of a draft to 720 px took ~7 ms
        of the UI thread's frame before; pygame releases the GIL while it scales."""
        image = theme.in_format(
            pygame.image.frombuffer(np.ascontiguousarray(rgb).tobytes(), rgb.shape[1::-1], "RGB"), self.pixel_format
        )
        if image.get_size() != self.layout.design_image.size:  # a draft or a capped render
            return pygame.transform.smoothscale(image, self.layout.design_image.size)
        return image if self.pixel_format is not None else image.copy()  # its own pixels, not a view of bytes

    def show(self, frame) -> None:
        """A finished render (kiosk.render.design.DesignFrame) becomes the image on screen."""
        self.image = frame.shown if frame.shown is not None else self.make_image(frame.image)
        self.stage, self.seq = frame.stage, frame.seq
        # Drafts carry no guess: "looks like" hides while the design moves rather than name the one
        # it left (a whole stick motion, an attract glide), and for a design with nothing to name.
        self.looks_like = frame.looks_like

    def static_inputs(self, view) -> tuple:
        return (view.print_name, self.looks_like, self.stage == "draft", self.image is None)

    def inputs(self, view) -> tuple:
        return (self.seq,)

    def draw_static(self, surface: pygame.Surface, view) -> None:
        L, s = self.layout, self.layout.s
        theme.panel(surface, L.design, None, s)
        if self.image is None:
            theme.text(surface, "designing...", L.design_image.center, int(40 * s), theme.TEXT_DIM, anchor="center")
        theme.text(
            surface, "YOUR DESIGN", (L.design.x + 20 * s, L.design.y + 10 * s), int(28 * s), theme.TEXT_DIM, bold=True
        )
        label = print_label(self.prints, view.print_name)
        theme.text(
            surface,
            f"print: {label}",
            (L.design.right - 20 * s, L.design.y + 12 * s),
            int(26 * s),
            theme.ACCENT if view.print_name != "none" else theme.TEXT_DIM,
            anchor="topright",
        )
        bottom = L.design.bottom - 12 * s
        if self.looks_like:
            theme.text(
                surface,
                f"looks like: {self.looks_like}",
                (L.design.x + 20 * s, bottom),
                int(28 * s),
                theme.TEXT,
                bold=True,
                anchor="bottomleft",
            )
        if self.stage == "draft":
            theme.text(
                surface,
                "sharpening...",
                (L.design.right - 20 * s, bottom),
                int(22 * s),
                theme.TEXT_DIM,
                anchor="bottomright",
            )

    def moving_rects(self) -> list[pygame.Rect]:
        return [self.layout.design_image]

    def covers_moving_rects(self) -> bool:
        return self.image is not None and self.image.get_size() == self.layout.design_image.size

    def draw(self, surface: pygame.Surface, view) -> None:
        L, s = self.layout, self.layout.s
        if self.image is not None:
            surface.blit(self.image, L.design_image)
        pygame.draw.rect(surface, theme.PANEL_EDGE, L.design_image, width=max(1, int(2 * s)))
