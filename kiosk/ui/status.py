"""The top bar (title, what to do, joystick state), toasts ("Saved #0042"), the attract prompt and
the operator-exit countdown."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pygame

from . import Widget, theme

TOAST_S = 3.5


@dataclass
class Toast:
    text: str
    kind: str  # "ok", "warn" or "info"
    until: float
    slot: str = ""  # a toast replaces the one before it in its slot: "capture" goes "Capturing..." -> "Saved #0042",
    # a stick's status file (usb-export-sdb1.json) "running" -> "done"


class StatusBar(Widget):
    def __init__(self, layout: theme.Layout) -> None:
        self.layout = layout
        self.rect = layout.top
        self.toasts: list[Toast] = []

    def toast(self, text: str, kind: str, now: float, seconds: float = TOAST_S, slot: str = "") -> None:
        kept = [t for t in self.toasts if t.text != text and not (slot and t.slot == slot)]
        self.toasts = kept[-2:] + [Toast(text, kind, now + seconds, slot)]

    def static_inputs(self, view) -> tuple:
        return view.joystick

    def draw_static(self, surface: pygame.Surface, view) -> None:
        L, s = self.layout, self.layout.s
        theme.text(
            surface,
            "FASHION SPACE EXPLORER",
            (L.top.x + 24 * s, L.top.centery),
            int(36 * s),
            theme.TEXT,
            bold=True,
            anchor="midleft",
        )
        theme.text(
            surface,
            "Move the joysticks, draw, or touch a landmark",
            (L.design.centerx, L.top.centery),
            int(26 * s),
            theme.TEXT_DIM,
            anchor="center",
        )
        label, ok = view.joystick
        rect = theme.text(
            surface,
            label,
            (L.top.right - 24 * s, L.top.centery),
            int(22 * s),
            theme.TEXT if ok else theme.WARN,
            anchor="midright",
        )
        pygame.draw.circle(surface, theme.OK if ok else theme.WARN, (rect.x - 14 * s, rect.centery), 7 * s)

    def draw_toasts(self, surface: pygame.Surface, now: float) -> list[pygame.Rect]:
        """The toasts still current, drawn over the design; the rects they cover."""
        L, s = self.layout, self.layout.s
        self.toasts = [t for t in self.toasts if t.until > now]
        drawn = []
        y = L.design_image.y + 24 * s
        for t in self.toasts:
            colour = {"ok": (40, 140, 80), "warn": (170, 60, 50)}.get(t.kind, (50, 60, 100))
            lines = theme.wrap(t.text, int(30 * s), L.design_image.w - 80 * s, bold=True)[:3]
            height = (len(lines) * 38 + 24) * s
            box = pygame.Rect(0, 0, L.design_image.w - 40 * s, height)
            box.midtop = (L.design_image.centerx, y)
            pygame.draw.rect(surface, colour, box, border_radius=int(14 * s))
            for n, line in enumerate(lines):
                theme.text(
                    surface,
                    line,
                    (box.centerx, box.y + 12 * s + n * 38 * s),
                    int(30 * s),
                    theme.TEXT,
                    bold=True,
                    anchor="midtop",
                )
            drawn.append(box)
            y = box.bottom + 10 * s
        return drawn

    def draw_attract(self, surface: pygame.Surface, now: float) -> pygame.Rect:
        """The attract prompt: the same screen, not a screensaver. It covers the landmark strip (the
        closest part of the screen to the joysticks), never the garment it is showing off."""
        L, s = self.layout, self.layout.s
        pulse = 0.5 + 0.5 * math.sin(now * 3.0)
        box = L.landmarks
        pygame.draw.rect(surface, theme.PANEL, box, border_radius=int(12 * s))
        pygame.draw.rect(surface, theme.ACCENT, box, width=max(2, int((3 + 3 * pulse) * s)), border_radius=int(12 * s))
        theme.text(
            surface,
            "Grab the joysticks!",
            (box.centerx, box.y + 18 * s),
            int(64 * s),
            theme.ACCENT,
            bold=True,
            anchor="midtop",
        )
        theme.text(
            surface,
            "Each stick changes one number of the design. Or draw on the canvas.",
            (box.centerx, box.bottom - 20 * s),
            int(30 * s),
            theme.TEXT,
            anchor="midbottom",
        )
        return box

    def draw_operator_exit(self, surface: pygame.Surface, seconds_left: float) -> pygame.Rect:
        """The countdown while capture + jump are held (the operator's exit): an opaque box in the
        middle of the design, so whoever holds them knows why nothing else happens."""
        L, s = self.layout, self.layout.s
        box = pygame.Rect(0, 0, L.design_image.w - 80 * s, 190 * s)
        box.center = L.design_image.center
        pygame.draw.rect(surface, theme.PANEL, box, border_radius=int(14 * s))
        pygame.draw.rect(surface, theme.WARN, box, width=max(2, int(4 * s)), border_radius=int(14 * s))
        theme.text(
            surface,
            f"Closing the kiosk in {math.ceil(seconds_left)} s",
            (box.centerx, box.y + 24 * s),
            int(48 * s),
            theme.WARN,
            bold=True,
            anchor="midtop",
        )
        theme.text(
            surface,
            "Operator exit: keep holding capture + jump.",
            (box.centerx, box.bottom - 70 * s),
            int(26 * s),
            theme.TEXT,
            anchor="midbottom",
        )
        theme.text(
            surface,
            "Let go to keep exploring.",
            (box.centerx, box.bottom - 26 * s),
            int(26 * s),
            theme.TEXT,
            anchor="midbottom",
        )
        return box
