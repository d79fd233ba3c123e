"""The capture worker: a 1024 px render, its print, and the capture log's durable save, in order."""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass

import numpy as np

from contract import silhouette
from contract.capture_schema import CaptureLogError

from ..png import encode_png
from .image import apply_print, plain_rgb, render_bands

log = logging.getLogger(__name__)

CAPTURE_QUEUE_MAX = 3
"""Captures that may wait behind the one being saved; a press beyond that is told to wait."""


@dataclass(frozen=True)
class CaptureResult:
    capture_id: int | None
    error: str | None
    t_request: float
    shared: object = None  # kiosk.share.publish.SharedCapture: the QR code's link, with sharing on
    share_error: str | None = None  # why a saved capture has no link (the capture itself is saved)


class CaptureWorker:
    """Renders 1024x1024 captures and saves them durably, one after another.

    A design (its parameters and print) is one capture however often it is pressed: a press for the
    design waiting, being saved or last captured is acknowledged, not queued again, so a held, bounced
    or hammered button makes one photo; a new capture needs a change. The queue is bounded
    (CAPTURE_QUEUE_MAX).
    """

    SIZE = 1024

    def __init__(self, models, prints, capture_log, share=None) -> None:
        """share: called after each save as share(capture_id, png, design28, print_name) and returns
        (shared, error) (kiosk.share.publish.CaptureSharing); None with sharing off."""
        self.models, self.prints, self.capture_log, self.share = models, prints, capture_log, share
        self._jobs: queue.Queue = queue.Queue()
        self._results: queue.Queue = queue.Queue()
        self.pending = 0  # the App's count of results it has not read yet
        self._lock = threading.Lock()  # the three below: submit (UI thread) and the worker
        self._unsaved: set = set()  # designs waiting or being saved
        self._last = None  # the design last queued; cleared if its save fails, so a retry is taken
        self._thread = threading.Thread(target=self._run, name="capture", daemon=True)
        self.threads = [self._thread]

    def start(self) -> "CaptureWorker":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._jobs.put(None)

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def submit(self, z: np.ndarray, print_name: str, how: str) -> tuple[str, str]:
        """Ask for a capture of this design; returns what to tell the visitor: (message, toast level)."""
        z = np.array(z, np.float32)
        design = (np.round(z, 4).tobytes(), print_name)
        with self._lock:
            if design in self._unsaved:
                return "Already saving this design.", "info"
            if design == self._last:
                return "Already captured. Change the design to capture another.", "info"
            if len(self._unsaved) > CAPTURE_QUEUE_MAX:
                return "Still saving the last designs. Press again in a moment.", "warn"
            self._unsaved.add(design)
            self._last = design
        self.pending += 1
        self._jobs.put((z, print_name, how, time.perf_counter(), design))
        return "Capturing...", "info"

    def results(self) -> list[CaptureResult]:
        out = []
        while True:
            try:
                out.append(self._results.get_nowait())
            except queue.Empty:
                return out

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            z, print_name, how, t, design = job
            try:
                design28 = self.models.generate(z, 28, 28)[0]
                weights = None
                if self.prints is not None and print_name != "none":
                    weights = self.prints.weights(print_name)
                    image = apply_print(self.prints, render_bands(self.models, z, self.SIZE), weights)
                else:
                    image = plain_rgb(silhouette.sharpen(render_bands(self.models, z, self.SIZE), design28))
                if self.capture_log is None:
                    raise CaptureLogError("the capture log is not available; captures are off")
                png = encode_png(image)  # once: the log and the share spool keep the same bytes
                capture_id = self.capture_log.save_capture(z, design28, image, print_name, weights, how, png=png)
                shared, share_error = self.share(capture_id, png, design28, print_name) if self.share else (None, None)
                self._results.put(CaptureResult(capture_id, None, t, shared, share_error))
            except Exception as e:  # never lose the kiosk over a capture
                if not isinstance(e, CaptureLogError):
                    log.exception("capture failed")
                with self._lock:
                    if self._last == design:  # not saved: pressing again tries again
                        self._last = None
                self._results.put(
                    CaptureResult(None, str(e) if isinstance(e, CaptureLogError) else f"capture failed: {e}", t)
                )
            finally:
                with self._lock:
                    self._unsaved.discard(design)
