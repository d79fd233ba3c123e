"""The kiosk's screen as the tests look at it: a compositor's screenshot (grim) and what it should show.

Shared by tests/test_wayland.py (sway on this machine) and tests/test_boot.py (sway in the booted booth).

    grim -t ppm -    # the compositor's whole output, as binary PPM on stdout: parse_ppm(stdout)
"""

from __future__ import annotations

import numpy as np

SCREEN = (1920, 1080)
"""The virtual screen's size: the kiosk's own layout size (display_size), so it is drawn 1:1."""
SCREEN_MODE = f"output HEADLESS-1 mode {SCREEN[0]}x{SCREEN[1]}\n"
"""A sway output setting for the headless output (wlroots makes it 1280x720), given to sway through
the kiosk config's `include` of local settings (systemd/sway-kiosk.conf)."""
DESIGN_PANEL = (slice(140, 860), slice(690, 1380))
"""Where the kiosk draws the design at 1920x1080 (kiosk/ui/layout.py); "designing..." until the first render."""
OK_TOAST = (40, 140, 80)
"""The colour of a toast of kind "ok" (kiosk/ui/status.py), e.g. "USB export finished: safe to remove"."""
WARN_TOAST = (170, 60, 50)
"""The colour of a toast of kind "warn" (kiosk/ui/status.py), e.g. "Update to 0.9.1 failed to start; back on 0.9.0"."""


def parse_ppm(data: bytes) -> np.ndarray:
    """A binary PPM (P6, maxval 255, as grim writes it) as (H, W, 3) uint8."""
    fields, offset = [], 0
    while len(fields) < 4:  # magic, width, height, maxval: separated by whitespace (grim writes no comments)
        while data[offset : offset + 1].isspace():
            offset += 1
        end = offset
        while not data[end : end + 1].isspace():
            end += 1
        fields.append(data[offset:end])
        offset = end
    magic, width, height, maxval = fields[0], int(fields[1]), int(fields[2]), int(fields[3])
    assert magic == b"P6" and maxval == 255, f"not an 8-bit binary PPM: {data[:20]!r}"
    pixels = np.frombuffer(data, np.uint8, count=width * height * 3, offset=offset + 1)
    return pixels.reshape(height, width, 3)


def looks_like_the_kiosk(image: np.ndarray) -> bool:
    """Not black, not one colour: the kiosk's screen has panels, text and a design; and it covers the
    whole output (no corner shows the compositor's black background)."""
    corners = image[[0, 0, -1, -1], [0, -1, 0, -1]]
    covered = bool((corners.max(axis=1) > 0).all())
    return covered and image.std() > 10 and len(np.unique(image[::8, ::8].reshape(-1, 3), axis=0)) > 50


def design_drawn(image: np.ndarray) -> bool:
    """The design panel holds a rendered design, not the "designing..." placeholder."""
    return image[DESIGN_PANEL].std() > 25


def toast_shown(image: np.ndarray, colour: tuple) -> bool:
    """A toast of that colour over the design panel."""
    return (image[DESIGN_PANEL] == colour).all(axis=2).sum() > 5000


def wtype(key: str) -> list[str]:
    """The command that presses `key` on the compositor's keyboard. wtype's virtual keyboard is new on
    each run and the kiosk binds it only once sway has announced it, so a key sent at once is lost
    (seen here: no event at all): it waits half a second first, and a little after, before it goes."""
    return ["wtype", "-s", "500", key, "-s", "200"]
