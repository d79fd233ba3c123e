"""Writing capture bundles (contract/bundle.py) from the kiosk's state directory: `--out`, `--tar`, and the
file work of `--usb`.

Safe while the kiosk runs: the database is copied with SQLite's online backup API (a consistent
snapshot), and capture images are immutable once referenced, so the bundle is exactly the log at one
instant. Every file is flushed to the disk before the manifest is written and the folder renamed.

Exports into a folder of bundles (--out, --usb) are incremental: an image that an earlier whole
bundle of the same booth in that folder already holds, with the same sha256, is not copied again;
the manifest's `images_in_earlier_bundles` says which bundle holds it. `--full` copies everything.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from contract.bundle import BUNDLE_FORMAT, BUNDLE_VERSION, MANIFEST, MANIFEST_LIMIT, PARTIAL_SUFFIX
from contract.capture_schema import (
    DB_NAME,
    IMAGES_DIR,
    CaptureLogError,
    check_not_newer,
    log_identity,
    open_db,
    read_captures,
    read_meta,
    read_summary,
    utc_text,
)
from contract.models import sha256_file

from ..capture.exported import mark_exported
from ..durable import fsync_dir, write_file_durably
from .files import ExportError, copy_fd, hash_fd, open_beneath, open_image, sync_filesystem


def snapshot_database(db_path: Path, dest: Path) -> None:
    """A consistent copy of a live WAL database, as one file (online backup API)."""
    try:
        if not stat.S_ISREG(os.lstat(db_path).st_mode):
            raise ExportError(
                f"{db_path} is not a regular file (a link?); the capture log must be the kiosk's own file"
            )
    except FileNotFoundError:
        raise ExportError(
            f"no capture log at {db_path}: the kiosk has not run with this state directory yet, or --state-dir is wrong"
        ) from None
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


def earlier_images(folder: Path, booth_id: str) -> dict[str, tuple[str, str]]:
    """What the whole bundles of this booth in `folder` already hold: {image path: (bundle, sha256)}.

    Only a bundle with its final name counts (its manifest was written after its files were flushed);
    links, `.partial` folders, other booths' bundles and manifests that don't parse are passed over.
    """
    held: dict[str, tuple[str, str]] = {}
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except FileNotFoundError:
        return held
    for entry in entries:
        if entry.name.endswith(PARTIAL_SUFFIX) or not entry.is_dir(follow_symlinks=False):
            continue
        try:
            fd = open_beneath(folder, f"{entry.name}/{MANIFEST}", os.O_RDONLY | os.O_NONBLOCK)
            with os.fdopen(fd, "rb") as f:
                if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                    continue
                manifest = json.loads(f.read(MANIFEST_LIMIT + 1)[:MANIFEST_LIMIT])
            if manifest.get("format") != BUNDLE_FORMAT or manifest.get("booth_id") != booth_id:
                continue
            for relative, digest in manifest["files"].items():
                if relative.startswith(IMAGES_DIR + "/") and isinstance(digest, str):
                    held[relative] = (entry.name, digest)
        except (OSError, ExportError, ValueError, KeyError, AttributeError):
            continue
    return held


def _already_held(source: int, folder: Path, relative: str, held: dict[str, tuple[str, str]]) -> str | None:
    """The earlier bundle holding this image, if its copy is there, the same size and the same sha256."""
    if relative not in held:
        return None
    bundle, digest = held[relative]
    try:
        copy = os.lstat(folder / bundle / relative)
    except OSError:
        return None
    if not stat.S_ISREG(copy.st_mode) or copy.st_size != os.fstat(source).st_size:
        return None
    return bundle if hash_fd(source) == digest else None


def make_bundle(state_dir: Path, bundle: Path, held: dict[str, tuple[str, str]] | None = None) -> dict:
    """Write a bundle directory from a state directory; returns the manifest.

    Written as bundle.partial/ and renamed when whole. `held` (from earlier_images) names images an
    earlier bundle beside this one already holds; those are listed in the manifest, not copied.
    """
    state_dir, held = Path(state_dir), held or {}
    partial = bundle.with_name(bundle.name + PARTIAL_SUFFIX)
    partial.mkdir(parents=False, exist_ok=False)
    snapshot_database(state_dir / DB_NAME, partial / DB_NAME)

    conn = open_db(partial / DB_NAME, read_only=True)
    meta, version, summary = read_meta(conn), check_not_newer(conn, partial / DB_NAME), read_summary(conn)
    captures, log_id = read_captures(conn), log_identity(conn)
    conn.close()

    files = {DB_NAME: sha256_file(partial / DB_NAME)}
    elsewhere: dict[str, dict] = {}
    missing, exported = [], []
    for capture in captures:
        relative = capture.image_path
        try:
            source = open_image(state_dir, relative)
        except FileNotFoundError:
            missing.append(relative)
            continue
        except (OSError, ExportError) as e:  # a link or a FIFO: not a file the kiosk wrote
            print(f"fse-export: not copying {state_dir / relative}: {e}", file=sys.stderr)
            missing.append(relative)
            continue
        try:
            earlier = _already_held(source, bundle.parent, relative, held)
            if earlier:
                elsewhere[relative] = {"bundle": earlier, "sha256": held[relative][1]}
            else:
                files[relative] = copy_fd(source, partial, relative)
        finally:
            os.close(source)
        exported.append(capture.id)
    sync_filesystem(partial)  # every image on the device before a manifest says it is there

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
        },
        "missing_images": missing,
        # The captures whose image is in this bundle or an earlier one beside it: safe to prune at the booth.
        "exported_capture_ids": exported,
        "files": dict(sorted(files.items())),
        "images_in_earlier_bundles": elsewhere,
    }
    write_file_durably(partial / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
    os.rename(partial, bundle)
    fsync_dir(bundle.parent)
    return manifest


def bundle_name(state_dir: Path) -> str:
    """<booth>-<utc>: unique per export, sorts by time, safe on FAT."""
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in _booth_id(state_dir))
    return f"{safe}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"


def _booth_id(state_dir: Path) -> str:
    db = Path(state_dir) / DB_NAME
    if db.is_file():
        try:
            conn = open_db(db, read_only=True)
            booth = read_meta(conn).get("booth_id", "booth")
            conn.close()
            return booth
        except sqlite3.DatabaseError:
            pass
    return "booth"


def export_into(state_dir: Path, out: Path, full: bool) -> tuple[Path, dict]:
    out.mkdir(parents=True, exist_ok=True)
    name = bundle_name(state_dir)
    bundle, n = out / name, 1
    while bundle.exists() or bundle.with_name(bundle.name + PARTIAL_SUFFIX).exists():  # two pulls within a second
        n += 1
        bundle = out / f"{name}-{n}"
    held = {} if full else earlier_images(out, _booth_id(state_dir))
    return bundle, make_bundle(state_dir, bundle, held)


def record_export(state_dir: Path, manifest: dict) -> None:
    """Tell the log which captures a durable bundle now holds: retention may prune only those.
    The export itself stands if the log can't be marked (the captures just stay "not exported")."""
    try:
        mark_exported(state_dir, manifest["log_id"], manifest["exported_capture_ids"])
    except CaptureLogError as e:
        print(f"fse-export: {e}", file=sys.stderr)
    finally:
        give_back_sidecars(Path(state_dir) / DB_NAME)


def export_to_dir(state_dir: Path, out: Path, full: bool = False) -> Path:
    bundle, manifest = export_into(Path(state_dir), Path(out), full)
    record_export(state_dir, manifest)
    return bundle


def export_to_tar(state_dir: Path, tar_path: Path) -> Path:
    """A self-contained bundle (always full) as one tar."""
    mode = "w:gz" if tar_path.name.endswith((".tar.gz", ".tgz")) else "w"
    name = bundle_name(state_dir)
    tar_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fse-export-") as temp:
        bundle = Path(temp) / name
        manifest = make_bundle(state_dir, bundle)
        partial = tar_path.with_name(tar_path.name + ".part")
        with tarfile.open(partial, mode) as tar:
            tar.add(bundle, arcname=name)
        with open(partial, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(partial, tar_path)
        fsync_dir(tar_path.parent)
    record_export(state_dir, manifest)
    return tar_path
