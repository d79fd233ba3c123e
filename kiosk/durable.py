"""Writing files so that a power cut leaves either no file or the whole file, never part of one.

The capture log writes its images this way, `fse-export` its manifests and status files.
"""

from __future__ import annotations

import glob
import os
import secrets
from pathlib import Path

TEMP_SUFFIX = ".part"
"""A file being written is named <name>.<pid>-<random>.part until it is complete and synced."""


def write_file_durably(path: Path, data: bytes) -> None:
    """Write bytes so that after return `path` holds all of them even across a power cut.

    temp file -> fsync -> rename -> fsync the directory: a reader (or a crash) only ever sees no
    file or the whole file, never part of one. The temp file gets a name nobody can guess and is
    created, never opened: a link or file planted in the folder is neither followed nor clobbered.
    """
    temp = path.with_name(f"{path.name}.{os.getpid()}-{secrets.token_hex(4)}{TEMP_SUFFIX}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o640)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def temp_files(path: Path) -> list[Path]:
    """The temp files a write of `path` cut short may have left (also <name>.part, from older versions)."""
    pattern = glob.escape(path.name) + ".*" + TEMP_SUFFIX
    return [path.with_name(path.name + TEMP_SUFFIX), *sorted(path.parent.glob(pattern))]


def fsync_dir(path: Path) -> None:
    """Make the directory's entries (a rename, a new or removed file) survive a power cut."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
