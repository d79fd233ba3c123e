"""Stepping the kiosk without its loop: for tests, the benchmark and `fse-kiosk --screenshot`.

    app = build_app(parse_args(["--windowed", "--joystick", "none"]))    # kiosk.startup
    wait_for(app, lambda a: a.state.how == "canvas")    # step frames until it holds (a deadline)
    settle(app)                                           # until every render is final
    screenshot(app, Path("out.png"))

The app's clock advances by each step's dt, so timing (attract mode, glides) is the test's to set.
"""

from __future__ import annotations

import time
from pathlib import Path

from .app import FPS


def wait_for(app, predicate, timeout: float = 10.0, dt: float = 1.0 / FPS) -> None:
    """Step frames until predicate(app) holds; TimeoutError after `timeout` wall seconds."""
    deadline = time.monotonic() + timeout
    while not predicate(app):
        if time.monotonic() > deadline:
            raise TimeoutError(f"kiosk did not reach the expected state within {timeout} s")
        app.step(dt)
        app.renders.wait_for_design(0.005)  # a render in flight: give it the CPU a moment


def settle(app, timeout: float = 40.0) -> None:
    """Step until every render is final, as a visitor who is still there (attract mode must not
    start because simulated frames outran a slow render)."""

    def visitor_waits(app) -> bool:
        if not app.state.attract:
            app.input.last_input = app.now
        return app.renders.final(app.state)

    wait_for(app, visitor_waits, timeout)


def screenshot(app, path: Path, frames: int = 2, timeout: float = 30.0) -> None:
    """A few frames, then every render final, then the screen saved as an image."""
    import pygame

    for _ in range(max(1, frames)):
        app.step()
    settle(app, timeout)
    app.step(0.0)
    pygame.image.save(app.screen, str(path))
