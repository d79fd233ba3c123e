"""InputHub on a real pty: the in-process simulated board through the real serial backend.

The simulator stands in for the physical board (it can't exist in CI); the pty, pyserial, the
reader thread and the parser are the real ones. Faults are injected on the wire.
"""

from __future__ import annotations

import json
import re
import resource
import time
from pathlib import Path

import pytest
from waiting import wait_for

from kiosk.input import Button, InputHub
from kiosk.input.calibration import CalibrationStore, shape
from kiosk.input.protocol import FIRMWARE_VERSION, Identity, encode_frame, encode_identity
from kiosk.input.serial_backend import KNOWN_USB_IDS


@pytest.fixture
def hub(tmp_path):
    hub = InputHub("sim", state_dir=tmp_path)
    hub.start()
    wait_for(
        lambda: hub.poll().sources[0].detail.endswith(f"fw {FIRMWARE_VERSION}"), what="the simulated board's identity"
    )
    yield hub
    hub.stop()


def health(hub):
    return hub.poll().sources[0]


def test_axes_and_buttons_arrive(hub):
    sim = hub.simulator
    sim.set_axis(0, 1.0)
    sim.set_axis(1, -0.5)
    sim.press("next_landmark")
    snapshot = wait_for(lambda: (lambda s: s if s.axes[0] == 1.0 else None)(hub.poll()), what="axis 0 at full")
    raw1 = sim.raw[1]
    expected = shape((raw1 - 511.5) / 511.5, hub.deadzone, hub.expo)
    assert snapshot.axes[1] == pytest.approx(expected)
    assert snapshot.active[:3] == (True, True, False)
    events = snapshot.events or wait_for(lambda: hub.poll().events, what="the press")
    assert [(e.button, e.pressed, e.source) for e in events] == [(Button.NEXT_LANDMARK, True, "sim")]
    sim.release("next_landmark")
    assert [e.pressed for e in wait_for(lambda: hub.poll().events, what="the release")] == [False]


def test_none_and_bad_joystick_setting():
    hub = InputHub("none")
    hub.start()
    snapshot = hub.poll()
    assert snapshot.axes == (0.0,) * 8 and snapshot.sources == () and snapshot.events == ()
    hub.stop()
    with pytest.raises(ValueError, match='expected "auto"'):
        InputHub("joystick-please")


def test_unplug_shows_disconnected_centres_axes_and_reconnects_within_2s(hub):
    sim = hub.simulator
    sim.set_axis(2, 1.0)
    wait_for(lambda: hub.poll().axes[2] == 1.0, what="axis 2")
    sim.unplug()
    snapshot = wait_for(lambda: (lambda s: s if not s.sources[0].connected else None)(hub.poll()), what="disconnect")
    assert snapshot.axes == (0.0,) * 8, "a vanished stick must not keep steering"
    assert "disconnected" in snapshot.sources[0].detail
    time.sleep(0.3)  # stays gone while unplugged, without errors
    assert not health(hub).connected
    sim.replug()
    returned = time.monotonic()
    wait_for(lambda: health(hub).connected and hub.poll().axes[2] == 1.0, timeout=2.0, what="reconnect within 2 s")
    assert time.monotonic() - returned < 2.0


def test_a_board_gone_silent_is_reopened_and_streams_again_after_its_reset(hub):
    sim = hub.simulator
    sim.set_axis(5, 1.0)
    wait_for(lambda: hub.poll().axes[5] == 1.0, what="axis 5")
    asked = sim.identity_requests
    sim.hang()
    # No frame for FRAME_SILENCE_S: the kiosk closes the port and opens it again, and asks who is
    # there (on a real board, the open's DTR pulse is what resets it).
    wait_for(lambda: sim.identity_requests > asked, what="the kiosk reopening the silent port")
    assert health(hub).connected and "no identity yet" in health(hub).detail
    sim.reset()
    wait_for(lambda: health(hub).detail.endswith(f"fw {FIRMWARE_VERSION}"), what="the identity after the reset")
    frames = health(hub).frames
    wait_for(lambda: health(hub).frames > frames + 10 and hub.poll().axes[5] == 1.0, what="frames after the reset")
    assert health(hub).lost == 0


