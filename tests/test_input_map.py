"""kiosk/input_map.py and kiosk/commands.py without a window: real pygame events (posted and read
back from pygame's queue), the real controls table, the real Explorer, the real canvas and status
widgets. Where a command reaches the render workers or the map, a stand-in records what it was
asked (the whole kiosk, with its workers, is tests/test_kiosk.py)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pygame
import pytest

from kiosk import controls
from kiosk.commands import PRINTS_OFF, Commands
from kiosk.explorer import BRUSH_BLACK, BRUSH_WHITE, Explorer, ExplorerState
from kiosk.input.state import Button, ButtonEvent, InputSnapshot, SourceHealth
from kiosk.input_map import CURSOR_IDLE_S, InputMap
from kiosk.ui.canvas import CanvasWidget
from kiosk.ui.status import StatusBar
from kiosk.ui.theme import Layout

LANDMARKS = [np.full(8, v, np.float32) for v in (-0.5, 0.0, 0.5)]
CENTRED = (0.0,) * 8


class Renders:
    """The RenderSchedule's part that commands use: canvas encodes and captures."""

    captures_on = True

    def __init__(self) -> None:
        self.design28 = np.zeros((28, 28), np.float32)
        self.encodes: list[bool] = []  # drawing=True / False, per encode asked for
        self.captured: list[str] = []  # the print of each capture asked for

    def encode(self, canvas, *, drawing: bool = False) -> None:
        self.encodes.append(drawing)

    def capture(self, z, print_name: str, how: str) -> tuple[str, str]:
        self.captured.append(print_name)
        return "Capturing...", "info"

    def capture_busy(self) -> bool:
        return bool(self.captured)


class Board:
    """A hub whose next poll returns what the test queued (the real hub: tests/test_input_hub.py)."""

    def __init__(self) -> None:
        self.snapshots: list[InputSnapshot] = []
        self.sources = (SourceHealth("serial", "serial", True, 100.0, 0, 0, 0, "sim"),)

    def frame(self, axes=CENTRED, pressed=(), released=()) -> None:
        events = tuple(ButtonEvent(b, True, "serial", 0.0) for b in pressed)
        events += tuple(ButtonEvent(b, False, "serial", 0.0) for b in released)
        active = tuple(abs(a) > 0 for a in axes)
        self.snapshots.append(InputSnapshot(tuple(axes), active, events, self.sources, 0.0))

    def poll(self) -> InputSnapshot:
        return self.snapshots.pop(0) if self.snapshots else InputSnapshot(CENTRED, (False,) * 8, (), self.sources, 0.0)


class Booth:
    """An InputMap on a real Explorer and Commands, with a clock the test moves."""

    def __init__(self, hub=None, windowed: bool = True) -> None:
        self.now = 0.0
        self.state = ExplorerState(z=np.zeros(8, np.float32))
        self.explorer = Explorer(self.state, LANDMARKS, glide_s=1.0, print_names=["none", "tartan", "leopard"])
        layout = Layout(1280, 720)
        self.map = SimpleNamespace(refreshed=0, hovered=[])
        self.map.refresh_captures = lambda: setattr(self.map, "refreshed", self.map.refreshed + 1)
        self.map.hover = self.map.hovered.append
        self.ui = SimpleNamespace(status=StatusBar(layout), canvas=CanvasWidget(layout), map=self.map)
        self.ui.widgets = lambda map_mode: [self.ui.canvas]
        self.renders = Renders()
        self.touches = 0
        log = SimpleNamespace(touch=lambda: setattr(self, "touches", self.touches + 1))
        self.commands = Commands(self.explorer, self.renders, self.ui, lambda: self.now, "prints.onnx is missing")
        self.input = InputMap(self.commands, hub, self.ui, log, windowed=windowed, steer_rate=1.5)

    def post(self, *events) -> None:
        """Through pygame's own queue, as the kiosk reads them."""
        for event in events:
            pygame.event.post(event)
        for event in pygame.event.get():
            self.input.handle_event(event)

    def frames(self, n: int, dt: float = 1 / 30) -> None:
        for _ in range(n):
            self.now += dt
            self.input.update(dt)
            self.state.update(self.now)


def key(k, mod=0, kind=pygame.KEYDOWN):
    return pygame.event.Event(kind, key=k, mod=mod, unicode="", scancode=0)


def click(pos, kind=pygame.MOUSEBUTTONDOWN):
    return pygame.event.Event(kind, pos=pos, button=1)


@pytest.fixture(autouse=True)
def events():
    """pygame's event queue (the dummy video driver: no window is opened)."""
    pygame.display.init()
    pygame.event.clear()
    yield
    pygame.event.clear()


