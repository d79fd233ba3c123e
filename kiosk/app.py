"""The running kiosk: the Fashion Space Explorer that visitors see and touch, and its frame loop.

Controls: the table in kiosk/controls.py (`python -m kiosk.controls`), also in F12 and docs/kiosk.md.

Where things are: start-up (command line, config, models, the error page, the fse-kiosk entry
point) in kiosk/startup.py; the stop signal (SIGTERM, SIGINT) in kiosk/stop_signal.py;
the explorer's state and moves in kiosk/explorer.py (pure, no pygame); keys, mouse and the board
turned into commands in kiosk/input_map.py, the commands in kiosk/commands.py; the screen and its
widgets in kiosk/ui/ (screen.py), each redrawing its own area when its inputs change; what to render
when in kiosk/render/schedule.py, inference on worker threads in kiosk/render/; stepping without
the loop (tests, --screenshot) in kiosk/headless.py. This module is the loop, in visible phases:
events -> update(dt) -> render requests -> draw -> wait for the frame's time -> present.
"""

from __future__ import annotations

import logging
import os
import sys
import time

import numpy as np
import pygame

from .display_link import DISPLAY_LOST, DisplayLink
from .explorer import Attract, Explorer, ExplorerState, clamp
from .stop_signal import stop_requested
from .ui.view import ScreenView

log = logging.getLogger("kiosk")

FPS = 60
SPIN_S = 0.003
"""The pacer sleeps until this close to the next frame, then yields in a loop until it is due:
on the loaded 2-core machine a sleep woke up to ~2 ms late, which alone pushed frames past 16.7 ms
(with 1.5 ms: frame p95 17.0 ms; with 3 ms: 16.7). Only frames with something to show spin."""
RT_SPIN_S = 0.0005
"""SPIN_S for a real-time UI thread (UI_RT_PRIORITY): it wakes from a sleep on time, so it need not
spin long, and a real-time thread's yields keep the core (no other thread at its priority), so a
long spin would take 18 % of a core from the renders. Wake-up lateness of a 13.7 ms sleep with both
cores busy (600 sleeps beside two busy loops, 3 Dec): real-time p50/p95/p99
0.03/0.04/0.54 ms; normal priority 2.3/14/54 ms."""
HOLD_S = 0.00025
"""The last this long before a frame is due the pacer spins without yielding: a yield in those
moments could hand the GIL to a render thread just as the frame is due. Shorter than GIL_SWITCH_S,
so no waiting thread can take it back first. Sweeps, in turns: lateness p95 0.06 -> 0.006 ms."""
GIL_SWITCH_S = 0.001
"""How long a thread holding the GIL keeps it while another waits (Python's default is 5 ms). The
pacer's yields and the UI's drawing wait on the render threads' Python between their onnxruntime
calls; with 5 ms a frame could be presented up to 5 ms late."""
UI_RT_PRIORITY = 1
"""In the booth's loop the UI thread runs round-robin real-time at this (lowest) priority, so other
processes (fse-share serving 50 phones, a journal flush) never make a frame wait for a time slice:
with phones downloading, frame p95 18.0 ms at normal priority, 16.7 here (benchmarks/bench_share.py).
Threads it starts later do not inherit it (SCHED_RESET_ON_FORK); the renders stay at normal
priority. fse-kiosk.service grants it (LimitRTPRIO=1, RestrictRealtime=no); without that right
the kiosk runs at normal priority and says so in the journal."""

DISPLAY_EVENTS = frozenset(
    getattr(pygame, name)
    for name in ("VIDEORESIZE", "VIDEOEXPOSE", "WINDOWSIZECHANGED", "WINDOWEXPOSED", "WINDOWDISPLAYCHANGED")
)
"""The window was resized, uncovered or moved to another display (a hot-plug): the whole screen is
presented again (only changed areas are, otherwise, and SDL may have lost the rest)."""


class FramePacer:
    """Frames on a fixed 1/FPS grid (not "FPS after the last frame"): a late frame doesn't push the
    ones after it, and a frame more than a whole period late resynchronises instead of bursting."""

    def __init__(self, fps: float = FPS) -> None:
        self.period = 1.0 / fps
        self.next = time.perf_counter() + self.period
        self.spin_s = SPIN_S

    def wait(self, spin: bool = True) -> None:
        """Until the next frame is due; spin=False sleeps all the way (nothing to show: an idle
        kiosk must not spin)."""
        now = time.perf_counter()
        if now - self.next > self.period:
            self.next = now  # far behind: start a new grid from here
        elif self.next - now > (self.spin_s if spin else 0.0):
            time.sleep(self.next - now - (self.spin_s if spin else 0.0))
        while spin and time.perf_counter() < self.next - HOLD_S:
            time.sleep(0)  # lets the render threads have the GIL meanwhile
        while spin and time.perf_counter() < self.next:
            pass  # HOLD_S: keeps the GIL for the present
        self.next += self.period


