"""What SQLite's errors mean for the booth, and how long it waits for a log another program holds.

Three faults the capture log rides out (docs/reliability.md):
- busy: another connection (an export) holds the lock. Nothing is wrong: try again with back-off.
- damaged: the file is not a database any more, or part of it is unreadable. The writer moves it
  to quarantine/ and begins a new log.
- disk full: the capture is refused with DiskFullError; the trail pauses.

The waits are read when used (faults.BUSY_RETRY_S), so a test can shorten them.
"""

from __future__ import annotations

import sqlite3

from contract.capture_schema import CaptureLogError

WRITER_BUSY_TIMEOUT_MS = 1000
"""SQLite's own wait for another program's lock, per attempt. The writer then backs off and tries
again, so a long export neither stalls its queue for long nor delays shutdown."""

BUSY_RETRY_S = (0.25, 8.0)
"""Back-off between attempts on a locked log: the first wait and the longest (doubling between)."""

CAPTURE_BUSY_GIVE_UP_S = 60.0
"""A capture waits this long for a locked log before the visitor is told it was not saved."""

MARK_GIVE_UP_S = 120.0
"""mark_exported waits this long for the kiosk's lock (it holds it for milliseconds at a time)."""


class DiskFullError(CaptureLogError):
    """Free space under the state directory is below the floor: captures are refused, the trail pauses."""


class DamagedLogError(sqlite3.DatabaseError):
    """PRAGMA quick_check found the database damaged."""


class Backoff:
    """The waits between attempts on a locked log: BUSY_RETRY_S[0], doubling up to BUSY_RETRY_S[1]."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.delay = BUSY_RETRY_S[0]

    def next(self) -> float:
        """The wait before the next attempt (then the one after doubles)."""
        delay, self.delay = self.delay, min(self.delay * 2, BUSY_RETRY_S[1])
        return delay


_BUSY_CODES = (5, 6)  # SQLITE_BUSY, SQLITE_LOCKED
_DAMAGED_CODES = (11, 26)  # SQLITE_CORRUPT, SQLITE_NOTADB


def _code(error: BaseException) -> int | None:
    code = getattr(error, "sqlite_errorcode", None)  # Python 3.11+; older: read the message
    return None if code is None else code & 0xFF


def is_busy(error: BaseException) -> bool:
    """Another connection holds the lock: try again later, nothing is wrong with the log."""
    if not isinstance(error, sqlite3.OperationalError):
        return False
    code = _code(error)
    return code in _BUSY_CODES if code is not None else "locked" in str(error)


def is_damaged(error: BaseException) -> bool:
    """The database file is not a database any more, or part of it is unreadable."""
    if isinstance(error, DamagedLogError):
        return True
    if not isinstance(error, sqlite3.DatabaseError):
        return False
    code = _code(error)
    if code is not None:
        return code in _DAMAGED_CODES
    return "malformed" in str(error) or "not a database" in str(error)


def is_disk_full(error: BaseException) -> bool:
    if isinstance(error, OSError) and error.errno in (28, 122):  # ENOSPC, EDQUOT
        return True
    return isinstance(error, sqlite3.OperationalError) and "full" in str(error).lower()