# What each command of the controls table does to the kiosk; every named command has a row.
EFFECTS = {
    "jump": lambda b: b.state.how == "jump" and not np.array_equal(b.state.z, np.zeros(8)),
    "random": lambda b: b.state.glide is not None and b.state.glide.how == "random",
    "capture": lambda b: b.renders.captured == ["none"],
    "next_print": lambda b: b.state.print_name == "tartan",
    "next_landmark": lambda b: b.state.glide is not None and b.state.landmark == 0,
    "clear": lambda b: b.state.canvas_drawn and not b.state.canvas.any() and b.renders.encodes == [False],
    "brush_white": lambda b: b.state.brush == BRUSH_WHITE,
    "brush_black": lambda b: b.state.brush == BRUSH_BLACK,
    "map": lambda b: b.state.map_mode and b.map.refreshed == 1,
    "diagnostics": lambda b: b.state.diagnostics,
}


def test_every_command_in_the_controls_table_has_an_effect_here():
    assert set(EFFECTS) == {c.command for c in controls.CONTROLS if c.command} == set(Booth().commands.by_name)


@pytest.mark.parametrize("name, command", sorted(controls.key_commands().items()))
def test_each_key_runs_its_command_from_the_controls_table(name, command):
    booth = Booth()
    if command == "brush_white":
        booth.state.brush = BRUSH_BLACK  # so that choosing white is a change
    booth.post(key(getattr(pygame, f"K_{name}")))
    assert EFFECTS[command](booth), (name, command)
    assert booth.input.last_input == booth.now and booth.touches == 1, "a key is a visitor's input"


@pytest.mark.parametrize("button, command", sorted(controls.button_commands().items(), key=lambda bc: bc[1]))
def test_each_board_button_runs_its_command_from_the_controls_table(button, command):
    board = Board()
    booth = Booth(board)
    board.frame(pressed=[button])
    board.frame(released=[button])  # capture and jump act when let go (held together: the operator's exit)
    booth.frames(2)
    assert EFFECTS[command](booth), (button, command)


def test_number_keys_move_their_parameter_faster_the_longer_held_and_shift_lowers():
    booth = Booth()
    booth.post(key(pygame.K_3))
    booth.frames(15)
    first = booth.state.z[2]
    booth.frames(15)
    booth.post(key(pygame.K_3, kind=pygame.KEYUP))
    booth.frames(10)
    z = booth.state.z.copy()
    assert z[2] > 0.2 and np.all(np.delete(z, 2) == 0) and z[2] - first > first, z
    booth.post(key(pygame.K_KP5, mod=pygame.KMOD_LSHIFT))  # the keypad's row too
    booth.frames(20)
    assert booth.state.z[4] < -0.1 and booth.state.z[2] == z[2] and booth.state.how == "keyboard"


def test_kiosk_mode_ignores_close_escape_and_alt_f4_until_the_operator_exit():
    booth = Booth(windowed=False)
    booth.post(pygame.event.Event(pygame.QUIT), key(pygame.K_ESCAPE), key(pygame.K_F4, mod=pygame.KMOD_LALT))
    assert not booth.input.exit_requested
    booth.post(key(pygame.K_q, mod=pygame.KMOD_LCTRL | pygame.KMOD_LALT))
    assert booth.input.exit_requested
    windowed = Booth(windowed=True)
    windowed.post(key(pygame.K_ESCAPE))
    assert windowed.input.exit_requested


def test_the_board_steers_and_holding_capture_and_jump_is_the_operator_exit():
    board = Board()
    booth = Booth(board)
    axes = [0.0] * 8
    axes[6] = -1.0
    board.frame(axes=axes)
    booth.frames(1, dt=0.1)
    assert booth.state.z[6] == pytest.approx(-0.15) and booth.state.how == "joystick"
    z = booth.state.z.copy()
    board.frame(pressed=[Button.CAPTURE])
    board.frame(pressed=[Button.JUMP])
    booth.frames(2)
    booth.frames(1, dt=0.5)
    assert booth.input.operator_exit_in() == pytest.approx(controls.OPERATOR_HOLD_S - 0.5), "a countdown"
    booth.frames(4, dt=1.0)
    assert not booth.input.exit_requested, "not before OPERATOR_HOLD_S"
    booth.frames(2, dt=1.0)
    assert booth.input.exit_requested and booth.input.operator_exit_in() == 0.0
    board.frame(released=[Button.CAPTURE, Button.JUMP])
    booth.frames(1)
    assert booth.renders.captured == [] and np.array_equal(booth.state.z, z), (
        "the operator's hold neither captures nor jumps"
    )
    assert booth.input.operator_exit_in() is None
    assert booth.input.joystick_label() == ("joystick connected", True)


