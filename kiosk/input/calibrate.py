"""fse-calibrate: walks an operator through calibrating the joystick's 8 axes.

    fse-calibrate                         # the board found as the kiosk finds it (auto)
    fse-calibrate --joystick /dev/fse-joystick --state-dir /var/lib/fse
    fse-calibrate --joystick evdev:/dev/input/event5

Step 1: leave every stick centred and press Enter (1 s of readings are averaged as the centre).
Step 2: move every stick to all its extremes, then press Enter (the smallest and largest reading
of each axis become its min and max). The result goes into <state_dir>/joystick_calibration.json,
which the kiosk reads on start. Stop the kiosk first: the board can only be opened once.
"""

from __future__ import annotations

import argparse
import os
import select
import sys
import time
from pathlib import Path

from kiosk.config import ConfigError, load_config
from kiosk.input.calibration import AxisCalibration
from kiosk.input.hub import InputHub

# How long to wait for the first frame (FSE_CALIBRATE_CONNECT_S overrides, for tests).
CONNECT_TIMEOUT_S = float(os.environ.get("FSE_CALIBRATE_CONNECT_S", "10"))
CENTRE_SAMPLE_S = 1.0
MIN_SWING = 0.2  # of the nominal range: an axis that moved less than this was probably not moved


def _wait_for_enter(hub: InputHub, on_sample) -> bool:
    """Samples raw frames until a line arrives on stdin; False on EOF."""
    last = None
    while True:
        readable, _, _ = select.select([sys.stdin], [], [], 0.01)
        raw = hub.latest_raw()
        if raw is not None and raw is not last:
            on_sample(raw[1])
            last = raw
        if readable:
            return sys.stdin.readline() != ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fse-calibrate", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--joystick", help="auto, sim, a serial path or evdev:/dev/input/eventN (default: the config's)"
    )
    parser.add_argument("--state-dir", type=Path, help="where joystick_calibration.json goes (default: the config's)")
    args = parser.parse_args(argv)
    try:
        config = load_config(overrides={"state_dir": args.state_dir})
    except ConfigError as error:
        print(f"fse-calibrate: {error}", file=sys.stderr)
        return 2
    joystick = args.joystick or config.joystick
    if joystick == "none":
        print("fse-calibrate: the config says joystick = none; pass --joystick auto or a device path", file=sys.stderr)
        return 2
    try:
        hub = InputHub(joystick, state_dir=config.state_dir)
    except ValueError as error:
        print(f"fse-calibrate: {error}", file=sys.stderr)
        return 2
    hub.start()
    try:
        deadline = time.monotonic() + CONNECT_TIMEOUT_S
        while hub.latest_raw() is None:
            if time.monotonic() > deadline:
                details = "; ".join(f"{s.name}: {s.detail}" for s in hub.poll().sources) or "no sources"
                print(
                    f"fse-calibrate: no joystick sent anything within {CONNECT_TIMEOUT_S:.0f} s ({details}). "
                    f"Check the USB cable, or stop the kiosk (systemctl stop fse-kiosk) if it holds the port.",
                    file=sys.stderr,
                )
                return 1
            time.sleep(0.02)
        source = next(s for s in hub.sources if s.connected)
        print(f"Calibrating {source.health().detail}.")

        print("1/2  Leave every stick centred, hands off, then press Enter.", flush=True)
        if not _wait_for_enter(hub, lambda raw: None):
            return 1
        samples: list[tuple[float, ...]] = []
        end = time.monotonic() + CENTRE_SAMPLE_S
        last = None
        while time.monotonic() < end:
            raw = hub.latest_raw()
            if raw is not None and raw is not last:
                samples.append(raw[1])
                last = raw
            time.sleep(0.005)
        key = hub.latest_raw()[0]
        centre = [sum(column) / len(column) for column in zip(*samples)]

        print("2/2  Move every stick to all its extremes (full circles), then press Enter.", flush=True)
        low, high = list(centre), list(centre)

        def extend(raw: tuple[float, ...]) -> None:
            for k, value in enumerate(raw):
                low[k], high[k] = min(low[k], value), max(high[k], value)

        if not _wait_for_enter(hub, extend):
            return 1
        nominal = source.nominal_calibration()
        calibration = []
        for k, (c, lo, hi, n) in enumerate(zip(centre, low, high, nominal)):
            swing = MIN_SWING * (n.max - n.min) / 2
            if c - lo < swing or hi - c < swing:
                print(
                    f"  axis {k}: moved only {lo:.0f}..{hi:.0f} around {c:.0f}; keeping its nominal range "
                    f"{n.min:.0f}..{n.max:.0f} (run again and move it all the way)"
                )
                calibration.append(AxisCalibration(c, n.min, n.max) if n.min < c < n.max else n)
            else:
                calibration.append(AxisCalibration(c, lo, hi))
                print(f"  axis {k}: centre {c:.0f}, {lo:.0f}..{hi:.0f}")
        path = hub.calibrations.save(key, tuple(calibration))
        print(f"Saved to {path}. Restart the kiosk to use it.")
        return 0
    except KeyboardInterrupt:
        print("\nfse-calibrate: interrupted; nothing saved.", file=sys.stderr)
        return 1
    finally:
        hub.stop()


if __name__ == "__main__":
    sys.exit(main())
