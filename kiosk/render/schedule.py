"""The loop's side of the render workers (kiosk/render/): what to ask them for each frame, and
their finished work handed to the widgets that show it.

    renders = RenderSchedule(models, prints, capture_log, design_view, sliders, metrics)
    renders.request(state, now)      # after input: a draft while z moves, the final design once it holds
    renders.collect(status, now)     # new frames into the design view and sliders, saved captures as toasts
    renders.stop()

While z changes every frame (a stick held) each frame asks for a draft; the frame z holds still asks
for the final design (full resolution, then the print). The slider previews follow at most every
PREVIEWS_WHILE_MOVING_S while moving and at once when input settles. The canvas is re-encoded at most
every ENCODE_EVERY_S while the visitor draws.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from ..commands import CAPTURE_FAILED, CAPTURE_SLOT, CAPTURE_WAIT_S
from ..ui.status import TOAST_S
from .capture import CaptureWorker
from .design import DesignRenderer
from .metrics import RenderMetrics
from .previews import PreviewRenderer
from .threads import BACKGROUND_NICE, WORKER_NICE, lower_priority

log = logging.getLogger("kiosk")

PREVIEW_POSITIONS = np.linspace(-1.0, 1.0, 7).astype(np.float32)
"""Slider positions shown in each preview strip (7 per parameter; the ends are the range's ends)."""
DRAFT_SIZE = 160
"""The largest draft side while moving (design.DraftSide picks the largest that renders in
design.DRAFT_BUDGET_MS: ~80 px on the 2-core CPU, 160 on a GPU)."""
ENCODE_EVERY_S = 0.05
"""Canvas re-encodes while drawing, at most this often (the encoder takes ~1 ms; the throttle
keeps the design worker free for the drafts the re-encode triggers)."""
PREVIEWS_WHILE_MOVING_S = 0.15
"""While z keeps changing, the previews are asked for at most this often and smaller
(previews.PREVIEW_MOVING_SIDE), so the draft the visitor watches keeps the CPU; once input settles
they follow at once, full size."""


class RenderSchedule:
    """The three render workers, started here, and when each is asked for what.

    design_view and sliders are the widgets the renders are for: the workers make their surfaces
    with the widgets' own functions, and `collect` hands finished ones over.
    """

    def __init__(
        self,
        models,
        prints,
        capture_log,
        design_view,
        sliders,
        metrics: RenderMetrics,
        share=None,
        share_card=None,
    ) -> None:
        """share: kiosk.share.publish.CaptureSharing, run after each save; share_card: the widget that
        shows a shared capture's QR codes (kiosk/ui/share_card.py). Both None with sharing off."""
        self.design_view, self.sliders, self.metrics, self.share_card = design_view, sliders, metrics, share_card
        self.share = share
        self.design_renderer = DesignRenderer(
            models, prints, design_view.layout.design_image.w, DRAFT_SIZE, prepare=design_view.make_image
        ).start()
        self.preview_renderer = PreviewRenderer(
            models, PREVIEW_POSITIONS, sliders.thumb(0, 0).w, prepare=sliders.make_previews
        ).start()
        self.capture_worker = CaptureWorker(models, prints, capture_log, share).start() if capture_log else None
        self.design28 = np.zeros((28, 28), np.float32)  # the design shown, at the canvas's size
        self.design28_seq = 0
        self.moving = False  # z changed in the last frame that asked for a render
        self._submitted_version = -1
        self._submitted_print = None
        self._previews_asked_for = None  # (state version, moving) of the last previews asked for
        self._previews_asked = -PREVIEWS_WHILE_MOVING_S
        self._last_encode = -1.0

    def prioritise_ui(self) -> None:
        """The render threads yield to the UI thread, captures to the renders too (threads.WORKER_NICE,
        BACKGROUND_NICE): frames keep to 60 Hz."""
        lower_priority(self.design_renderer.threads + self.preview_renderer.threads, WORKER_NICE)
        if self.capture_worker is not None:
            lower_priority(self.capture_worker.threads, BACKGROUND_NICE)

    def stop(self) -> None:
        workers = [w for w in (self.design_renderer, self.preview_renderer, self.capture_worker) if w is not None]
        for worker in workers:
            worker.stop()
        for worker in workers:  # a capture in flight finishes (it is durable or it never happened)
            worker.join(timeout=5.0)

    def request(self, state, now: float) -> None:
        """Once a frame, after input: ask for what the state now needs (nothing if it is already asked)."""
        if state.version != self._submitted_version:
            first = self._submitted_version < 0
            self._submitted_version = state.version
            self._submitted_print = state.print_name
            self.design_renderer.submit(state.z, state.print_name, settled=first)
            self.moving = not first
        elif self.moving or state.print_name != self._submitted_print:
            # z did not change this frame: input has settled, refine to full resolution and print.
            self.moving = False
            self._submitted_print = state.print_name
            self.design_renderer.submit(state.z, state.print_name, settled=True)
        wanted = (state.version, self.moving)  # a design at rest gets full-size previews even if z held
        if self._previews_asked_for != wanted and (
            not self.moving or now - self._previews_asked >= PREVIEWS_WHILE_MOVING_S
        ):
            self._previews_asked_for, self._previews_asked = wanted, now
            self.preview_renderer.submit(state.z, moving=self.moving)

    def encode(self, canvas: np.ndarray, *, drawing: bool = False) -> None:
        """Re-encode the canvas into a design; while drawing, at most every ENCODE_EVERY_S."""
        if drawing:
            if time.perf_counter() - self._last_encode < ENCODE_EVERY_S:
                return
            self._last_encode = time.perf_counter()
        self.design_renderer.encode(canvas)

    def collect(self, status, now: float) -> None:
        """Finished renders to their widgets, saved captures (or why not) as toasts; latencies to metrics."""
        frame = self.design_renderer.latest()
        if frame is not None and frame.seq != self.design_view.seq:
            self.design_view.show(frame)
            self.design28 = frame.design28
            self.design28_seq += 1
            latency = (time.perf_counter() - frame.t_request) * 1e3
            {"draft": self.metrics.draft_ms, "full": self.metrics.full_ms, "print": self.metrics.print_ms}[
                frame.stage
            ].append(latency)
        previews = self.preview_renderer.latest()
        if previews is not None and previews.seq != self.sliders.preview_seq:
            self.sliders.show_previews(previews)
            self.metrics.preview_ms.append((time.perf_counter() - previews.t_request) * 1e3)
        if self.capture_worker is not None:
            for result in self.capture_worker.results():
                self.capture_worker.pending -= 1
                more = self.capture_worker.pending > 0  # then the message stays up for the next one too
                if result.capture_id is not None:
                    text = f"Saved #{result.capture_id:04d}" + (". Saving the next one..." if more else "")
                    status.toast(text, "ok", now, CAPTURE_WAIT_S if more else TOAST_S, CAPTURE_SLOT)
                    self.metrics.capture_ms.append((time.perf_counter() - result.t_request) * 1e3)
                    if self.share_card is not None:  # the new capture's code, or none: never the last one's
                        self.share_card.show(result.shared, now)
                    if result.share_error:
                        status.toast(result.share_error, "warn", now, 8.0)
                else:  # the reason is the operator's (journal, F12's capture log lines)
                    log.warning("capture not saved: %s", result.error)
                    status.toast(CAPTURE_FAILED, "warn", now, 8.0, CAPTURE_SLOT)
        for notice in self.share.notices() if self.share is not None else ():  # the receipt printer's troubles
            status.toast(notice, "warn", now, 8.0)

    @property
    def captures_on(self) -> bool:
        """False when the capture log could not be opened: there is no capture worker."""
        return self.capture_worker is not None

    def capture(self, z: np.ndarray, print_name: str, how: str) -> tuple[str, str]:
        """Ask the capture worker for a capture (captures_on must hold); what to tell the visitor:
        (message, toast level)."""
        return self.capture_worker.submit(z, print_name, how)

    def capture_busy(self) -> bool:
        """A capture is waiting or being saved (its answer not collected yet)."""
        return self.capture_worker is not None and self.capture_worker.pending > 0

    def take_encoded(self) -> np.ndarray | None:
        """The z of the canvas's newest finished encode, once; None when there is none new."""
        return self.design_renderer.take_encoded()

    def wait_for_design(self, timeout: float) -> None:
        """Until the design renderer is idle or `timeout` s passed (headless stepping: a render in
        flight gets the CPU a moment)."""
        self.design_renderer.idle.wait(timeout)

    def final(self, state) -> bool:
        """True when every render the state needs is on screen (design at its final stage, previews current)."""
        frame, previews = self.design_renderer.latest(), self.preview_renderer.latest()
        return (
            frame is not None
            and frame.seq == self.design_view.seq
            and frame.stage == self.design_renderer.final_stage(state.print_name)
            and np.array_equal(frame.z, state.z)
            and frame.print_name == state.print_name
            and previews is not None
            and previews.seq == self.sliders.preview_seq
            and np.array_equal(previews.z, state.z)
            and previews.images.shape[-1] == self.preview_renderer.size  # not the smaller ones of a move
            and not self.moving
        )
