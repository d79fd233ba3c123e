"""The kiosk's joystick input: the board over serial, any evdev joystick, one polled state.

    from kiosk.input import InputHub, Button
    hub = InputHub("sim")            # or "auto", "none", "/dev/fse-joystick", "evdev:/dev/input/event3"
    hub.start(); snapshot = hub.poll(); hub.stop()

Modules: protocol (the pure wire-protocol parser), serial_backend, evdev_backend, calibration,
simulator (`fse-joystick-sim`), calibrate (`fse-calibrate`), hub (InputHub), state (the types).
"""

from kiosk.input.hub import InputHub
from kiosk.input.state import Button, ButtonEvent, InputSnapshot, SourceHealth

__all__ = ["Button", "ButtonEvent", "InputHub", "InputSnapshot", "SourceHealth"]
