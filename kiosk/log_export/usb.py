"""`fse-export --usb`: the booth's log onto a USB stick labelled FSE-EXPORT (systemd/fse-usb-export@.service).

    fse-export --usb /dev/sdb1           # udev/systemd on a stick labelled FSE-EXPORT (mounts it)
    fse-export --usb /media/stick        # or an already mounted stick
    fse-export --mark-stopped /dev/sdb1  # the unit's ExecStopPost: a killed export is marked failed

Progress goes to `<state_dir>/usb-export-<partition>.json` (kiosk/usb_status.py, which the kiosk polls to tell the
operator when the stick is safe to remove). The USB exporter runs as root (it mounts the stick) but
reads the state directory and writes the bundle as the directory's owner (the kiosk's user), so a
link planted there reaches nothing that user could not reach anyway; the stick is mounted as
kiosk/usb_stick.py mounts every stick (its own mount point, nosuid,nodev,noexec,nosymfollow, only
the file systems in ALLOWED_FILESYSTEMS).
"""

from __future__ import annotations

# datetime.strptime imports _strptime on first use; once the export acts as a stick's or the state
# directory's owner (acting_as) that owner may not read the interpreter's files (a Python under /root),
# and the capture reader's time check then failed with ModuleNotFoundError. Import it while still root.
import _strptime  # noqa: F401
import contextlib
import errno
import json
import os
import stat
import sys
import time
from pathlib import Path

from contract.capture_schema import DB_NAME, utc_text

from ..durable import write_file_durably
from ..usb_status import read_usb_status, status_file
from ..usb_stick import acting_as, mount_stick, run_or_raise, stick_name, unmount_stick
from .bundle import check_log
from .files import ExportError, ExportStopped, StickFull
from .pull import export_into, record_export

USB_MOUNT_ROOT = Path("/run/fse-usb-export")  # one mount point per device below it: /run/fse-usb-export/sdb1
USB_SUBDIR = "fse-export"
STOPPED_MESSAGE = (
    "the export was stopped before it finished (the stick was pulled, or it took longer than the "
    "15-minute limit); plug the stick in again to copy the rest"
)


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
    path = Path(state_dir) / status_file(extra.get("device") or "stick")
    try:
        with acting_as(owner):
            write_file_durably(path, (json.dumps(status, indent=2) + "\n").encode())
            os.chmod(path, 0o644)  # the kiosk's user reads it
    except OSError as e:
        print(f"fse-export: cannot write {path} ({e})", file=sys.stderr)


def export_folder(root: Path, owner: tuple[int, int] | None) -> Path:
    """root/fse-export, made if missing and handed to the owner; a link there is refused.

    Made as the owner of the stick's top folder: a stick formatted on a desktop belongs to its user
    (uid 1000), and the unit has no CAP_DAC_OVERRIDE to write into someone else's folder as root.
    """
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        top = os.fstat(root_fd)
        maker = (top.st_uid, top.st_gid) if os.geteuid() == 0 and top.st_uid != 0 else None
        with acting_as(maker), contextlib.suppress(FileExistsError):
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

    stick = stick_name(target)

    def status(state: str, message: str, **extra) -> None:
        write_usb_status(state_dir, state, message, owner, device=target, stick=stick, started_utc=started, **extra)

    status("running", f"Copying the booth's log to {stick}. Do not remove it.")
    mount_point = None
    try:
        path = Path(target)
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            mode = 0
        if stat.S_ISBLK(mode):
            mount_point = root = mount_stick(path, owner, USB_MOUNT_ROOT, "FSE-EXPORT")
        elif stat.S_ISDIR(mode):
            root = path
        else:
            raise ExportError(f"{target} is neither a block device nor a mounted directory; plug the stick in again")
        with acting_as(owner):
            check_log(state_dir / DB_NAME)  # no log: nothing is written on the stick
        out = export_folder(root, owner)
        with acting_as(owner):
            made, unreadable = export_into(state_dir, out, full)
        bundle, manifest = made[0]
        if mount_point:
            run_or_raise(["umount", str(mount_point)], f"cannot unmount {mount_point}")
            # Under the unit the mount point is its RuntimeDirectory, itself a bind mount there (EBUSY),
            # which systemd removes when the unit ends; run by hand, it is an empty folder.
            with contextlib.suppress(OSError):
                mount_point.rmdir()
            mount_point = None
        counts, missing = manifest["counts"], sum(len(m["missing_images"]) for _, m in made)
        lost = f"; {missing} images are missing at the booth (F12 names them)" if missing else ""
        if len(made) > 1:
            lost += f"; {len(made) - 1} set-aside logs too"
        if unreadable:
            lost += f"; {len(unreadable)} set-aside logs could not be read (they stay in the booth's quarantine/)"
        status(
            "done",
            f"Export finished ({counts['captures']} captures, {counts['images_copied']} new images{lost}): "
            f"safe to remove {stick}.",
            bundle=f"{USB_SUBDIR}/{bundle.name}",
            missing_images=missing,
            finished_utc=utc_text(time.time()),
        )
    except BaseException as e:
        if mount_point:
            unmount_stick(mount_point)
        if isinstance(e, (ExportStopped, StickFull)):
            message = str(e)
        elif isinstance(e, OSError) and e.errno == errno.ENOSPC:
            message = (
                f"the stick is full ({e.filename or target}): delete old bundles from {USB_SUBDIR}/ on it, "
                f"or use a stick with more room; what was copied stays and the next export continues from it"
            )
        elif isinstance(e, OSError):
            message = f"{e.strerror or e} ({e.filename or target}). Remove the stick and try again"
        else:
            message = f"{e}. Remove the stick and try again"
        status("failed", message, finished_utc=utc_text(time.time()))
        raise
    with acting_as(owner):  # after "safe to remove": the stick is unmounted, the bundles on it whole
        for _, written in made:
            record_export(state_dir, written)
    return bundle


def mark_stopped(state_dir: Path, device: str) -> bool:
    """After the unit ends (ExecStopPost): an export of `device` still "running" was killed (SIGKILL
    after a hang, or a crash) and could not say so itself. Mark it failed, free its mount point."""
    state_dir = Path(state_dir)
    with acting_as(state_dir_owner(state_dir)):  # root holds no CAP_DAC_OVERRIDE in the unit
        status = read_usb_status(state_dir, device)
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
