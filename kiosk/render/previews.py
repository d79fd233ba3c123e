"""The slider previews' worker: all 8 x N previews in one batched generator call."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import numpy as np

from contract.space import LATENT_DIM

from .threads import Mailbox

log = logging.getLogger(__name__)

PREVIEW_MAX_SIDE = 40
"""Slider previews render at most this big (53 px thumbs on 1080p are scaled up once when they
arrive): 0.57x the pixels of the 56-image batch, which brought preview refresh under 250 ms."""

PREVIEW_MOVING_SIDE = 24
"""While the design moves, previews render this big (0.36x the pixels at 40): at 40 px the preview
thread was busy ~90% of a sweep (a batch every 0.15 s, ~135 ms each on the 2-core CPU) and took
the core the drafts need; once input settles they render at PREVIEW_MAX_SIDE again."""


@dataclass(frozen=True)
class PreviewFrame:
    z: np.ndarray
    images: np.ndarray  # (8, N, s, s) uint8 grey: row = parameter, column = slider position
    t_request: float
    seq: int
    shown: object = None  # what `prepare(images)` made of them on the worker


class PreviewRenderer:
    """Every slider's preview strip from one batched generator call."""

    def __init__(self, models, positions: np.ndarray, size: int, prepare=None) -> None:
        self.models, self.positions = models, np.asarray(positions, np.float32)
        self.prepare = prepare
        self.size = min(size, PREVIEW_MAX_SIDE)  # the UI scales them up once, when they arrive
        self._requests = Mailbox()
        self._lock = threading.Lock()
        self._frame: PreviewFrame | None = None
        self._seq = 0
        self.idle = self._requests.idle
        self._thread = threading.Thread(target=self._run, name="preview-render", daemon=True)
        self.threads = [self._thread]

    def start(self) -> "PreviewRenderer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._requests.stop()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def submit(self, z: np.ndarray, t: float | None = None, moving: bool = False) -> None:
        """Previews of this z (latest wins); `moving`: smaller ones (PREVIEW_MOVING_SIDE), for a design in motion."""
        size = min(self.size, PREVIEW_MOVING_SIDE) if moving else self.size
        self._requests.put((np.array(z, np.float32), time.perf_counter() if t is None else t, size))

    def latest(self) -> PreviewFrame | None:
        with self._lock:
            return self._frame

    def batch(self, z: np.ndarray) -> np.ndarray:
        """(8 * N, 8): z with parameter k set to each slider position in turn."""
        n = len(self.positions)
        zs = np.repeat(np.asarray(z, np.float32)[None], LATENT_DIM * n, axis=0)
        for k in range(LATENT_DIM):
            zs[k * n : (k + 1) * n, k] = self.positions
        return zs

    def _run(self) -> None:
        while True:
            item = self._requests.get()
            if item is None:
                return
            try:
                self._render(*item)
            except Exception:  # the last previews stay up
                log.exception("preview render failed")
            finally:
                self._requests.done()

    def _render(self, z: np.ndarray, t: float, size: int) -> None:
        images = self.models.generate(self.batch(z), size, size)  # (8N, s, s)
        grey = (images * 255).astype(np.uint8).reshape(LATENT_DIM, len(self.positions), size, size)
        shown = self.prepare(grey) if self.prepare is not None else None
        with self._lock:
            self._seq += 1
            self._frame = PreviewFrame(z, grey, t, self._seq, shown)
