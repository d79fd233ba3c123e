"""The kiosk driven headless (SDL dummy driver) through its real loop: real ONNX sessions, the
real render threads, real pygame events, the real CaptureLog on tmp_path.

Each test builds an App with `build_app(parse_args([...]))`, posts pygame events, steps frames with a fixed
dt (the app's clock is advanced by dt, so attract/glide timing is deterministic) and waits for the
render workers with kiosk/headless.py's `wait_for` (a deadline, never a fixed sleep).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pygame
import pytest

from kiosk.app import GIL_SWITCH_S, RT_SPIN_S, SPIN_S, UI_RT_PRIORITY
from kiosk.headless import settle, wait_for
from kiosk.render.schedule import PREVIEW_POSITIONS
from kiosk.startup import build_app, main, parse_args

ROOT = Path(__file__).resolve().parent.parent
SIZE = "1280x720"  # the full layout, scaled: smaller renders keep the suite quick


@pytest.fixture
def make_app(tmp_path):
    apps = []

    def make(*extra):
        app = build_app(
            parse_args(
                ["--windowed", "--joystick", "none", "--state-dir", str(tmp_path / "state"), "--size", SIZE, *extra]
            )
        )
        apps.append(app)
        app.step()
        return app

    yield make
    for app in apps:
        app.shutdown()


def key(app, k, mod=0, up_after=False):
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=k, mod=mod, unicode="", scancode=0))
    if up_after:
        pygame.event.post(pygame.event.Event(pygame.KEYUP, key=k, mod=mod, unicode="", scancode=0))


def mouse(kind, pos, **kw):
    event = {"down": pygame.MOUSEBUTTONDOWN, "up": pygame.MOUSEBUTTONUP, "move": pygame.MOUSEMOTION}[kind]
    args = {"pos": pos, "button": 1} if kind != "move" else {"pos": pos, "rel": (0, 0), "buttons": (1, 0, 0)}
    pygame.event.post(pygame.event.Event(event, **args, **kw))


def region(app, rect) -> np.ndarray:
    return pygame.surfarray.array3d(app.screen.subsurface(rect)).astype(np.float32)


def steps(app, n, dt=1 / 30):
    for _ in range(n):
        app.step(dt)


# -- keyboard ---------------------------------------------------------------------------------------


def test_number_keys_raise_and_shift_lowers_one_parameter_with_acceleration(make_app):
    app = make_app("--z", "0,0,0,0,0,0,0,0")
    key(app, pygame.K_3)
    steps(app, 15)
    first = app.state.z.copy()
    steps(app, 15)
    pygame.event.post(pygame.event.Event(pygame.KEYUP, key=pygame.K_3, mod=0))
    steps(app, 1)
    z = app.state.z.copy()
    assert z[2] > 0.2 and np.all(np.delete(z, 2) == 0), z
    assert z[2] - first[2] > first[2], "holding longer should move faster (acceleration)"
    steps(app, 10)
    assert app.state.z[2] == z[2], "releasing the key stops the parameter"
    key(app, pygame.K_5, mod=pygame.KMOD_LSHIFT)
    steps(app, 20)
    assert app.state.z[4] < -0.1 and app.state.z[2] == z[2]
    assert app.state.how == "keyboard"


def test_jump_random_and_landmark_keys(make_app):
    app = make_app()
    before = app.state.z.copy()
    key(app, pygame.K_SPACE)
    steps(app, 1)
    assert not np.allclose(app.state.z, before) and app.state.how == "jump"
    assert np.all(np.abs(app.state.z) <= 1)
    key(app, pygame.K_l)
    steps(app, 1)
    target = app.models.landmarks[app.state.landmark].z
    steps(app, int(app.config.glide_s * 30) + 3)
    assert np.allclose(app.state.z, target, atol=1e-5) and app.state.how == "landmark"
    here = app.state.z.copy()
    key(app, pygame.K_r)
    steps(app, 30)
    assert not np.allclose(app.state.z, here) and app.state.how == "random"


def test_kiosk_mode_ignores_close_escape_alt_f4_until_operator_exit(make_app):
    app = make_app()
    app.input.windowed = False  # what fullscreen (the booth) runs with
    pygame.event.post(pygame.event.Event(pygame.QUIT))
    key(app, pygame.K_ESCAPE)
    key(app, pygame.K_F4, mod=pygame.KMOD_LALT)
    assert app.step() and app.running
    key(app, pygame.K_q, mod=pygame.KMOD_LCTRL | pygame.KMOD_LALT)
    assert not app.step()


def test_windowed_escape_quits(make_app):
    app = make_app()
    key(app, pygame.K_ESCAPE)
    assert not app.step()


def test_f12_shows_diagnostics_with_provider_and_input(make_app):
    app = make_app()
    key(app, pygame.K_F12)
    steps(app, 2)
    text = "\n".join(app.diagnostics.lines(app))
    assert app.state.diagnostics and "generator=" in text and "keyboard and mouse only" in text and "MB free" in text
    assert "capture log open: 0 captures, 0 not yet exported" in text
    # an opaque panel: nothing of the screen behind shows through (it was 85 % black over the labels)
    app.screen.fill((255, 0, 0))
    box = app.ui.diagnostics.draw(app.screen, app.view().diagnostics)
    under = region(app, app.ui.diagnostics.layout.r(700, 120, 1180, 200))
    assert box.contains(app.ui.diagnostics.layout.r(700, 120, 1180, 200))
    assert not ((under[..., 0] > 25) & (under[..., 2] < 10)).any(), "red showed through"


# -- mouse ----------------------------------------------------------------------------------------


def test_drawing_on_the_canvas_reencodes_live(make_app):
    app = make_app()
    settle(app)
    before = app.state.z.copy()
    key(app, pygame.K_c)  # clear: a blank canvas still encodes to a valid design
    wait_for(app, lambda a: a.state.how == "canvas")
    blank = app.state.z.copy()
    assert np.isfinite(blank).all() and np.all(np.abs(blank) <= 1)
    r = app.ui.layout.canvas
    mouse("down", (r.x + r.w // 2, r.y + r.h // 5))
    for i in range(12):
        mouse("move", (r.x + r.w // 2, r.y + r.h // 5 + i * r.h // 16))
        app.step()
    mouse("up", (r.x + r.w // 2, r.y + r.h * 3 // 4))
    app.step()
    assert app.state.canvas_drawn and app.state.canvas.max() > 0.9
    wait_for(app, lambda a: not np.allclose(a.state.z, blank))
    assert app.state.how == "canvas" and not np.allclose(app.state.z, before)
    # All white: still a valid design.
    app.state.canvas[:] = 1.0
    app.renders.design_renderer.encode(app.state.canvas)
    wait_for(app, lambda a: a.state.how == "canvas" and not np.allclose(a.state.z, blank), 5)
    assert np.isfinite(app.state.z).all()


def test_clicking_a_preview_moves_that_parameter_there_and_dragging_the_slider(make_app):
    app = make_app("--z", "0,0,0,0,0,0,0,0")
    rect = app.ui.sliders.thumb(5, 6)
    mouse("down", rect.center)
    mouse("up", rect.center)
    app.step()
    assert app.state.z[5] == pytest.approx(PREVIEW_POSITIONS[6]) and app.state.how == "slider"
    assert np.all(np.delete(app.state.z, 5) == 0)
    x0, x1, y = app.ui.sliders.track(1)
    mouse("down", (x0 + (x1 - x0) * 0.5, y))
    app.step()
    mouse("move", (x0 + (x1 - x0) * 0.25, y))
    app.step()
    mouse("up", (x0 + (x1 - x0) * 0.25, y))
    app.step()
    assert app.state.z[1] == pytest.approx(-0.5, abs=0.02)


def test_clicking_a_landmark_glides_there_in_about_a_second(make_app):
    app = make_app("--z", "0,0,0,0,0,0,0,0")
    cell = app.ui.landmark_strip.cells(len(app.models.landmarks))[4]  # landmark index 3
    mouse("down", cell.center)
    mouse("up", cell.center)
    target = app.models.landmarks[3].z
    steps(app, 15)  # half a second in
    mid = app.state.z.copy()
    assert 0.1 < np.linalg.norm(mid) / np.linalg.norm(target) < 0.9, "a glide, not a jump cut"
    steps(app, 20)
    assert np.allclose(app.state.z, target, atol=1e-5)
    assert app.ui.landmark_strip.at_landmark(app.view()) == 3


def test_print_swatch_selects_the_print(make_app):
    app = make_app()
    assert app.prints is not None, app.prints_message  # the shipped prints are part of the repository
    name, rect = app.ui.print_selector.rects(app.explorer.print_names)[1]
    mouse("down", rect.center)
    app.step()
    assert app.state.print_name == name
    settle(app)
    assert app.ui.design_view.stage == "print"


# -- rendering ---------------------------------------------------------------------------------


def test_every_area_is_drawn_previews_differ_and_the_design_follows_z(make_app):
    app = make_app("--z", "0.5,-0.3,0.2,0,0,0.4,0,-0.6")
    settle(app)
    L = app.ui.layout
    for name, rect in (
        ("design", L.design_image),
        ("canvas", L.canvas),
        ("landmarks", L.landmarks),
        ("parameters", L.params),
        ("top bar", L.top),
    ):
        assert region(app, rect).std() > 5, f"{name} area looks blank"
    strip = [pygame.surfarray.array3d(app.ui.sliders.previews[0][j]).astype(np.float32) for j in range(7)]
    assert np.abs(strip[0] - strip[-1]).mean() > 2, "previews along slider 1 should differ"
    hero = region(app, L.design_image)
    key(app, pygame.K_SPACE)
    app.step()
    settle(app)
    assert np.abs(region(app, L.design_image) - hero).mean() > 2, "the design should change with z"
    assert app.ui.design_view.stage in ("full", "print")
    assert app.ui.design_view.image.get_width() == L.design_image.w, "full resolution, not an upscaled draft"


def test_moving_shows_a_draft_then_full_resolution(make_app):
    app = make_app()
    settle(app)
    key(app, pygame.K_1)
    wait_for(app, lambda a: a.ui.design_view.stage == "draft", 5)
    pygame.event.post(pygame.event.Event(pygame.KEYUP, key=pygame.K_1, mod=0))
    settle(app)
    assert (
        app.ui.design_view.stage == "full" and app.metrics.draft_ms and app.metrics.full_ms and app.metrics.preview_ms
    )


def test_looks_like_hides_while_moving_and_says_nothing_for_an_empty_design(make_app):
    """It used to name the class the design left for a whole stick motion, and call a cleared
    canvas's design a "Sandal"."""
    app = make_app("--print", "none")
    settle(app)
    assert app.ui.design_view.looks_like == "T-shirt/top"
    key(app, pygame.K_8, mod=pygame.KMOD_LSHIFT)
    wait_for(app, lambda a: a.ui.design_view.stage == "draft", 5)
    assert app.ui.design_view.looks_like == "", "no guess for a design in motion"
    pygame.event.post(pygame.event.Event(pygame.KEYUP, key=pygame.K_8, mod=pygame.KMOD_LSHIFT))
    settle(app)
    assert app.ui.design_view.looks_like
    key(app, pygame.K_c)  # clear the canvas: the design of an empty drawing
    wait_for(app, lambda a: a.state.how == "canvas", 10)
    settle(app)
    assert app.renders.design28.mean() < 0.02 and app.ui.design_view.looks_like == ""


