"""kiosk/render/schedule.py without the App: what the loop asks the render workers for, and what
reaches the widgets.

Everything is real: the shipped models and prints, the render workers of kiosk/render/, a
DesignView and ParameterSliders on the 1280x720 layout (renders at its sizes keep this quick), the
RenderMetrics, an ExplorerState and a StatusBar. Only the print test loads the prints (the others
run as a kiosk whose prints are unavailable): with prints the schedule warms them up in the
background at start, about a second of this machine's CPU the other tests would only wait for.

Recorders wrap real methods and still call them: `design_view.show` (the order frames were shown
in) and, where a test counts asks, `preview_renderer.submit` or `design_renderer.encode`. One test
gates the real generator to hold a render in flight. The test keeps the loop's clock: a frame is
1/60 s, as in the kiosk.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pygame
import pytest
from waiting import wait_for

from kiosk.explorer import ExplorerState
from kiosk.prints import Prints
from kiosk.render.metrics import RenderMetrics
from kiosk.render.previews import PREVIEW_MOVING_SIDE
from kiosk.render.schedule import ENCODE_EVERY_S, PREVIEW_POSITIONS, PREVIEWS_WHILE_MOVING_S, RenderSchedule
from kiosk.ui.design_view import DesignView
from kiosk.ui.sliders import ParameterSliders
from kiosk.ui.status import StatusBar
from kiosk.ui.theme import Layout

FRAME_S = 1 / 60


class Loop:
    """The kiosk loop's side of the schedule: each frame asks for renders, then collects them."""

    def __init__(self, schedule: RenderSchedule, status: StatusBar) -> None:
        self.schedule, self.status = schedule, status
        self.state = ExplorerState(z=np.zeros(8, np.float32))
        self.now = 0.0
        # The design view keeps only the newest frame; the order they were shown in is the test's.
        self.shown = []
        show = schedule.design_view.show
        schedule.design_view.show = lambda frame: (self.shown.append(frame), show(frame))

    def frame(self) -> None:
        self.now += FRAME_S
        self.schedule.request(self.state, self.now)
        self.schedule.collect(self.status, self.now)

    def until(self, predicate, what: str, timeout: float = 30.0) -> None:
        """Frames until predicate() holds, while the workers render (a wall-clock deadline). It polls
        (tests/waiting.py) rather than waiting on a worker's `busy` event, which is set while the
        worker renders: waiting on it returns at once, a busy loop beside the renders."""
        wait_for(lambda: (self.frame(), predicate())[1], timeout, what)

    def settle(self) -> None:
        self.until(lambda: self.schedule.final(self.state), "every render final")

    def steer(self, frames: int) -> None:
        """A stick held: z changes every frame, paced at 60 Hz in wall time too so drafts arrive."""
        for _ in range(frames):
            self.state.nudge(0, 0.01, "joystick")
            self.frame()
            assert self.schedule.moving and not self.schedule.final(self.state)
            time.sleep(FRAME_S)


@pytest.fixture(scope="module")
def prints(models_dir):
    return Prints.load(models_dir)


@pytest.fixture
def make_loop(shipped_models):
    schedules = []

    def make(prints=None) -> Loop:
        pygame.display.init()  # the dummy video driver (tests/conftest.py): no window is opened
        layout = Layout(1280, 720)
        views = DesignView(layout), ParameterSliders(layout, PREVIEW_POSITIONS)
        schedules.append(RenderSchedule(shipped_models, prints, None, *views, RenderMetrics()))
        return Loop(schedules[-1], StatusBar(layout))

    yield make
    for schedule in schedules:
        schedule.stop()


@pytest.fixture
def loop(make_loop) -> Loop:
    return make_loop()


def record_preview_asks(loop: Loop) -> list[tuple[float, np.ndarray, bool]]:
    """(loop time, z, moving) of every preview batch asked for: the preview worker keeps only the
    newest ask, so its results cannot say how many there were."""
    asked, submit = [], loop.schedule.preview_renderer.submit

    def record(z, t=None, moving=False):
        asked.append((loop.now, np.array(z), moving))
        submit(z, t, moving)

    loop.schedule.preview_renderer.submit = record
    return asked


def test_the_first_request_is_the_settled_design(loop):
    schedule = loop.schedule
    loop.until(lambda: loop.shown, "the first design")
    first = loop.shown[0]
    assert (first.stage, first.print_name) == ("full", "none") and np.array_equal(first.z, loop.state.z)
    assert len(schedule.metrics.full_ms) == 1 and not schedule.metrics.draft_ms
    assert schedule.design_view.image.get_size() == schedule.design_view.layout.design_image.size
    loop.settle()
    assert schedule.sliders.preview_seq and len(loop.shown) == 1


def test_while_z_moves_every_frame_drafts_are_shown_and_previews_asked_sparingly(loop):
    loop.settle()
    asked = record_preview_asks(loop)
    before = len(loop.shown)
    loop.steer(60)  # one second
    stages = {frame.stage for frame in loop.shown[before:]}
    assert stages == {"draft"} and loop.schedule.metrics.draft_ms, stages
    times = [t for t, _, _ in asked]
    assert 3 <= len(times) <= 1 / PREVIEWS_WHILE_MOVING_S + 1, times
    assert min(np.diff(times)) >= PREVIEWS_WHILE_MOVING_S - 1e-9, times
    assert all(moving for _, _, moving in asked)  # the smaller previews of a design in motion


