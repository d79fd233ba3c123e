"""fse-kiosk: the fullscreen Fashion Space Explorer that visitors see and touch.

    fse-kiosk                         # the booth: shipped models, fullscreen, joystick if present
    fse-kiosk --windowed              # a desktop window; Escape or closing the window quits
    fse-kiosk --joystick sim          # an in-process simulated joystick board
    fse-kiosk --z 0.1,0,0,0,0,0,0,-0.5 --print leopard     # start at a given design
    fse-kiosk --show2d                # start in map mode
    fse-kiosk --screenshot out.png [--frames N] [--size 1920x1080]   # headless screenshot

Controls (also on screen):
    joystick k / hold key k        parameter k up (Shift+k down), accelerating while held
    mouse / touch                  draw on the canvas, drag a slider, click a preview, a print, a landmark
    R random   C clear canvas   W / B white / black brush   Space or J hyperspace jump
    P or Tab next print   L next landmark   Enter or F capture   M map mode   F12 diagnostics
Operator exit: Ctrl+Alt+Q, or hold the capture and jump buttons together for 5 s. In kiosk mode
(fullscreen) Escape, Alt+F4 and the window's close button do nothing.

The screen is a few widgets (kiosk/ui/) drawing from one ExplorerState (kiosk/state.py);
inference runs on worker threads (kiosk/render.py). The main loop runs in visible phases:
events -> joystick -> update(dt) -> render requests -> draw -> flip -> tick.
"""
from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import numpy as np

from contract.space import LATENT_DIM, hyperspace_jump
from .export import UsbStatusWatch, usb_status_toast
from .startup import stop_requested
from .state import BRUSH_BLACK, BRUSH_WHITE, ExplorerState, KeyRepeat, clamp

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
"""With nothing changing, the screen is still redrawn this often (a safety net for anything drawn
from the clock); otherwise an unchanged frame is neither drawn nor flipped, while events, the
joystick and the watchdog keep running at FPS. An idle kiosk drew 60 full frames a second before."""
ATTRACT_DWELL_S = 4.0
"""Seconds the attract loop rests on each landmark (long enough for the full render and print)."""
ATTRACT_GLIDE_S = 2.5
OPERATOR_HOLD_S = 5.0
USB_POLL_S = 1.0


