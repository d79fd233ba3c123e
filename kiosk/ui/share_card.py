"""The "take it home" card: a saved capture's QR code (and the hotspot's Wi-Fi code) beside the design.

Shown for SHOW_S after "Saved #N" in place of the drawing canvas (the left column's upper part),
so it never covers the design; the capture and jump buttons below stay where they are. It goes at
the next capture, after SHOW_S, or when a visitor taps it (the canvas is back at once). With the
hotspot on, two codes side by side: 1 join the booth's Wi-Fi (`WIFI:`, for phones not yet on it),
2 open the design. Each module is a whole number of pixels, at least MIN_MODULE_PX, quiet zone kept.
"""

from __future__ import annotations

import time

import numpy as np
import pygame

from ..share import qr
from . import ClickWidget, theme

SHOW_S = 60.0
"""How long the codes stay up after the capture (unless the next capture or a tap ends them)."""
MIN_MODULE_PX = 4
"""Smallest module on the 1920x1080 screen that phones read from about a metre."""
MAX_MODULE_PX = 9
TITLES_H, CAPTIONS_H, NOTE_H = 96, 70, 44
"""The card's rows around the codes, in 1080p pixels: its titles, the codes' captions, the note."""


def code_surface(payload: str, module_px: int) -> pygame.Surface:
    """The QR code (quiet zone included) at module_px pixels per module, black on white."""
    dark = qr.modules(payload)
    grey = np.where(dark, 0, 255).astype(np.uint8).T  # surfarray is (x, y)
    small = pygame.surfarray.make_surface(np.repeat(grey[:, :, None], 3, axis=2))
    return pygame.transform.scale(small, (dark.shape[1] * module_px, dark.shape[0] * module_px))


def _until_text(expires: float) -> str:
    return time.strftime("%H:%M", time.localtime(expires))


class ShareCard(ClickWidget):
    def __init__(self, layout: theme.Layout) -> None:
        self.layout = layout
        s = layout.s
        self.rect = pygame.Rect(layout.left.x, layout.left.y, layout.left.w, layout.jump.y - 8 * s - layout.left.y)
        self.shared = None  # kiosk.share.publish.SharedCapture shown, None when hidden
        self.until = 0.0
        self.module_px = 0  # the last drawing's pixels per module (tests check the minimum)

    # -- shown and hidden -----------------------------------------------------------------------
    def show(self, shared, now: float) -> None:
        """A capture's codes for SHOW_S; None hides the card (a capture that could not be shared)."""
        self.shared, self.until = shared, now + SHOW_S

    def expire(self, now: float) -> None:
        if self.shared is not None and now >= self.until:
            self.shared = None

    @property
    def visible(self) -> bool:
        return self.shared is not None

    def press(self, pos, commands) -> bool:
        if not self.rect.collidepoint(pos):
            return False
        self.shared = None  # a tap gives the canvas back
        return True

    # -- drawing ---------------------------------------------------------------------------------
    def _module_px(self, codes) -> tuple[int, list[int]]:
        """The largest whole pixels per module at which the codes fit side by side, and their sizes."""
        s, R = self.layout.s, self.rect
        col_w = (R.w - 16 * s * (len(codes) + 1)) / len(codes)
        height = R.h - (TITLES_H + CAPTIONS_H + NOTE_H) * s
        sizes = [len(qr.modules(payload)) for payload, _, _ in codes]
        return int(min(col_w / max(sizes), height / max(sizes), MAX_MODULE_PX)), sizes

    def static_inputs(self, view) -> tuple:
        return (id(self.shared),)

    def draw_static(self, surface: pygame.Surface, view) -> None:
        shared = self.shared
        if shared is None:
            return
        s, R = self.layout.s, self.rect
        theme.panel(surface, R, None, s)
        pygame.draw.rect(surface, theme.ACCENT, R, width=max(2, int(3 * s)), border_radius=int(14 * s))
        theme.text(surface, "TAKE IT HOME", (R.x + 18 * s, R.y + 12 * s), int(26 * s), theme.ACCENT, bold=True)
        number = f"#{shared.capture:04d}"
        theme.text(surface, f"{number} on your phone", (R.x + 18 * s, R.y + 46 * s), int(32 * s), theme.TEXT, bold=True)
        codes = [(shared.wifi, "1  Join the Wi-Fi", shared.ssid or ""), (shared.link, "2  Open it", "camera app")]
        codes = [c for c in codes if c[0]]
        if len(codes) == 1:
            codes = [(shared.link, "Point your phone's camera here", "")]
        px, sizes = self._module_px(codes)
        if px < MIN_MODULE_PX and len(codes) > 1:  # a small screen: the design's code alone, large enough
            codes = [(shared.link, "Point your phone's camera here", f"Wi-Fi: {shared.ssid}")]
            px, sizes = self._module_px(codes)
        self.module_px = px = max(px, MIN_MODULE_PX)
        pad, col_w = 16 * s, (R.w - 16 * s * (len(codes) + 1)) / len(codes)
        space_top, space_bottom = R.y + TITLES_H * s, R.bottom - NOTE_H * s
        top = space_top + (space_bottom - space_top - max(sizes) * px - CAPTIONS_H * s) / 2  # centred
        for i, (payload, title, detail) in enumerate(codes):
            centre = R.x + pad + col_w * (i + 0.5) + pad * i
            code = code_surface(payload, px)
            surface.blit(code, code.get_rect(center=(centre, top + max(sizes) * px / 2)))
            y = top + max(sizes) * px + 10 * s
            theme.text(surface, title, (centre, y), int(24 * s), theme.TEXT, bold=True, anchor="midtop")
            if detail:
                theme.text(surface, detail, (centre, y + 32 * s), int(22 * s), theme.TEXT_DIM, anchor="midtop")
        note = f"link works until {_until_text(shared.expires)}   tap to close"
        theme.text(surface, note, (R.centerx, R.bottom - 14 * s), int(22 * s), theme.TEXT_DIM, anchor="midbottom")
