"""Which visitor session is open and when it was last active (the log's `sessions` table)."""

from __future__ import annotations

import secrets
import threading
from datetime import datetime, timezone


class Sessions:
    """The open session, and the activity the writer has not committed yet.

    touch() runs on the UI thread at every input and must never wait for a commit, so this has a
    small lock of its own, never held across a database write. The writer takes the rows to write
    and clears them in one step under that lock: activity that arrives while it commits stays
    unwritten and goes into the next commit, instead of being lost.
    """

    def __init__(self, booth_id: str, idle_s: float) -> None:
        self.booth_id, self.idle_s = booth_id, idle_s
        self._lock = threading.Lock()
        self._id: str | None = None
        self._started = self._last = 0.0
        self._unwritten: dict[str, tuple[float, float]] = {}

    def touch(self, now: float) -> str:
        with self._lock:
            if self._id is None or now - self._last > self.idle_s:
                self._id = (
                    f"{self.booth_id}-{datetime.fromtimestamp(now, timezone.utc):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
                )
                self._started = now
            self._last = now
            self._unwritten[self._id] = (self._started, now)
            return self._id

    def current(self, now: float) -> str | None:
        with self._lock:
            return self._id if self._id is not None and now - self._last <= self.idle_s else None

    def take(self) -> dict[str, tuple[float, float]]:
        with self._lock:
            rows, self._unwritten = self._unwritten, {}
            return rows

    def give_back(self, rows: dict[str, tuple[float, float]]) -> None:
        """A commit failed: its rows are unwritten again (unless newer activity replaced them)."""
        with self._lock:
            for session_id, times in rows.items():
                self._unwritten.setdefault(session_id, times)
