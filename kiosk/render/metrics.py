"""The render latencies (milliseconds) the benchmark and the F12 overlay report."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

METRIC_KEEP = 2000


@dataclass
class RenderMetrics:
    """Milliseconds, newest last; the benchmark reads percentiles from these lists."""

    frame_ms: deque = field(default_factory=lambda: deque(maxlen=METRIC_KEEP))  # UI loop, per frame
    ui_work_ms: deque = field(default_factory=lambda: deque(maxlen=METRIC_KEEP))  # events+update+draw
    draft_ms: deque = field(default_factory=lambda: deque(maxlen=METRIC_KEEP))  # input -> draft shown
    full_ms: deque = field(default_factory=lambda: deque(maxlen=METRIC_KEEP))  # settle -> full-res shown
    print_ms: deque = field(default_factory=lambda: deque(maxlen=METRIC_KEEP))  # settle -> full-res print shown
    preview_ms: deque = field(default_factory=lambda: deque(maxlen=METRIC_KEEP))  # change -> previews shown
    capture_ms: deque = field(default_factory=lambda: deque(maxlen=METRIC_KEEP))  # press -> saved

    def summary(self) -> dict:
        out = {}
        for name in ("frame_ms", "ui_work_ms", "draft_ms", "full_ms", "print_ms", "preview_ms", "capture_ms"):
            values = np.asarray(getattr(self, name), np.float64)
            if values.size:
                out[name] = {
                    "n": int(values.size),
                    "p50": float(np.percentile(values, 50)),
                    "p95": float(np.percentile(values, 95)),
                    "p99": float(np.percentile(values, 99)),
                    "max": float(values.max()),
                }
        return out
