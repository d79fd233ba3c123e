"""What the operator's F12 overlay says: frame rate, render latencies, providers, input health,
disk, the capture log, the design, the version. Gathered here from the running kiosk, once a frame
while F12 is up; kiosk/ui/diagnostics.py draws the lines with every control beside them."""

from __future__ import annotations

import numpy as np

FREE_SPACE_EVERY_S = 2.0
"""The free space shown is read at most this often (statvfs each frame is wasted while F12 is up)."""


def _pct(values, q: float) -> str:
    v = np.asarray(values, np.float64)
    return f"{np.percentile(v, q):6.1f}" if v.size else "   -  "


class DiagnosticsReport:
    """The F12 overlay's lines, gathered from the running kiosk (kiosk/ui/diagnostics.py draws them)."""

    def __init__(self) -> None:
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