def test_nan_and_inf_never_reach_the_screen(make_app):
    app = make_app()
    app.commands.move(np.array([np.nan, np.inf, -np.inf, 0, 0, 0, 0, 0]), "keyboard")
    assert np.isfinite(app.state.z).all() and app.state.z[1] == 1 and app.state.z[2] == -1
    settle(app)
    assert np.isfinite(region(app, app.ui.layout.design_image)).all()


def test_the_booth_loop_gives_the_ui_thread_priority_over_the_renders(make_app):
    """App.run (and the benchmark) renice the render threads: on 2 cores with 3 busy threads the UI
    thread otherwise waits out a render's time slice, which showed as 25-35 ms frames."""
    import os

    from kiosk.render import threads

    app = make_app()
    design = [t for t in app.renders.design_renderer.threads + app.renders.preview_renderer.threads if t.is_alive()]
    background = [t for t in app.renders.capture_worker.threads if t.is_alive()]

    def nice(thread):
        return os.getpriority(os.PRIO_PROCESS, thread.native_id)

    ui = os.getpriority(os.PRIO_PROCESS, 0)
    assert all(nice(t) == ui for t in design + background)
    switch = sys.getswitchinterval()
    assert os.sched_getscheduler(0) == os.SCHED_OTHER
    try:
        app.prioritise_ui()
        assert sys.getswitchinterval() == GIL_SWITCH_S < switch  # the UI thread gets the GIL back sooner
        if os.geteuid() == 0:  # elsewhere the unit's LimitRTPRIO is what allows it: the test below
            assert os.sched_getscheduler(0) == os.SCHED_RR | os.SCHED_RESET_ON_FORK
            assert os.sched_getparam(0).sched_priority == UI_RT_PRIORITY
            assert app.pacer.spin_s == RT_SPIN_S < SPIN_S  # it wakes on time: no long spin
            started = []
            thread = threading.Thread(target=lambda: started.append(os.sched_getscheduler(0)))
            thread.start()
            thread.join()
            assert started == [os.SCHED_OTHER]  # what the UI thread starts is not real-time
    finally:
        sys.setswitchinterval(switch)
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    assert all(nice(t) == min(19, ui + threads.WORKER_NICE) for t in design)
    assert all(nice(t) == min(19, ui + threads.BACKGROUND_NICE) for t in background)
    assert os.getpriority(os.PRIO_PROCESS, 0) == ui


