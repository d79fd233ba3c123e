"""fse-kiosk: the fullscreen Fashion Space Explorer that visitors see and touch.

    fse-kiosk                         # the booth: shipped models, fullscreen, joystick if present
    fse-kiosk --windowed              # a desktop window; Escape or closing the window quits
    fse-kiosk --joystick sim          # an in-process simulated joystick board
    fse-kiosk --z 0.1,0,0,0,0,0,0,-0.5 --print leopard     # start at a given design
    fse-kiosk --show2d                # start in map mode
    fse-kiosk --screenshot out.png [--frames N] [--size 1920x1080]   # headless screenshot

Controls: the table in kiosk/controls.py (`python -m kiosk.controls`), also in F12 and docs/kiosk.md.

Where things are: start-up (command line, config, models, the error page) in kiosk/startup.py;
the explorer's state and commands in kiosk/explorer.py (pure, no pygame); the widgets in
kiosk/ui/, each redrawing its own area when its inputs change; inference on worker threads in
kiosk/render.py. This module is the loop, in visible phases:
events -> update(dt) -> render requests -> draw -> wait for the frame's time -> present.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import numpy as np

from . import controls
from .explorer import BRUSH_BLACK, BRUSH_WHITE, Attract, Explorer, ExplorerState, KeyRepeat, clamp
from .startup import stop_requested

log = logging.getLogger("kiosk")

FPS = 60
PREVIEW_POSITIONS = np.linspace(-1.0, 1.0, 7).astype(np.float32)
"""Slider positions shown in each preview strip (7 per parameter; the ends are the range's ends)."""
DRAFT_SIZE = 160
"""Draft resolution while moving: ~15 ms to render, sharp enough scaled up while things move."""
ENCODE_EVERY_S = 0.05
"""Canvas re-encodes while drawing, at most this often (the encoder takes ~1 ms; the throttle
keeps the design worker free for the drafts the re-encode triggers)."""
CURSOR_IDLE_S = 3.0
IDLE_REDRAW_S = 0.5
"""With nothing changing, the whole screen is still presented this often (a safety net should
the display lose it); otherwise only the areas whose widgets redrew are presented."""
USB_POLL_S = 1.0
"""How often the USB export's status file is read (kiosk/export.py writes it)."""
PREVIEWS_WHILE_MOVING_S = 0.15
"""While z keeps changing, the previews (one batch is ~40 ms of CPU) are asked for at most this
often, so the draft the visitor watches keeps the CPU; once input settles they follow at once."""
SPIN_S = 0.003
"""The pacer sleeps until this close to the next frame, then yields in a loop until it is due:
on the loaded 2-core machine a sleep woke up to ~2 ms late, which alone pushed frames past 16.7 ms
(with 1.5 ms: frame p95 17.0 ms; with 3 ms: 16.7). Only frames with something to show spin."""


class FramePacer:
    """Frames on a fixed 1/FPS grid (not "FPS after the last frame"): a late frame doesn't push the
    ones after it, and a frame more than a whole period late resynchronises instead of bursting."""

    def __init__(self, fps: float = FPS) -> None:
        self.period = 1.0 / fps
        self.next = time.perf_counter() + self.period

    def wait(self, spin: bool = True) -> None:
        """Until the next frame is due; spin=False sleeps all the way (nothing to show: an idle
        kiosk must not spin)."""
        now = time.perf_counter()
        if now - self.next > self.period:
            self.next = now  # far behind: start a new grid from here
        elif self.next - now > (SPIN_S if spin else 0.0):
            time.sleep(self.next - now - (SPIN_S if spin else 0.0))
        while spin and time.perf_counter() < self.next:
            time.sleep(0)  # lets the render threads have the GIL meanwhile
        self.next += self.period


class App:
    """The running kiosk. Tests build one with `build_app([...])`, post pygame events, `step()` it
    and inspect `state`, `screen` and `metrics`; `wait_for()` waits for the render workers."""

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
        import pygame

        from . import render
        from .export import UsbStatusWatch
        from .trail import TrailRecorder
        from .ui import actions, canvas, design_view, diagnostics, landmarks, map_view, print_selector, sliders, status
        from .ui.theme import BG, Layout

        self.pg = pygame
        self.screen, self.config, self.models, self.prints = screen, config, models, prints
        self.prints_message = prints_message
        self.hub, self.capture_log = hub, capture_log
        self.windowed, self.version = windowed, version
        self.layout = Layout(*screen.get_size())
        self.metrics = render.RenderMetrics()
        self.now = 0.0  # the app's clock: advanced by dt each step (tests control it)
        self.fps = 0.0
        self.running = True
        self.exit_code = 0
        self.cursor_hidden = False
        self.input_sources = ()
        self.design28 = np.zeros((28, 28), np.float32)
        self.design28_seq = 0
        self.print_names = list(prints.names) if prints is not None else ["none"]

        z = clamp(start_z) if start_z is not None else clamp(models.landmarks[0].z if models.landmarks else np.zeros(8))
        self.state = ExplorerState(z=z, how="start", map_mode=show2d)
        self.explorer = Explorer(self.state, [lm.z for lm in models.landmarks], config.glide_s, self.print_names)
        if start_print:
            self.explorer.select_print(start_print)
        self.attract = Attract(config.attract_after_s)
        self.trail = TrailRecorder(capture_log)
        self.usb_status = UsbStatusWatch(config.state_dir)
        self._usb_checked = -USB_POLL_S
        self.keys = KeyRepeat()
        self.last_input = 0.0
        self.last_mouse = -CURSOR_IDLE_S
        self._last_encode = -1.0
        self._submitted_version = -1
        self._submitted_print = None
        self._moving = False
        self._previews_version = -1
        self._previews_asked = -PREVIEWS_WHILE_MOVING_S
        self._held_buttons: set = set()
        self._held_since: float | None = None
        self._free_cache: tuple[float, float | None] = (-10.0, None)
        self._first_frame = True
        self._t_last_step: float | None = None
        self._to_present: list = []
        self.redraw_every_frame = False  # the benchmark's "before": every widget redrawn every frame
        self._visible: list = []
        self._overlay_rects: list = []
        self._last_present = -IDLE_REDRAW_S
        self.frames_drawn = 0
        self.frame = pygame.Surface(screen.get_size()).convert()  # the back buffer the widgets draw into
        self.frame.fill(BG)
        self.pacer = FramePacer(FPS)

        L = self.layout
        self.status = status.StatusBar(L)
        self.canvas = canvas.CanvasWidget(L)
        self.actions = actions.ActionButtons(L)
        self.print_selector = print_selector.PrintSelector(L)
        self.design_view = design_view.DesignView(L)
        self.sliders = sliders.ParameterSliders(L, PREVIEW_POSITIONS)
        # The workers hand over finished surfaces (made by the widgets' own functions, on the worker).
        self.design_renderer = render.DesignRenderer(
            models, prints, L.design_image.w, DRAFT_SIZE, prepare=self.design_view.make_image
        ).start()
        self.preview_renderer = render.PreviewRenderer(
            models, PREVIEW_POSITIONS, self.sliders.thumb(0, 0).w, prepare=self.sliders.make_previews
        ).start()
        self.capture_worker = render.CaptureWorker(models, prints, capture_log).start() if capture_log else None

        self.landmark_strip = landmarks.LandmarkStrip(L)
        self.diagnostics = diagnostics.DiagnosticsOverlay(L)
        self.map = map_view.MapView(L, config.models_dir, config.state_dir)
        if show2d:
            self.map.refresh_captures()
        self._pressed_widget = None

        self.commands = {
            "jump": lambda: self.explorer.jump(),
            "random": lambda: self.explorer.random(self.now),
            "capture": self.capture,
            "next_print": self.next_print,
            "next_landmark": lambda: self.explorer.next_landmark(self.now),
            "clear": self.clear_canvas,
            "brush_white": lambda: self.explorer.brush(BRUSH_WHITE),
            "brush_black": lambda: self.explorer.brush(BRUSH_BLACK),
            "map": self.toggle_map,
            "diagnostics": self.toggle_diagnostics,
        }
        self._key_commands = {
            getattr(pygame, f"K_{name}"): command for name, command in controls.key_commands().items()
        }
        self._button_commands = controls.button_commands()

        if start_print and start_print not in self.print_names:
            self.status.toast(f"print {start_print!r} is not available; showing the design plain", "warn", 0.0, 6.0)
        if capture_log is None:
            self.status.toast(
                "captures are off: the capture log could not be opened (see the journal)", "warn", 0.0, 8.0
            )

    # -- widgets in hit-test order (the map covers the canvas column when shown) -----------------
    def widgets(self) -> list:
        left = [self.map] if self.state.map_mode else [self.canvas, self.actions, self.print_selector]
        return [self.status, *left, self.sliders, self.landmark_strip, self.design_view]

    # ------------------------------------------------------------------------------------------
    # The loop
    def run(self) -> int:
        from . import sdnotify

        self.prioritise_ui()
        last = time.perf_counter()
        while self.running:
            t = time.perf_counter()
            dt = min(t - last, 0.1)  # a stalled frame must not fling the parameters
            last = t
            self.step(dt, present=False)
            sdnotify.watchdog()
            self.wait_for_frame()
            self.present()
        sdnotify.stopping()
        self.shutdown()
        return self.exit_code

    def prioritise_ui(self) -> None:
        """The render threads yield to this one, captures to the renders too (kiosk.render.WORKER_NICE,
        BACKGROUND_NICE): frames keep to 60 Hz."""
        from .render import BACKGROUND_NICE, WORKER_NICE, lower_priority

        lower_priority(self.design_renderer.threads + self.preview_renderer.threads, WORKER_NICE)
        if self.capture_worker is not None:
            lower_priority(self.capture_worker.threads, BACKGROUND_NICE)

    def step(self, dt: float = 1.0 / FPS, present: bool = True) -> bool:
        """One frame: events -> update(dt) -> render requests -> draw, then present. False once exiting.

        present=False leaves the drawn frame for `present()`: the loop presents on the frame grid,
        so the time a frame appears does not wobble with how long it took to draw."""
        t0 = time.perf_counter()
        self.now += dt
        for event in self.pg.event.get():
            self.handle_event(event)
        if stop_requested():
            self.running = False
        self.update(dt)
        self.request_renders()
        self.collect_results()
        self._to_present = self.draw()
        self.metrics.ui_work_ms.append((time.perf_counter() - t0) * 1e3)
        if present:
            self.present()
        return self.running

    def wait_for_frame(self) -> None:
        """Until this frame's time on the 60 Hz grid (precisely only when there is something to show)."""
        self.pacer.wait(spin=bool(self._to_present))

    def present(self) -> None:
        """Show what the last step drew (only the areas that changed); the frame-time metric is
        taken here, where a visitor sees it."""
        from . import sdnotify

        if self._to_present:
            self.pg.display.update(self._to_present)
            self._to_present = []
            self.frames_drawn += 1
        t = time.perf_counter()
        if self._t_last_step is not None:
            frame = (t - self._t_last_step) * 1e3
            self.metrics.frame_ms.append(frame)
            self.fps = 0.9 * self.fps + 0.1 * (1e3 / max(frame, 1e-3))
        self._t_last_step = t
        if self._first_frame:
            self._first_frame = False
            sdnotify.ready("first frame up")

    def shutdown(self) -> None:
        workers = [w for w in (self.design_renderer, self.preview_renderer, self.capture_worker) if w is not None]
        for worker in workers:
            worker.stop()
        for worker in workers:  # a capture in flight finishes (it is durable or it never happened)
            worker.join(timeout=5.0)
        if self.hub is not None:
            self.hub.stop()
        if self.capture_log is not None:
            try:
                self.capture_log.close()
            except Exception:
                log.exception("closing the capture log")

    # -- input: events, keys, the joystick board -----------------------------------------------------
    def handle_event(self, event) -> None:
        pg = self.pg
        if event.type == pg.QUIT:
            if self.windowed:
                self.running = False
            return  # kiosk: the close button and Alt+F4 (a QUIT from the window manager) do nothing
        if event.type == pg.KEYDOWN:
            self.visitor_input()
            self.key_down(event)
        elif event.type == pg.KEYUP:
            dim = self._number_key(event.key)
            if dim is not None:
                self.keys.release(dim)
        elif event.type == pg.MOUSEMOTION:
            self.last_mouse = self.now
            self.show_cursor(True)
            self.canvas.hover(event.pos)
            if self._pressed_widget is not None:
                self.visitor_input()
                self._pressed_widget.drag(event.pos, self)
            elif self.state.map_mode:
                self.map.hover(event.pos, self)
        elif event.type == pg.MOUSEBUTTONDOWN and event.button == 1:
            self.last_mouse = self.now
            self.show_cursor(True)
            self.visitor_input()
            for widget in self.widgets():
                if hasattr(widget, "press") and widget.press(event.pos, self):
                    self._pressed_widget = widget
                    break
        elif event.type == pg.MOUSEBUTTONUP and event.button == 1:
            if self._pressed_widget is not None:
                self._pressed_widget.release(event.pos, self)
                if self._pressed_widget is self.canvas:
                    self.design_renderer.encode(self.state.canvas)  # the stroke's final shape
                self._pressed_widget = None

    def key_down(self, event) -> None:
        pg = self.pg
        mods, key = event.mod, event.key
        if key == pg.K_q and mods & pg.KMOD_CTRL and mods & pg.KMOD_ALT:
            log.info("operator exit (Ctrl+Alt+Q)")
            self.running = False
            return
        if key == pg.K_ESCAPE:
            if self.windowed:
                self.running = False
            return
        if key == pg.K_F4 and mods & pg.KMOD_ALT:
            return
        dim = self._number_key(key)
        if dim is not None:
            self.keys.press(dim, -1.0 if mods & pg.KMOD_SHIFT else 1.0, self.now)
            return
        command = self._key_commands.get(key)
        if command is not None:
            self.command(command)

    def _number_key(self, key) -> int | None:
        pg = self.pg
        for base in (pg.K_1, pg.K_KP1):
            if base <= key < base + len(self.state.z):
                return key - base
        return None

    def poll_joystick(self, dt: float) -> None:
        if self.hub is None:
            return
        snap = self.hub.poll()
        self.input_sources = snap.sources
        if any(snap.active):
            self.visitor_input()
            self.explorer.steer(snap.axes, self.config.steer_rate, dt)
        for event in snap.events:
            self.visitor_input()
            if event.pressed:
                self._held_buttons.add(event.button)
                command = self._button_commands.get(event.button)
                if command is not None:
                    self.command(command)
            else:
                self._held_buttons.discard(event.button)
        both = set(controls.OPERATOR_HOLD) <= self._held_buttons
        if both and self._held_since is None:
            self._held_since = self.now
        elif not both:
            self._held_since = None
        if self._held_since is not None and self.now - self._held_since >= controls.OPERATOR_HOLD_S:
            log.info("operator exit (capture + jump held %.0f s)", controls.OPERATOR_HOLD_S)
            self.running = False

    def visitor_input(self) -> None:
        """Anything a visitor does: leaves attract mode at once (from where it is) and keeps the session."""
        self.last_input = self.now
        self.explorer.visitor_input()
        if self.capture_log is not None:
            try:
                self.capture_log.touch()
            except Exception:
                log.exception("capture log touch")

    def show_cursor(self, visible: bool) -> None:
        if self.cursor_hidden == (not visible):
            return
        self.cursor_hidden = not visible
        self.pg.mouse.set_visible(visible)

    def joystick_label(self) -> tuple[str, bool]:
        if self.hub is None or not self.input_sources:
            return "joystick disconnected · keyboard + mouse", False
        if any(s.connected for s in self.input_sources):
            return "joystick connected", True
        return "joystick disconnected", False

    # -- commands (what keys, buttons and widgets ask for; kiosk/controls.py names them) --------------
    def command(self, name: str) -> None:
        self.commands[name]()

    def move(self, z, how: str) -> None:
        self.explorer.move(z, how)

    def set_parameter(self, k: int, value: float, how: str) -> None:
        self.explorer.set_parameter(k, value, how)

    def glide(self, target, how: str) -> None:
        self.explorer.glide(target, how, self.now)

    def goto_landmark(self, i: int) -> None:
        self.explorer.goto_landmark(i, self.now)

    def select_print(self, name: str) -> None:
        self.explorer.select_print(name)

    def next_print(self) -> None:
        if not self.explorer.next_print():
            self.status.toast(self.prints_message or "no prints available", "info", self.now)

    def clear_canvas(self) -> None:
        self.explorer.clear_canvas()
        self.design_renderer.encode(self.state.canvas)

    def stroke(self, row: int, col: int) -> None:
        self.state.stop_glide()
        if not self.state.canvas_drawn:
            self.state.canvas = self.design28.copy()  # draw on top of what's shown
        self.state.paint(row, col)
        if time.perf_counter() - self._last_encode >= ENCODE_EVERY_S:
            self._last_encode = time.perf_counter()
            self.design_renderer.encode(self.state.canvas)

    def capture(self) -> None:
        if self.capture_worker is None:
            self.status.toast("captures are off: the capture log could not be opened", "warn", self.now)
            return
        message, level = self.capture_worker.submit(self.state.z, self.state.print_name, self.state.how)
        self.status.toast(message, level, self.now, 1.5)

    def toggle_diagnostics(self) -> None:
        self.state.diagnostics = not self.state.diagnostics

    def toggle_map(self) -> None:
        self.state.map_mode = not self.state.map_mode
        if self.state.map_mode:
            self.map.refresh_captures()

    # -- what widgets read ---------------------------------------------------------------------------
    def capture_busy(self) -> bool:
        return self.capture_worker is not None and self.capture_worker.pending > 0

    def print_label(self, name: str) -> str:
        if name == "none" or self.prints is None:
            return "plain"
        try:
            return self.prints.info(name).label
        except Exception:
            return name

    def print_swatch(self, name: str):
        if name == "none" or self.prints is None:
            return None
        try:
            return self.prints.info(name).swatch
        except Exception:
            return None

    def free_mb(self) -> float | None:
        t, value = self._free_cache
        if self.now - t > 2.0:
            try:
                value = self.capture_log.free_mb() if self.capture_log else None
            except OSError:
                value = None
            self._free_cache = (self.now, value)
        return value

    # -- per-frame update ----------------------------------------------------------------------------
    def update(self, dt: float) -> None:
        self.poll_joystick(dt)
        self.explorer.hold_keys(self.keys, self.now, dt)
        encoded = self.design_renderer.take_encoded()
        if encoded is not None and self.state.canvas_drawn:
            self.state.set_z(encoded, "canvas")
        self.state.update(self.now)
        self.attract.update(self.explorer, self.now, self.last_input)
        if not self.cursor_hidden and self.now - self.last_mouse > CURSOR_IDLE_S:
            self.show_cursor(False)
        self.trail.update(self.state)
        if self.now - self._usb_checked >= USB_POLL_S:
            from .export import usb_status_toast

            self._usb_checked = self.now
            toast = usb_status_toast(self.usb_status.poll())
            if toast:
                text, level, seconds = toast
                self.status.toast(text, level, self.now, seconds)

    # -- talking to the render workers ---------------------------------------------------------------
    def request_renders(self) -> None:
        state = self.state
        if state.version != self._submitted_version:
            first = self._submitted_version < 0
            self._submitted_version = state.version
            self._submitted_print = state.print_name
            self.design_renderer.submit(state.z, state.print_name, settled=first)
            self._moving = not first
        elif self._moving or state.print_name != self._submitted_print:
            # z did not change this frame: input has settled, refine to full resolution and print.
            self._moving = False
            self._submitted_print = state.print_name
            self.design_renderer.submit(state.z, state.print_name, settled=True)
        if self._previews_version != state.version and (
            not self._moving or self.now - self._previews_asked >= PREVIEWS_WHILE_MOVING_S
        ):
            self._previews_version, self._previews_asked = state.version, self.now
            self.preview_renderer.submit(state.z)

    def collect_results(self) -> None:
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
                if result.capture_id is not None:
                    self.status.toast(f"Saved #{result.capture_id:04d}", "ok", self.now)
                    self.metrics.capture_ms.append((time.perf_counter() - result.t_request) * 1e3)
                else:
                    self.status.toast(result.error or "capture failed", "warn", self.now, 8.0)

    # -- drawing -----------------------------------------------------------------------------------
    def draw(self) -> list:
        """Widgets redraw what changed into the back buffer; only those areas, and the overlays
        (toasts, attract prompt, tooltip, F12), go to the screen surface. The rects to present."""
        from .ui.theme import BG

        screen, frame = self.screen, self.frame
        visible = self.widgets()
        switched = visible != self._visible  # map mode on / off: the column under it changes
        if switched:
            frame.fill(BG)
            self._visible = visible
        force = switched or self.redraw_every_frame
        dirty = [rect for widget in visible for rect in widget.refresh(frame, self, force)]
        if switched:
            dirty = [frame.get_rect()]
        under_overlays = self._overlay_rects
        self._overlay_rects = []
        if not (dirty or under_overlays or self.has_overlays()):
            if self.now - self._last_present < IDLE_REDRAW_S:
                return []
            dirty = [frame.get_rect()]
        for rect in dirty + under_overlays:
            screen.blit(frame, rect, rect)
        self._overlay_rects = self.draw_overlays(screen)
        self._last_present = self.now
        return dirty + under_overlays + self._overlay_rects

    def has_overlays(self) -> bool:
        s = self.state
        return bool(
            s.attract
            or s.diagnostics
            or self.status.toasts
            or (self.canvas.hover_tool is not None and not s.map_mode and not self.cursor_hidden)
        )

    def draw_overlays(self, screen) -> list:
        rects = []
        if not self.state.map_mode:
            tip = self.canvas.draw_tooltip(screen, self)
            if tip is not None:
                rects.append(tip)
        if self.state.attract:
            rects.append(self.status.draw_attract(screen, self.now))
        rects += self.status.draw_toasts(screen, self.now)
        if self.state.diagnostics:
            rects.append(self.diagnostics.draw(screen, self))
        return [r.clip(screen.get_rect()) for r in rects]

    # -- for tests, the benchmark and --screenshot ----------------------------------------------------
    def renders_final(self) -> bool:
        """True when every requested render is on screen (design at its final stage, previews current)."""
        frame, previews = self.design_renderer.latest(), self.preview_renderer.latest()
        final = "print" if (self.prints is not None and self.state.print_name != "none") else "full"
        return (
            frame is not None
            and frame.seq == self.design_view.seq
            and frame.stage == final
            and np.array_equal(frame.z, self.state.z)
            and frame.print_name == self.state.print_name
            and previews is not None
            and previews.seq == self.sliders.preview_seq
            and np.array_equal(previews.z, self.state.z)
            and not self._moving
        )

    def wait_for(self, predicate, timeout: float = 10.0, dt: float = 1.0 / FPS) -> None:
        """Step frames until predicate(app) holds; TimeoutError after `timeout` wall seconds."""
        deadline = time.monotonic() + timeout
        while not predicate(self):
            if time.monotonic() > deadline:
                raise TimeoutError(f"kiosk did not reach the expected state within {timeout} s")
            self.step(dt)
            self.design_renderer.busy.wait(0.005)

    def settle(self, timeout: float = 40.0) -> None:
        """Step until every render is final, as a visitor who is still there (attract mode must not
        start because simulated frames outran a slow render)."""

        def visitor_waits(app) -> bool:
            if not app.state.attract:
                app.last_input = app.now
            return app.renders_final()

        self.wait_for(visitor_waits, timeout)

    def screenshot(self, path: Path, frames: int = 2, timeout: float = 30.0) -> None:
        for _ in range(max(1, frames)):
            self.step()
        self.settle(timeout)
        self.step(0.0)
        self.pg.image.save(self.screen, str(path))


from .startup import build_app, main  # noqa: E402, F401 - entry point (fse-kiosk = kiosk.app:main); tests build with build_app

if __name__ == "__main__":
    sys.exit(main())
