"""The capture log's files beside its database: capture images, and the quarantine.

kiosk/capture/journal.py decides from the image journal which files are its own; this module encodes,
removes and moves them. Nothing here deletes a file it was not named: what the log cannot prove is
its own goes to `quarantine/` in the state directory and stays there for the operator, and comes back
when a log that refers to it is restored.

    quarantine/log-<utc>.sqlite (+ -wal, -shm)    a damaged database, set aside whole
    quarantine/log-<utc>.sqlite.exported          fse-export has put it in a bundle (kiosk/log_export/pull.py)
    quarantine/images-<utc>/YYYY-MM-DD/...png     images no capture referred to, in images/' layout
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path, PurePosixPath

from contract.capture_schema import IMAGES_DIR

from ..durable import fsync_dir, temp_files

log = logging.getLogger(__name__)

QUARANTINE_DIR = "quarantine"
EXPORTED_SUFFIX = ".exported"
"""quarantine/log-<utc>.sqlite.exported: fse-export put that set-aside log in a durable bundle."""


def remove_image(state_dir: Path, relative: str, temp_only: bool = False) -> int:
    """Remove a capture image and its temp files (the log's own: journalled); how many files went.
    temp_only: only the temp files (half-written, never an image anybody saw)."""
    removed = 0
    image = state_dir / relative
    for path in (*temp_files(image), *(() if temp_only else (image,))):
        try:
            path.unlink()
            removed += 1
        except FileNotFoundError:
            pass
        except OSError as e:
            log.warning("could not remove %s: %s", path, e)
    return removed


def free_mb(state_dir: Path) -> float:
    """Free space under the state directory, in MB."""
    return shutil.disk_usage(state_dir).free / 1e6


def image_size(state_dir: Path, relative: str) -> int:
    """Bytes a capture image takes (0 if it is missing)."""
    try:
        return (state_dir / relative).stat().st_size
    except OSError:
        return 0


def stray_images(state_dir: Path, known: set[str]) -> list[Path]:
    """Files under images/ whose path (relative to the state directory) is not in `known`."""
    return sorted(
        p
        for p in (state_dir / IMAGES_DIR).rglob("*")
        if p.is_file() and p.relative_to(state_dir).as_posix() not in known
    )


def quarantine_images(state_dir: Path, strays: list[Path]) -> Path:
    """Move these files to quarantine/images-<utc>/, keeping their images/ layout; returns the folder."""
    images = state_dir / IMAGES_DIR
    target = _free_name(state_dir / QUARANTINE_DIR, "images-{}")
    for path in strays:
        dest = target / path.relative_to(images)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, dest)
    for folder in {p.parent for p in strays} | {target / p.parent.relative_to(images) for p in strays}:
        fsync_dir(folder)
    return target


def restore_images(state_dir: Path, relatives: list[str]) -> list[str]:
    """Move these images (paths relative to the state directory) back from quarantine/images-*/,
    where a start-up with another log put them; returns those found (the newest copy wins)."""
    folders = sorted((state_dir / QUARANTINE_DIR).glob("images-*"), reverse=True)
    back, touched = [], set()
    for relative in relatives:
        parts = PurePosixPath(relative).parts
        if len(parts) < 2 or parts[0] != IMAGES_DIR or ".." in parts:
            continue
        for folder in folders:
            source = folder.joinpath(*parts[1:])
            if source.is_file() and not source.is_symlink():
                dest = state_dir / relative
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.replace(source, dest)
                back.append(relative)
                touched |= {source.parent, dest.parent}
                break
    for folder in touched:
        fsync_dir(folder)
    return back


def set_aside_logs(state_dir: Path, not_exported: bool = True) -> list[Path]:
    """The databases set aside in quarantine/, oldest first; not_exported: only those no export took yet."""
    logs = sorted(p for p in (state_dir / QUARANTINE_DIR).glob("log-*.sqlite") if p.is_file() and not p.is_symlink())
    return [p for p in logs if not (not_exported and p.with_name(p.name + EXPORTED_SUFFIX).exists())]


def quarantine_database(db_path: Path) -> Path:
    """Move a database and its -wal/-shm (closed) to quarantine/log-<utc>.sqlite; returns its new path."""
    target = _free_name(db_path.parent / QUARANTINE_DIR, "log-{}.sqlite")
    for suffix in ("", "-wal", "-shm"):
        source = db_path.with_name(db_path.name + suffix)
        if source.exists():
            os.replace(source, target.with_name(target.name + suffix))
    fsync_dir(target.parent)
    fsync_dir(db_path.parent)
    return target


def _free_name(folder: Path, pattern: str) -> Path:
    """folder/pattern with the UTC time filled in (and -2, -3... if that is taken); creates folder."""
    folder.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target, n = folder / pattern.format(stamp), 1
    while target.exists():
        n += 1
        target = folder / pattern.format(f"{stamp}-{n}")
    return target