def test_the_first_still_frame_asks_for_the_final_design_and_the_previews_at_once(loop):
    loop.settle()
    asked = record_preview_asks(loop)
    loop.steer(12)
    if np.array_equal(asked[-1][1], loop.state.z):
        loop.steer(1)  # the previews must be behind z, or "at once" proves nothing
    loop.frame()  # z holds still
    when, z, moving = asked[-1]
    assert not loop.schedule.moving and when == loop.now and np.array_equal(z, loop.state.z) and not moving
    loop.settle()
    previews = loop.schedule.preview_renderer
    assert previews.latest().images.shape[-1] == previews.size > PREVIEW_MOVING_SIDE
    last = loop.shown[-1]
    assert last.stage == "full" and np.array_equal(last.z, loop.state.z)
    assert len(loop.schedule.metrics.full_ms) == 2  # the first design, then this one


def test_changing_only_the_print_asks_for_the_printed_design(make_loop, prints):
    loop = make_loop(prints)
    loop.settle()
    before = len(loop.shown)
    assert "leopard" in prints.names
    loop.state.print_name = "leopard"

    def final_only_when_printed() -> bool:
        final = loop.schedule.final(loop.state)
        assert final == (loop.schedule.design_view.stage == "print")
        return final

    loop.until(final_only_when_printed, "the printed design")
    assert [(f.stage, f.print_name) for f in loop.shown[before:]] == [("print", "leopard")]
    assert np.array_equal(loop.shown[-1].z, loop.state.z) and len(loop.schedule.metrics.print_ms) == 1


def test_steering_with_a_print_on_shows_the_print_in_every_draft(make_loop, prints):
    """Issue 19: the drafts carry the print, so the view never flashes from the printed design (on
    its light background) to the plain dark one and back; the settled print is the view's size."""
    loop = make_loop(prints)
    loop.state.print_name = "breton_stripe"
    loop.settle()
    before = len(loop.shown)
    loop.until(lambda: loop.steer(3) or any(f.stage == "draft" for f in loop.shown[before:]), "a draft")
    drafts = [f for f in loop.shown[before:] if f.stage == "draft"]
    light = np.round(np.array(prints.background) * 255)
    for frame in drafts:
        assert frame.print_name == "breton_stripe"
        assert np.abs(frame.image[0, 0].astype(int) - light).max() <= 1, "a plain (dark) draft: the print flashed off"
    loop.settle()
    frame = loop.shown[-1]
    assert frame.stage == "print" and frame.image.shape[:2] == (loop.schedule.design_renderer.size,) * 2


def test_a_settled_render_in_flight_is_dropped_for_a_newer_z(loop, shipped_models, monkeypatch):
    # A gate on the real generator: the older design's first band waits until the newer z is
    # asked for, so that render is surely in flight when it goes stale (a fast machine could
    # otherwise finish it before the newer z arrives, or never start it).
    in_flight, newer_asked, generate = threading.Event(), threading.Event(), shipped_models.generate

    def gated(*args, **kwargs):
        if kwargs.get("rows") is not None and not newer_asked.is_set():
            in_flight.set()
            newer_asked.wait(10.0)
        return generate(*args, **kwargs)

    monkeypatch.setattr(shipped_models, "generate", gated)
    older = loop.state.z.copy()
    loop.frame()  # the first request: the settled design, rendered in bands
    assert in_flight.wait(10.0), "the settled render never started"
    loop.state.set_z(np.full(8, 0.5, np.float32), "jump")
    loop.frame()
    newer_asked.set()
    loop.settle()
    assert not any(np.array_equal(frame.z, older) for frame in loop.shown), "the older design was finished"
    last = loop.shown[-1]
    assert last.stage == "full" and np.array_equal(last.z, loop.state.z)


def test_canvas_encodes_while_drawing_are_asked_at_most_every_encode_every_s(loop):
    renderer = loop.schedule.design_renderer
    asked, encode = [], renderer.encode  # the encoder keeps only the newest canvas: count the asks here
    renderer.encode = lambda canvas: (asked.append(canvas), encode(canvas))
    canvas = np.zeros((28, 28), np.float32)
    canvas[6:22, 9:19] = 1.0
    t0 = time.perf_counter()
    loop.schedule.encode(canvas, drawing=True)
    loop.schedule.encode(canvas, drawing=True)
    assert len(asked) == 1 or time.perf_counter() - t0 >= ENCODE_EVERY_S  # unless the machine stalled
    loop.schedule.encode(canvas)
    loop.schedule.encode(canvas)
    assert len(asked) == 3, "an encode that is not drawing is always asked"
    time.sleep(ENCODE_EVERY_S)
    loop.schedule.encode(canvas, drawing=True)
    assert len(asked) == 4, "drawing asks again once ENCODE_EVERY_S has passed"

    def encoded():
        z = renderer.take_encoded()
        return None if z is None else [z]

    (z,) = wait_for(encoded, 10.0, "the canvas's z")
    assert z.shape == (8,) and np.isfinite(z).all()


def test_a_worker_reads_idle_only_when_nothing_waits_and_its_last_item_is_done():
    """The mailbox's `idle` (what tests and `fse-kiosk --screenshot` wait on) changes under the
    mailbox's lock: a request put while the worker finishes the one before keeps it busy."""
    from kiosk.render.threads import Mailbox

    box = Mailbox()
    assert box.idle.is_set()
    box.put("first")
    assert not box.idle.is_set()
    assert box.get() == "first" and not box.idle.is_set()  # taken, still rendering
    box.put("second")  # asked for while the first renders
    box.done()  # the first is finished, the second waits
    assert not box.idle.is_set()
    assert box.get() == "second"
    box.done()
    assert box.idle.is_set()
