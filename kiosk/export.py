"""`fse-export`: pull the booth's capture log as a checksummed bundle.

    fse-export --out DIR                 # a bundle directory: DIR/<booth>-<utc>/
    fse-export --tar FILE                # the same bundle as one tar (FILE.tar.gz compresses)
    fse-export --usb /dev/sdb1           # udev/systemd on a stick labelled FSE-EXPORT (mounts it)
    fse-export --usb /media/stick        # or an already mounted stick
    fse-export --usb /dev/sdb1 --full    # copy every image again, not only the new ones
    fse-export --mark-stopped /dev/sdb1  # the USB unit's ExecStopPost: a killed export is marked failed

The ONNX models go the other way, from training into the booth: `fse-train export` (training/export.py).

`--state-dir` picks the log (default: the kiosk's, from kiosk.config). Safe while the kiosk runs:
the database is copied with SQLite's online backup API (a consistent snapshot), and capture images
are immutable once referenced, so the bundle is exactly the log at one instant.

A bundle holds `log.sqlite` (a single-file snapshot), `images/...` and `manifest.json`: booth id,
schema version, time range, counts and the sha256 of every other file. `fse-analyze` checks those
sums. The format is described in docs/analysis.md. A bundle is written as `NAME.partial/`, every
file is flushed to the disk, then the manifest is written and the folder renamed to `NAME/`: a
bundle with its final name is whole; a `.partial` one is an export that was cut short.

Exports into a folder of bundles (--out, --usb) are incremental: an image that an earlier whole
bundle of the same booth in that folder already holds, with the same sha256, is not copied again;
the manifest's `images_in_earlier_bundles` says which bundle holds it. `--full` copies everything.

USB exports report progress in `<state_dir>/usb-export.json`, which the kiosk polls to tell the
operator when the stick is safe to remove:
    {"state": "running" | "done" | "failed", "message": "...", "device": "...", "bundle": "...",
     "started_utc": "...", "finished_utc": "..."}
The USB exporter runs as root (it mounts the stick) but reads the state directory and writes the
bundle as the directory's owner (the kiosk's user), so a link planted there reaches nothing that
user could not reach anyway; a stick is mounted nosuid,nodev,noexec,nosymfollow, only if its file
system is one of ALLOWED_FILESYSTEMS, each device on its own mount point.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import errno
import hashlib
import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path, PurePosixPath

from contract.capture_schema import (
    DB_NAME,
    IMAGES_DIR,
    CaptureLogError,
    check_not_newer,
    open_db,
    read_captures,
    read_meta,
    read_summary,
    utc_text,
)
from contract.models import sha256_file

from .capture.exported import mark_exported
from .durable import fsync_dir, write_file_durably

MANIFEST = "manifest.json"
BUNDLE_FORMAT = "fse-capture-bundle"
BUNDLE_VERSION = 1
PARTIAL_SUFFIX = ".partial"
USB_STATUS = "usb-export.json"
USB_MOUNT_ROOT = Path("/run/fse-usb-export")  # one mount point per device below it: /run/fse-usb-export/sdb1
USB_SUBDIR = "fse-export"
# The file systems a stick may have; systemd/90-fse-usb-export.rules matches the same list (a test checks).
ALLOWED_FILESYSTEMS = ("vfat", "exfat", "ext4")
MOUNT_OPTIONS = "nosuid,nodev,noexec,nosymfollow"
MANIFEST_LIMIT = 64 << 20  # an earlier bundle's manifest bigger than this is not ours
CHUNK = 1 << 20


class ExportError(Exception):
    """An export that cannot be made; the message names the problem and the fix."""


class ExportStopped(Exception):
    """SIGTERM: systemd stops the unit when the stick is pulled or the export runs past its timeout.
    Not an ExportError: nothing that passes over a bad file may swallow it."""


# ---------------------------------------------------------------------------------------------
# Files: nothing in the state directory or on a stick is followed through a symlink


def _open_beneath(root: Path, relative: str, flags: int, mode: int = 0o644, make_dirs: bool = False) -> int:
    """Open root/relative without following a symlink in any component below root.

    The kiosk's user owns the state directory and anybody may own a stick's files: a link there must
    not make this process (root, for USB exports) read or write elsewhere.
    """
    parts = PurePosixPath(relative).parts
    if not parts or PurePosixPath(relative).is_absolute() or ".." in parts:
        raise ExportError(f"{relative!r} is not a path inside {root}; the capture log names a file outside it")
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in parts[:-1]:
            if make_dirs:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o755, dir_fd=fd)
            inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = inner
        return os.open(parts[-1], flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=fd)
    finally:
        os.close(fd)


def _open_image(root: Path, relative: str) -> int:
    """A capture image for reading; OSError(ELOOP) for a symlink, ExportError for anything not a file."""
    fd = _open_beneath(root, relative, os.O_RDONLY | os.O_NONBLOCK)  # NONBLOCK: a planted FIFO must not hang us
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ExportError(f"{root / relative} is not a regular file")
    return fd


def _hash_fd(fd: int) -> str:
    digest = hashlib.sha256()
    os.lseek(fd, 0, os.SEEK_SET)
    while chunk := os.read(fd, CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def _copy_fd(source: int, bundle: Path, relative: str) -> str:
    """Copy an open image into the bundle (a new file: never over anything); returns its sha256."""
    digest = hashlib.sha256()
    os.lseek(source, 0, os.SEEK_SET)
    target = _open_beneath(bundle, relative, os.O_WRONLY | os.O_CREAT | os.O_EXCL, make_dirs=True)
    try:
        while chunk := os.read(source, CHUNK):
            digest.update(chunk)
            view = memoryview(chunk)
            while view:
                view = view[os.write(target, view) :]
    finally:
        os.close(target)
    return digest.hexdigest()


_libc = ctypes.CDLL(None, use_errno=True)


def sync_filesystem(path: Path) -> None:
    """Flush every file written to path's file system to the device (syncfs(2)): one flush for a
    whole bundle, where an fsync per image costs a slow stick a journal commit each."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if _libc.syncfs(fd) != 0:
            code = ctypes.get_errno()
            raise OSError(code, f"syncfs failed: {os.strerror(code)}", str(path))
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------------------------
# Bundles


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
        _give_back_sidecars(db_path)


