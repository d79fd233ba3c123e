"""Which video drivers the SDL under this pygame was built with (x11, wayland, KMSDRM, ...).

pygame cannot say: a driver that is missing and one whose device is missing both fail with
"<name> not available". The answer matters for the booth's display path (docs/appliance.md):
pygame 2.6.1's wheels carry x11 and wayland but no KMSDRM, pygame-ce 2.5.8's carry all three.
So this asks SDL itself, through the library pygame has loaded.

    python -m kiosk.sdl_drivers             # e.g. "x11 wayland offscreen dummy evdev"
    python -m kiosk.sdl_drivers kmsdrm      # exit 1, with the reason, if KMSDRM is not built in
"""

from __future__ import annotations

import ctypes
import os
import sys


def video_drivers() -> list[str]:
    """SDL's compiled-in video drivers, lower case, in SDL's order of preference."""
    import pygame  # noqa: F401  (loads its SDL library into this process)

    with open("/proc/self/maps") as maps:
        paths = {line.split(None, 5)[-1].strip() for line in maps if "libSDL2" in line and "/" in line}
    # SDL itself, not its satellites (libSDL2_image, _ttf, _mixer): "libSDL2-2.0.so.0" or a wheel's "libSDL2-2-<hash>..."
    library = next((p for p in sorted(paths) if os.path.basename(p).startswith(("libSDL2-", "libSDL2.so"))), None)
    if library is None:
        raise RuntimeError(f"pygame's SDL library is not among this process's libraries ({sorted(paths)})")
    sdl = ctypes.CDLL(library)
    sdl.SDL_GetVideoDriver.restype = ctypes.c_char_p
    return [sdl.SDL_GetVideoDriver(i).decode().lower() for i in range(sdl.SDL_GetNumVideoDrivers())]


def main(argv: list[str] | None = None) -> int:
    import pygame

    argv = sys.argv[1:] if argv is None else argv
    drivers = video_drivers()
    if not argv:
        print(" ".join(drivers))
        return 0
    wanted = argv[0].lower()
    if wanted in drivers:
        return 0
    print(
        f"{pygame.__name__} {pygame.version.ver} (SDL {'.'.join(map(str, pygame.get_sdl_version()))}) has no "
        f"{wanted} video driver, only: {', '.join(drivers)}. Install pygame-ce (its wheels carry KMSDRM and "
        f"wayland) or a pygame built against a system SDL that has it.",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
