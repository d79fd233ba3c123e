"""`fse-export`: pull the booth's capture log as a checksummed bundle (contract/bundle.py).

    fse-export --out DIR                 # a bundle directory: DIR/<booth>-<utc>/
    fse-export --tar FILE                # the same bundle as one tar (FILE.tar.gz compresses)
    fse-export --usb /dev/sdb1           # udev/systemd on a stick labelled FSE-EXPORT (mounts it)
    fse-export --usb /media/stick        # or an already mounted stick
    fse-export --usb /dev/sdb1 --full    # copy every image again, not only the new ones
    fse-export --mark-stopped /dev/sdb1  # the USB unit's ExecStopPost: a killed export is marked failed

The ONNX models go the other way, from training into the booth: `fse-train export` (training/export.py).
`--state-dir` picks the log (default: the kiosk's, from kiosk.config). The bundle is written by
bundle.py; the stick is mounted and the status file written by usb.py.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from contract.capture_schema import CaptureLogError

from ..usb_stick import StickError
from .files import ExportError, ExportStopped
from .pull import export_to_dir, export_to_tar
from .usb import STOPPED_MESSAGE, export_to_usb, mark_stopped


def _stop(signum, frame) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # one clean-up; systemd's SIGKILL follows if it hangs
    raise ExportStopped(STOPPED_MESSAGE)


def _default_state_dir() -> Path:
    from ..config import load_config

    return Path(load_config().state_dir)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(
        prog="fse-export",
        description=__doc__.splitlines()[0],
        epilog="The ONNX models are written by `fse-train export` (training side).",
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", type=Path, metavar="DIR", help="write a bundle directory inside DIR")
    where.add_argument("--tar", type=Path, metavar="FILE", help="write the bundle as a tar (.tar.gz compresses)")
    where.add_argument("--usb", metavar="DEVICE_OR_MOUNTPOINT", help="export onto a USB stick (used by udev)")
    where.add_argument(
        "--mark-stopped",
        metavar="DEVICE",
        help="after the USB unit ends (its ExecStopPost): an export of DEVICE still marked running "
        "was killed; mark it failed",
    )
    parser.add_argument("--state-dir", type=Path, help="the kiosk's state directory (default: from kiosk.toml)")
    parser.add_argument(
        "--full", action="store_true", help="copy every image, even those an earlier bundle in the same folder holds"
    )
    if argv and argv[0] == "models":  # the old spelling, from before the models moved to training
        parser.error(
            "the ONNX models are written by `fse-train export` on the training machine, not by the booth's fse-export"
        )
    args = parser.parse_args(argv)
    in_main_thread = threading.current_thread() is threading.main_thread()  # (signals can only be set there)
    previous = signal.signal(signal.SIGTERM, _stop) if in_main_thread else None
    try:
        state_dir = args.state_dir or _default_state_dir()
        if args.out:
            result = export_to_dir(state_dir, args.out, args.full)
        elif args.tar:
            result = export_to_tar(state_dir, args.tar)
        elif args.usb:
            result = export_to_usb(state_dir, args.usb, args.full)
        else:
            mark_stopped(state_dir, args.mark_stopped)
            return 0
    except (ExportError, ExportStopped, CaptureLogError, StickError) as e:
        print(f"fse-export: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"fse-export: {e.filename or ''}: {e.strerror}; check the path and free space", file=sys.stderr)
        return 2
    except Exception as e:  # config errors and the like: a message, not a traceback
        if type(e).__name__ == "ConfigError":
            print(f"fse-export: config error: {e}", file=sys.stderr)
            return 2
        raise
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
    print(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
