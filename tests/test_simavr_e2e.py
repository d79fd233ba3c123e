"""End to end: the real compiled firmware in simavr, read through the kiosk's own serial backend.

tests/simavr/fse_board_sim runs firmware/build-nano/joystick_board.elf on a simulated ATmega328P
and bridges its UART to a pty; the test sets ADC voltages and button pins through the harness's
stdin and checks what InputHub (the same code the kiosk runs) makes of them. Needs Debian's
arduino-mk, gcc-avr, avr-libc, simavr and libsimavr-dev (scripts/setup-system.sh installs them).
"""
from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path

import pytest

from kiosk.input import Button, InputHub
from kiosk.input.calibration import shape
from waiting import wait_for

ROOT = Path(__file__).resolve().parent.parent
ELF = ROOT / "firmware" / "build-nano" / "joystick_board.elf"
HARNESS = ROOT / "tests" / "simavr" / "build" / "fse_board_sim"
SUPPLY_MV = 5000
DEADZONE, EXPO = 0.1, 0.5
# A deliberately off-centre calibration, so the test proves the stored calibration is applied.
CENTRE, LOW, HIGH = 400, 100, 900
VOLTAGES_MV = [5000, 0, 1000, 3750, 1955, 2500, 600, 4000]


def toolchain_missing() -> str | None:
    needs = {"avr-gcc": shutil.which("avr-gcc"), "/usr/share/arduino/Arduino.mk": Path("/usr/share/arduino/Arduino.mk").exists(),
             "simavr headers": Path("/usr/include/simavr/parts/uart_pty.h").exists()}
    missing = [name for name, ok in needs.items() if not ok]
    return ", ".join(missing) if missing else None


@pytest.fixture(scope="module")
def built():
    missing = toolchain_missing()
    if missing:
        pytest.skip(f"cannot build the firmware/harness: {missing} missing; run scripts/setup-system.sh")
    for target in (["make", "-s", "-C", str(ROOT / "firmware"), "nano"], ["make", "-s", "-C", str(ROOT / "tests" / "simavr")]):
        result = subprocess.run(target, capture_output=True, text=True)
        assert result.returncode == 0, f"{' '.join(target)} failed:\n{result.stderr[-2000:]}"
    assert ELF.exists() and HARNESS.exists()


class Board:
    """The harness process: stdin commands, stdout replies."""

    def __init__(self) -> None:
        self.process = subprocess.Popen([str(HARNESS), str(ELF)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, text=True, bufsize=1)
        line = self.process.stdout.readline()
        assert line.startswith("pty "), f"harness said {line!r}"
        self.pty = line.split()[1]

    def command(self, text: str) -> str:
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()
        return self.process.stdout.readline().strip()

    def close(self) -> None:
        try:
            self.process.stdin.write("quit\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            pass
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()




def expected_axis(millivolts: int) -> tuple[float, bool]:
    raw = millivolts * 1023 // SUPPLY_MV   # simavr's ADC transfer: vin * 0x3ff / aref, truncated
    span = HIGH - CENTRE if raw >= CENTRE else CENTRE - LOW
    value = max(-1.0, min(1.0, (raw - CENTRE) / span))
    return shape(value, DEADZONE, EXPO), abs(value) > DEADZONE


@pytest.mark.slow
def test_firmware_in_simavr_reaches_the_kiosk_as_calibrated_axes_and_single_button_events(built, tmp_path):
    axis = {"centre": CENTRE, "min": LOW, "max": HIGH}
    (tmp_path / "joystick_calibration.json").write_text(json.dumps({"version": 1, "sources": {"serial": [axis] * 8}}))
    board = Board()
    hub = InputHub(board.pty, state_dir=tmp_path, deadzone=DEADZONE, expo=EXPO)
    try:
        hub.start()
        # Hold the CPU until the port is open: pyserial flushes input on open.
        wait_for(lambda: hub.poll().sources[0].connected, what="the hub to open the pty")
        for channel, millivolts in enumerate(VOLTAGES_MV):
            assert board.command(f"adc {channel} {millivolts}") == "ok"
        assert board.command("go") == "running"
        wait_for(lambda: hub.poll().sources[0].detail.endswith("fw 1.0"), what="the firmware's identity line")

        expected = [expected_axis(mv) for mv in VOLTAGES_MV]
        snapshot = wait_for(lambda: (lambda s: s if s.t and s.axes[0] == 1.0 else None)(hub.poll()),
                            what="a frame with the injected voltages")
        assert snapshot.axes == pytest.approx([e[0] for e in expected], abs=1e-12)
        assert snapshot.active == tuple(e[1] for e in expected)
        assert snapshot.active[4] is False and snapshot.axes[4] == 0.0   # inside the deadzone
        assert snapshot.events == ()

        # One press: exactly one event, however many frames carry the held button.
        assert board.command("button 0 1") == "ok"
        events = wait_for(lambda: hub.poll().events, what="the capture press")
        frames_then = hub.poll().sources[0].frames
        wait_for(lambda: hub.poll().sources[0].frames >= frames_then + 10, what="10 more frames")
        assert [(e.button, e.pressed, e.source) for e in events] == [(Button.CAPTURE, True, "serial")]
        assert hub.poll().events == ()

        assert board.command("button 0 0") == "ok"
        released = wait_for(lambda: hub.poll().events, what="the capture release")
        assert [(e.button, e.pressed) for e in released] == [(Button.CAPTURE, False)]

        health = wait_for(lambda: (lambda h: h if h.frames >= 40 else None)(hub.poll().sources[0]),
                          what="40 frames, to measure the rate")
        assert health.dropped == 0 and health.lost == 0, health
        assert health.frames_per_s > 50, f"the firmware should report at about 100 Hz: {health}"
        assert all(math.isfinite(a) for a in hub.poll().axes)
    finally:
        hub.stop()
        board.close()