def test_redrawing_only_what_changed_leaves_the_same_screen_as_redrawing_everything(make_app):
    """While a stick moves, widgets restore and redraw only their moving parts (the design over its
    own area without restoring under it, knobs, the signature) from kept static copies: the screen
    must be exactly what a redraw of every widget from scratch shows for the same state."""
    app = make_app("--z", "0.3,-0.2,-0.9,0,0,0,0,0")
    settle(app)
    key(app, pygame.K_3)
    # drafts, smaller previews and knobs arrive while the parameter moves
    wait_for(app, lambda a: a.ui.design_view.stage == "draft" and a.ui.sliders.preview_seq > 1, dt=1 / 60)
    assert app.renders.moving and app.state.z[2] < 0.9
    incremental = pygame.surfarray.array3d(app.screen).copy()
    app.ui.redraw_every_frame = True
    pygame.display.update(app.ui.draw(app.view()))
    app.ui.redraw_every_frame = False
    assert np.array_equal(pygame.surfarray.array3d(app.screen), incremental)


# -- capture, attract, usb ------------------------------------------------------------------------


def test_capture_is_saved_durably_before_saved_is_shown(make_app, tmp_path):
    from contract.capture_schema import open_db, read_captures

    app = make_app("--z", "0.1,0.2,0.3,0.4,-0.1,-0.2,-0.3,-0.4")
    key(app, pygame.K_RETURN)
    app.step()
    pressed = app.state.z.copy()  # (the app's clock may reach attract mode while a slow machine saves)
    shown = []  # the capture's message on every frame from the press to "Saved"

    def saved(app) -> bool:
        shown.append([t.text for t in app.ui.status.toasts if t.until > app.now])
        return any(t.text.startswith("Saved #") for t in app.ui.status.toasts)

    # 50 ms of app time a frame: "Capturing..." used to be up for 1.5 s and then nothing until saved
    wait_for(app, saved, 90, dt=0.05)  # a deadline, not a target
    gaps = [i for i, texts in enumerate(shown) if not texts]
    assert not gaps, f"one message from the press to saved; none on frames {gaps[:3]}... of {len(shown)}"
    assert len(shown) > 30 and shown[0] == ["Capturing..."]
    captures = read_captures(open_db(tmp_path / "state" / "log.sqlite", read_only=True))
    assert len(captures) == 1
    assert np.allclose(captures[0].z, pressed, atol=1e-6)
    toast = next(t.text for t in app.ui.status.toasts if t.text.startswith("Saved #"))
    assert toast == f"Saved #{captures[0].id:04d}"