def realtime_ui_thread() -> bool:
    """The calling thread to SCHED_RR at UI_RT_PRIORITY (UI_RT_PRIORITY's docstring says why);
    False, with a journal line, where this process may not (no RLIMIT_RTPRIO, no CAP_SYS_NICE)."""
    try:
        os.sched_setscheduler(0, os.SCHED_RR | os.SCHED_RESET_ON_FORK, os.sched_param(UI_RT_PRIORITY))
    except (OSError, AttributeError) as e:
        # a warning on the booth (under systemd, which should have granted it); news on a desktop
        log.log(
            logging.WARNING if os.environ.get("NOTIFY_SOCKET") else logging.INFO,
            "the UI thread runs at normal priority (%s): frames may stutter while the booth is busy; "
            "fse-kiosk.service grants real-time with LimitRTPRIO=1 and RestrictRealtime=no",
            e,
        )
        return False
    return True


class App:
    """The running kiosk. Tests build one with kiosk.startup's `build_app(parse_args([...]))`, post pygame events, `step()` it
    and inspect `state`, `screen` and `metrics`; kiosk/headless.py waits for the render workers."""

    def __init__(
        self,
        screen,
        config,
        models,
        prints,
        prints_message: str | None,
        hub,
        capture_log,
        *,
        windowed: bool,
        start_z=None,
        start_print: str | None = None,
        show2d: bool = False,
        version: str = "dev",
    ) -> None:
        from .commands import CAPTURES_OFF, PRINTS_OFF, Commands
        from .diagnostics import DiagnosticsReport
        from .input_map import InputMap
        from .render.metrics import RenderMetrics
        from .render.schedule import RenderSchedule
        from .share.publish import CaptureSharing
        from .trail import TrailRecorder
        from .ui.screen import Screen
        from .update.status import update_status_watch
        from .usb_status import UsbStatusWatch

        self.screen, self.config, self.models, self.prints = screen, config, models, prints
        self.prints_message = prints_message  # why prints are off (F12), None when they are on
        self.hub, self.capture_log, self.version = hub, capture_log, version
        self.metrics = RenderMetrics()
        self.now = 0.0  # the app's clock: advanced by dt each step (tests control it)
        self.fps = 0.0
        self.running = True

        z = clamp(start_z) if start_z is not None else clamp(models.landmarks[0].z if models.landmarks else np.zeros(8))
        self.state = ExplorerState(z=z, how="start", map_mode=show2d)
        print_names = list(prints.names) if prints is not None else ["none"]
        self.explorer = Explorer(
            self.state,
            [lm.z for lm in models.landmarks],
            config.glide_s,
            print_names,
            jump_temperature=config.jump_temperature,
            landing=models.jump_landing,
        )
        self.attract = Attract(config.attract_after_s)
        self.trail = TrailRecorder(capture_log)
        self.stick_news = (UsbStatusWatch(config.state_dir), update_status_watch(config.state_dir))  # exports, updates
        self.ui = Screen(screen, config.models_dir, config.state_dir, prints, print_names, models.landmarks)
        self.diagnostics = DiagnosticsReport()
        share, share_problem = CaptureSharing.from_config(config, models, prints)
        self.renders = RenderSchedule(
            models, prints, capture_log, self.ui.design_view, self.ui.sliders, self.metrics, share, self.ui.share_card
        )
        self.commands = Commands(self.explorer, self.renders, self.ui, lambda: self.now, prints_message)
        self.input = InputMap(self.commands, hub, self.ui, capture_log, windowed=windowed, steer_rate=config.steer_rate)
        self.pacer = FramePacer(FPS)
        self.display_link = DisplayLink.for_driver(pygame.display.get_driver())  # None: nothing to watch
        self._to_present: list = []  # what the last step drew, for present()
        self._t_last_present: float | None = None

        if start_print:
            self.explorer.select_print(start_print)
        if show2d:
            self.ui.map.refresh_captures()
        if start_print and start_print not in print_names:
            log.warning("print %r is not available; showing the design plain", start_print)
            self.ui.status.toast(PRINTS_OFF, "warn", 0.0, 6.0)
        if share_problem:
            self.ui.status.toast(share_problem, "warn", 0.0, 10.0)
        if capture_log is None:
            self.ui.status.toast(CAPTURES_OFF, "warn", 0.0, 8.0)  # the reason is in the journal

    def run(self) -> int:
        """The booth's loop, until the operator exits, systemd stops it (0) or the compositor goes away
        (DISPLAY_LOST, kiosk/display_link.py)."""
        from . import sdnotify

        self.prioritise_ui()
        last = time.perf_counter()
        code = 0
        while self.running:
            if self.display_link is not None and self.display_link.lost():
                code = DISPLAY_LOST
                break
            t = time.perf_counter()
            dt = min(t - last, 0.1)  # a stalled frame must not fling the parameters
            last = t
            self.step(dt, present=False)
            sdnotify.watchdog()
            self.wait_for_frame()
            self.present()
        sdnotify.stopping()
        self.shutdown()
        return code

    def prioritise_ui(self) -> None:
        """The render threads yield to this one (RenderSchedule.prioritise_ui) and hand the GIL back
        sooner (GIL_SWITCH_S): frames keep to 60 Hz."""
        self.renders.prioritise_ui()
        sys.setswitchinterval(GIL_SWITCH_S)
        if realtime_ui_thread():
            self.pacer.spin_s = RT_SPIN_S

    def step(self, dt: float = 1.0 / FPS, present: bool = True) -> bool:
        """One frame: events -> update(dt) -> render requests -> draw, then present. False once exiting.

        present=False leaves the drawn frame for `present()`: the loop presents on the frame grid,
        so the time a frame appears does not wobble with how long it took to draw."""
        t0 = time.perf_counter()
        self.now += dt
        for event in pygame.event.get():
            if event.type in DISPLAY_EVENTS:
                self.ui.display_changed()
            else:
                self.input.handle_event(event)
        self.update(dt)
        self.running = not (self.input.exit_requested or stop_requested())
        self.renders.request(self.state, self.now)
        self.renders.collect(self.ui.status, self.now)
        self._to_present = self.ui.draw(self.view())
        self.metrics.ui_work_ms.append((time.perf_counter() - t0) * 1e3)
        if present:
            self.present()
        return self.running

    def update(self, dt: float) -> None:
        """Everything that moves with time: input held or polled, the canvas's encode, glides,
        attract mode, the trail, news of USB exports and updates."""
        self.input.update(dt)
        encoded = self.renders.take_encoded()
        if encoded is not None and self.state.canvas_drawn:
            self.state.set_z(encoded, "canvas")
        self.state.update(self.now)
        self.attract.update(self.explorer, self.now, self.input.last_input)
        self.trail.update(self.state)
        for watch in self.stick_news:
            toast = watch.toast(self.now)
            if toast:
                text, level, seconds, slot = toast
                self.ui.status.toast(text, level, self.now, seconds, slot)

    def view(self) -> ScreenView:
        """What the screen draws this frame (kiosk/ui/view.py)."""
        s, renders = self.state, self.renders
        glide = s.glide
        return ScreenView(
            now=self.now,
            z=s.z,
            how=s.how,
            print_name=s.print_name,
            brush=s.brush,
            canvas=s.canvas if s.canvas_drawn else renders.design28,
            canvas_key=(True, s.canvas_version) if s.canvas_drawn else (False, renders.design28_seq),
            gliding_to=glide.landmark if glide is not None else None,
            attract=s.attract,
            map_mode=s.map_mode,
            capture_busy=renders.capture_busy(),
            joystick=self.input.joystick_label(),
            cursor_hidden=self.input.cursor_hidden,
            operator_exit_in=self.input.operator_exit_in(),
            diagnostics=tuple(self.diagnostics.lines(self)) if s.diagnostics else None,
        )

    def wait_for_frame(self) -> None:
        """Until this frame's time on the 60 Hz grid (precisely only when there is something to show)."""
        self.pacer.wait(spin=bool(self._to_present))

    def present(self) -> None:
        """Show what the last step drew (only the areas that changed); the frame-time metric is
        taken here, where a visitor sees it."""
        from . import sdnotify

        if self._to_present:
            pygame.display.update(self._to_present)
            self._to_present = []
        t = time.perf_counter()
        if self._t_last_present is None:
            sdnotify.ready(
                f"Fashion Space Explorer {self.version}: first frame up"
            )  # shown by systemctl status fse-kiosk
        else:
            frame = (t - self._t_last_present) * 1e3
            self.metrics.frame_ms.append(frame)
            self.fps = 0.9 * self.fps + 0.1 * (1e3 / max(frame, 1e-3))
        self._t_last_present = t

    def shutdown(self) -> None:
        if self.display_link is not None:
            self.display_link.close()
        self.renders.stop()
        if self.hub is not None:
            self.hub.stop()
        if self.capture_log is not None:
            try:
                self.capture_log.close()
            except Exception:
                log.exception("closing the capture log")
