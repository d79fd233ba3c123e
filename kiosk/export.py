"""`fse-export`: pull the booth's capture log as a checksummed bundle.

    fse-export --out DIR                 # a bundle directory: DIR/<booth>-<utc>/
    fse-export --tar FILE                # the same bundle as one tar (FILE.tar.gz compresses)
    fse-export --usb /dev/sdb1           # udev/systemd on a stick labelled FSE-EXPORT (mounts it)
    fse-export --usb /media/stick        # or an already mounted stick

The ONNX models go the other way, from training into the booth: `fse-train export` (training/export.py).

`--state-dir` picks the log (default: the kiosk's, from kiosk.config). Safe while the kiosk runs:
the database is copied with SQLite's online backup API (a consistent snapshot), and capture images
are immutable once referenced, so the bundle is exactly the log at one instant.

A bundle holds `log.sqlite` (a single-file snapshot), `images/...` (the referenced PNGs) and
`manifest.json`: booth id, schema version, time range, counts and the sha256 of every other file.
`fse-analyze` checks those sums. The format is described in docs/analysis.md.

USB exports report progress in `<state_dir>/usb-export.json`, which the kiosk polls to tell the
operator when the stick is safe to remove:
    {"state": "running" | "done" | "failed", "message": "...", "device": "...", "bundle": "...",
     "started_utc": "...", "finished_utc": "..."}
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from contract.capture_schema import (DB_NAME, CaptureLogError, check_not_newer, image_paths, open_db, read_meta,
                                     read_summary, utc_text)

from .capture_log import fsync_dir, write_file_durably

MANIFEST = "manifest.json"
BUNDLE_FORMAT = "fse-capture-bundle"
BUNDLE_VERSION = 1
USB_STATUS = "usb-export.json"
USB_MOUNTPOINT = Path("/run/fse-usb-export")
USB_SUBDIR = "fse-export"


class ExportError(Exception):
    """An export that cannot be made; the message names the problem and the fix."""


from .models import sha256_file  # noqa: E402  (one definition, shared with the model check)


def snapshot_database(db_path: Path, dest: Path) -> None:
    """A consistent copy of a live WAL database, as one file (online backup API)."""
    if not db_path.is_file():
        raise ExportError(f"no capture log at {db_path}: the kiosk has not run with this state directory yet, "
                          f"or --state-dir is wrong")
    try:
        source = open_db(db_path, read_only=True)
        check_not_newer(source, db_path)
        target = sqlite3.connect(dest)
        with target:
            source.backup(target)
        target.execute("PRAGMA journal_mode=DELETE")
        target.close()
        source.close()
    except sqlite3.DatabaseError as e:
        raise ExportError(f"cannot read the capture log {db_path} ({e}); check its permissions "
                          f"(run as the kiosk's user or root)") from None
    finally:
        _give_back_sidecars(db_path)


def _give_back_sidecars(db_path: Path) -> None:
    """Hand -wal/-shm files this (root) process created back to the log's owner.

    A read-only SQLite reader creates them when the kiosk is not running; left owned by root, the
    kiosk's user could no longer open its own log.
    """
    if os.geteuid() != 0:
        return
    owner = db_path.stat()
    for suffix in ("-wal", "-shm"):
        sidecar = db_path.with_name(db_path.name + suffix)
        try:
            if sidecar.stat().st_uid != owner.st_uid:
                os.chown(sidecar, owner.st_uid, owner.st_gid)
        except FileNotFoundError:
            pass


def make_bundle(state_dir: Path, bundle: Path) -> dict:
    """Write a bundle directory from a state directory; returns the manifest."""
    state_dir = Path(state_dir)
    bundle.mkdir(parents=True, exist_ok=False)
    snapshot = bundle / DB_NAME
    snapshot_database(state_dir / DB_NAME, snapshot)

    conn = open_db(snapshot, read_only=True)
    meta, version, summary = read_meta(conn), check_not_newer(conn, snapshot), read_summary(conn)
    images = image_paths(conn)
    conn.close()

    missing = []
    for relative in images:
        source = state_dir / relative
        target = bundle / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copyfile(source, target)
        except FileNotFoundError:
            missing.append(relative)
    times = [t for t in (summary.first_capture_utc, summary.last_capture_utc,
                         utc_text(summary.first_trail_t) if summary.first_trail_t is not None else None,
                         utc_text(summary.last_trail_t) if summary.last_trail_t is not None else None) if t]
    files = {p.relative_to(bundle).as_posix(): sha256_file(p)
             for p in sorted(bundle.rglob("*")) if p.is_file()}
    manifest = {
        "format": BUNDLE_FORMAT,
        "format_version": BUNDLE_VERSION,
        "booth_id": meta.get("booth_id", "unknown"),
        "schema_version": version,
        "exported_utc": utc_text(time.time()),
        "time_range": {"first_utc": min(times) if times else None, "last_utc": max(times) if times else None},
        "counts": {"captures": summary.captures, "trail_points": summary.trail_points, "sessions": summary.sessions,
                   "images": len(images) - len(missing)},
        "missing_images": missing,
        "files": files,
    }
    write_file_durably(bundle / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
    return manifest


def bundle_name(state_dir: Path) -> str:
    """<booth>-<utc>: unique per export, sorts by time, safe on FAT."""
    booth = "booth"
    db = Path(state_dir) / DB_NAME
    if db.is_file():
        try:
            conn = open_db(db, read_only=True)
            booth = read_meta(conn).get("booth_id", booth)
            conn.close()
        except sqlite3.DatabaseError:
            pass
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in booth)
    return f"{safe}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"


def export_to_dir(state_dir: Path, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    name = bundle_name(state_dir)
    bundle, n = out / name, 1
    while bundle.exists():  # two pulls within a second
        n += 1
        bundle = out / f"{name}-{n}"
    make_bundle(state_dir, bundle)
    return bundle


def export_to_tar(state_dir: Path, tar_path: Path) -> Path:
    mode = "w:gz" if tar_path.name.endswith((".tar.gz", ".tgz")) else "w"
    name = bundle_name(state_dir)
    tar_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fse-export-") as temp:
        bundle = Path(temp) / name
        make_bundle(state_dir, bundle)
        partial = tar_path.with_name(tar_path.name + ".part")
        with tarfile.open(partial, mode) as tar:
            tar.add(bundle, arcname=name)
        with open(partial, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(partial, tar_path)
    return tar_path


# ---------------------------------------------------------------------------------------------
# USB

def write_usb_status(state_dir: Path, state: str, message: str, **extra) -> None:
    status = {"state": state, "message": message, "updated_utc": utc_text(time.time()), **extra}
    try:
        write_file_durably(Path(state_dir) / USB_STATUS, (json.dumps(status, indent=2) + "\n").encode())
        os.chmod(Path(state_dir) / USB_STATUS, 0o644)  # root writes it, the kiosk's user reads it
    except OSError as e:
        print(f"fse-export: cannot write {Path(state_dir) / USB_STATUS} ({e})", file=sys.stderr)


def read_usb_status(state_dir: Path) -> dict | None:
    """What the kiosk polls: the last USB export's status, or None if there never was one."""
    try:
        return json.loads((Path(state_dir) / USB_STATUS).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def export_to_usb(state_dir: Path, target: str) -> Path:
    """Export onto a stick: a block device is mounted (and unmounted) here, a directory is used as is."""
    started = utc_text(time.time())
    write_usb_status(state_dir, "running", "Copying the booth's log to the USB stick. Do not remove it.",
                     device=target, started_utc=started)
    mounted_here = False
    try:
        path = Path(target)
        if path.exists() and stat.S_ISBLK(path.stat().st_mode):
            USB_MOUNTPOINT.mkdir(parents=True, exist_ok=True)
            _run(["mount", "-o", "nosuid,nodev,noexec", str(path), str(USB_MOUNTPOINT)],
                 f"cannot mount {path}; is it a FAT/exFAT/ext4 stick?")
            mounted_here, root = True, USB_MOUNTPOINT
        elif path.is_dir():
            root = path
        else:
            raise ExportError(f"{target} is neither a block device nor a mounted directory; plug the stick in again")
        out = root / USB_SUBDIR
        bundle = export_to_dir(state_dir, out)
        fsync_dir(out)
        os.sync()
        if mounted_here:
            _run(["umount", str(USB_MOUNTPOINT)], f"cannot unmount {USB_MOUNTPOINT}")
            mounted_here = False
        count = json.loads((bundle / MANIFEST).read_text())["counts"]["captures"]
        write_usb_status(state_dir, "done", f"Export finished ({count} captures): safe to remove the USB stick.",
                         device=target, bundle=f"{USB_SUBDIR}/{bundle.name}", started_utc=started,
                         finished_utc=utc_text(time.time()))
        return bundle
    except (ExportError, CaptureLogError, OSError) as e:
        if mounted_here:
            subprocess.run(["umount", str(USB_MOUNTPOINT)], check=False)
        write_usb_status(state_dir, "failed", f"USB export failed: {e}. Remove the stick and try again.",
                         device=target, started_utc=started, finished_utc=utc_text(time.time()))
        raise


def _run(command: list[str], problem: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise ExportError(f"{problem} ({' '.join(command)}: {result.stderr.strip() or result.returncode})")


# ---------------------------------------------------------------------------------------------

def _default_state_dir() -> Path:
    from .config import load_config
    return Path(load_config().state_dir)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(prog="fse-export", description=__doc__.splitlines()[0],
                                     epilog="The ONNX models are written by `fse-train export` (training side).")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", type=Path, metavar="DIR", help="write a bundle directory inside DIR")
    where.add_argument("--tar", type=Path, metavar="FILE", help="write the bundle as a tar (.tar.gz compresses)")
    where.add_argument("--usb", metavar="DEVICE_OR_MOUNTPOINT", help="export onto a USB stick (used by udev)")
    parser.add_argument("--state-dir", type=Path, help="the kiosk's state directory (default: from kiosk.toml)")
    if argv and argv[0] == "models":  # the old spelling, from before the models moved to training
        parser.error("the ONNX models are written by `fse-train export` on the training machine, "
                     "not by the booth's fse-export")
    args = parser.parse_args(argv)
    try:
        state_dir = args.state_dir or _default_state_dir()
        if args.out:
            result = export_to_dir(state_dir, args.out)
        elif args.tar:
            result = export_to_tar(state_dir, args.tar)
        else:
            result = export_to_usb(state_dir, args.usb)
    except (ExportError, CaptureLogError) as e:
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
    print(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