def test_a_resized_window_or_another_display_presents_the_whole_screen_again(make_app):
    """The screen presents only what changed; after a resize or a display change SDL may have lost
    the rest, which stayed frozen (and clipped) until a restart."""
    app = make_app()
    settle(app)
    app.step(present=False)
    assert app.screen.get_rect() not in app._to_present, "idle: nothing to present"
    app.present()
    pygame.event.post(pygame.event.Event(pygame.WINDOWSIZECHANGED, x=800, y=450))
    app.step(present=False)
    assert app._to_present[0] == app.screen.get_rect()
    app.present()


def test_attract_mode_wanders_and_any_input_returns_control_where_it_is(make_app):
    app = make_app("--attract-after", "5")
    steps(app, 6, dt=1.0)
    assert app.state.attract and app.state.glide is not None and app.state.how == "attract"
    steps(app, 3)
    key(app, pygame.K_a)  # any key at all
    app.step(0.0)
    here = app.state.z.copy()
    assert not app.state.attract and app.state.glide is None
    steps(app, 30)
    assert np.array_equal(app.state.z, here), "control returns from where it was, not a jump"


def test_usb_export_status_becomes_a_toast(make_app, tmp_path):
    """The first status ever written is shown too (issue 12 item 13), and "done" right after
    "running" (the same mtime, as a fast export gives) as well."""
    app = make_app()
    status = tmp_path / "state" / "usb-export.json"
    assert not status.exists()
    status.write_text(json.dumps({"state": "running", "message": ""}))
    steps(app, 40)
    assert any("don't remove" in t.text for t in app.ui.status.toasts)
    mtime = status.stat().st_mtime
    status.write_text(json.dumps({"state": "done", "message": "12 captures"}))
    os.utime(status, (mtime, mtime))
    steps(app, 40)
    assert any("safe to remove" in t.text for t in app.ui.status.toasts)


def test_each_usb_stick_keeps_its_own_toast(make_app, tmp_path):
    """Two sticks exported at once: each shows its latest status, once. Toasts had no slot, so a
    stick's "running" stayed up beside its own "done" ("don't remove" and "safe to remove" at once)
    and, three toasts at most, pushed out another stick's "done"."""
    from kiosk.log_export.usb import write_usb_status

    app, state = make_app(), tmp_path / "state"
    sticks = {"/dev/sdb1": "the 16 GB stick sdb1", "/dev/sdc1": "the 32 GB stick sdc1"}
    for device, state_now in [
        ("/dev/sdb1", "running"),
        ("/dev/sdc1", "running"),
        ("/dev/sdb1", "done"),
        ("/dev/sdc1", "done"),
    ]:
        write_usb_status(state, state_now, "", device=device, stick=sticks[device])
        steps(app, 40)  # one poll (POLL_S) each: a poll shows one stick's news
    shown = [t.text for t in app.ui.status.toasts if t.until > app.now]
    assert shown == [f"USB export finished: safe to remove {stick}" for stick in sticks.values()], shown


def test_a_board_that_is_not_there_shows_disconnected_in_the_top_bar(make_app, tmp_path):
    """The real input hub waiting for a serial device that does not exist (a booth with the board
    unplugged): the top bar says so, in the warning colour."""
    from kiosk.ui.theme import WARN

    app = make_app("--joystick", str(tmp_path / "no-such-tty"))
    assert app.hub is not None
    wait_for(app, lambda a: a.input.sources, 5)
    steps(app, 2)
    label, ok = app.input.joystick_label()
    assert not ok and label == "joystick disconnected"
    top = pygame.surfarray.array3d(app.screen.subsurface(app.ui.layout.top))
    assert (np.abs(top.astype(int) - WARN).sum(-1) < 30).sum() > 20, "the warning dot and label are drawn"


# -- joystick (the simulated board through the real serial backend) -------------------------------


def test_joystick_axis_steers_its_parameter_and_buttons_act(tmp_path):
    app = build_app(
        parse_args(
            ["--windowed", "--joystick", "sim", "--state-dir", str(tmp_path), "--size", SIZE, "--z", "0,0,0,0,0,0,0,0"]
        )
    )
    try:
        board = app.hub.simulator
        wait_for(app, lambda a: a.input.joystick_label()[1], 10)
        board.set_axis(6, -1.0)
        wait_for(app, lambda a: a.state.z[6] < -0.3, 10)
        assert np.all(np.delete(app.state.z, 6) == 0) and app.state.how == "joystick"
        board.set_axis(6, 0.0)
        wait_for(app, lambda a: not any(a.hub.poll().active), 5)
        before = app.state.z.copy()
        board.tap("jump")
        wait_for(app, lambda a: not np.array_equal(a.state.z, before), 5)
        # Operator exit: capture + jump held for 5 s (the app's clock, stepped).
        board.press("capture")
        board.press("jump")
        wait_for(app, lambda a: {b.value for b in a.input.held_buttons} >= {"capture", "jump"}, 5)
        steps(app, 6, dt=1.0)
        assert not app.running
    finally:
        app.shutdown()


