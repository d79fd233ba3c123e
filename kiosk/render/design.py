"""The hero image's worker: a draft while the visitor moves, the final design (then its print) once
input settles, and the canvas's encodes."""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass

import numpy as np

from contract import silhouette

from ..prints import PrintError
from .image import apply_print, plain_rgb, render_bands, resample
from .threads import Mailbox

log = logging.getLogger(__name__)

DRAFT_BUDGET_MS = 10.0
"""A draft should take about this long. While a visitor steers, a new input arrives every frame and
waits for the draft in flight, and the UI takes a finished draft at the start of its next frame, so
input -> draft shown is a whole number of frames: one (17 ms) when the wait plus the render end
before the next frame starts, two or three when not. At 12 ms (and a second generator call for the
canvas) the 2-core CPU's drafts, slowed by the other threads, put the p95 at three frames (50 ms,
the target's edge); at 8 or 10 ms it is one (measured 2 Dec; 10 keeps drafts ~16 px sharper).
The draft side follows the measured speed (`DraftSide`): ~90-100 px on the 2-core CPU, the largest
(160 px) where the generator is faster, e.g. on the Jetson's GPU."""

DRAFT_MIN_SIDE = 80
"""Drafts never get smaller than this, however slow the machine. The CPPN's designs come from 28 px
images and are smooth: scaled to the 720 px view, 96 and 540 px renders look alike at arm's length,
64 px visibly softer at the edges (compared side by side, 2 Dec); below ~2x the data's resolution a
design's parts blur together."""

HERO_MAX_SIDE = 540
"""The settled design samples the generator at most this many times per side, then is resampled
bilinearly to the view's own size (720 px on 1080p) and its silhouette drawn crisp there
(contract.silhouette), so nothing scales it afterwards. The generator's picture is smooth at the scale
of a 28 px pixel (~26 px at 720), so a 540 px render resampled to 720 and sharpened there differs from
a 720 px render by more than 2/255 on ~0.1 % of pixels (max 0.09, on the outline; 4 jumps, 2 Dec),
at 0.56x the generator's pixels: settle-to-full p95 went from 468 to 221 ms on the 2-core CPU when
the cap came in (docs/performance.md). Scaling the finished 540 px image up instead blurred the
crisp outline back to ~3 px."""


PRINT_DESIGN_SIDE = 360
"""Under a print the live design renders at most this big and is resampled to the view's size, where
the print is drawn. The print's edges need the view's own pixels (an upscaled print showed soft,
stepped houndstooth and notched outlines, issue 19); the design under it is the CPPN's smooth
picture, whose shading and silhouette survive a 2x bilinear resample, and a 360 px render costs
0.44x a 540 px one, which keeps settle -> print within its 300 ms with the print graph on top."""

EMPTY_DESIGN_MEAN = 0.02
"""A 28 px design this dark on average has nothing to name: the emptiest of Fashion-MNIST's 10,000
test images averages 0.031; a cleared canvas's design 0.009."""


class DraftSide:
    """The draft's side in pixels, from the measured cost of the last drafts (ms per pixel, smoothed):
    the largest multiple of 8 in [DRAFT_MIN_SIDE, largest] that renders in DRAFT_BUDGET_MS."""

    SMOOTHING = 0.25  # weight of the newest draft: one draft twice as slow costs 16 px of side, not the floor

    def __init__(self, largest: int) -> None:
        self.largest = max(int(largest), DRAFT_MIN_SIDE)
        self.side = self.largest
        self._ms_per_pixel: float | None = None

    def measured(self, side: int, ms: float) -> int:
        per_pixel = ms / (side * side)
        prev = self._ms_per_pixel
        self._ms_per_pixel = per_pixel if prev is None else prev + self.SMOOTHING * (per_pixel - prev)
        fits = int(math.sqrt(DRAFT_BUDGET_MS / max(self._ms_per_pixel, 1e-9))) // 8 * 8
        self.side = min(max(fits, DRAFT_MIN_SIDE), self.largest)
        return self.side


@dataclass(frozen=True)
class DesignRequest:
    z: np.ndarray
    print_name: str
    settled: bool
    t: float  # perf_counter when the UI asked (input time, or settle time)


