"""Writing one capture bundle (contract/bundle.py) from a capture log and its images.

Safe while the kiosk runs: the database is copied with SQLite's online backup API (a consistent
snapshot), and capture images are immutable once referenced, so the bundle is exactly the log at one
instant. Every file is flushed to the device and the new copies are read back from it before the
manifest is written and the folder renamed.

A bundle in a folder of bundles (--out, --usb) is incremental: an image that an earlier whole bundle
of the same booth in that folder holds, whose copy there reads back with the manifest's sha256, is
not copied again; the manifest's `images_in_earlier_bundles` says which bundle holds it. An
interrupted export's `.partial` folder is resumed: its copies that read back as the log's images are
kept, so an export longer than one visit finishes across several (pull.py chooses it).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import sqlite3
import stat
import sys
import time
from pathlib import Path

from contract.bundle import BUNDLE_FORMAT, BUNDLE_VERSION, MANIFEST, MANIFEST_LIMIT, PARTIAL_SUFFIX, parse_manifest
from contract.capture_schema import (
    DB_NAME,
    IMAGES_DIR,
    check_not_newer,
    log_identity,
    open_db,
    read_captures,
    read_meta,
    read_summary,
    utc_text,
)
from contract.models import sha256_file

from ..capture.files import QUARANTINE_DIR
from ..durable import fsync_dir, write_file_durably
from .files import (
    ExportError,
    StickFull,
    copy_fd,
    hash_fd,
    hash_on_device,
    open_beneath,
    open_image,
    remove_beneath,
    sync_filesystem,
)

SQLITE_FULL = 13


def check_log(db_path: Path) -> None:
    """ExportError unless db_path is a regular file: checked before anything is written anywhere."""
    try:
        if not stat.S_ISREG(os.lstat(db_path).st_mode):
            raise ExportError(
                f"{db_path} is not a regular file (a link?); the capture log must be the kiosk's own file"
            )
    except FileNotFoundError:
        raise ExportError(
            f"no capture log at {db_path}: the kiosk has not run with this state directory yet, or --state-dir is wrong"
        ) from None


def snapshot_database(db_path: Path, dest: Path) -> None:
    """A consistent copy of a live WAL database, as one file (online backup API)."""
    check_log(db_path)
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
        if getattr(e, "sqlite_errorcode", None) == SQLITE_FULL or "full" in str(e):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dest)) from None
        raise ExportError(
            f"cannot read the capture log {db_path} ({e}); check its permissions (run as the kiosk's user or root)"
        ) from None
    finally:
        give_back_sidecars(db_path)


def give_back_sidecars(db_path: Path) -> None:
    """Hand -wal/-shm files this (root) process created back to the log's owner.

    A read-only SQLite reader creates them when the kiosk is not running; left owned by root, the
    kiosk's user could no longer open its own log. lstat/lchown: a link there is left alone.
    """
    if os.geteuid() != 0:
        return
    owner = os.lstat(db_path)
    for suffix in ("-wal", "-shm"):
        sidecar = db_path.with_name(db_path.name + suffix)
        try:
            info = os.lstat(sidecar)
            if stat.S_ISREG(info.st_mode) and info.st_uid != owner.st_uid:
                os.chown(sidecar, owner.st_uid, owner.st_gid, follow_symlinks=False)
        except FileNotFoundError:
            pass


def read_manifest(folder: Path, bundle: str) -> dict | None:
    """An earlier bundle's manifest from a stick, or None when it is not a readable one of ours:
    read without following links, at most MANIFEST_LIMIT bytes, its depth bounded (contract)."""
    try:
        fd = open_beneath(folder, f"{bundle}/{MANIFEST}", os.O_RDONLY | os.O_NONBLOCK)
    except (OSError, ExportError):
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        manifest = parse_manifest(os.read(fd, MANIFEST_LIMIT + 1))  # one byte more: too big is refused
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)
    return manifest if manifest.get("format") == BUNDLE_FORMAT else None


def earlier_images(folder: Path, booth_id: str, wanted: set[str]) -> dict[str, tuple[str, str]]:
    """Which of the `wanted` images the whole bundles of this booth in `folder` already hold:
    {image path: (bundle, sha256)}.

    Only a bundle with its final name counts (its manifest was written after its files were flushed);
    links, `.partial` folders, other booths' bundles and manifests that don't parse are passed over.
    Only wanted images are kept: however many bundles a stick holds, this stays the size of the log.
    """
    held: dict[str, tuple[str, str]] = {}
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except FileNotFoundError:
        return held
    for entry in entries:
        if entry.name.endswith(PARTIAL_SUFFIX) or not entry.is_dir(follow_symlinks=False):
            continue
        manifest = read_manifest(folder, entry.name)
        if manifest is None or manifest.get("booth_id") != booth_id or not isinstance(manifest.get("files"), dict):
            continue
        for relative, digest in manifest["files"].items():
            if relative in wanted and isinstance(digest, str):
                held[relative] = (entry.name, digest)
    return held


def _copy_matches(source: int, root: Path, relative: str, digest: str | None = None) -> str | None:
    """The sha256 of the copy at root/relative if it reads back from the device the same as the
    source image (same size, same sha256, and `digest` when given); else None."""
    copy = hash_on_device(root, relative)
    if copy is None or copy[0] != os.fstat(source).st_size:
        return None
    wanted = hash_fd(source)
    return wanted if copy[1] == wanted and digest in (None, wanted) else None


def open_capture_image(state_dir: Path, relative: str) -> int:
    """A capture's image from images/, or from quarantine/images-*/ where start-up moved the images
    of a log that was not in use (a set-aside log's)."""
    try:
        return open_image(state_dir, relative)
    except FileNotFoundError:
        pass
    parts = Path(relative).parts
    if parts[:1] == (IMAGES_DIR,):
        for folder in sorted((state_dir / QUARANTINE_DIR).glob("images-*"), reverse=True):
            try:
                return open_image(folder, "/".join(parts[1:]))
            except (FileNotFoundError, NotADirectoryError):
                continue
    raise FileNotFoundError(errno.ENOENT, "no such image", str(state_dir / relative))


def make_bundle(
    state_dir: Path,
    bundle: Path,
    held: dict[str, tuple[str, str]] | None = None,
    db_path: Path | None = None,
    resume: Path | None = None,
    extra: dict | None = None,
) -> dict:
    """Write a bundle directory from a log (default: the state directory's) and its images; returns
    the manifest.

    Written as bundle.partial/ and renamed when whole. `held` (from earlier_images) names images an
    earlier bundle beside this one already holds; those are listed in the manifest, not copied.
    `resume`: an interrupted export's .partial folder beside it, taken over: its copies that read back
    as the log's images are kept, everything else in it goes. `extra`: more manifest fields.
    """
    state_dir, held = Path(state_dir), held or {}
    db_path = Path(db_path or state_dir / DB_NAME)
    check_log(db_path)
    partial = bundle.with_name(bundle.name + PARTIAL_SUFFIX)
    if resume is not None:
        os.rename(resume, partial)
        for stale in (DB_NAME, MANIFEST):
            remove_beneath(partial, stale)
    else:
        partial.mkdir(parents=False, exist_ok=False)
    snapshot_database(db_path, partial / DB_NAME)

    conn = open_db(partial / DB_NAME, read_only=True)
    meta, version, summary = read_meta(conn), check_not_newer(conn, partial / DB_NAME), read_summary(conn)
    captures, log_id = read_captures(conn), log_identity(conn)
    conn.close()

    files = {DB_NAME: sha256_file(partial / DB_NAME)}
    elsewhere: dict[str, dict] = {}
    missing, exported, copied, resumed = [], [], [], 0
    for n, capture in enumerate(captures):
        relative = capture.image_path
        try:
            source = open_capture_image(state_dir, relative)
        except FileNotFoundError:
            missing.append(relative)
            continue
        except (OSError, ExportError) as e:  # a link or a FIFO: not a file the kiosk wrote
            print(f"fse-export: not copying {state_dir / relative}: {e}", file=sys.stderr)
            missing.append(relative)
            continue
        try:
            earlier = held.get(relative)
            if earlier and _copy_matches(source, bundle.parent / earlier[0], relative, earlier[1]):
                elsewhere[relative] = {"bundle": earlier[0], "sha256": earlier[1]}
            elif resume is not None and (digest := _copy_matches(source, partial, relative)):
                files[relative], resumed = digest, resumed + 1
            else:
                remove_beneath(partial, relative)
                try:
                    files[relative] = copy_fd(source, partial, relative)
                except OSError as e:
                    if e.errno == errno.ENOSPC:
                        raise _stick_full(e, partial, captures[n:], state_dir) from None
                    raise
                copied.append(relative)
        finally:
            os.close(source)
        exported.append(capture.id)
    _remove_all_but(partial, set(files))
    sync_filesystem(partial)  # every image on the device before a manifest says it is there
    _read_back(partial, {relative: files[relative] for relative in copied})

    times = [
        t
        for t in (
            summary.first_capture_utc,
            summary.last_capture_utc,
            utc_text(summary.first_trail_t) if summary.first_trail_t is not None else None,
            utc_text(summary.last_trail_t) if summary.last_trail_t is not None else None,
        )
        if t
    ]
    manifest = {
        "format": BUNDLE_FORMAT,
        "format_version": BUNDLE_VERSION,
        "booth_id": meta.get("booth_id", "unknown"),
        "log_id": log_id,
        "schema_version": version,
        "exported_utc": utc_text(time.time()),
        "time_range": {"first_utc": min(times) if times else None, "last_utc": max(times) if times else None},
        "counts": {
            "captures": summary.captures,
            "trail_points": summary.trail_points,
            "sessions": summary.sessions,
            "images": len(captures) - len(missing),
            "images_copied": len(files) - 1,
            "images_resumed": resumed,
        },
        "missing_images": missing,
        # The captures whose image is in this bundle or an earlier one beside it: safe to prune at the booth.
        "exported_capture_ids": exported,
        "files": dict(sorted(files.items())),
        "images_in_earlier_bundles": elsewhere,
        **(extra or {}),
    }
    write_file_durably(partial / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
    os.rename(partial, bundle)
    fsync_dir(bundle.parent)
    return manifest


def _remove_all_but(partial: Path, keep: set[str]) -> None:
    """Remove what a resumed .partial folder holds beyond this bundle's files (links are not followed)."""
    for folder, dirs, names in os.walk(partial, topdown=False):
        for name in names + [d for d in dirs if os.path.islink(os.path.join(folder, d))]:
            relative = Path(folder, name).relative_to(partial).as_posix()
            if relative not in keep:
                remove_beneath(partial, relative)
        if Path(folder) != partial:
            try:
                os.rmdir(folder)  # only if empty
            except OSError:
                pass


def _read_back(partial: Path, copies: dict[str, str]) -> None:
    """Every new copy, read back from the device after the sync, has the sha256 that was written."""
    bad = [
        relative for relative, digest in copies.items() if (hash_on_device(partial, relative) or (0, ""))[1] != digest
    ]
    if bad:
        raise ExportError(
            f"{len(bad)} copies on {partial.parent} read back wrong (e.g. {bad[0]}): the stick is failing; "
            f"use another stick (the booth keeps everything until an export reads back right)"
        )


def _stick_full(error: OSError, partial: Path, left: list, state_dir: Path) -> StickFull:
    """ENOSPC while copying: how much more room the export needs, and where it ran out."""
    need = sum(os.stat(state_dir / c.image_path).st_size for c in left if (state_dir / c.image_path).is_file())
    free = shutil.disk_usage(partial).free
    return StickFull(
        f"the stick is full ({error.filename}: no space left): the rest of this export needs about "
        f"{need / 1e6 + 1:.0f} MB more and {free / 1e6:.0f} MB are free. What was copied stays in "
        f"{partial.name} and the next export continues from it: plug in this stick again after deleting "
        f"old bundles from {partial.parent.name}/, or use a stick with more room"
    )