def test_with_the_simulated_board_the_keys_work_its_sticks_and_buttons(tmp_path):
    """`make run ARGS="--joystick sim"` showed a centred board nobody could move."""
    app = build_app(
        parse_args(
            ["--windowed", "--joystick", "sim", "--state-dir", str(tmp_path), "--size", SIZE, "--z", "0,0,0,0,0,0,0,0"]
        )
    )
    try:
        wait_for(app, lambda a: a.input.joystick_label()[1], 10)
        assert "keys 1-8" in app.input.joystick_label()[0]
        key(app, pygame.K_7, mod=pygame.KMOD_LSHIFT)
        wait_for(app, lambda a: a.state.z[6] < -0.3, 10)  # through the board's serial frames
        assert app.state.how == "joystick" and np.all(np.delete(app.state.z, 6) == 0)
        pygame.event.post(pygame.event.Event(pygame.KEYUP, key=pygame.K_7, mod=0))
        wait_for(app, lambda a: not any(a.hub.poll().active), 5)
        key(app, pygame.K_SPACE)  # the board's jump button: it acts when let go
        wait_for(app, lambda a: a.input.held_buttons, 10)
        pygame.event.post(pygame.event.Event(pygame.KEYUP, key=pygame.K_SPACE, mod=0))
        wait_for(app, lambda a: a.state.how == "jump", 10)
    finally:
        app.shutdown()


# -- start-up errors and the command line ------------------------------------------------------------


def test_corrupt_model_shows_a_full_screen_message_and_exits_nonzero(tmp_path, capsys, models_dir):
    broken = tmp_path / "models"
    shutil.copytree(models_dir, broken)
    data = bytearray((broken / "generator.onnx").read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = b"\0" * 64
    (broken / "generator.onnx").write_bytes(bytes(data))
    out = tmp_path / "error.png"
    code = main(
        ["--models", str(broken), "--state-dir", str(tmp_path / "s"), "--screenshot", str(out), "--size", "960x540"]
    )
    err = capsys.readouterr().err
    assert code != 0 and "generator.onnx" in err and "restore onnx_models" in err
    shot = pygame.surfarray.array3d(pygame.image.load(str(out)))
    assert tuple(shot[5, 5]) == (40, 12, 14), "the error screen, not the kiosk"


def test_screenshot_command_writes_the_full_layout(tmp_path, shipped_models):
    """Every area drawn, and the hero is the design for --z (compared with a render of that z)."""
    from kiosk.render.image import plain_rgb
    from kiosk.ui.theme import Layout

    out = tmp_path / "shot.png"
    z = np.array([0, 0.5, 0, 0, 0, 0, 0, 0], np.float32)
    assert (
        main(
            [
                "--screenshot",
                str(out),
                "--size",
                "960x540",
                "--state-dir",
                str(tmp_path / "s"),
                "--z",
                ",".join(map(str, z)),
                "--print",
                "none",
            ]
        )
        == 0
    )
    image = pygame.image.load(str(out))
    assert image.get_size() == (960, 540)
    L = Layout(960, 540)
    shot = pygame.surfarray.array3d(image).astype(np.float32)

    def area(rect):
        return shot[rect.x : rect.right, rect.y : rect.bottom]

    for name, rect in (
        ("design", L.design_image),
        ("canvas", L.canvas),
        ("landmarks", L.landmarks),
        ("parameters", L.params),
        ("top bar", L.top),
        ("prints", L.prints),
        ("jump", L.jump),
    ):
        assert area(rect).std() > 5, f"{name} area looks blank"
    side = L.design_image.w
    want = plain_rgb(shipped_models.generate(z, side)[0]).transpose(1, 0, 2).astype(np.float32)  # (x, y, 3)
    inner = (slice(4, -4), slice(4, -4))  # inside the frame drawn around the image
    got = area(L.design_image)[inner]
    assert np.corrcoef(got.ravel(), want[inner].ravel())[0, 1] > 0.95, "the hero shows the design for --z"


@pytest.mark.parametrize(
    "args, words",
    [
        (["--z", "1,2,3"], "--z '1,2,3': give exactly 8"),
        (["--size", "99999x99999"], "--size '99999x99999': give WIDTHxHEIGHT"),
    ],
)
def test_bad_command_line_values_are_one_line_errors(tmp_path, capsys, args, words):
    with pytest.raises(SystemExit) as exit:
        main(args)
    lines = capsys.readouterr().err.strip().splitlines()
    assert exit.value.code == 2 and words in lines[-1] and lines[-1].startswith("fse-kiosk: error:"), lines
    assert not any("Traceback" in line for line in lines)


@pytest.mark.parametrize(
    "toml, words",
    [
        ('[display]\ndisplay_size = "10x10"\n', ["[display] display_size = '10x10'", "from 320x320"]),
        ("[input]\ndeadzon = 0.1\n", ["unknown key [input] 'deadzon'", "deadzone"]),
        (b'[booth]\nbooth_id = "caf\xe9"\n', ["not UTF-8", "re-save it as UTF-8"]),
        (None, ["is a directory", "kiosk.toml"]),
    ],
)
def test_a_bad_config_is_shown_on_the_error_page_not_a_black_screen(tmp_path, capsys, toml, words):
    """Before, a bad kiosk.toml exited before the display opened: the booth showed a black screen."""
    path = tmp_path / "conf" if toml is None else tmp_path / "kiosk.toml"
    if toml is None:
        path.mkdir()
    else:
        path.write_bytes(toml if isinstance(toml, bytes) else toml.encode())
    out = tmp_path / "error.png"
    code = main(
        ["--config", str(path), "--state-dir", str(tmp_path / "s"), "--screenshot", str(out), "--size", "960x540"]
    )
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("fse-kiosk:")]
    assert code == 2 and len(err) == 1 and err[0].startswith("fse-kiosk: config error:")
    for word in words:
        assert word in err[0], (word, err[0])
    shot = pygame.image.load(str(out))
    assert shot.get_size() == (960, 540) and tuple(shot.get_at((5, 5)))[:3] == (40, 12, 14), "the error page"


