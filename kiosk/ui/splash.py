"""The start-up splash (with progress while the sessions load) and the full-screen error."""

from __future__ import annotations

import pygame

from . import theme


def draw_splash(surface: pygame.Surface, fraction: float, message: str) -> None:
    w, h = surface.get_size()
    s = min(w / theme.DESIGN_W, h / theme.DESIGN_H)
    surface.fill(theme.BG)
    theme.text(
        surface, "FASHION SPACE EXPLORER", (w / 2, h / 2 - 90 * s), int(72 * s), theme.TEXT, bold=True, anchor="center"
    )
    bar = pygame.Rect(0, 0, 800 * s, 24 * s)
    bar.center = (w / 2, h / 2 + 20 * s)
    pygame.draw.rect(surface, theme.PANEL_EDGE, bar, border_radius=int(12 * s))
    fill = bar.copy()
    fill.w = max(1, int(bar.w * min(max(fraction, 0.0), 1.0)))
    pygame.draw.rect(surface, theme.ACCENT, fill, border_radius=int(12 * s))
    theme.text(surface, message, (w / 2, bar.bottom + 30 * s), int(28 * s), theme.TEXT_DIM, anchor="midtop")


def draw_error(surface: pygame.Surface, title: str, message: str) -> None:
    """A message an operator can act on: what is wrong and how to fix it, readable from a distance.
    Anything may end up in it (a path from a broken file): characters a font cannot draw (a NUL
    raises in pygame) are shown as escapes, so the page that explains a failure cannot fail."""
    title, message = ("".join(c if c.isprintable() else ascii(c)[1:-1] for c in str(text)) for text in (title, message))
    w, h = surface.get_size()
    s = min(w / theme.DESIGN_W, h / theme.DESIGN_H)
    surface.fill((40, 12, 14))
    theme.text(surface, title, (w / 2, 200 * s), int(64 * s), theme.TEXT, bold=True, anchor="midtop")
    for i, line in enumerate(theme.wrap(message, int(34 * s), int(w - 240 * s))):
        theme.text(surface, line, (120 * s, 340 * s + i * 48 * s), int(34 * s), theme.TEXT)
    theme.text(
        surface,
        "The kiosk will restart by itself once this is fixed (systemd restarts it).",
        (w / 2, h - 120 * s),
        int(28 * s),
        theme.TEXT_DIM,
        anchor="midbottom",
    )
