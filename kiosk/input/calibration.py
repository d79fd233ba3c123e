"""Turns raw axis readings into the [-1, 1] the kiosk steers with: calibration, deadzone, expo.

Calibration is per axis (centre, min, max in the source's raw units), stored per source in
`<state_dir>/joystick_calibration.json` and written by `fse-calibrate`. A source without a stored
calibration uses its nominal range (0..1023 for the board, the device's ABS range for evdev).
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from kiosk.config import KioskConfig

log = logging.getLogger(__name__)

CALIBRATION_FILE = "joystick_calibration.json"
FILE_VERSION = 1
DEFAULT_DEADZONE: float = KioskConfig.__dataclass_fields__["deadzone"].default
DEFAULT_EXPO: float = KioskConfig.__dataclass_fields__["expo"].default


@dataclass(frozen=True)
class AxisCalibration:
    centre: float
    min: float
    max: float

    def normalise(self, raw: float) -> float:
        """raw as -1..1, each side scaled on its own so an off-centre pot still reaches both ends."""
        if raw >= self.centre:
            span = self.max - self.centre
        else:
            span = self.centre - self.min
        if span <= 0:
            return 0.0
        return max(-1.0, min(1.0, (raw - self.centre) / span))

    def is_sane(self) -> bool:
        return all(math.isfinite(v) for v in (self.centre, self.min, self.max)) and self.min < self.centre < self.max


def nominal(raw_min: float, raw_max: float, axes: int = 8) -> tuple[AxisCalibration, ...]:
    return tuple(AxisCalibration((raw_min + raw_max) / 2, raw_min, raw_max) for _ in range(axes))


def shape(value: float, deadzone: float, expo: float) -> float:
    """Deadzone (rescaled so output still starts at 0 and reaches 1), then the expo curve."""
    magnitude = abs(value)
    if magnitude <= deadzone:
        return 0.0
    magnitude = (magnitude - deadzone) / (1.0 - deadzone)
    magnitude = (1.0 - expo) * magnitude + expo * magnitude**3
    return math.copysign(min(1.0, magnitude), value)


class CalibrationStore:
    """The calibration file: {"version": 1, "sources": {key: [{centre, min, max} x 8]}}.

    A missing, unreadable or corrupt file is not fatal: the kiosk logs why and uses nominal ranges.
    """

    def __init__(self, state_dir: Path | None) -> None:
        self.path = Path(state_dir) / CALIBRATION_FILE if state_dir is not None else None
        self._sources: dict[str, tuple[AxisCalibration, ...]] = {}
        self.load()

    def load(self) -> None:
        self._sources = {}
        if self.path is None or not self.path.exists():
            return
        try:
            document = json.loads(self.path.read_text())
            for key, axes in document["sources"].items():
                calibration = tuple(AxisCalibration(float(a["centre"]), float(a["min"]), float(a["max"])) for a in axes)
                if all(a.is_sane() for a in calibration):
                    self._sources[key] = calibration
                else:
                    log.warning(
                        "%s: calibration for %s needs min < centre < max on every axis; "
                        "using nominal ranges until fse-calibrate is run again",
                        self.path,
                        key,
                    )
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            log.warning(
                "%s is unreadable (%s); using nominal joystick ranges. Run fse-calibrate to rewrite it.",
                self.path,
                error,
            )

    def get(self, key: str, default: tuple[AxisCalibration, ...]) -> tuple[AxisCalibration, ...]:
        stored = self._sources.get(key)
        return stored if stored is not None and len(stored) == len(default) else default

    def save(self, key: str, calibration: tuple[AxisCalibration, ...]) -> Path:
        if self.path is None:
            raise ValueError("no state directory to save the calibration in")
        self._sources[key] = tuple(calibration)
        document = {"version": FILE_VERSION, "sources": {k: [asdict(a) for a in v] for k, v in self._sources.items()}}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Write-then-rename: a power cut mid-write must not leave a half file the kiosk can't read.
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".calibration")
        with os.fdopen(handle, "w") as file:
            json.dump(document, file, indent=1)
        os.replace(temporary, self.path)
        return self.path