def test_a_print_name_in_another_case_is_the_catalogues_print(make_app, tmp_path):
    """`--print Leopard` used to show no print at all: the catalogue's names are lower-case."""
    assert make_app("--print", "Leopard").state.print_name == "leopard"
    conf = tmp_path / "kiosk.toml"
    conf.write_text('[session]\ndefault_print = "TARTAN"\n')
    assert make_app("--config", str(conf)).state.print_name == "tartan"


@pytest.mark.parametrize("source", ["--print", "kiosk.toml"])
def test_an_unknown_print_is_shown_on_the_error_page_with_the_prints_to_choose_from(tmp_path, capsys, source):
    """An unknown print used to start the kiosk plain without a word to the operator."""
    conf = tmp_path / "kiosk.toml"
    conf.write_text('[session]\ndefault_print = "tartn"\n' if source == "kiosk.toml" else "")
    out = tmp_path / "error.png"
    extra = ["--print", "tartn"] if source == "--print" else []
    code = main(
        [
            "--config",
            str(conf),
            "--state-dir",
            str(tmp_path / "s"),
            "--screenshot",
            str(out),
            "--size",
            "960x540",
            *extra,
        ]
    )
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("fse-kiosk:")]
    assert code == 2 and len(err) == 1 and err[0].startswith("fse-kiosk: config error:"), err
    where = "--print:" if source == "--print" else "[session] default_print"
    assert where in err[0] and "unknown print 'tartn'" in err[0] and "none, polka_dot, breton_stripe, tartan" in err[0]
    assert tuple(pygame.image.load(str(out)).get_at((5, 5)))[:3] == (40, 12, 14), "the error page"


@pytest.mark.parametrize(
    "damage, words",
    [
        (lambda m: m["models"]["generator"].pop("sha256"), "models.generator has no 'sha256' key"),
        (
            lambda m: m["models"]["encoder"]["inputs"][0].pop("shape"),
            "models.encoder.inputs[0] needs a name and a shape",
        ),
        (lambda m: m.pop("models"), 'has no "models" table'),
    ],
)
def test_a_manifest_with_a_missing_key_is_shown_on_the_error_page(tmp_path, capsys, models_dir, damage, words):
    broken = tmp_path / "models"
    shutil.copytree(models_dir, broken)
    manifest = json.loads((broken / "manifest.json").read_text())
    damage(manifest)
    (broken / "manifest.json").write_text(json.dumps(manifest))
    out = tmp_path / "error.png"
    code = main(
        ["--models", str(broken), "--state-dir", str(tmp_path / "s"), "--screenshot", str(out), "--size", "960x540"]
    )
    err = capsys.readouterr().err
    assert code == 4 and words in err and "restore onnx_models" in err and "Traceback" not in err
    assert tuple(pygame.image.load(str(out)).get_at((5, 5)))[:3] == (40, 12, 14)


def test_without_prints_a_visitor_reads_a_short_sentence_and_the_log_the_reason(tmp_path, models_dir, make_app, caplog):
    """Pressing P with prints.onnx missing showed a file path, cut off mid-sentence."""
    from kiosk.commands import PRINTS_OFF

    models = tmp_path / "models"
    shutil.copytree(models_dir, models, ignore=shutil.ignore_patterns("prints.onnx"))
    with caplog.at_level("WARNING", logger="kiosk"):
        app = make_app("--models", str(models), "--print", "none")
    key(app, pygame.K_p)
    app.step()
    assert [t.text for t in app.ui.status.toasts] == [PRINTS_OFF]
    assert "/" not in PRINTS_OFF and PRINTS_OFF.endswith(".") and len(PRINTS_OFF) < 50
    assert "prints.onnx" in caplog.text and "prints.onnx" in app.prints_message  # the journal and F12


def test_attract_after_keeps_a_longer_configured_session(tmp_path):
    """--attract-after used to set session_idle_s to a hard-coded 90 s, whatever the config said."""
    conf = tmp_path / "kiosk.toml"
    conf.write_text("[session]\nsession_idle_s = 300\n")
    from kiosk.startup import load_kiosk_config, parser

    config = load_kiosk_config(parser().parse_args(["--config", str(conf), "--attract-after", "5"]))
    assert (config.attract_after_s, config.session_idle_s) == (5.0, 300.0)
    config = load_kiosk_config(parser().parse_args(["--config", str(conf), "--attract-after", "600"]))
    assert (config.attract_after_s, config.session_idle_s) == (600.0, 600.0)


