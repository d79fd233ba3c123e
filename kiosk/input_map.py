"""Keys, clicks, touches and the joystick board, turned into the kiosk's commands (kiosk/commands.py)
through the one controls table (kiosk/controls.py). No window is needed to drive it: feed it pygame
events and it polls the board's hub (kiosk/input/) itself.

    inputs = InputMap(commands, hub, ui, capture_log, windowed=True, steer_rate=config.steer_rate)
    for event in pygame.event.get():
        inputs.handle_event(event)     # keys, mouse and touch; the widgets take clicks and drags
    inputs.update(dt)                  # the board's sticks and buttons, held number keys, the idle cursor
    if inputs.exit_requested: ...      # Ctrl+Alt+Q, capture + jump held, Escape or close (windowed)

The board's capture and jump buttons act when let go: held together they are the operator's exit
(a countdown shows), and then neither captures nor jumps.

Anything a visitor does ends attract mode at once and keeps their session in the capture log
(`last_input` is when); the first key, touch or button in attract mode only wakes the kiosk (the
operator's keys still work). In kiosk mode (not windowed) Escape, Alt+F4 and the close button do
nothing: the operator exits with Ctrl+Alt+Q or by holding capture + jump on the board.
"""

from __future__ import annotations

import logging

import pygame

from . import controls
from .explorer import KeyRepeat

log = logging.getLogger("kiosk")

CURSOR_IDLE_S = 3.0
"""The mouse cursor hides after this long without moving (a touch screen shows none)."""

KEY_COMMANDS = {getattr(pygame, f"K_{name}"): command for name, command in controls.key_commands().items()}
BUTTON_COMMANDS = controls.button_commands()
COMMAND_BUTTONS = {command: button for button, command in BUTTON_COMMANDS.items()}
NUMBER_KEYS = (pygame.K_1, pygame.K_KP1)
"""The first key of each row of number keys: key k of either row is parameter k."""