def test_any_input_ends_attract_mode_where_it_is():
    booth = Booth()
    booth.state.attract = True
    booth.explorer.goto_landmark(2, booth.now, "attract")
    booth.frames(10)
    booth.post(key(pygame.K_a))  # a key that does nothing else
    here = booth.state.z.copy()
    booth.frames(10)
    assert not booth.state.attract and booth.state.glide is None and np.array_equal(booth.state.z, here)


def test_the_first_input_in_attract_mode_only_wakes_the_kiosk():
    """Space during attract mode used to wake the kiosk and jump away from the design on screen."""
    board = Board()
    booth = Booth(board)
    for first in (
        lambda: booth.post(key(pygame.K_SPACE)),
        lambda: booth.post(click(booth.ui.canvas.layout.tools[0].center)),  # the R tool
        lambda: (board.frame(pressed=[Button.JUMP]), board.frame(released=[Button.JUMP]), booth.frames(2)),
    ):
        booth.state.attract = True
        booth.explorer.goto_landmark(2, booth.now, "attract")
        booth.frames(10)
        here = booth.state.z.copy()
        first()
        booth.frames(5)
        assert not booth.state.attract and booth.state.glide is None and np.array_equal(booth.state.z, here)
    booth.post(key(pygame.K_SPACE))
    assert booth.state.how == "jump", "awake: the next press acts"
    booth.state.attract = True
    booth.post(key(pygame.K_q, mod=pygame.KMOD_LCTRL | pygame.KMOD_LALT))
    assert booth.input.exit_requested, "the operator's exit works in attract mode too"


def test_the_attract_prompt_never_covers_the_design():
    """It covered the lower third of the garment."""
    pygame.font.init()
    layout = Layout(1280, 720)
    surface = pygame.Surface((1280, 720))
    prompt = StatusBar(layout).draw_attract(surface, now=1.0)
    assert not prompt.colliderect(layout.design_image) and prompt.h > 60 * layout.s


def test_drawing_on_the_canvas_paints_the_state_and_encodes_throttled_then_final():
    booth = Booth()
    canvas = booth.ui.canvas.layout.canvas
    booth.post(click((canvas.x + canvas.w // 2, canvas.y + canvas.h // 2)))
    assert booth.state.canvas_drawn and booth.state.canvas.max() > 0.9
    booth.post(pygame.event.Event(pygame.MOUSEMOTION, pos=(canvas.x + 5, canvas.y + 5), rel=(0, 0), buttons=(1, 0, 0)))
    booth.post(click((canvas.x + 5, canvas.y + 5), pygame.MOUSEBUTTONUP))
    assert booth.state.canvas[0, 0] > 0.5, "the drag painted where it went"
    assert booth.renders.encodes[0] is True and booth.renders.encodes[-1] is False, (
        "throttled while drawing, then the final shape"
    )


def test_a_quick_stroke_is_one_soft_line_about_two_canvas_pixels_wide():
    """The pointer's samples jump several cells on a quick drag: each used to be a separate dab
    (a beaded, checkered stroke)."""
    booth = Booth()
    booth.state.canvas = np.zeros((28, 28), np.float32)
    booth.state.canvas_drawn = True
    canvas = booth.ui.canvas.layout.canvas
    cell = canvas.w / 28

    def at(row, col):  # a cell's centre on screen
        return (round(canvas.x + (col + 0.5) * cell), round(canvas.y + (row + 0.5) * cell))

    booth.post(click(at(14, 4)))
    booth.post(pygame.event.Event(pygame.MOUSEMOTION, pos=at(14, 22), rel=(0, 0), buttons=(1, 0, 0)))
    booth.post(click(at(14, 22), pygame.MOUSEBUTTONUP))
    painted = booth.state.canvas
    assert painted[14, 4:23].min() > 0.95, "one unbroken line between the two samples"
    across = painted[:, 12]
    assert 1.5 <= across.sum() <= 3.0, f"about 2 px wide: {across[10:19].round(2)}"
    assert ((across > 0.05) & (across < 0.95)).any(), "soft edges"
    assert painted[:10].max() == 0 and painted[19:].max() == 0


def test_the_cursor_hides_when_the_mouse_rests_and_comes_back_when_it_moves():
    booth = Booth()
    booth.frames(int(CURSOR_IDLE_S * 30) + 2)
    assert booth.input.cursor_hidden
    booth.post(pygame.event.Event(pygame.MOUSEMOTION, pos=(1, 1), rel=(0, 0), buttons=(0, 0, 0)))
    assert not booth.input.cursor_hidden


def test_no_board_reads_keyboard_and_mouse_and_next_print_without_prints_says_why():
    booth = Booth()
    assert booth.input.joystick_label() == ("joystick disconnected · keyboard + mouse", False)
    booth.explorer.print_names = ["none"]
    booth.post(key(pygame.K_p))
    assert [t.text for t in booth.ui.status.toasts] == [PRINTS_OFF], "a sentence for visitors, not the reason"