def _give_back_sidecars(db_path: Path) -> None:
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
            fd = _open_beneath(folder, f"{entry.name}/{MANIFEST}", os.O_RDONLY | os.O_NONBLOCK)
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
    return bundle if _hash_fd(source) == digest else None


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
    captures = read_captures(conn)
    conn.close()

    files = {DB_NAME: sha256_file(partial / DB_NAME)}
    elsewhere: dict[str, dict] = {}
    missing, exported = [], []
    for capture in captures:
        relative = capture.image_path
        try:
            source = _open_image(state_dir, relative)
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
                files[relative] = _copy_fd(source, partial, relative)
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


def _export_into(state_dir: Path, out: Path, full: bool) -> tuple[Path, dict]:
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
        mark_exported(state_dir, manifest["exported_capture_ids"])
    except CaptureLogError as e:
        print(f"fse-export: {e}", file=sys.stderr)
    finally:
        _give_back_sidecars(Path(state_dir) / DB_NAME)


def export_to_dir(state_dir: Path, out: Path, full: bool = False) -> Path:
    bundle, manifest = _export_into(Path(state_dir), Path(out), full)
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


# ---------------------------------------------------------------------------------------------
# USB


@contextlib.contextmanager
def acting_as(owner: tuple[int, int] | None):
    """Root takes the state directory owner's identity (effective ids) for file work, then back."""
    if owner is None:
        yield
        return
    groups = os.getgroups()
    os.setgroups([])
    os.setegid(owner[1])
    os.seteuid(owner[0])
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)
        os.setgroups(groups)


def state_dir_owner(state_dir: Path) -> tuple[int, int] | None:
    """Whom a root exporter acts as in the state directory: its owner, or None (not root / root-owned)."""
    if os.geteuid() != 0:
        return None
    info = os.lstat(state_dir)
    if stat.S_ISLNK(info.st_mode):
        raise ExportError(f"the state directory {state_dir} is a symlink; point --state-dir at the real folder")
    return None if info.st_uid == 0 else (info.st_uid, info.st_gid)


