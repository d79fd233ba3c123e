"""The designed image, the hero of the screen: never blank, always the newest render available.

While a new render is on its way the last one stays up; a draft (reduced resolution, scaled up
smoothly) may replace it, then the full-resolution render, then the print.
"""
from __future__ import annotations

import pygame

from . import theme


class DesignView:
    def __init__(self, layout: theme.Layout) -> None:
        self.layout = layout

    def draw(self, surface: pygame.Surface, app) -> None:
        L, s = self.layout, self.layout.s
        theme.panel(surface, L.design, None, s)
        image = app.design_surface
        if image is not None:
            if image.get_size() != L.design_image.size:
                image = pygame.transform.smoothscale(image, L.design_image.size)
            surface.blit(image, L.design_image)
        else:
            theme.text(surface, "designing...", L.design_image.center, int(40 * s), theme.TEXT_DIM, anchor="center")
        pygame.draw.rect(surface, theme.PANEL_EDGE, L.design_image, width=max(1, int(2 * s)))
        theme.text(surface, "YOUR DESIGN", (L.design.x + 20 * s, L.design.y + 10 * s), int(28 * s),
                   theme.TEXT_DIM, bold=True)
        label = app.print_label(app.state.print_name)
        theme.text(surface, f"print: {label}", (L.design.right - 20 * s, L.design.y + 12 * s), int(26 * s),
                   theme.ACCENT if app.state.print_name != "none" else theme.TEXT_DIM, anchor="topright")
        bottom = L.design.bottom - 12 * s
        if app.looks_like:
            theme.text(surface, f"looks like: {app.looks_like}", (L.design.x + 20 * s, bottom), int(28 * s),
                       theme.TEXT, bold=True, anchor="bottomleft")
        if app.design_stage in ("draft", "print_draft"):
            theme.text(surface, "sharpening...", (L.design.right - 20 * s, bottom), int(22 * s), theme.TEXT_DIM,
                       anchor="bottomright")
