"""InputHub: every joystick source folded into one InputSnapshot the UI polls each frame.

    hub = InputHub("auto", state_dir=config.state_dir)
    hub.start()                      # background threads; never blocks on I/O
    while running:
        snapshot = hub.poll()        # axes in [-1, 1], button edges since the last poll, health
    hub.stop()

Sources report raw frames on their own threads; the hub calibrates them there (so poll() only
copies) and turns button-mask changes into ButtonEvents. The axes follow whichever source sent
the newest frame. Keyboard and mouse are the kiosk's own business (pygame events), not the hub's.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import threading
from pathlib import Path

from kiosk.input.calibration import DEFAULT_DEADZONE, DEFAULT_EXPO, CalibrationStore, shape
from kiosk.input.evdev_backend import EvdevMapping, EvdevSource, evdev
from kiosk.input.protocol import AXES
from kiosk.input.serial_backend import SerialSource
from kiosk.input.simulator import SimulatedBoard
from kiosk.input.state import BUTTON_BITS, ButtonEvent, InputSnapshot

log = logging.getLogger(__name__)

EVENT_QUEUE_MAX = 256  # button edges kept between polls; a UI stalled longer loses the oldest
_CENTRED = (0.0,) * AXES
_IDLE = (False,) * AXES


class InputHub:
    """One input state from the joystick board (serial) and/or any evdev joystick.

    joystick: "auto" (the board by udev link or USB VID/PID + identity line, and any evdev
    joystick), "none", "sim" (an in-process SimulatedBoard opened through the real serial
    backend), a serial device path, or "evdev:/dev/input/eventN".
    """

    def __init__(
        self,
        joystick: str = "auto",
        state_dir: Path | None = None,
        evdev_map: dict | None = None,
        *,
        deadzone: float = DEFAULT_DEADZONE,
        expo: float = DEFAULT_EXPO,
    ) -> None:
        self.joystick = joystick
        self.deadzone = deadzone
        self.expo = expo
        self.calibrations = CalibrationStore(state_dir)
        self._simulator: SimulatedBoard | None = None
        self._lock = threading.Lock()
        self._axes = _CENTRED
        self._active = _IDLE
        self._raw: tuple[str, tuple[float, ...]] | None = None
        self._t = 0.0
        self._events: collections.deque[ButtonEvent] = collections.deque()
        self._overflow = 0
        self._masks: dict[str, int] = {}
        self._calibration_cache: dict[str, tuple] = {}
        self.sources: list = self._make_sources(joystick, evdev_map)

    def _make_sources(self, joystick: str, evdev_map: dict | None) -> list:
        if joystick == "none":
            return []
        if joystick == "sim":
            self._simulator = SimulatedBoard()
            return [SerialSource(self._simulator.path, self._on_frame, name="sim")]
        if joystick.startswith("evdev:"):
            return [EvdevSource(joystick[len("evdev:") :], self._on_frame, EvdevMapping.from_config(evdev_map))]
        if joystick == "auto":
            sources: list = [SerialSource(None, self._on_frame)]
            if evdev is not None:
                sources.append(EvdevSource(None, self._on_frame, EvdevMapping.from_config(evdev_map)))
            return sources
        if joystick.startswith("/"):
            return [SerialSource(joystick, self._on_frame)]
        raise ValueError(
            f'joystick = {joystick!r} is not allowed; expected "auto", "none", "sim", '
            f'a serial device path such as "/dev/fse-joystick", or "evdev:/dev/input/eventN"'
        )

    @property
    def simulator(self) -> SimulatedBoard | None:
        """The in-process board when joystick="sim" (tests and demos script it), else None."""
        return self._simulator

    def start(self) -> None:
        if self._simulator is not None:
            self._simulator.start()
        for source in self.sources:
            source.start()

    def stop(self) -> None:
        for source in self.sources:
            source.stop()
        if self._simulator is not None:
            self._simulator.stop()

    def poll(self) -> InputSnapshot:
        """The newest state and the button edges since the last poll; never blocks on I/O."""
        with self._lock:
            events = tuple(self._events)
            self._events.clear()
            axes, active, t = self._axes, self._active, self._t
        sources = tuple(source.health() for source in self.sources)
        if self._overflow:
            # Edges the UI never collected count against the first source (there is one in practice).
            sources = (dataclasses.replace(sources[0], dropped=sources[0].dropped + self._overflow), *sources[1:])
        if not any(s.connected for s in sources):
            axes, active = _CENTRED, _IDLE  # a vanished stick must not keep steering
        return InputSnapshot(axes, active, events, sources, t)

    def latest_raw(self) -> tuple[str, tuple[float, ...]] | None:
        """(calibration key, raw axis readings) of the newest frame: what fse-calibrate records."""
        with self._lock:
            return self._raw

    def reload_calibration(self) -> None:
        self.calibrations.load()
        self._calibration_cache.clear()

    # -- on the sources' threads --------------------------------------------------------------
    def _on_frame(self, source, raw: tuple[float, ...], buttons: int, t: float) -> None:
        key = source.calibration_key
        calibration = self._calibration_cache.get(key)
        if calibration is None:
            calibration = self.calibrations.get(key, source.nominal_calibration())
            self._calibration_cache[key] = calibration
        normalised = [c.normalise(v) for c, v in zip(calibration, raw)]
        axes = tuple(shape(v, self.deadzone, self.expo) for v in normalised)
        active = tuple(abs(v) > self.deadzone for v in normalised)
        previous = self._masks.get(source.name, 0)
        self._masks[source.name] = buttons
        changed = previous ^ buttons
        with self._lock:
            self._axes, self._active, self._t = axes, active, t
            self._raw = (key, raw)
            bit = 0
            while changed:
                if changed & 1:
                    if len(self._events) >= EVENT_QUEUE_MAX:
                        self._events.popleft()
                        self._overflow += 1
                    self._events.append(ButtonEvent(BUTTON_BITS[bit], bool(buttons >> bit & 1), source.name, t))
                changed >>= 1
                bit += 1
