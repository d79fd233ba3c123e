"""Writing files so that a power cut leaves either no file or the whole file, never part of one.

The capture log writes its images this way, `fse-export` its manifests and status files.
"""

from __future__ import annotations

import os
from pathlib import Path

TEMP_SUFFIX = ".part"
"""A file being written is named <name>.part until it is complete and synced."""


def write_file_durably(path: Path, data: bytes) -> None:
    """Write bytes so that after return `path` holds all of them even across a power cut.

    temp file -> fsync -> rename -> fsync the directory: a reader (or a crash) only ever sees no
    file or the whole file, never part of one.
    """
    temp = path.with_name(path.name + TEMP_SUFFIX)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, path)
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    """Make the directory's entries (a rename, a new or removed file) survive a power cut."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
