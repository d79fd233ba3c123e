"""A USB stick mounted by a root unit: shared by `fse-export --usb` (kiosk/log_export/usb.py, label
FSE-EXPORT) and `fse-update --usb` (kiosk/update/usb.py, label FSE-UPDATE).

Each stick goes on its own mount point (<mount_root>/<kernel name>), only if its file system is one
of ALLOWED_FILESYSTEMS, always nosuid,nodev,noexec,nosymfollow, ext4 with errors=remount-ro (a
superblock asking for errors=panic must not stop the booth). Root works on it as another user with
`acting_as`, so a link planted on the stick or in the state directory reaches nothing that user
could not reach anyway.
"""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
from pathlib import Path

# The file systems a stick may have; the udev rules (systemd/90-fse-usb-*.rules) match the same list (a test checks).
ALLOWED_FILESYSTEMS = ("vfat", "exfat", "ext4")
MOUNT_OPTIONS = "nosuid,nodev,noexec,nosymfollow"


class StickError(Exception):
    """The stick cannot be used; the message says why and what to do."""


@contextlib.contextmanager
def acting_as(owner: tuple[int, int] | None):
    """Root takes another user's identity (effective ids) for file work, then back."""
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


def filesystem_type(device: Path) -> str:
    """The file system blkid finds on the device ('' if none)."""
    result = subprocess.run(["blkid", "-p", "-o", "value", "-s", "TYPE", str(device)], capture_output=True, text=True)
    return result.stdout.strip()


def mount_stick(
    device: Path, owner: tuple[int, int] | None, mount_root: Path, label: str, read_only: bool = False
) -> Path:
    """Mount a stick on its own mount point (mount_root/<kernel name>); returns the mount point.

    `owner`: on vfat/exfat (no owners on disk) the files belong to this user; `label` names the
    stick's label in the message for a stick the booth cannot mount."""
    fstype = filesystem_type(device)
    if fstype not in ALLOWED_FILESYSTEMS:
        raise StickError(
            f"{device} holds {'a ' + fstype if fstype else 'no known'} file system; the booth only "
            f"mounts {', '.join(ALLOWED_FILESYSTEMS)}: format the stick as FAT32, exFAT or ext4 "
            f"with the label {label}"
        )
    point = mount_root / device.name
    mount_root.mkdir(mode=0o755, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        point.mkdir(mode=0o755)
    info = os.lstat(point)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != 0:
        raise StickError(f"{point} is not a root-owned folder; remove it and plug the stick in again")
    if os.path.ismount(point):
        raise StickError(f"{point} is in use: {device} is already being worked on; wait for it to finish")
    options = MOUNT_OPTIONS + (",ro" if read_only else "")
    if fstype == "ext4":  # a superblock may ask for errors=panic: a bad stick must not stop the booth
        options += ",errors=remount-ro"
    if owner and fstype in ("vfat", "exfat"):  # no owners on disk: the files belong to the kiosk's user
        options += f",uid={owner[0]},gid={owner[1]},fmask=0022,dmask=0022"
    run_or_raise(
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


def stick_name(target: str) -> str:
    """What the operator calls the stick: its size and kernel name ("the 16 GB stick sdb1"), or its folder."""
    path = Path(target)
    try:
        if not stat.S_ISBLK(os.stat(path).st_mode):
            return f"the stick at {target}"
        size = int((Path("/sys/class/block") / path.name / "size").read_text()) * 512
    except (OSError, ValueError):
        return f"the stick {path.name}"
    return f"the {size / 1e9:.0f} GB stick {path.name}" if size >= 1e9 else f"the {size / 1e6:.0f} MB stick {path.name}"


def run_or_raise(command: list[str], problem: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise StickError(f"{problem} ({' '.join(command)}: {result.stderr.strip() or result.returncode})")
