"""Files in the state directory and on a stick, for fse-export: nothing is followed through a symlink.

The kiosk's user owns the state directory and anybody may own a stick's files, while the USB exporter
runs as root: every path is opened component by component with O_NOFOLLOW below a known root.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import stat
from pathlib import Path, PurePosixPath

CHUNK = 1 << 20


class ExportError(Exception):
    """An export that cannot be made; the message names the problem and the fix."""


class StickFull(ExportError):
    """No space left for the rest of an export; the message says how much more it needs."""


class ExportStopped(Exception):
    """SIGTERM: systemd stops the unit when the stick is pulled or the export runs past its timeout.
    Not an ExportError: nothing that passes over a bad file may swallow it."""


def open_beneath(root: Path, relative: str, flags: int, mode: int = 0o644, make_dirs: bool = False) -> int:
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


def open_image(root: Path, relative: str) -> int:
    """A capture image for reading; OSError(ELOOP) for a symlink, ExportError for anything not a file."""
    fd = open_beneath(root, relative, os.O_RDONLY | os.O_NONBLOCK)  # NONBLOCK: a planted FIFO must not hang us
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ExportError(f"{root / relative} is not a regular file")
    return fd


def hash_fd(fd: int) -> str:
    digest = hashlib.sha256()
    os.lseek(fd, 0, os.SEEK_SET)
    while chunk := os.read(fd, CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def copy_fd(source: int, bundle: Path, relative: str) -> str:
    """Copy an open image into the bundle (a new file: never over anything); returns its sha256.
    An OSError names the file written (a full stick's ENOSPC says where)."""
    digest = hashlib.sha256()
    os.lseek(source, 0, os.SEEK_SET)
    target = open_beneath(bundle, relative, os.O_WRONLY | os.O_CREAT | os.O_EXCL, make_dirs=True)
    try:
        while chunk := os.read(source, CHUNK):
            digest.update(chunk)
            view = memoryview(chunk)
            while view:
                view = view[os.write(target, view) :]
    except OSError as e:
        raise OSError(e.errno, e.strerror, str(bundle / relative)) from None
    finally:
        os.close(target)
    return digest.hexdigest()


def hash_on_device(root: Path, relative: str) -> tuple[int, str] | None:
    """(size, sha256) of root/relative as the device holds it, or None if it is not a regular file there.

    The page cache is dropped first (POSIX_FADV_DONTNEED, after a sync) so the bytes come from the
    stick, not from memory: a copy that reads back right can be relied on.
    """
    try:
        fd = open_beneath(root, relative, os.O_RDONLY | os.O_NONBLOCK)
    except (OSError, ExportError):
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        return info.st_size, hash_fd(fd)
    finally:
        os.close(fd)


def remove_beneath(root: Path, relative: str) -> None:
    """Unlink root/relative (a file or a link, never what a link points at); missing is fine."""
    parent, name = PurePosixPath(relative).parent, PurePosixPath(relative).name
    try:
        if str(parent) == ".":
            fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
        else:
            fd = open_beneath(root, str(parent), os.O_RDONLY | os.O_DIRECTORY)
    except (OSError, ExportError):
        return
    try:
        os.unlink(name, dir_fd=fd)
    except FileNotFoundError:
        pass
    finally:
        os.close(fd)


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