def write_usb_status(state_dir: Path, state: str, message: str, owner: tuple[int, int] | None = None, **extra) -> None:
    status = {"state": state, "message": message, "updated_utc": utc_text(time.time()), **extra}
    path = Path(state_dir) / USB_STATUS
    try:
        with acting_as(owner):
            write_file_durably(path, (json.dumps(status, indent=2) + "\n").encode())
            os.chmod(path, 0o644)  # the kiosk's user reads it
    except OSError as e:
        print(f"fse-export: cannot write {path} ({e})", file=sys.stderr)


def read_usb_status(state_dir: Path) -> dict | None:
    """The last USB export's status, or None if there never was one."""
    try:
        return json.loads((Path(state_dir) / USB_STATUS).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


class UsbStatusWatch:
    """What the kiosk shows of USB exports: each status written after the kiosk started, once.

    A status already there at start-up is old news; the first one ever written (no file at start-up)
    is not. Compares the file's bytes, not its mtime: "running" and "done" may share a timestamp.
    """

    POLL_S = 1.0
    """How often `toast` reads the file (the kiosk asks every frame)."""

    def __init__(self, state_dir: Path):
        self.path = Path(state_dir) / USB_STATUS
        self._last = self._read()
        self._polled = -self.POLL_S

    def toast(self, now: float) -> tuple[str, str, float] | None:
        """usb_status_toast of a new status; the file is read at most every POLL_S of `now` (seconds)."""
        if now - self._polled < self.POLL_S:
            return None
        self._polled = now
        return usb_status_toast(self.poll())

    def _read(self) -> bytes | None:
        try:
            return self.path.read_bytes()
        except OSError:
            return None

    def poll(self) -> dict | None:
        data = self._read()
        if data is None or data == self._last:
            self._last = data
            return None
        self._last = data
        try:
            status = json.loads(data)
        except json.JSONDecodeError:
            return None
        return status if isinstance(status, dict) else None


def usb_status_toast(status: dict | None) -> tuple[str, str, float] | None:
    """(text, level, seconds) for the kiosk's status line, or None."""
    if not status:
        return None
    state = status.get("state")
    if state == "running":
        return "USB export running: don't remove the stick", "info", 6.0
    if state == "done":
        return "USB export finished: safe to remove", "ok", 8.0
    if state == "failed":
        return f"USB export failed: {status.get('message', '')}", "warn", 10.0
    return None


def filesystem_type(device: Path) -> str:
    """The file system blkid finds on the device ('' if none)."""
    result = subprocess.run(["blkid", "-p", "-o", "value", "-s", "TYPE", str(device)], capture_output=True, text=True)
    return result.stdout.strip()


def mount_stick(device: Path, owner: tuple[int, int] | None) -> Path:
    """Mount a stick on its own mount point (USB_MOUNT_ROOT/<kernel name>); returns the mount point."""
    fstype = filesystem_type(device)
    if fstype not in ALLOWED_FILESYSTEMS:
        raise ExportError(
            f"{device} holds {'a ' + fstype if fstype else 'no known'} file system; the booth only "
            f"mounts {', '.join(ALLOWED_FILESYSTEMS)}: format the stick as FAT32, exFAT or ext4 "
            f"with the label FSE-EXPORT"
        )
    point = USB_MOUNT_ROOT / device.name
    USB_MOUNT_ROOT.mkdir(mode=0o755, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        point.mkdir(mode=0o755)
    info = os.lstat(point)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != 0:
        raise ExportError(f"{point} is not a root-owned folder; remove it and plug the stick in again")
    if os.path.ismount(point):
        raise ExportError(f"{point} is in use: an export to {device} is already running; wait for it to finish")
    options = MOUNT_OPTIONS
    if owner and fstype in ("vfat", "exfat"):  # no owners on disk: the files belong to the kiosk's user
        options += f",uid={owner[0]},gid={owner[1]},fmask=0022,dmask=0022"
    _run(
        ["mount", "-t", fstype, "-o", options, str(device), str(point)],
        f"cannot mount {device} ({fstype}); try the stick in another port, or reformat it",
    )
    return point


def unmount_stick(point: Path) -> None:
    result = subprocess.run(["umount", str(point)], capture_output=True, text=True)
    if result.returncode != 0:  # a pulled stick: detach it so the next one can use the mount point
        subprocess.run(["umount", "-l", str(point)], capture_output=True)
    with contextlib.suppress(OSError):
        point.rmdir()


def export_folder(root: Path, owner: tuple[int, int] | None) -> Path:
    """root/fse-export, made if missing and handed to the owner; a link there is refused."""
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with contextlib.suppress(FileExistsError):
            os.mkdir(USB_SUBDIR, 0o755, dir_fd=root_fd)
        try:
            fd = os.open(USB_SUBDIR, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=root_fd)
        except OSError as e:
            if e.errno in (errno.ELOOP, errno.ENOTDIR):
                raise ExportError(
                    f"{USB_SUBDIR} on the stick is a link or a file, not a folder; the booth only writes "
                    f"into a real folder: delete it from the stick, or use another stick"
                ) from None
            raise
        try:
            if owner and os.fstat(fd).st_uid != owner[0]:
                os.fchown(fd, *owner)
        finally:
            os.close(fd)
    finally:
        os.close(root_fd)
    return root / USB_SUBDIR


def export_to_usb(state_dir: Path, target: str, full: bool = False) -> Path:
    """Export onto a stick: a block device is mounted (and unmounted) here, a directory is used as is."""
    state_dir = Path(state_dir)
    owner = state_dir_owner(state_dir)
    started = utc_text(time.time())

    def status(state: str, message: str, **extra) -> None:
        write_usb_status(state_dir, state, message, owner, device=target, started_utc=started, **extra)

    status("running", "Copying the booth's log to the USB stick. Do not remove it.")
    mount_point = None
    try:
        path = Path(target)
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            mode = 0
        if stat.S_ISBLK(mode):
            mount_point = root = mount_stick(path, owner)
        elif stat.S_ISDIR(mode):
            root = path
        else:
            raise ExportError(f"{target} is neither a block device nor a mounted directory; plug the stick in again")
        out = export_folder(root, owner)
        with acting_as(owner):
            bundle, manifest = _export_into(state_dir, out, full)
        if mount_point:
            _run(["umount", str(mount_point)], f"cannot unmount {mount_point}")
            mount_point.rmdir()
            mount_point = None
        counts = manifest["counts"]
        status(
            "done",
            f"Export finished ({counts['captures']} captures, {counts['images_copied']} new images): "
            f"safe to remove the USB stick.",
            bundle=f"{USB_SUBDIR}/{bundle.name}",
            finished_utc=utc_text(time.time()),
        )
    except BaseException as e:
        if mount_point:
            unmount_stick(mount_point)
        if isinstance(e, ExportStopped):
            message = str(e)
        elif isinstance(e, OSError):
            message = f"{e.strerror or e} ({e.filename or target}). Remove the stick and try again"
        else:
            message = f"{e}. Remove the stick and try again"
        status("failed", message, finished_utc=utc_text(time.time()))
        raise
    with acting_as(owner):  # after "safe to remove": the stick is unmounted, the bundle on it whole
        record_export(state_dir, manifest)
    return bundle


def mark_stopped(state_dir: Path, device: str) -> bool:
    """After the unit ends (ExecStopPost): an export of `device` still "running" was killed (SIGKILL
    after a hang, or a crash) and could not say so itself. Mark it failed, free its mount point."""
    state_dir = Path(state_dir)
    status = read_usb_status(state_dir)
    point = USB_MOUNT_ROOT / Path(device).name
    if os.path.ismount(point):
        unmount_stick(point)
    if not status or status.get("state") != "running" or status.get("device") != device:
        return False
    write_usb_status(
        state_dir,
        "failed",
        STOPPED_MESSAGE,
        state_dir_owner(state_dir),
        device=device,
        started_utc=status.get("started_utc"),
        finished_utc=utc_text(time.time()),
    )
    return True


def _run(command: list[str], problem: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise ExportError(f"{problem} ({' '.join(command)}: {result.stderr.strip() or result.returncode})")


STOPPED_MESSAGE = (
    "the export was stopped before it finished (the stick was pulled, or it took longer than the "
    "15-minute limit); plug the stick in again to copy the rest"
)


def _stop(signum, frame) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # one clean-up; systemd's SIGKILL follows if it hangs
    raise ExportStopped(STOPPED_MESSAGE)


# ---------------------------------------------------------------------------------------------


def _default_state_dir() -> Path:
    from .config import load_config

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
    except (ExportError, ExportStopped, CaptureLogError) as e:
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