class InputMap:
    """ui: the Screen whose widgets take clicks (in hit-test order); capture_log: whose session
    a visitor's input keeps (None: captures are off)."""

    def __init__(self, commands, hub, ui, capture_log, *, windowed: bool, steer_rate: float) -> None:
        self.commands, self.explorer = commands, commands.explorer
        self.hub, self.ui, self.capture_log = hub, ui, capture_log
        # `--joystick sim`: the keys work the simulated board (its sticks and buttons), so the
        # whole board path (serial frames, the hub, the operator's hold) can be tried at a desk.
        self.simulator = getattr(hub, "simulator", None)
        self.windowed, self.steer_rate = windowed, steer_rate
        self.keys = KeyRepeat()
        self.held_buttons: set = set()
        self._on_release: set = set()  # capture / jump pressed: they act when let go, unless held together
        self._held_since: float | None = None
        self._pressed_widget = None
        self.sources: tuple = ()  # the board's sources' health, as of the last poll
        self.last_input = 0.0
        self.last_mouse = -CURSOR_IDLE_S
        self.cursor_hidden = False
        self.exit_requested = False

    # -- pygame events ------------------------------------------------------------------------------
    def handle_event(self, event) -> None:
        now = self.commands.clock()
        if event.type == pygame.QUIT:
            if self.windowed:
                self.exit_requested = True
            return  # kiosk: the close button and Alt+F4 (a QUIT from the window manager) do nothing
        if event.type == pygame.KEYDOWN:
            woke = self.visitor_input()
            self.key_down(event, visitor_commands=not woke)  # the first key in attract mode only wakes
        elif event.type == pygame.KEYUP:
            dim = self.number_key(event.key)
            if dim is not None:
                self.keys.release(dim)
            if self.simulator is not None:
                self.key_up_on_board(event.key)
        elif event.type == pygame.MOUSEMOTION:
            self.last_mouse = now
            self.show_cursor(True)
            self.ui.canvas.hover(event.pos)
            if self._pressed_widget is not None:
                self.visitor_input()
                self._pressed_widget.drag(event.pos, self.commands)
            elif self.explorer.state.map_mode:
                self.ui.map.hover(event.pos)
        elif event.type == pygame.MOUSEBUTTONDOWN and event.button == 1:
            self.last_mouse = now
            self.show_cursor(True)
            if self.visitor_input():
                return  # the first touch in attract mode only wakes the kiosk
            for widget in self.ui.widgets(self.explorer.state.map_mode):
                if hasattr(widget, "press") and widget.press(event.pos, self.commands):
                    self._pressed_widget = widget
                    break
        elif event.type == pygame.MOUSEBUTTONUP and event.button == 1:
            if self._pressed_widget is not None:
                self._pressed_widget.release(event.pos, self.commands)
                self._pressed_widget = None

    def key_down(self, event, visitor_commands: bool = True) -> None:
        """The key's command; visitor_commands=False: only the operator's (exit, quit)."""
        mods, key = event.mod, event.key
        if key == pygame.K_q and mods & pygame.KMOD_CTRL and mods & pygame.KMOD_ALT:
            log.info("operator exit (Ctrl+Alt+Q)")
            self.exit_requested = True
            return
        if key == pygame.K_ESCAPE:
            if self.windowed:
                self.exit_requested = True
            return
        if (key == pygame.K_F4 and mods & pygame.KMOD_ALT) or not visitor_commands:
            return
        if self.simulator is not None and self.key_down_on_board(key, mods):
            return
        dim = self.number_key(key)
        if dim is not None:
            self.keys.press(dim, -1.0 if mods & pygame.KMOD_SHIFT else 1.0, self.commands.clock())
            return
        command = KEY_COMMANDS.get(key)
        if command is not None:
            self.commands.run(command)

    def key_down_on_board(self, key, mods) -> bool:
        """`--joystick sim`: number key k pushes stick k all the way (Shift: the other way) and a key
        with a board button presses that button, until the key is let go. True when it did."""
        dim = self.number_key(key)
        if dim is not None:
            self.simulator.set_axis(dim, -1.0 if mods & pygame.KMOD_SHIFT else 1.0)
            return True
        button = COMMAND_BUTTONS.get(KEY_COMMANDS.get(key))
        if button is not None:
            self.simulator.press(button)
            return True
        return False

    def key_up_on_board(self, key) -> None:
        dim = self.number_key(key)
        if dim is not None:
            self.simulator.set_axis(dim, 0.0)
        button = COMMAND_BUTTONS.get(KEY_COMMANDS.get(key))
        if button is not None:
            self.simulator.release(button)

    def number_key(self, key) -> int | None:
        """The parameter a number key (top row or keypad) moves; None for any other key."""
        for base in NUMBER_KEYS:
            if base <= key < base + len(self.explorer.state.z):
                return key - base
        return None

    # -- once a frame ---------------------------------------------------------------------------------
    def update(self, dt: float) -> None:
        """The board polled (sticks steer, buttons run their commands), held number keys applied,
        the cursor hidden once the mouse rests."""
        now = self.commands.clock()
        self.poll_board(now, dt)
        self.explorer.hold_keys(self.keys, now, dt)
        if not self.cursor_hidden and now - self.last_mouse > CURSOR_IDLE_S:
            self.show_cursor(False)

    def poll_board(self, now: float, dt: float) -> None:
        if self.hub is None:
            return
        snap = self.hub.poll()
        self.sources = snap.sources
        if any(snap.active):
            self.visitor_input()
            self.explorer.steer(snap.axes, self.steer_rate, dt)
        for event in snap.events:
            woke = self.visitor_input()
            if event.pressed:
                self.held_buttons.add(event.button)
                if woke:
                    continue  # the first press in attract mode only wakes the kiosk
                if event.button in controls.OPERATOR_HOLD:
                    self._on_release.add(event.button)  # held with the other, it is the operator's exit
                else:
                    self.run_button(event.button)
            else:
                self.held_buttons.discard(event.button)
                if event.button in self._on_release:
                    self._on_release.discard(event.button)
                    self.run_button(event.button)
        both = set(controls.OPERATOR_HOLD) <= self.held_buttons
        if both and self._held_since is None:
            self._held_since = now
            self._on_release.clear()  # the operator's hold: neither captures nor jumps
        elif not both:
            self._held_since = None
        if self._held_since is not None and now - self._held_since >= controls.OPERATOR_HOLD_S:
            log.info("operator exit (capture + jump held %.0f s)", controls.OPERATOR_HOLD_S)
            self.exit_requested = True

    def run_button(self, button) -> None:
        command = BUTTON_COMMANDS.get(button)
        if command is not None:
            self.commands.run(command)

    def operator_exit_in(self) -> float | None:
        """Seconds until the operator's exit while capture + jump are held together; None otherwise."""
        if self._held_since is None:
            return None
        return max(0.0, controls.OPERATOR_HOLD_S - (self.commands.clock() - self._held_since))

    # -- what a visitor's input changes -----------------------------------------------------------------
    def visitor_input(self) -> bool:
        """Anything a visitor does: leaves attract mode at once (from where it is) and keeps the
        session. True when it woke the kiosk from attract mode: a key, click or button then does
        nothing else (the sticks steer on from where attract mode was)."""
        self.last_input = self.commands.clock()
        woke = self.explorer.visitor_input()
        if self.capture_log is not None:
            try:
                self.capture_log.touch()
            except Exception:
                log.exception("capture log touch")
        return woke

    def show_cursor(self, visible: bool) -> None:
        if self.cursor_hidden == (not visible):
            return
        self.cursor_hidden = not visible
        pygame.mouse.set_visible(visible)

    def joystick_label(self) -> tuple[str, bool]:
        """The top bar's words for the board, and whether that is good news."""
        if self.hub is None or not self.sources:
            return "joystick disconnected · keyboard + mouse", False
        if any(s.connected for s in self.sources):
            if self.simulator is not None:
                return "simulated joystick: keys 1-8 move its sticks", True
            return "joystick connected", True
        return "joystick disconnected", False