class App:
    """The running kiosk. Tests build one with `build_app([...])`, post pygame events, `step()` it
    and inspect `state`, `screen` and `metrics`; `wait_for()` waits for the render workers."""

    def __init__(self, screen, config, models, prints, prints_message: str | None, hub, capture_log,
                 *, windowed: bool, start_z=None, start_print: str | None = None, show2d: bool = False,
                 version: str = "dev") -> None:
        import pygame

        from . import render
        from .ui import actions, canvas, design_view, diagnostics, landmarks, map_view, print_selector, sliders, status
        from .ui.theme import Layout

        self.pg = pygame
        self.screen, self.config, self.models, self.prints = screen, config, models, prints
        self.prints_message = prints_message
        self.hub, self.capture_log = hub, capture_log
        if capture_log is not None:
            capture_log.start_background_flush()   # the trail's fsync stays off the UI thread
        self.windowed, self.version = windowed, version
        self.layout = Layout(*screen.get_size())
        self.metrics = render.RenderMetrics()
        self.now = 0.0                  # the app's clock: advanced by dt each step (tests control it)
        self.fps = 0.0
        self.running = True
        self.exit_code = 0
        self.cursor_hidden = False
        self.input_sources = ()
        self.looks_like = ""
        self.design_surface = None
        self.design_stage = None
        self.design28 = np.zeros((28, 28), np.float32)
        self._design_seq = self._preview_seq = 0
        self._preview_surfaces: list[list] = [[None] * len(PREVIEW_POSITIONS) for _ in range(LATENT_DIM)]
        self.print_names = list(prints.names) if prints is not None else ["none"]

        z = clamp(start_z) if start_z is not None else clamp(models.landmarks[0].z if models.landmarks else np.zeros(8))
        self.state = ExplorerState(z=z, how="start", map_mode=show2d)
        if start_print and start_print in self.print_names:
            self.state.print_name = start_print
        self.keys = KeyRepeat()
        self.rng = np.random.default_rng()
        self.last_input = 0.0
        self.last_mouse = -CURSOR_IDLE_S
        self.attract_next = 0.0
        self._last_encode = -1.0
        self._submitted_version = -1
        self._submitted_print = None
        self._moving = False
        self._held_buttons: set = set()
        self._held_since: float | None = None
        self.usb_status = UsbStatusWatch(config.state_dir)
        self._usb_checked = -USB_POLL_S
        self._free_cache: tuple[float, float | None] = (-10.0, None)
        self._first_frame = True
        self.redraw_every_frame = False   # the benchmark's "before": draw and flip even when nothing changed
        self._dirty = True
        self._drawn_signature = None
        self._last_draw = -IDLE_REDRAW_S
        self.frames_drawn = 0

        L = self.layout
        hero = L.design_image.w
        self.design_renderer = render.DesignRenderer(models, prints, hero, DRAFT_SIZE).start()
        thumb = sliders.ParameterSliders(L, PREVIEW_POSITIONS).thumb(0, 0).w
        self.preview_renderer = render.PreviewRenderer(models, PREVIEW_POSITIONS, thumb).start()
        self.capture_worker = render.CaptureWorker(models, prints, capture_log).start() if capture_log else None

        self.status = status.StatusBar(L)
        self.canvas = canvas.CanvasWidget(L)
        self.actions = actions.ActionButtons(L)
        self.print_selector = print_selector.PrintSelector(L)
        self.design_view = design_view.DesignView(L)
        self.sliders = sliders.ParameterSliders(L, PREVIEW_POSITIONS)
        self.landmark_strip = landmarks.LandmarkStrip(L)
        self.diagnostics = diagnostics.DiagnosticsOverlay(L)
        self.map = map_view.MapView(L, config.models_dir, config.state_dir)
        if show2d:
            self.map.refresh_captures()
        self._pressed_widget = None
        if start_print and start_print not in self.print_names:
            self.status.toast(f"print {start_print!r} is not available; showing the design plain", "warn", 0.0, 6.0)
        if capture_log is None:
            self.status.toast("captures are off: the capture log could not be opened (see the journal)", "warn", 0.0, 8.0)

    # -- widgets in hit-test order (the map covers the canvas column when shown) -----------------
    def widgets(self) -> list:
        left = [self.map] if self.state.map_mode else [self.canvas, self.actions, self.print_selector]
        return [*left, self.sliders, self.landmark_strip, self.design_view]

    # ------------------------------------------------------------------------------------------
    # The loop
    def run(self) -> int:
        from . import sdnotify

        clock = self.pg.time.Clock()
        last = time.perf_counter()
        while self.running:
            t = time.perf_counter()
            dt = min(t - last, 0.1)   # a stalled frame must not fling the parameters
            last = t
            self.step(dt)
            sdnotify.watchdog()
            clock.tick(FPS)
        sdnotify.stopping()
        self.shutdown()
        return self.exit_code

    def step(self, dt: float = 1.0 / FPS) -> bool:
        """One frame: events -> joystick -> update -> render requests -> draw -> flip. False once exiting."""
        from . import sdnotify

        t0 = time.perf_counter()
        self.now += dt
        for event in self.pg.event.get():
            self._dirty = True
            self.handle_event(event)
        if stop_requested():
            self.running = False
        self.poll_joystick(dt)
        self.update(dt)
        self.request_renders()
        self.collect_results()
        if self.needs_redraw():
            self.draw()
            self.pg.display.flip()
            self._dirty = False
            self._drawn_signature = self.screen_signature()
            self._last_draw = self.now
            self.frames_drawn += 1
        t1 = time.perf_counter()
        self.metrics.ui_work_ms.append((t1 - t0) * 1e3)
        if hasattr(self, "_t_last_step"):
            frame = (t1 - self._t_last_step) * 1e3
            self.metrics.frame_ms.append(frame)
            self.fps = 0.9 * self.fps + 0.1 * (1e3 / max(frame, 1e-3))
        self._t_last_step = t1
        if self._first_frame:
            self._first_frame = False
            sdnotify.ready("first frame up")
        return self.running

    def shutdown(self) -> None:
        workers = [w for w in (self.design_renderer, self.preview_renderer, self.capture_worker) if w is not None]
        for worker in workers:
            worker.stop()
        for worker in workers:   # a capture in flight finishes (it is durable or it never happened)
            worker.join(timeout=5.0)
        if self.hub is not None:
            self.hub.stop()
        if self.capture_log is not None:
            try:
                self.capture_log.close()
            except Exception:
                log.exception("closing the capture log")

    # -- events ----------------------------------------------------------------------------------
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
                if widget.press(event.pos, self):
                    self._pressed_widget = widget
                    break
        elif event.type == pg.MOUSEBUTTONUP and event.button == 1:
            if self._pressed_widget is not None:
                self._pressed_widget.release(event.pos, self)
                if self._pressed_widget is self.canvas:
                    self.design_renderer.encode(self.state.canvas)   # the stroke's final shape
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
        actions = {pg.K_r: lambda: self.tool("R"), pg.K_c: lambda: self.tool("C"), pg.K_w: lambda: self.tool("W"),
                   pg.K_b: lambda: self.tool("B"), pg.K_SPACE: lambda: self.jump("jump"),
                   pg.K_j: lambda: self.jump("jump"), pg.K_p: self.next_print, pg.K_TAB: self.next_print,
                   pg.K_l: self.next_landmark, pg.K_RETURN: self.capture, pg.K_KP_ENTER: self.capture,
                   pg.K_f: self.capture, pg.K_F12: self.toggle_diagnostics, pg.K_m: self.toggle_map}
        action = actions.get(key)
        if action is not None:
            action()

    def _number_key(self, key) -> int | None:
        pg = self.pg
        for base in (pg.K_1, pg.K_KP1):
            if base <= key < base + LATENT_DIM:
                return key - base
        return None

    def visitor_input(self) -> None:
        """Anything a visitor does: leaves attract mode at once (from where it is) and keeps the session."""
        self.last_input = self.now
        if self.state.attract:
            self.state.attract = False
            self.state.stop_glide()
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

    # -- joystick ------------------------------------------------------------------------------------
    def poll_joystick(self, dt: float) -> None:
        from .input import Button

        if self.hub is None:
            return
        snap = self.hub.poll()
        self.input_sources = snap.sources
        if any(snap.active):
            self.visitor_input()
            z = self.state.z + np.asarray(snap.axes, np.float32) * self.config.steer_rate * dt
            self.move(z, "joystick")
        for event in snap.events:
            self.visitor_input()
            if event.pressed:
                self._held_buttons.add(event.button)
            else:
                self._held_buttons.discard(event.button)
                continue
            {Button.CAPTURE: self.capture, Button.JUMP: lambda: self.jump("jump"),
             Button.NEXT_PRINT: self.next_print, Button.RANDOM: lambda: self.tool("R"),
             Button.NEXT_LANDMARK: self.next_landmark}.get(event.button, lambda: None)()
        both = {Button.CAPTURE, Button.JUMP} <= self._held_buttons
        if both and self._held_since is None:
            self._held_since = self.now
        elif not both:
            self._held_since = None
        if self._held_since is not None and self.now - self._held_since >= OPERATOR_HOLD_S:
            log.info("operator exit (capture + jump held %.0f s)", OPERATOR_HOLD_S)
            self.running = False

    def joystick_label(self) -> tuple[str, bool]:
        if self.hub is None or not self.input_sources:
            return "joystick disconnected · keyboard + mouse", False
        if any(s.connected for s in self.input_sources):
            return "joystick connected", True
        return "joystick disconnected", False

    # -- actions (what widgets, keys and buttons call) ----------------------------------------------
    def move(self, z, how: str) -> None:
        """Every change of z that isn't the canvas's own re-encode comes through here."""
        before = self.state.version
        self.state.set_z(z, how)
        if self.state.version != before:
            self.state.canvas_drawn = False

    def set_parameter(self, k: int, value: float, how: str) -> None:
        z = self.state.z.copy()
        z[k] = value
        self.move(z, how)

    def tool(self, key: str) -> None:
        if key == "R":
            self.glide(hyperspace_jump(self.rng), "random", duration=self.config.glide_s * 0.5)
        elif key == "C":
            self.state.stop_glide()
            self.state.clear_canvas()
            self.design_renderer.encode(self.state.canvas)
        elif key == "W":
            self.state.brush = BRUSH_WHITE
        elif key == "B":
            self.state.brush = BRUSH_BLACK

    def stroke(self, row: int, col: int) -> None:
        self.state.stop_glide()
        if not self.state.canvas_drawn:
            self.state.canvas = self.design28.copy()   # draw on top of what's shown
        self.state.paint(row, col)
        if time.perf_counter() - self._last_encode >= ENCODE_EVERY_S:
            self._last_encode = time.perf_counter()
            self.design_renderer.encode(self.state.canvas)

    def jump(self, how: str = "jump") -> None:
        """Hyperspace: a random point, uniform in [-1, 1]^8, reached at once (as in the original)."""
        self.state.stop_glide()
        self.move(hyperspace_jump(self.rng), how)

    def glide(self, target, how: str, duration: float | None = None, landmark: int | None = None) -> None:
        self.state.canvas_drawn = False
        self.state.glide_to(target, how, self.now, self.config.glide_s if duration is None else duration, landmark)

    def goto_landmark(self, i: int, how: str = "landmark") -> None:
        marks = self.models.landmarks
        if marks:
            i %= len(marks)
            self.glide(marks[i].z, how, landmark=i, duration=ATTRACT_GLIDE_S if how == "attract" else None)

    def next_landmark(self) -> None:
        current = self.state.landmark if self.state.landmark is not None else -1
        self.goto_landmark(current + 1)

    def select_print(self, name: str) -> None:
        if name in self.print_names:
            self.state.print_name = name

    def next_print(self) -> None:
        if len(self.print_names) < 2:
            self.status.toast(self.prints_message or "no prints available", "info", self.now)
            return
        i = self.print_names.index(self.state.print_name) if self.state.print_name in self.print_names else -1
        self.state.print_name = self.print_names[(i + 1) % len(self.print_names)]

    def capture(self) -> None:
        if self.capture_worker is None:
            self.status.toast("captures are off: the capture log could not be opened", "warn", self.now)
            return
        self.capture_worker.submit(self.state.z, self.state.print_name, self.state.how)
        self.status.toast("Capturing...", "info", self.now, 1.5)

    def toggle_diagnostics(self) -> None:
        self.state.diagnostics = not self.state.diagnostics

    def toggle_map(self) -> None:
        self.state.map_mode = not self.state.map_mode
        if self.state.map_mode:
            self.map.refresh_captures()

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

    def preview_surface(self, k: int, j: int):
        return self._preview_surfaces[k][j]

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
        for dim, delta in self.keys.deltas(self.now, dt).items():
            self.state.stop_glide()
            self.state.nudge(dim, delta, "keyboard")
            self.state.canvas_drawn = False
        encoded = self.design_renderer.take_encoded()
        if encoded is not None and self.state.canvas_drawn:
            self.state.set_z(encoded, "canvas")
        self.state.update(self.now)
        self.update_attract()
        if not self.cursor_hidden and self.now - self.last_mouse > CURSOR_IDLE_S:
            self.show_cursor(False)
        if self.capture_log is not None and self.state.version != self._submitted_version and not self.state.attract:
            try:
                self.capture_log.record_trail(self.state.z, self.state.how)
            except Exception:
                log.exception("trail")
        self.poll_usb_export()

    def update_attract(self) -> None:
        state = self.state
        if not state.attract:
            if self.now - self.last_input >= self.config.attract_after_s:
                state.attract = True
                self.attract_next = self.now
            return
        if state.glide is None and self.now >= self.attract_next and self.models.landmarks:
            choices = [i for i in range(len(self.models.landmarks)) if i != state.landmark]
            self.goto_landmark(int(self.rng.choice(choices)) if choices else 0, "attract")
            self.attract_next = self.now + ATTRACT_GLIDE_S + ATTRACT_DWELL_S

    def poll_usb_export(self) -> None:
        if self.now - self._usb_checked < USB_POLL_S:
            return
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
            self.preview_renderer.submit(state.z)
            self._moving = not first
        elif self._moving or state.print_name != self._submitted_print:
            # z did not change this frame: input has settled, refine to full resolution and print.
            self._moving = False
            self._submitted_print = state.print_name
            self.design_renderer.submit(state.z, state.print_name, settled=True)

    def collect_results(self) -> None:
        pg = self.pg
        frame = self.design_renderer.latest()
        if frame is not None and frame.seq != self._design_seq:
            self._design_seq = frame.seq
            self._dirty = True
            image = pg.surfarray.make_surface(np.ascontiguousarray(frame.image.transpose(1, 0, 2)))
            if image.get_size() != self.layout.design_image.size:   # a draft: scale once, not every frame
                image = pg.transform.smoothscale(image, self.layout.design_image.size)
            self.design_surface = image
            self.design_stage = frame.stage
            self.design28 = frame.design28
            if frame.looks_like:
                self.looks_like = frame.looks_like
            latency = (time.perf_counter() - frame.t_request) * 1e3
            {"draft": self.metrics.draft_ms, "full": self.metrics.full_ms, "print_draft": self.metrics.print_first_ms,
             "print": self.metrics.print_ms}[frame.stage].append(latency)
        previews = self.preview_renderer.latest()
        if previews is not None and previews.seq != self._preview_seq:
            from .render import plain_rgb

            self._preview_seq = previews.seq
            self._dirty = True
            rgb = plain_rgb(previews.images.astype(np.float32) / 255.0)   # (8, N, s, s, 3)
            thumb = self.sliders.thumb(0, 0).size
            for k in range(LATENT_DIM):
                for j in range(len(PREVIEW_POSITIONS)):
                    surface = pg.surfarray.make_surface(rgb[k, j].transpose(1, 0, 2))
                    if surface.get_size() != thumb:   # rendered smaller: scale once here, not every frame
                        surface = pg.transform.smoothscale(surface, thumb)
                    self._preview_surfaces[k][j] = surface
            self.metrics.preview_ms.append((time.perf_counter() - previews.t_request) * 1e3)
        if self.capture_worker is not None:
            for result in self.capture_worker.results():
                self._dirty = True
                self.capture_worker.pending -= 1
                if result.capture_id is not None:
                    self.status.toast(f"Saved #{result.capture_id:04d}", "ok", self.now)
                    self.metrics.capture_ms.append((time.perf_counter() - result.t_request) * 1e3)
                else:
                    self.status.toast(result.error or "capture failed", "warn", self.now, 8.0)

    # -- drawing -----------------------------------------------------------------------------------
    def screen_signature(self) -> tuple:
        """Everything the screen is drawn from that can change without an event or a new render."""
        s = self.state
        return (s.version, s.print_name, s.how, s.landmark, s.map_mode, s.brush, s.canvas_drawn,
                tuple(getattr(src, "connected", None) for src in self.input_sources),
                len(self.status.toasts), self.capture_worker.pending if self.capture_worker else 0)

    def needs_redraw(self) -> bool:
        """True when this frame could look different from the last one drawn."""
        if self.redraw_every_frame or self._dirty or self.now - self._last_draw >= IDLE_REDRAW_S:
            return True
        s = self.state
        # animated or clock-driven: the attract pulse, a glide, live numbers, a toast's expiry
        if s.attract or s.glide is not None or s.diagnostics or self.status.toasts or self.keys.held:
            return True
        return self.screen_signature() != self._drawn_signature

    def draw(self) -> None:
        from .ui.theme import BG

        screen = self.screen
        screen.fill(BG)
        self.status.draw(screen, self)
        for widget in self.widgets():
            widget.draw(screen, self)
        if not self.state.map_mode:
            self.canvas.draw_tooltip(screen, self)
        if self.state.attract:
            self.status.draw_attract(screen, self.now)
        self.status.draw_toasts(screen, self.now)
        if self.state.diagnostics:
            self.diagnostics.draw(screen, self)

    # -- for tests, the benchmark and --screenshot ----------------------------------------------------
    def idle(self) -> bool:
        """True when every requested render is on screen (design at its final stage, previews current)."""
        frame, previews = self.design_renderer.latest(), self.preview_renderer.latest()
        final = "print" if (self.prints is not None and self.state.print_name != "none") else "full"
        return (frame is not None and frame.seq == self._design_seq and frame.stage == final
                and np.array_equal(frame.z, self.state.z) and frame.print_name == self.state.print_name
                and previews is not None and previews.seq == self._preview_seq
                and np.array_equal(previews.z, self.state.z) and not self._moving)

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
            return app.idle()

        self.wait_for(visitor_waits, timeout)

    def screenshot(self, path: Path, frames: int = 2, timeout: float = 30.0) -> None:
        for _ in range(max(1, frames)):
            self.step()
        self.settle(timeout)
        self.step(0.0)
        self.pg.image.save(self.screen, str(path))


from .startup import build_app, main  # noqa: E402 - the command's entry point (fse-kiosk = kiosk.app:main)

if __name__ == "__main__":
    sys.exit(main())
