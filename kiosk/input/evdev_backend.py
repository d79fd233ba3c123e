"""Any Linux joystick, gamepad or arcade encoder through evdev (python-evdev), hot-plugged.

ABS axes and keys map to the kiosk's 8 axes and buttons through a mapping (DEFAULT_MAP, or the
`evdev_map` given to InputHub, same shape):

    {"axes": ["ABS_X", "ABS_Y", ...],                  # position k drives axis k; up to 8
     "buttons": {"BTN_SOUTH": "capture", ...}}         # key name -> Button value

A device is taken when it has at least one mapped axis or button. With a fixed path
("evdev:/dev/input/event5") only that node is used; otherwise the first matching device. When it
vanishes (ENODEV) the source looks again every 0.5 s.
"""

from __future__ import annotations

import errno
import logging
import os
import select
import threading
import time
from dataclasses import dataclass
from typing import Callable

from kiosk.input.calibration import AxisCalibration, nominal
from kiosk.input.protocol import AXES
from kiosk.input.serial_backend import RateMeter
from kiosk.input.state import BUTTON_BITS, Button, SourceHealth

try:
    import evdev
    from evdev import ecodes
except ImportError:  # not Linux, or the kiosk-only venv without evdev
    evdev = None
    ecodes = None

log = logging.getLogger(__name__)

RESCAN_S = 0.5

DEFAULT_MAP = {
    # Gamepads name sticks X/Y, RX/RY, triggers Z/RZ, the d-pad HAT0; arcade encoders use X/Y.
    "axes": ["ABS_X", "ABS_Y", "ABS_RX", "ABS_RY", "ABS_Z", "ABS_RZ", "ABS_HAT0X", "ABS_HAT0Y"],
    "buttons": {
        # Gamepad face and shoulder buttons...
        "BTN_SOUTH": "capture",
        "BTN_EAST": "jump",
        "BTN_NORTH": "next_print",
        "BTN_WEST": "random",
        "BTN_TR": "next_landmark",
        "BTN_TL": "spare",
        # ...and the first six buttons of a joystick or a USB arcade encoder.
        "BTN_TRIGGER": "capture",
        "BTN_THUMB": "jump",
        "BTN_THUMB2": "next_print",
        "BTN_TOP": "random",
        "BTN_TOP2": "next_landmark",
        "BTN_PINKIE": "spare",
    },
}


class MappingError(ValueError):
    """An evdev mapping the kiosk cannot use; the message names the entry and what is allowed."""


@dataclass(frozen=True)
class EvdevMapping:
    axes: tuple[int, ...]  # ABS code per kiosk axis
    buttons: dict[int, Button]  # KEY/BTN code -> Button

    @classmethod
    def from_config(cls, config: dict | None) -> "EvdevMapping":
        if ecodes is None:
            raise MappingError("python-evdev is not installed; pip install evdev (Linux only)")
        config = DEFAULT_MAP if config is None else config
        unknown = set(config) - {"axes", "buttons"}
        if unknown:
            raise MappingError(f"evdev map has unknown keys {sorted(unknown)}; expected 'axes' and 'buttons'")
        names = list(config.get("axes", []))
        if len(names) > AXES:
            raise MappingError(f"evdev map lists {len(names)} axes; the kiosk has {AXES}")
        axes = []
        for name in names:
            code = ecodes.ecodes.get(name)
            if code is None or not name.startswith("ABS_"):
                raise MappingError(f"evdev map axis {name!r} is not an ABS_ code; see `evtest` for the device's names")
            axes.append(code)
        buttons = {}
        for name, button in dict(config.get("buttons", {})).items():
            code = ecodes.ecodes.get(name)
            if code is None or not name.startswith(("BTN_", "KEY_")):
                raise MappingError(f"evdev map button {name!r} is not a BTN_ or KEY_ code; see `evtest`")
            try:
                buttons[code] = Button(button)
            except ValueError:
                raise MappingError(
                    f"evdev map sends {name} to {button!r}; buttons are " + ", ".join(b.value for b in Button)
                ) from None
        return cls(tuple(axes), buttons)

    def matches(self, capabilities: dict[int, list]) -> bool:
        abs_codes = {c[0] if isinstance(c, tuple) else c for c in capabilities.get(ecodes.EV_ABS, [])}
        keys = set(capabilities.get(ecodes.EV_KEY, []))
        if ecodes.BTN_TOUCH in keys:
            return False  # touchpads and touchscreens report ABS_X/ABS_Y too; they are not sticks
        return bool(abs_codes & set(self.axes)) or bool(keys & set(self.buttons))


