"""The command-line tools on real ptys: fse-joystick-sim (script-driven) and fse-calibrate."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from waiting import wait_for

from kiosk.input import Button, InputHub
from kiosk.input.simulator import SimulatedBoard


def test_fse_joystick_sim_script_produces_frames_the_hub_reads(tmp_path):
    script = tmp_path / "demo.txt"
    script.write_text("# lean the first two sticks\naxis 0 1.0\naxis 1 -1\nraw 7 0\n")
    link = tmp_path / "fse-joystick"
    process = subprocess.Popen(
        [sys.executable, "-m", "kiosk.input.simulator", "--script", str(script), "--link", str(link)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    hub = InputHub(str(link), state_dir=tmp_path)
    try:
        assert str(link) in process.stdout.readline()
        hub.start()
        snapshot = wait_for(
            lambda: (lambda s: s if s.axes[0] == 1.0 and s.axes[7] == -1.0 else None)(hub.poll()),
            what="the script's axes",
        )
        assert snapshot.axes[1] == -1.0 and snapshot.axes[2] == 0.0
        process.stdin.write("tap capture\n")
        process.stdin.flush()
        events = []
        wait_for(lambda: events.extend(hub.poll().events) or len(events) >= 2, what="press and release")
        assert [(e.button, e.pressed) for e in events] == [(Button.CAPTURE, True), (Button.CAPTURE, False)]
    finally:
        hub.stop()
        process.stdin.write("quit\n")
        process.stdin.close()
        assert process.wait(5) == 0


def test_fse_joystick_sim_bad_script_line_names_it(tmp_path):
    script = tmp_path / "bad.txt"
    script.write_text("axis 0 0.5\npress parachute\n")
    result = subprocess.run(
        [sys.executable, "-m", "kiosk.input.simulator", "--script", str(script), "--exit"],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert result.returncode == 2
    assert "bad.txt:2" in result.stderr and "parachute" in result.stderr and "capture" in result.stderr
    assert "Traceback" not in result.stderr


def test_fse_calibrate_records_centre_and_extremes(tmp_path):
    board = SimulatedBoard(tmp_path / "board").start()
    for axis in range(8):
        board.set_raw(axis, 500)
    process = subprocess.Popen(
        [sys.executable, "-m", "kiosk.input.calibrate", "--joystick", board.path, "--state-dir", str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: "1/2" in process.stdout.readline(), timeout=15, what="step 1")
        process.stdin.write("\n")
        process.stdin.flush()
        wait_for(lambda: "2/2" in process.stdout.readline(), timeout=15, what="step 2")
        for axis in range(8):
            for raw in (40 + axis, 980 - axis, 500):
                board.set_raw(axis, raw)
                time.sleep(0.03)  # a few frames at each extreme, as a hand would
        process.stdin.write("\n")
        process.stdin.flush()
        out, err = process.communicate(timeout=15)
        assert process.returncode == 0, err
    finally:
        board.stop()
    saved = json.loads((tmp_path / "joystick_calibration.json").read_text())["sources"]["serial"]
    assert [a["centre"] for a in saved] == [500] * 8
    assert [a["min"] for a in saved] == [40 + k for k in range(8)]
    assert [a["max"] for a in saved] == [980 - k for k in range(8)]


def test_fse_calibrate_without_a_board_says_what_to_do(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "kiosk.input.calibrate",
            "--joystick",
            str(tmp_path / "nothing"),
            "--state-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin", "FSE_CALIBRATE_CONNECT_S": "1"},
    )
    assert result.returncode == 1
    assert "no joystick" in result.stderr and "USB cable" in result.stderr
    assert "Traceback" not in result.stderr
