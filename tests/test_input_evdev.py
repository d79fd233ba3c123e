"""The evdev backend's mapping and event handling.

No /dev/uinput in CI (or here), so no virtual device can be created: the mapping and the per-event
state are tested with real evdev codes, fed as the kernel would deliver them. Device discovery
and hot-plug need a real joystick and are exercised on the booth.
"""

from __future__ import annotations

import pytest

evdev = pytest.importorskip("evdev")
from evdev import ecodes  # noqa: E402

from kiosk.input.calibration import AxisCalibration  # noqa: E402
from kiosk.input.evdev_backend import DEFAULT_MAP, EvdevMapping, EvdevState, MappingError  # noqa: E402
from kiosk.input.hub import InputHub  # noqa: E402
from kiosk.input.state import Button  # noqa: E402


def test_default_map_covers_every_button_and_8_axes():
    mapping = EvdevMapping.from_config(None)
    assert len(mapping.axes) == 8
    assert set(mapping.buttons.values()) == set(Button)
    assert mapping.buttons[ecodes.BTN_SOUTH] is Button.CAPTURE
    assert mapping.buttons[ecodes.BTN_TRIGGER] is Button.CAPTURE


def test_events_update_raw_axes_and_button_mask():
    mapping = EvdevMapping.from_config(DEFAULT_MAP)
    state = EvdevState(mapping, tuple(AxisCalibration(0, -32768, 32767) for _ in range(8)))
    assert state.apply(ecodes.EV_ABS, ecodes.ABS_RX, 12000)
    assert state.raw[2] == 12000
    assert state.apply(ecodes.EV_KEY, ecodes.BTN_EAST, 1)
    assert state.buttons == 1 << 1  # jump
    assert not state.apply(ecodes.EV_KEY, ecodes.BTN_EAST, 2)  # autorepeat is not a new press
    assert state.apply(ecodes.EV_KEY, ecodes.BTN_EAST, 0)
    assert state.buttons == 0
    assert not state.apply(ecodes.EV_KEY, ecodes.KEY_A, 1)  # unmapped


def test_custom_map_and_touchpads_are_not_joysticks():
    mapping = EvdevMapping.from_config({"axes": ["ABS_Y"], "buttons": {"KEY_SPACE": "random"}})
    assert mapping.matches({ecodes.EV_ABS: [(ecodes.ABS_Y, None)]})
    assert mapping.matches({ecodes.EV_KEY: [ecodes.KEY_SPACE]})
    assert not EvdevMapping.from_config(None).matches(
        {ecodes.EV_ABS: [(ecodes.ABS_X, None)], ecodes.EV_KEY: [ecodes.BTN_TOUCH]}
    )


@pytest.mark.parametrize(
    "config, message",
    [
        ({"axes": ["ABS_WHATEVER"]}, "not an ABS_ code"),
        ({"buttons": {"BTN_SOUTH": "teleport"}}, "buttons are capture"),
        ({"buttons": {"ABS_X": "capture"}}, "not a BTN_ or KEY_"),
        ({"axes": ["ABS_X"] * 9}, "the kiosk has 8"),
        ({"sticks": []}, "unknown keys"),
    ],
)
def test_bad_maps_are_refused_with_a_message(config, message):
    with pytest.raises(MappingError, match=message):
        EvdevMapping.from_config(config)


def test_hub_on_a_missing_evdev_node_reports_disconnected(tmp_path):
    hub = InputHub(f"evdev:{tmp_path}/event99", state_dir=tmp_path)
    hub.start()
    try:
        (source,) = hub.poll().sources
        assert source.kind == "evdev" and not source.connected
        assert "event99" in source.detail
    finally:
        hub.stop()