@dataclass(frozen=True)
class DesignFrame:
    z: np.ndarray
    print_name: str
    stage: str  # "draft" (while moving), "full" (settled, plain) or "print" (settled, printed)
    image: np.ndarray  # (H, W, 3) uint8
    design28: np.ndarray  # (28, 28) float32 in [0, 1]
    t_request: float
    seq: int
    looks_like: str = ""  # the classifier's best guess, on full/print frames
    shown: object = None  # what `prepare(image)` made of it on the worker (the UI's surface)


class DesignRenderer:
    """The hero image: draft while moving, full resolution then print once settled."""

    def __init__(self, models, prints, size: int, draft_size: int = 160, prepare=None) -> None:
        """draft_size: the largest draft side (`DraftSide` picks the one that fits the budget).
        prepare(image) -> anything: runs on the worker for each finished image (the UI passes its
        conversion to a scaled surface, so that work stays off the UI thread)."""
        self.models, self.prints = models, prints
        self.prepare = prepare
        self.size, self.draft_side = size, DraftSide(draft_size)
        self.full_size = min(size, HERO_MAX_SIDE)
        self.print_size = size  # the print at the view's own size: its detail is what an upscale softens
        self.print_design_size = min(size, PRINT_DESIGN_SIDE)
        self._requests = Mailbox()
        self._encodes = Mailbox()
        self._lock = threading.Lock()
        self._frame: DesignFrame | None = None
        self._encoded: tuple[np.ndarray, float] | None = None
        self._seq = 0
        self._done: tuple[bytes, str, str] | None = None  # (z bytes, print, last stage) finished
        self._last_full: tuple[bytes, np.ndarray] | None = None
        self.idle = self._requests.idle  # set when every design asked for is rendered (tests wait on it)
        self.errors = 0
        self.threads = self._threads = [
            threading.Thread(target=self._run, name="design-render", daemon=True),
            threading.Thread(target=self._run_encodes, name="canvas-encode", daemon=True),
        ]

    def start(self) -> "DesignRenderer":
        for t in self._threads:
            t.start()
        if self.prints is not None:
            # joined at shutdown like the others: exiting mid-run aborts inside onnxruntime
            warm_up = threading.Thread(target=self._warm_up_prints, name="print-warmup", daemon=True)
            warm_up.start()
            self._threads.append(warm_up)
        return self

    def _warm_up_prints(self) -> None:
        """Two throwaway prints at the live size, in the background at start: onnxruntime's first
        runs of a new shape were 2-4x slower (planning and first-touch of its buffers), and that
        visitor's first print should not pay for it."""
        design = np.zeros((self.print_size, self.print_size), np.float32)
        design[self.print_size // 8 : -self.print_size // 8, self.print_size // 4 : -self.print_size // 4] = 0.7
        try:
            weights = self.prints.weights(self.prints.names[-1])
            for _ in range(2):
                if self._requests.stopped():
                    return
                apply_print(self.prints, design, weights)
        except Exception:  # only a warm-up: the real print reports its own errors
            log.exception("print warm-up failed")

    def stop(self) -> None:
        self._requests.stop()
        self._encodes.stop()

    def join(self, timeout: float | None = None) -> None:
        for t in self._threads:
            t.join(timeout)

    # -- UI thread ------------------------------------------------------------------------------
    def submit(self, z: np.ndarray, print_name: str, settled: bool, t: float | None = None) -> None:
        self._requests.put(
            DesignRequest(np.array(z, np.float32), print_name, settled, time.perf_counter() if t is None else t)
        )

    def latest(self) -> DesignFrame | None:
        with self._lock:
            return self._frame

    def encode(self, canvas: np.ndarray) -> None:
        """Ask for the canvas's z (latest wins); collect it with `take_encoded`."""
        self._encodes.put(np.array(canvas, np.float32))

    def take_encoded(self) -> np.ndarray | None:
        with self._lock:
            out, self._encoded = self._encoded, None
        return None if out is None else out[0]

    # -- worker ---------------------------------------------------------------------------------
    def _publish(
        self, req: DesignRequest, stage: str, image: np.ndarray, design28: np.ndarray, looks_like: str = ""
    ) -> None:
        shown = self.prepare(image) if self.prepare is not None else None
        with self._lock:
            self._seq += 1
            self._frame = DesignFrame(
                req.z, req.print_name, stage, image, design28, req.t, self._seq, looks_like, shown
            )

    def _looks_like(self, design28: np.ndarray) -> str:
        """The classifier's best guess for a design; "" for one with (almost) nothing drawn, which the
        classifier would call something anyway (a cleared canvas's design was a "Sandal")."""
        names = self.models.class_names
        if not names or float(design28.mean()) < EMPTY_DESIGN_MEAN:
            return ""
        logits = self.models.classify(design28[None])[0]
        return str(names[int(np.argmax(logits))])

    def _run(self) -> None:
        while True:
            req = self._requests.get()
            if req is None:
                return
            try:
                self._render(req)
            except Exception:  # a bad frame must not kill the renderer; the last image stays up
                self.errors += 1
                log.exception("design render failed")
            finally:
                self._requests.done()

    def _render(self, req: DesignRequest) -> None:
        key = req.z.tobytes()
        final = self.final_stage(req.print_name)
        done = self._done
        if done and done[0] == key and done[1] == req.print_name and (done[2] == final or not req.settled):
            return  # already on screen at this stage or better
        if not req.settled:
            weights = self._print_weights(req.print_name)
            side, t0 = self.draft_side.side, time.perf_counter()
            draft = self.models.generate(req.z, side, side)[0]
            self.draft_side.measured(side, (time.perf_counter() - t0) * 1e3)
            # The print rides on the draft (a draft-sized print is a few ms), so steering with a
            # print on never flashes to the plain design and back.
            image = plain_rgb(draft) if weights is None else apply_print(self.prints, draft, weights, draft=True)
            # The canvas's 28 px design, read off the draft (one generator call less per draft).
            self._publish(req, "draft", image, resample(draft, 28))
            self._done = (key, req.print_name, "draft")
            return
        design28 = self.models.generate(req.z, 28, 28)[0]
        weights = self._print_weights(req.print_name)
        # The design renders at a capped size (HERO_MAX_SIDE, PRINT_DESIGN_SIDE under a print): the
        # CPPN's picture is smooth, so scaling it up loses nothing, while the print, whose edges are
        # what an upscale softens and steps, is drawn at the view's own size.
        size = self.full_size if weights is None else self.print_design_size
        if self._last_full is not None and self._last_full[0] == (key, size):
            full = self._last_full[1]  # only the print changed
        else:
            full = render_bands(self.models, req.z, size, self._requests.newer)
            if full is None:
                return  # stale: a newer request is waiting
            self._last_full = ((key, size), full)
        looks_like = self._looks_like(design28)
        if weights is None:
            self._publish(req, "full", plain_rgb(self.shown(full, design28)), design28, looks_like)
            self._done = (key, req.print_name, "full")
            return
        if self._requests.newer():
            return
        design = full if full.shape[0] == self.print_size else resample(full, self.print_size)
        # Not silhouette.sharpen, as the plain design is: it pushes a garment's dark inner parts (a
        # coat's opening) down to the background's black, and the print's mask then takes them for
        # holes; the mask's own threshold already draws a crisp outline at the print's size.
        printed = apply_print(self.prints, design, weights)
        self._publish(req, "print", printed, design28, looks_like)
        self._done = (key, req.print_name, "print")

    def shown(self, full: np.ndarray, design28: np.ndarray) -> np.ndarray:
        """The settled plain design at the view's own size, its silhouette crisp (HERO_MAX_SIDE). The
        print draws its own outline from its mask, so only the plain design needs this."""
        if full.shape[0] != self.size:
            full = resample(full, self.size)
        return silhouette.sharpen(full, design28)

    def final_stage(self, print_name: str) -> str:
        """The stage a settled design ends at: "print" with a print this kiosk can draw, else "full"."""
        return "print" if self._print_weights(print_name) is not None else "full"

    def _print_weights(self, name: str):
        if self.prints is None or name == "none":
            return None
        try:
            return self.prints.weights(name)
        except PrintError as e:  # an unknown name shows the plain design, and says why in the log
            log.warning("%s", e)
            return None

    def _run_encodes(self) -> None:
        while True:
            canvas = self._encodes.get()
            if canvas is None:
                return
            try:
                z = self.models.encode(canvas[None])[0]
            except Exception:
                log.exception("canvas encode failed")
                continue
            with self._lock:
                self._encoded = (z, time.perf_counter())
