"""Colours, fonts and the screen layout, in one place so every widget agrees.

The layout is designed on a 1920x1080 logical screen (pygame SCALED stretches it to the panel);
`Layout(w, h)` scales it for other sizes (`fse-kiosk --screenshot --size 1280x720`).
Sizes are chosen for a visitor at arm's length to 1.5 m: body text >= 22 px, labels >= 26 px.
"""

from __future__ import annotations

from functools import lru_cache

import pygame

BG = (12, 13, 19)
PANEL = (24, 26, 36)
PANEL_EDGE = (52, 56, 74)
TEXT = (236, 236, 242)
TEXT_DIM = (150, 154, 172)
ACCENT = (255, 196, 64)  # highlights: selected print, current landmark, focus
SIGNATURE = (70, 150, 255)  # the signature curve is always blue
OK = (90, 200, 120)
WARN = (255, 120, 90)

PARAM_COLOURS = [
    (239, 83, 80),
    (255, 167, 38),
    (253, 216, 53),
    (102, 187, 106),
    (38, 198, 218),
    (66, 133, 244),
    (171, 71, 188),
    (236, 64, 122),
]
"""One colour per parameter / joystick: the slider badge, its dot on the signature, the stick's cap."""

DESIGN_W, DESIGN_H = 1920, 1080


@lru_cache(maxsize=64)
def _font_path(bold: bool) -> str | None:
    # DejaVu ships on Debian (the booth); pygame's bundled font is the fallback everywhere else.
    names = "dejavusans,liberationsans,freesans"
    return pygame.font.match_font(names, bold=bold)


@lru_cache(maxsize=64)
def font(size: int, bold: bool = False) -> pygame.font.Font:
    return pygame.font.Font(_font_path(bold), max(8, int(size)))


@lru_cache(maxsize=1024)
def rendered(s: str, size: int, colour, bold: bool) -> pygame.Surface:
    """Text surfaces are cached: most labels are the same every frame."""
    return font(size, bold).render(s, True, colour)


def text(
    surface: pygame.Surface, s: str, pos, size: int, colour=TEXT, bold: bool = False, anchor: str = "topleft"
) -> pygame.Rect:
    image = rendered(s, int(size), tuple(colour), bold)
    rect = image.get_rect(**{anchor: (int(pos[0]), int(pos[1]))})
    surface.blit(image, rect)
    return rect


def wrap(s: str, size: int, width: int, bold: bool = False) -> list[str]:
    """Greedy word wrap at `width` pixels."""
    f = font(size, bold)
    lines, line = [], ""
    for word in s.split():
        trial = f"{line} {word}".strip()
        if f.size(trial)[0] <= width or not line:
            line = trial
        else:
            lines.append(line)
            line = word
    if line:
        lines.append(line)
    return lines


def panel(surface: pygame.Surface, rect: pygame.Rect, title: str | None, scale: float) -> None:
    pygame.draw.rect(surface, PANEL, rect, border_radius=int(14 * scale))
    pygame.draw.rect(surface, PANEL_EDGE, rect, width=max(1, int(2 * scale)), border_radius=int(14 * scale))
    if title:
        text(surface, title, (rect.x + 18 * scale, rect.y + 12 * scale), int(26 * scale), TEXT_DIM, bold=True)


class Layout:
    """Every widget's rectangle, from the 1920x1080 design scaled to (w, h)."""

    def __init__(self, w: int = DESIGN_W, h: int = DESIGN_H) -> None:
        self.w, self.h = w, h
        self.s = s = min(w / DESIGN_W, h / DESIGN_H)
        ox, oy = (w - DESIGN_W * s) / 2, (h - DESIGN_H * s) / 2

        def r(x, y, rw, rh) -> pygame.Rect:
            return pygame.Rect(round(ox + x * s), round(oy + y * s), round(rw * s), round(rh * s))

        self.r = r
        self.top = r(0, 0, 1920, 64)
        # Left column: drawing canvas with its tools, then the two big action buttons.
        self.left = r(16, 76, 440, 820)
        self.canvas = r(40, 128, 392, 392)
        self.tools = [r(40 + i * 100, 532, 92, 76) for i in range(4)]
        self.jump = r(40, 628, 392, 110)
        self.capture = r(40, 752, 392, 126)
        # Prints: a column of swatches between the canvas and the design.
        self.prints = r(468, 76, 176, 820)
        # The hero: the designed image, as big as the middle allows.
        self.design = r(656, 76, 760, 820)
        self.design_image = r(676, 124, 720, 720)
        # Parameters: 8 rows of preview strips with their sliders.
        self.params = r(1428, 76, 476, 820)
        self.param_rows = [r(1440, 124 + i * 96, 452, 92) for i in range(8)]
        # Landmarks along the bottom: every one visible at once (no scrolling with a joystick).
        self.landmarks = r(16, 908, 1888, 164)
        # Map mode: the map over the canvas and prints columns, its legend beside it, and the jump
        # and capture buttons still below it (map_view.py).
        self.map = r(16, 76, 628, 532)
        self.map_area = r(30, 120, 440, 440)
        self.map_legend = r(486, 120, 150, 440)
        self.map_actions = r(16, 620, 628, 276)
        self.map_jump = r(40, 640, 580, 110)
        self.map_capture = r(40, 764, 580, 116)
        self.scale = s


def in_format(image: pygame.Surface, like: pygame.Surface | None) -> pygame.Surface:
    """`image` converted to `like`'s pixel format (a copy), or as it is when `like` is None. Renders
    arrive as 24-bit RGB; in the back buffer's 32-bit format a 720 px blit took 0.14 ms instead of
    0.48, and a draft's smoothscale to 720 px 2.6 ms instead of 3.9 (on the worker thread)."""
    return image if like is None else image.convert(like)