def test_no_display_is_a_clear_one_line_error(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["SDL_VIDEODRIVER"] = "x11"
    result = subprocess.run(
        [sys.executable, "-m", "kiosk.startup", "--windowed", "--joystick", "none", "--state-dir", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = [line for line in result.stderr.splitlines() if line.startswith("fse-kiosk:")]
    assert result.returncode == 3 and len(lines) == 1 and "no display" in lines[0]
    assert "Traceback" not in result.stderr


def _kiosk_imports() -> dict[str, set[str]]:
    """kiosk module -> the kiosk modules it imports at run time (inside functions too; not the
    `if TYPE_CHECKING:` ones, which never run)."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    files = {}
    for f in (root / "kiosk").rglob("*.py"):
        parts = f.relative_to(root).with_suffix("").parts
        files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    graph = {}
    for name, f in files.items():
        package = name if f.name == "__init__.py" else name.rpartition(".")[0]
        tree = ast.parse(f.read_text())
        type_only = {
            id(n)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for child in node.body
            for n in ast.walk(child)
        }
        found = set()
        for node in ast.walk(tree):
            if id(node) in type_only:
                continue
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
                module = ".".join([*base, node.module] if node.module else base)
                found |= {module} | {f"{module}.{a.name}" for a in node.names}
        graph[name] = {m for m in found if m in files and m != name}
    return graph


def test_the_kiosk_has_no_import_circles_and_its_entry_point_is_where_main_is_defined():
    """`fse-kiosk = kiosk.app:main` used to be a circle: app imported the stop signal from startup,
    startup built the App and set `app.args` on it, and app re-exported startup's main at its bottom."""
    from pathlib import Path

    import tomllib

    graph = _kiosk_imports()

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(m == goal or (m not in seen and not seen.add(m) and reaches(m, goal, seen)) for m in graph[start])

    circles = sorted(name for name in graph if reaches(name, name, set()))
    assert not circles, f"these kiosk modules import themselves through others: {circles}"

    root = Path(__file__).resolve().parents[1]
    target = tomllib.loads((root / "pyproject.toml").read_text())["project"]["scripts"]["fse-kiosk"]
    module, _, function = target.partition(":")
    source = (root / (module.replace(".", "/") + ".py")).read_text()
    assert f"\ndef {function}(" in source, f"{target}: {function} is not defined in {module}"
    assert "app.args" not in (root / "kiosk/startup.py").read_text(), "App declares what it holds"


def test_widgets_draw_from_the_frames_view_not_from_the_app():
    """Widgets read about 30 things off App (app.renders.capture_busy(), app.capture_log.status(),
    app.models.landmarks, ...); each now gets the frame's ScreenView (kiosk/ui/view.py) and, when
    made, what never changes."""
    import ast
    from pathlib import Path

    reaching = []
    for f in sorted((Path(__file__).resolve().parents[1] / "kiosk" / "ui").glob("*.py")):
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.Lambda)):
                reaching += [f"{f.name}:{node.lineno}" for a in node.args.args if a.arg == "app"]
            elif isinstance(node, ast.Name) and node.id == "app":
                reaching.append(f"{f.name}:{node.lineno}")
    assert not reaching, f"widgets that take or use the App: {sorted(set(reaching))}"


# -- the signature diagram --------------------------------------------------------------------------


def test_signature_is_a_smooth_closed_curve_through_every_value_anticlockwise():
    from kiosk.ui.signature import INNER, SAMPLES_PER_SEGMENT, radii

    values = np.array([1, -1, 0.5, 0, -0.5, 0.25, 0.75, -0.25])
    angles, r = radii(values)
    expected = INNER + (1 - INNER) * (values + 1) / 2
    assert np.allclose(r[::SAMPLES_PER_SEGMENT], expected)  # passes through each value
    assert np.all(np.diff(angles) > 0)  # anticlockwise (angle increasing)
    assert angles[0] == pytest.approx(np.pi / 2)  # parameter 1 at the top
    step = np.abs(np.diff(np.r_[r, r[0]]))
    assert step.max() < 0.15, "smooth, no jumps (closed: the end meets the start)"


# -- map mode -------------------------------------------------------------------------------------


def test_map_mode_without_a_map_file_says_so(tmp_path, models_dir, make_app):
    models = tmp_path / "models"
    shutil.copytree(models_dir, models, ignore=shutil.ignore_patterns("fashion_map.npz"))
    app = make_app("--models", str(models), "--show2d")
    assert app.ui.map.loader.loaded.wait(10)
    app.step()
    assert app.state.map_mode and app.ui.map.data is None and "fashion_map.npz" in app.ui.map.message
    assert "fse-analyze fit-map" in app.ui.map.message
    assert region(app, app.ui.map.rect).std() > 5


def test_map_mode_hover_shows_and_click_loads_a_design(tmp_path, models_dir, shipped_models, make_app):
    """A map of the landmarks' latent z, written and listed in the manifest by the analysis' own
    writer; a click glides to the landmark's slider positions."""
    from analysis.refmap import write_reference
    from contract.mapfile import FashionMap

    models = tmp_path / "models"
    shutil.copytree(models_dir, models, ignore=shutil.ignore_patterns("fashion_map.npz"))
    zs = np.stack([lm.z for lm in shipped_models.landmarks])  # slider positions
    xy = np.linspace(0.05, 0.95, len(zs) * 2, dtype=np.float32).reshape(-1, 2)
    designs = np.round(shipped_models.generate(zs, 28) * 255).astype(np.uint8)
    write_reference(
        models,
        FashionMap(
            xy,
            shipped_models.latent.to_z(zs),  # the map is in the generator's latent
            np.arange(len(zs), dtype=np.int16) % 10,
            tuple(f"class {i}" for i in range(10)),
            3,
            shipped_models.manifest["models"]["encoder"]["sha256"],
            design=designs,
        ),
    )
    app = make_app("--models", str(models), "--z", "0,0,0,0,0,0,0,0")
    key(app, pygame.K_m)
    app.step()
    assert app.ui.map.loader.loaded.wait(10)
    assert app.state.map_mode and app.ui.map.data is not None, app.ui.map.message
    point = app.ui.map.screen_points()[5]
    pos = (int(round(point[0])), int(round(point[1])))
    pygame.event.post(pygame.event.Event(pygame.MOUSEMOTION, pos=pos, rel=(0, 0), buttons=(0, 0, 0)))
    app.step()
    assert app.ui.map.hover_index == 5
    mouse("down", pos)
    mouse("up", pos)
    steps(app, int(app.config.glide_s * 30) + 3)
    assert np.allclose(app.state.z, zs[5], atol=1e-4) and app.state.how == "map"
    # Jump and Capture stay on screen in map mode (they used to be under the map)
    shown = app.ui.widgets(map_mode=True)
    buttons = app.ui.map_actions
    assert buttons in shown and not buttons.rect.colliderect(app.ui.map.rect)
    assert region(app, buttons.jump).std() > 5
    mouse("down", buttons.jump.center)
    mouse("up", buttons.jump.center)
    app.step()
    assert app.state.how == "jump" and app.state.map_mode


def test_sigterm_stops_the_fullscreen_kiosk_cleanly(tmp_path):
    """systemd stops the kiosk with SIGTERM; SDL would turn it into a QUIT that kiosk mode ignores."""
    import signal
    import time

    env = dict(os.environ, SDL_VIDEODRIVER="dummy")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kiosk.startup",
            "--joystick",
            "none",
            "--state-dir",
            str(tmp_path),
            "--size",
            "640x360",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "log.sqlite").exists() and time.monotonic() < deadline:
            time.sleep(0.05)  # polling for start-up with a deadline
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_frames_are_paced_on_a_fixed_grid_and_resync_when_far_behind(monkeypatch):
    """FramePacer on a fake clock: a late frame does not shift the ones after it, a frame more than
    a period behind starts a new grid instead of a burst, the last HOLD_S before a frame is due
    spins without yielding the GIL, and an idle frame never spins."""
    from kiosk import app as kiosk_app

    clock = {"t": 100.0, "yields": 0, "last_yield": 0.0}

    def perf_counter():
        clock["t"] += 1e-6  # reading the clock takes a moment, as the real one does
        return clock["t"]

    def sleep(s):
        if s == 0:
            clock["yields"] += 1
            clock["last_yield"] = clock["t"]
        clock["t"] += s if s > 0 else 0.0001

    monkeypatch.setattr(kiosk_app.time, "perf_counter", perf_counter)
    monkeypatch.setattr(kiosk_app.time, "sleep", sleep)
    pacer = kiosk_app.FramePacer(60)
    period = 1 / 60
    ends = []
    for work in (0.002, 0.012, 0.004):  # the middle frame drew for 12 ms
        clock["t"] += work
        due = pacer.next
        pacer.wait()
        ends.append(clock["t"])
        assert clock["last_yield"] <= due - kiosk_app.HOLD_S, "no yield in the last HOLD_S"
    assert np.allclose(np.diff(ends), period, atol=2e-4), "presents on the grid whatever the work took"
    clock["t"] += 0.05  # a stall of three frames
    pacer.wait()
    assert pacer.next == pytest.approx(clock["t"] + period, abs=1e-3), "a new grid, not a burst of frames"
    clock["yields"] = 0
    pacer.wait(spin=False)
    assert clock["yields"] == 0


