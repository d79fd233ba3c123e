"""Inference off the UI thread: the designed image, the slider previews and captures.

Three workers, each a daemon thread with a latest-wins mailbox (a newer request replaces an
unstarted one; a running one checks between bands and drops itself when it went stale):

- `DesignRenderer`: for each z, a draft at reduced resolution while the visitor is moving (with
  the print on it, if one is chosen); once input settles, the final design in horizontal bands
  (so a new move interrupts it within one band), or with a print on, the printed design at the
  view's own size. Also the 28x28 design for the canvas and canvas encodes. The generator is sampled
  at capped sizes (`HERO_MAX_SIDE`, `PRINT_DESIGN_SIDE`): the plain design is resampled to the view's
  size and its outline drawn crisp there; docs/performance.md has the measurements behind each cap.
- `PreviewRenderer`: all 8 x N slider previews in ONE batched generator call.
- `CaptureWorker`: 1024x1024 render + print at 1024 + the capture log's durable save (a queue, not
  latest-wins: every capture a visitor asked for is saved).

The UI thread only swaps in finished frames (`DesignRenderer.latest()`); `RenderMetrics` keeps the
latencies the benchmark reports. onnxruntime releases the GIL, so these threads run in parallel
with the pygame loop.
"""

from __future__ import annotations

import logging
import math
import os
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from contract import silhouette
from contract.capture_schema import CaptureLogError
from contract.space import LATENT_DIM

from .png import encode_png
from .prints import PrintError

log = logging.getLogger(__name__)

BAND_PIXELS = 24_576
"""Pixels per full-resolution band (45 rows at 540 px, 24 at 1024): ~20 ms each on the 2-core CPU,
the longest a new move waits for the render in flight before its draft starts."""

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

CAPTURE_QUEUE_MAX = 3
"""Captures that may wait behind the one being saved; a press beyond that is told to wait."""

PLAIN_BACKGROUND = np.array([18, 20, 28], np.float32)
PLAIN_GARMENT = np.array([244, 240, 232], np.float32)
"""A design without a print: the garment in off-white on the kiosk's dark panel colour."""

PREVIEW_MAX_SIDE = 40
"""Slider previews render at most this big (53 px thumbs on 1080p are scaled up once when they
arrive): 0.57x the pixels of the 56-image batch, which brought preview refresh under 250 ms."""

PREVIEW_MOVING_SIDE = 24
"""While the design moves, previews render this big (0.36x the pixels at 40): at 40 px the preview
thread was busy ~90% of a sweep (a batch every 0.15 s, ~135 ms each on the 2-core CPU) and took
the core the drafts need; once input settles they render at PREVIEW_MAX_SIDE again."""

METRIC_KEEP = 2000

WORKER_NICE = 5
"""In the booth's loop (App.run), render threads run this much nicer than the UI thread. The booth
has 2 cores and 3 busy threads while a stick moves (the UI, the design, the previews): at equal
priority the scheduler parks the UI thread behind a render for a whole time slice, which showed
as 25-35 ms frames. The UI thread needs about a quarter of a core, so this costs the renders
little. Tests step the app without it: on a loaded test machine it would only starve their renders."""
BACKGROUND_NICE = 10
"""Captures run nicer still: a 1024 px render is seconds of CPU that must not slow the draft the
visitor watches (the toast says when it is saved)."""


def lower_priority(threads, nice: int = WORKER_NICE) -> None:
    """Make these (started) threads nicer: Linux schedules each thread on its own. A no-op where
    that is not possible; the renders still run."""
    for thread in threads:
        try:
            tid = thread.native_id
            os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
        except (AttributeError, TypeError, OSError):  # not Linux, not started, or already gone
            pass


_PRINT_LOCK = threading.Lock()
"""One full-size print at a time (live view, warm-up, capture): the print graph keeps ~100 bytes
of intermediates per pixel while it runs (~100 MB at 1024 px). Drafts' prints are small and skip
it, so a capture's print never holds up the design in motion."""


def apply_print(prints, design: np.ndarray, weights: np.ndarray, draft: bool = False) -> np.ndarray:
    if draft:
        return prints.apply(design, weights)
    with _PRINT_LOCK:
        return prints.apply(design, weights)


def plain_rgb(design: np.ndarray) -> np.ndarray:
    """(H, W) in [0, 1] -> (H, W, 3) uint8 with garment = light, background = the panel colour."""
    d = np.clip(np.nan_to_num(design), 0.0, 1.0)[..., None]
    return (PLAIN_BACKGROUND + (PLAIN_GARMENT - PLAIN_BACKGROUND) * d).astype(np.uint8)


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


class _Mailbox:
    """Holds only the newest item; `get` blocks until one arrives or the worker is stopped.

    `idle` is set while nothing is waiting and the worker has finished what it took (`done`); both
    change under the mailbox's lock, so a request put while the worker finishes never reads as idle."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item = None
        self._stop = False
        self.idle = threading.Event()
        self.idle.set()

    def put(self, item) -> None:
        with self._cond:
            self._item = item
            self.idle.clear()
            self._cond.notify()

    def done(self) -> None:
        """The worker finished the item it took: idle unless a newer one waits."""
        with self._cond:
            if self._item is None:
                self.idle.set()

    def get(self):
        with self._cond:
            while self._item is None and not self._stop:
                self._cond.wait()
            item, self._item = self._item, None
            return item

    def newer(self) -> bool:
        with self._cond:
            return self._item is not None or self._stop

    def stopped(self) -> bool:
        with self._cond:
            return self._stop

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()


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
        self._requests = _Mailbox()
        self._encodes = _Mailbox()
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


def render_bands(models, z: np.ndarray, size: int, stale=lambda: False) -> np.ndarray | None:
    """The (size, size) design in [0, 1], band by band; None as soon as `stale()` says so.

    Bands also bound the generator's working memory (a 1024 px capture in one run would keep
    ~64 floats per pixel of intermediates in onnxruntime's arena).
    """
    out = np.empty((size, size), np.float32)
    rows = max(1, BAND_PIXELS // size)
    for top in range(0, size, rows):
        if stale():
            return None
        out[top : top + rows] = models.generate(z, size, size, rows=slice(top, top + rows))[0]
    return out


def resample(design: np.ndarray, size: int) -> np.ndarray:
    """A (side, side) render as the (size, size) render of the same design, bilinear on the
    coordinate grid (contract.space.coordinates: the first and last pixel centres are the square's
    edges at every size). Against the generator's own 28 px render, from a 96 px draft: 0.003 apart
    on average, up to 0.25 on a sharp edge; good for the canvas while the design moves."""
    at = np.linspace(0.0, design.shape[0] - 1.0, size)
    return _bilinear(design, at, at)


def _bilinear(image: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """`image` (h, w, ...) sampled at fractional rows `ys` and columns `xs` (source pixel indices,
    clamped to the image) -> (len(ys), len(xs), ...) float32."""

    def axis(x: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x = np.clip(x, 0, n - 1)
        lo = np.floor(x).astype(np.intp)
        return lo, np.minimum(lo + 1, n - 1), (x - lo).astype(np.float32)

    y0, y1, fy = axis(ys, image.shape[0])
    x0, x1, fx = axis(xs, image.shape[1])
    fy = fy.reshape((-1,) + (1,) * (image.ndim - 1))
    fx = fx.reshape((1, -1) + (1,) * (image.ndim - 2))
    a = image.astype(np.float32)
    rows = a[y0] * (1 - fy) + a[y1] * fy  # (len(ys), w, ...)
    return rows[:, x0] * (1 - fx) + rows[:, x1] * fx


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
        self._requests = _Mailbox()
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