class EvdevState:
    """Raw axis values and the button mask, updated event by event (pure: no device needed)."""

    def __init__(self, mapping: EvdevMapping, calibration: tuple[AxisCalibration, ...]) -> None:
        self.mapping = mapping
        self.raw = [c.centre for c in calibration]
        self.buttons = 0
        self._axis_of = {code: k for k, code in enumerate(mapping.axes)}

    def apply(self, event_type: int, code: int, value: int) -> bool:
        """True when the event changed something the kiosk sees (report on EV_SYN only)."""
        if event_type == ecodes.EV_ABS and code in self._axis_of:
            self.raw[self._axis_of[code]] = value
            return True
        if event_type == ecodes.EV_KEY and code in self.mapping.buttons and value in (0, 1):
            bit = 1 << BUTTON_BITS.index(self.mapping.buttons[code])
            self.buttons = self.buttons | bit if value else self.buttons & ~bit
            return True
        return False  # autorepeat (value 2), unmapped codes


def calibration_from_device(device, mapping: EvdevMapping) -> tuple[AxisCalibration, ...]:
    """The device's own ABS ranges as nominal calibration; unmapped axes rest at 0."""
    absinfo = dict(device.capabilities(absinfo=True).get(ecodes.EV_ABS, []))
    calibration = list(nominal(-1, 1))
    for k, code in enumerate(mapping.axes):
        info = absinfo.get(code)
        if info is not None and info.max > info.min:
            calibration[k] = AxisCalibration((info.min + info.max) / 2, info.min, info.max)
    return tuple(calibration)


Sink = Callable[["EvdevSource", tuple[float, ...], int, float], None]


class EvdevSource:
    kind = "evdev"

    def __init__(self, path: str | None, sink: Sink, mapping: EvdevMapping, name: str = "evdev") -> None:
        self.path = path
        self.sink = sink
        self.mapping = mapping
        self.name = name
        self.calibration_key = "evdev"
        self.calibration: tuple[AxisCalibration, ...] = nominal(-1, 1)
        self.connected = False
        self.device_name = ""
        self.frames = 0
        self.dropped = 0
        self._rate = RateMeter()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def nominal_calibration(self) -> tuple[AxisCalibration, ...]:
        return self.calibration

    def start(self) -> None:
        self._thread = threading.Thread(target=self._supervise, name=f"fse-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(2)

    def health(self) -> SourceHealth:
        if self.connected:
            detail = self.device_name
        elif self.path:
            detail = f"disconnected: waiting for {self.path}"
        else:
            detail = "disconnected" if evdev is not None else "disconnected: python-evdev not installed"
        return SourceHealth(
            self.name,
            self.kind,
            self.connected,
            self._rate.current(time.monotonic()),
            self.frames,
            self.dropped,
            0,
            detail,
        )

    def _find(self):
        paths = [self.path] if self.path else sorted(evdev.list_devices())
        for path in paths:
            try:
                device = evdev.InputDevice(path)
            except OSError:
                continue
            if self.mapping.matches(device.capabilities()):
                return device
            device.close()
        return None

    def _supervise(self) -> None:
        if evdev is None:
            return
        while not self._stopping.is_set():
            device = self._find()
            if device is None:
                self._stopping.wait(RESCAN_S)
                continue
            self._read(device)

    def _read(self, device) -> None:
        self.device_name = f"{os.path.basename(device.path)} {device.name}"
        self.calibration_key = f"evdev:{device.name}"
        self.calibration = calibration_from_device(device, self.mapping)
        state = EvdevState(self.mapping, self.calibration)
        self.connected = True
        log.info("evdev joystick: %s", self.device_name)
        pending = False
        try:
            while not self._stopping.is_set():
                readable, _, _ = select.select([device.fd], [], [], 0.2)
                if not readable:
                    continue
                for event in device.read():
                    if event.type == ecodes.EV_SYN:
                        if event.code == ecodes.SYN_DROPPED:
                            self.dropped += 1
                        elif pending:
                            t = time.monotonic()
                            self.frames += 1
                            self._rate.tick(t)
                            self.sink(self, tuple(state.raw), state.buttons, t)
                            pending = False
                    elif state.apply(event.type, event.code, event.value):
                        pending = True
        except OSError as error:
            if error.errno not in (errno.ENODEV, errno.EBADF):
                log.warning("evdev %s: %s", self.device_name, error)
        finally:
            self.connected = False
            try:
                device.close()
            except OSError:
                pass