def test_garbage_partial_frames_bad_checksums_are_counted_and_the_stream_recovers(hub):
    sim = hub.simulator
    before = health(hub)
    good = encode_frame(0, (512,) * 8, 0)
    sim.send_raw(b"\x00\xffnoise\n" + good[:20] + b"\n" + good.replace(b"D,0", b"D,1", 1) + b"D,1,2*00\n")
    wait_for(lambda: health(hub).dropped >= before.dropped + 4, what="4 drops counted")
    sim.set_axis(3, -1.0)
    wait_for(lambda: hub.poll().axes[3] == -1.0, what="frames after the garbage")


def test_out_of_range_values_are_dropped(hub):
    sim = hub.simulator
    before = health(hub).dropped
    sim.send_raw(encode_frame(5, (2000,) + (512,) * 7, 0) + encode_frame(5, (512,) * 8, 200))
    wait_for(lambda: health(hub).dropped == before + 2, what="2 range drops")
    assert hub.poll().axes[0] != 1.0


def test_wrong_protocol_version_is_refused_and_named(hub):
    sim = hub.simulator
    sim.send_raw(encode_identity(Identity(7, "9.9", "nano", 8, 6)))
    detail = wait_for(
        lambda: (lambda h: h.detail if "protocol 7" in h.detail else None)(health(hub)),
        what="the version problem in the health detail",
    )
    assert "flash" in detail
    dropped = health(hub).dropped
    sim.set_axis(0, 1.0)
    wait_for(lambda: health(hub).dropped > dropped + 5, what="frames refused")
    assert hub.poll().axes[0] == 0.0


def test_sequence_gaps_are_counted_as_lost(hub):
    sim = hub.simulator
    wait_for(lambda: health(hub).frames >= 2, what="a sequence to compare against")
    with sim._lock:
        sim.seq = (sim.seq + 10) % 256
    wait_for(lambda: health(hub).lost >= 10, what="the gap counted")
    assert health(hub).dropped == 0


def test_flood_is_survived_with_bounded_memory(hub):
    sim = hub.simulator
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    garbage = b"Z" * 4000
    frames = b"".join(encode_frame(s % 256, (700,) * 8, 0) for s in range(70))
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        sim.send_raw(garbage)
        sim.send_raw(b"\n" + frames)
    sim.set_axis(6, 1.0)
    wait_for(lambda: hub.poll().axes[6] == 1.0, what="normal frames after the flood")
    h = health(hub)
    assert h.connected and h.dropped > 0
    assert len(hub.sources[0].parser._buffer) < 80
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before < 50_000  # KiB


def test_event_queue_is_bounded_when_nobody_polls(hub):
    sim = hub.simulator
    for _ in range(200):
        sim.send_raw(encode_frame(0, (512,) * 8, 1) + encode_frame(0, (512,) * 8, 0))
    time.sleep(0.2)  # nobody polls: that's the point
    wait_for(lambda: hub._overflow > 0, what="overflow counted")
    assert len(hub.poll().events) <= 256


def test_calibration_file_is_applied_and_a_corrupt_one_is_survived(tmp_path):
    (tmp_path / "joystick_calibration.json").write_text(
        json.dumps({"version": 1, "sources": {"serial": [{"centre": 300, "min": 100, "max": 500}] * 8}})
    )
    hub = InputHub("sim", state_dir=tmp_path, deadzone=0.0, expo=0.0)
    hub.start()
    try:
        hub.simulator.set_raw(0, 400)
        snapshot = wait_for(lambda: (lambda s: s if s.axes[0] else None)(hub.poll()), what="a frame")
        assert snapshot.axes[0] == pytest.approx(0.5)
    finally:
        hub.stop()
    (tmp_path / "joystick_calibration.json").write_text("{not json")
    store = CalibrationStore(tmp_path)
    assert store.get("serial", ("nominal",)) == ("nominal",)


def test_udev_rule_names_the_usb_ids_the_serial_backend_accepts():
    """A board auto-detect accepts must also get /dev/fse-joystick, and the reverse."""
    rules = (Path(__file__).resolve().parent.parent / "systemd" / "99-fse-joystick.rules").read_text()
    in_rules = set()
    for line in rules.splitlines():
        if line.startswith("#") or "idVendor" not in line:
            continue
        vendor = re.search(r'ATTRS\{idVendor\}=="([0-9a-f]{4})"', line)
        product = re.search(r'ATTRS\{idProduct\}=="([0-9a-f]{4})"', line)
        assert vendor and 'SYMLINK+="fse-joystick"' in line, line
        in_rules.add((int(vendor[1], 16), int(product[1], 16) if product else None))
    assert in_rules == KNOWN_USB_IDS
