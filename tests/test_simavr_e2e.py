"""End to end: the real compiled firmware in simavr, read through the kiosk's own serial backend.

The harness (tests/simavr_board.py) runs firmware/build-nano/joystick_board.elf on a simulated
ATmega328P with its UART on a pty; the test sets ADC voltages and button pins through the
harness's stdin and checks what InputHub (the same code the kiosk runs) makes of them.
"""

from __future__ import annotations

import json
import math

import pytest
from simavr_board import SUPPLY_MV, Board, build_or_skip
from waiting import wait_for

from kiosk.input import Button, InputHub
from kiosk.input.calibration import shape
from kiosk.input.protocol import FIRMWARE_VERSION

DEADZONE, EXPO = 0.1, 0.5
# A deliberately off-centre calibration, so the test proves the stored calibration is applied.
CENTRE, LOW, HIGH = 400, 100, 900
VOLTAGES_MV = [5000, 0, 1000, 3750, 1955, 2500, 600, 4000]


@pytest.fixture(scope="module")
def built():
    build_or_skip()


def expected_axis(millivolts: int) -> tuple[float, bool]:
    raw = millivolts * 1023 // SUPPLY_MV  # simavr's ADC transfer: vin * 0x3ff / aref, truncated
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
        wait_for(
            lambda: hub.poll().sources[0].detail.endswith(f"fw {FIRMWARE_VERSION}"), what="the firmware's identity line"
        )

        expected = [expected_axis(mv) for mv in VOLTAGES_MV]
        snapshot = wait_for(
            lambda: (lambda s: s if s.t and s.axes[0] == 1.0 else None)(hub.poll()),
            what="a frame with the injected voltages",
        )
        assert snapshot.axes == pytest.approx([e[0] for e in expected], abs=1e-12)
        assert snapshot.active == tuple(e[1] for e in expected)
        assert snapshot.active[4] is False and snapshot.axes[4] == 0.0  # inside the deadzone
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

        health = wait_for(
            lambda: (lambda h: h if h.frames >= 40 else None)(hub.poll().sources[0]),
            what="40 frames, to measure the rate",
        )
        assert health.dropped == 0 and health.lost == 0, health
        assert health.frames_per_s > 50, f"the firmware should report at about 100 Hz: {health}"
        assert all(math.isfinite(a) for a in hub.poll().axes)
    finally:
        hub.stop()
        board.close()