REALTIME_CHILD = """
import logging, os, sys
logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
from kiosk.app import realtime_ui_thread
print(realtime_ui_thread(), os.sched_getscheduler(0) & ~os.SCHED_RESET_ON_FORK == os.SCHED_RR, flush=True)
"""


@pytest.mark.parametrize("rtprio", [1, 0])
def test_the_ui_thread_is_real_time_exactly_when_the_unit_grants_it(rtprio, tmp_path):
    """fse-kiosk.service runs the kiosk unprivileged with LimitRTPRIO=1 (and without RestrictRealtime=):
    that limit alone must let the UI thread go real-time; without it the kiosk runs on at normal
    priority and says why in the journal. Here: root without CAP_SYS_NICE (setpriv), so the limit is
    what decides, as for the booth's fse user."""
    if os.geteuid() != 0 or not shutil.which("setpriv") or not shutil.which("prlimit"):
        pytest.skip("needs root to drop CAP_SYS_NICE for the check (setpriv, prlimit)")
    if rtprio and subprocess.run(["prlimit", f"--rtprio={rtprio}", "true"], capture_output=True).returncode:
        pytest.skip("root here may not raise RLIMIT_RTPRIO (no CAP_SYS_RESOURCE in this container)")
    unit = (ROOT / "systemd" / "fse-kiosk.service").read_text()
    assert "\nLimitRTPRIO=1\n" in unit and "\nRestrictRealtime=no\n" in unit
    result = subprocess.run(
        ["prlimit", f"--rtprio={rtprio}", "setpriv", "--bounding-set=-sys_nice", sys.executable, "-c", REALTIME_CHILD],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "NOTIFY_SOCKET": str(tmp_path / "notify")},  # as under systemd
    )
    assert result.returncode == 0, result.stderr
    if rtprio:
        assert result.stdout.split()[-2:] == ["True", "True"], result.stdout + result.stderr
    else:
        assert result.stdout.split()[-2:] == ["False", "False"], result.stdout + result.stderr
        assert "WARNING the UI thread runs at normal priority" in result.stderr and "LimitRTPRIO=1" in result.stderr
