"""The operator's F12 overlay: frame rate, render latencies, providers, input health, disk, capture log,
version, and every control (from kiosk/controls.py)."""

from __future__ import annotations

import numpy as np
import pygame

from .. import controls
from . import theme

FREE_SPACE_EVERY_S = 2.0
"""The free space shown is read at most this often (statvfs each frame is wasted while F12 is up)."""


def _pct(values, q: float) -> str:
    v = np.asarray(values, np.float64)
    return f"{np.percentile(v, q):6.1f}" if v.size else "   -  "


class DiagnosticsOverlay:
    def __init__(self, layout: theme.Layout) -> None:
        self.layout = layout
        self._free: tuple[float, float | None] = (float("-inf"), None)  # (app time read, MB)

    def free_mb(self, app) -> float | None:
        """The state dir's free space, read at most every FREE_SPACE_EVERY_S (the overlay redraws each frame)."""
        t, value = self._free
        if app.now - t > FREE_SPACE_EVERY_S:
            try:
                value = app.capture_log.free_mb() if app.capture_log else None
            except OSError:
                value = None
            self._free = (app.now, value)
        return value

    def lines(self, app) -> list[str]:
        m = app.metrics
        out = [
            f"Fashion Space Explorer {app.version}   config: {app.config.source}",
            f"fps {app.fps:5.1f}   frame ms p50 {_pct(m.frame_ms, 50)} p95 {_pct(m.frame_ms, 95)}"
            f"   ui work p95 {_pct(m.ui_work_ms, 95)}",
        ]
        for name in ("draft_ms", "full_ms", "print_ms", "preview_ms", "capture_ms"):
            values = getattr(m, name)
            out.append(f"{name[:-3]:11s} ms p50 {_pct(values, 50)} p95 {_pct(values, 95)}  (n={len(values)})")
        out.append("providers: " + ", ".join(f"{k}={v}" for k, v in app.models.providers.items()))
        out.append(
            f"prints: {app.prints_message or 'loaded'}   non-finite values caught: {app.models.nonfinite_events}"
        )
        for src in app.input.sources:
            out.append(
                f"input {src.name} ({src.kind}): {'connected' if src.connected else 'DISCONNECTED'}  "
                f"{src.frames_per_s:5.1f} frames/s  frames {src.frames}  dropped {src.dropped}  "
                f"lost {src.lost}  {src.detail}"
            )
        if not app.input.sources:
            out.append("input: keyboard and mouse only (joystick = none)")
        free = self.free_mb(app)
        out.append(
            f"state dir {app.config.state_dir}: " + (f"{free:,.0f} MB free" if free is not None else "unavailable")
        )
        if app.capture_log is not None:  # captures, how many are not yet exported, what the log set aside
            out += app.capture_log.status().lines()
        else:
            out.append("capture log: could not be opened, captures are off (the reason is in the journal)")
        out.append(f"z = [{', '.join(f'{v:+.2f}' for v in app.state.z)}]  how={app.state.how}")
        return out

    def _box(self, surface, lines: list[str], rect: pygame.Rect, size: int, title: str) -> pygame.Rect:
        """Lines word-wrapped to the rect's width on a dark box as tall as they need; the box drawn."""
        s = self.layout.s
        wrapped = [theme.wrap(title, size, rect.w - 40 * s, bold=True)[0]]
        for line in lines:
            if theme.font(size).size(line)[0] <= rect.w - 40 * s:
                wrapped.append(line)  # as written: the figures' columns keep their spacing
                continue
            pieces = theme.wrap(line, size, rect.w - 60 * s) or [""]
            wrapped += [pieces[0]] + ["    " + p for p in pieces[1:]]
        box = pygame.Rect(rect.x, rect.y, rect.w, len(wrapped) * (size + 6) + 30).clip(surface.get_rect())
        pygame.draw.rect(surface, theme.BG, box)  # opaque: labels behind showed through the figures
        pygame.draw.rect(surface, theme.ACCENT, box, width=2)
        for i, line in enumerate(wrapped):
            theme.text(
                surface,
                line,
                (box.x + 20 * s, box.y + 15 + i * (size + 6)),
                size,
                theme.ACCENT if i == 0 else theme.TEXT,
                bold=i == 0,
            )
        return box

    def draw(self, surface: pygame.Surface, app) -> pygame.Rect:
        """The status on the right, every control (kiosk/controls.py) on the left; the area covered."""
        L, s = self.layout, self.layout.s
        status = self._box(surface, self.lines(app), L.r(668, 80, 1232, 0), int(22 * s), "DIAGNOSTICS (F12)")
        help_box = self._box(surface, controls.help_lines(), L.r(20, 80, 636, 0), int(20 * s), "CONTROLS")
        return status.union(help_box)
