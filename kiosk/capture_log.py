"""The booth's capture log: photographed designs and the visitors' trail, kept durably in SQLite.

The kiosk owns one `CaptureLog` on its state directory (`/var/lib/fse` on the booth):

    log = CaptureLog.from_config(config)          # starts the writer thread, which opens the log
    log.touch()                                   # UI thread, every visitor input: keeps the session open
    log.record_trail(z, "joystick")               # UI thread, every frame: keeps at most trail_hz points/s
    capture_id = log.save_capture(z, design28, image_rgb, "none", weights, "joystick")  # capture worker
    log.status()                                  # for F12: open or busy, captures not yet exported, notices
    log.close()

Threads: one writer thread (`capture-log`) owns the SQLite connection and takes commands from a
queue; nothing else touches that connection. touch() and record_trail() never wait for the disk,
save_capture() waits for its own commit. Readers (the export, map mode, the analysis) open their
own connections through contract.capture_schema, where the tables and their readers are defined.

Layout of the state directory (the format is documented in docs/analysis.md):

    log.sqlite (+ -wal, -shm)          the database (WAL mode, synchronous=FULL)
    images/YYYY-MM-DD/<utc>-<hex>.png  one 1024x1024 RGB PNG per capture (written by pygame), never rewritten
    quarantine/                        what the log set aside and never deletes: a damaged database
                                       (log-<utc>.sqlite), images no capture refers to (images-<utc>/...)
    usb-export.json                    status of the last USB export (written by `fse-export --usb`)

Durability: a capture's image path is entered in the image journal (committed, not yet fsynced)
before the file exists; the PNG is written to a temp file, fsynced, renamed and the directory
fsynced; then the capture's row and the end of its journal entry commit together (fsynced).
`save_capture` returns the id only after that commit, so a capture the visitor saw acknowledged
survives a power cut, and a row never points at a missing or half-written image. At start-up only
the journal's files are removed (captures that never committed, images whose rows retention
deleted); any other image no capture refers to is moved to quarantine/, never unlinked, and a log
that never saved a capture (a brand-new one) touches no file at all. The trail is buffered for up
to `TRAIL_FLUSH_S` seconds (a crash loses at most that much trail, never a capture).

Faults (docs/reliability.md): a log another program holds locked ("database is locked", e.g. an
export) is retried with back-off while visitors keep exploring; a damaged database is moved to
quarantine/ and a new log begins, said in F12 and the journal. Retention (`[log] keep_free_mb`)
deletes the oldest captures an export has copied (`mark_exported`), never one it has not.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import secrets
import shutil
import sqlite3
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from contract.capture_schema import (
    DB_NAME,
    DESIGN_SIDE,
    HOWS,
    IMAGES_DIR,
    CaptureLogError,
    check_not_newer,
    image_paths,
    migrate,
    open_db,
    unexported_count,
    utc_text,
    z_blob,
)

from .capture_files import (
    encode_capture_png,
    image_size,
    quarantine_database,
    quarantine_images,
    remove_image,
    stray_images,
)
from .durable import fsync_dir, write_file_durably

log = logging.getLogger(__name__)

TRAIL_FLUSH_S = 5.0
"""Trail points are committed in batches this often: one fsync per batch instead of per point; a
crash loses at most this much trail."""

DISK_CHECK_S = 2.0
"""How often record_trail re-reads the free space (statvfs is cheap, but not free at 60 fps)."""

MAINTENANCE_S = 30.0
"""How often the writer refreshes F12's counts (an export marks captures from another process)
and applies the retention policy; it also does both after every capture."""

WRITER_BUSY_TIMEOUT_MS = 1000
"""SQLite's own wait for another program's lock, per attempt. The writer then backs off and tries
again, so a long export neither stalls its queue for long nor delays shutdown."""

BUSY_RETRY_S = (0.25, 8.0)
"""Back-off between attempts on a locked log: the first wait and the longest (doubling between)."""

CAPTURE_BUSY_GIVE_UP_S = 60.0
"""A capture waits this long for a locked log before the visitor is told it was not saved."""

MARK_GIVE_UP_S = 120.0
"""mark_exported waits this long for the kiosk's lock (it holds it for milliseconds at a time)."""

TRAIL_BUFFER_MAX = 20_000
"""Trail points held while the log is locked (hours at 2 Hz); past that the oldest are dropped."""

_EXPORTED_SINCE_SCHEMA = 3
"""The schema version that added captures.exported_utc (and the image journal)."""


class DiskFullError(CaptureLogError):
    """Free space under the state directory is below the floor: captures are refused, the trail pauses."""


class _Damaged(sqlite3.DatabaseError):
    """PRAGMA quick_check found the database damaged."""


# ---------------------------------------------------------------------------------------------
# What SQLite's errors mean for the booth

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
    if isinstance(error, _Damaged):
        return True
    if not isinstance(error, sqlite3.DatabaseError):
        return False
    code = _code(error)
    if code is not None:
        return code in _DAMAGED_CODES
    return "malformed" in str(error) or "not a database" in str(error)


def _is_disk_full(error: BaseException) -> bool:
    if isinstance(error, OSError) and error.errno in (28, 122):  # ENOSPC, EDQUOT
        return True
    return isinstance(error, sqlite3.OperationalError) and "full" in str(error).lower()


# ---------------------------------------------------------------------------------------------
# Marking exports (called by fse-export, in its own process)


def mark_exported(state_dir: Path, capture_ids: Iterable[int], when: float | None = None) -> int:
    """Record that a bundle holding these captures is safely written; returns how many were newly marked.

    fse-export calls this once the bundle's images and manifest are durable on the stick. Retention
    (`[log] keep_free_mb`) only ever deletes captures marked here. Runs on its own connection and
    waits, with back-off, while the kiosk's writer holds the lock. A log older than schema 3 (the
    kiosk upgrades it at its next start) is left alone: 0. Run it as the log's owner (or hand the
    -wal/-shm files back afterwards), as for any write to the log.
    Raises CaptureLogError when the log stays locked for MARK_GIVE_UP_S or cannot be written.
    """
    ids = sorted({int(i) for i in capture_ids})
    db = Path(state_dir) / DB_NAME
    if not ids or not db.is_file():
        return 0
    stamp = utc_text(time.time() if when is None else when)
    give_up_at = time.monotonic() + MARK_GIVE_UP_S
    delay = BUSY_RETRY_S[0]
    while True:
        conn = None
        try:
            conn = open_db(db, busy_timeout_ms=WRITER_BUSY_TIMEOUT_MS)
            if check_not_newer(conn, db) < _EXPORTED_SINCE_SCHEMA:
                log.warning(
                    "%s predates export marks (schema < %d); the kiosk upgrades it at its next start",
                    db,
                    _EXPORTED_SINCE_SCHEMA,
                )
                return 0
            conn.execute("BEGIN IMMEDIATE")
            cursor = conn.executemany(
                "UPDATE captures SET exported_utc = ? WHERE id = ? AND exported_utc IS NULL", [(stamp, i) for i in ids]
            )
            conn.execute("COMMIT")
            return max(cursor.rowcount, 0)
        except sqlite3.Error as e:
            if not is_busy(e) or time.monotonic() + delay > give_up_at:
                raise CaptureLogError(
                    f"could not record the export in {db} ({e}); the captures stay marked as "
                    f"not exported, so retention keeps them: export again later"
                ) from None
        finally:
            if conn is not None:
                conn.close()
        time.sleep(delay)
        delay = min(delay * 2, BUSY_RETRY_S[1])


# ---------------------------------------------------------------------------------------------


class _Sessions:
    """Which visitor session is open and when it was last active.

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


@dataclass(frozen=True)
class LogStatus:
    """What F12 shows about the log; the writer thread replaces it whenever something changes."""

    state: str = "opening"  # "open"; "busy": another program holds the log, retrying; "failed"
    captures: int = 0
    not_exported: int = 0
    pruned: int = 0  # exported captures retention deleted since the kiosk started
    notices: tuple[str, ...] = ()  # what the operator should know: a damaged log set aside, images moved

    def lines(self) -> list[str]:
        pruned = f"   pruned since start (exported) {self.pruned}" if self.pruned else ""
        return [f"capture log {self.state}: {self.captures} captures, {self.not_exported} not yet exported{pruned}"] + [
            f"capture log: {notice}" for notice in self.notices
        ]


@dataclass
class _Request:
    """A command for the writer thread, and its answer for a caller that waits."""

    kind: str  # "trail", "capture", "flush", "prune", "close"
    payload: object = None
    done: threading.Event = field(default_factory=threading.Event)
    result: object = None
    error: BaseException | None = None


class CaptureLog:
    """The kiosk's log. Any thread may call it; only its writer thread touches the database."""

    def __init__(
        self,
        state_dir: Path,
        booth_id: str,
        disk_floor_mb: float = 200,
        trail_hz: float = 2.0,
        session_idle_s: float = 90,
        keep_free_mb: float = 0,
    ):
        self.state_dir = Path(state_dir)
        self.booth_id = booth_id
        self.disk_floor_mb = float(disk_floor_mb)
        self.keep_free_mb = float(keep_free_mb)
        self.trail_period = 1.0 / float(trail_hz) if trail_hz > 0 else float("inf")
        self.db_path = self.state_dir / DB_NAME
        try:
            (self.state_dir / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise CaptureLogError(
                f"cannot create the state directory {self.state_dir} ({e.strerror}); "
                f"create it writable for this user or set [paths] state_dir"
            ) from None
        self._sessions = _Sessions(booth_id, float(session_idle_s))
        self._requests: queue.Queue[_Request] = queue.Queue()
        self._status = LogStatus()
        self._closing = threading.Event()
        # The UI thread's (record_trail is only ever called from one thread).
        self._last_trail = -float("inf")
        self._free_checked_at = -float("inf")
        self._free_ok = True
        # The writer thread's alone.
        self._conn: sqlite3.Connection | None = None
        self._trail: list[tuple[float, str | None, bytes, str]] = []
        self._trail_dropped = 0
        self._last_commit = self._last_maintenance = time.monotonic()
        self._retry_at: float | None = None
        self._backoff = BUSY_RETRY_S[0]
        self._notices: list[str] = []
        self._pruned = 0
        self._opened = threading.Event()
        self._fatal: BaseException | None = None
        self._writer = threading.Thread(target=self._run, name="capture-log", daemon=True)
        self._writer.start()
        self._opened.wait()  # the first attempt: a locked log is retried in the background
        if self._fatal is not None:
            self._writer.join()
            raise self._fatal

    @classmethod
    def from_config(cls, config) -> "CaptureLog":
        """The kiosk's log, set up from its KioskConfig."""
        return cls(
            config.state_dir,
            config.booth_id,
            disk_floor_mb=config.disk_floor_mb,
            trail_hz=config.trail_hz,
            session_idle_s=config.session_idle_s,
            keep_free_mb=config.keep_free_mb,
        )

    # -- any thread ------------------------------------------------------------------------------
    def touch(self, now: float | None = None) -> str:
        """Visitor activity: keeps the session open (or starts one) and returns its id. Never waits."""
        return self._sessions.touch(time.time() if now is None else now)

    def status(self) -> LogStatus:
        """The latest LogStatus (no database access: safe on the UI thread)."""
        return self._status

    def free_mb(self) -> float:
        return shutil.disk_usage(self.state_dir).free / 1e6

    def _check_floor(self) -> None:
        free = self.free_mb()
        if free < self.disk_floor_mb:
            raise DiskFullError(
                f"only {free:.0f} MB free under {self.state_dir}, below the {self.disk_floor_mb:.0f} MB floor: "
                f"captures are paused. Pull the logs with `fse-export` and free space, or lower [log] disk_floor_mb"
            )

    def record_trail(self, z, how: str, now: float | None = None) -> bool:
        """Offer the visitor's current position (UI thread); keeps at most trail_hz points per second.

        Returns True when the point was kept. Never waits and never raises for disk trouble: under
        the disk floor the trail pauses and this returns False.
        """
        now = time.time() if now is None else now
        if now - self._last_trail < self.trail_period:
            return False
        if now - self._free_checked_at >= DISK_CHECK_S:
            self._free_checked_at = now
            self._free_ok = self.free_mb() >= self.disk_floor_mb
        if not self._free_ok:
            return False
        self._last_trail = now
        self._requests.put(_Request("trail", (now, self._sessions.current(now), z_blob(z), how)))
        return True

    def save_capture(
        self,
        z,
        design28: np.ndarray,
        image_rgb: np.ndarray,
        print_name: str,
        print_weights,
        how: str,
        now: float | None = None,
    ) -> int:
        """Store a capture durably and return its id (only after the commit). Blocking; not the UI thread.

        design28: (28, 28) in [0, 1] (float) or uint8. image_rgb: (H, W, 3) uint8, encoded here (on
        the caller's thread) as PNG. now: the capture's unix time (default: the clock).
        Raises DiskFullError under the disk floor (nothing is written), CaptureLogError otherwise
        (also when another program keeps the log locked for CAPTURE_BUSY_GIVE_UP_S).
        """
        if how not in HOWS:
            raise ValueError(f"how must be one of {', '.join(HOWS)}, got {how!r}")
        blob = z_blob(z)
        design = np.asarray(design28)
        if design.shape != (DESIGN_SIDE, DESIGN_SIDE):
            raise ValueError(f"design28 must be 28x28, got shape {design.shape}")
        if design.dtype != np.uint8:
            design = np.round(np.clip(np.nan_to_num(design.astype(np.float32)), 0, 1) * 255).astype(np.uint8)
        weights = json.dumps(
            [float(w) for w in np.asarray(print_weights if print_weights is not None else [], np.float64).reshape(-1)]
        )
        self._check_floor()
        png = encode_capture_png(image_rgb)
        now = time.time() if now is None else now
        session_id = self.touch(now)
        when = datetime.fromtimestamp(now, timezone.utc)
        relative = f"{IMAGES_DIR}/{when:%Y-%m-%d}/{when:%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(4)}.png"
        row = (utc_text(now), self.booth_id, session_id, blob, print_name, weights, how, relative, design.tobytes())
        return self._ask("capture", (row, png), CAPTURE_BUSY_GIVE_UP_S + 60)

    def flush(self) -> None:
        """Commit the buffered trail and the session's last activity now (tests, shutdown). Blocking."""
        self._ask("flush", None, CAPTURE_BUSY_GIVE_UP_S + 60)

    def prune(self) -> int:
        """Apply the retention policy now; returns how many exported captures were deleted. Blocking."""
        return self._ask("prune", None, CAPTURE_BUSY_GIVE_UP_S + 60)

    def close(self) -> None:
        """Commit what is buffered, checkpoint and close; captures already asked for finish first."""
        if not self._writer.is_alive():
            return
        self._closing.set()  # a locked log is no longer waited for
        with contextlib.suppress(CaptureLogError):
            self._ask("close", None, CAPTURE_BUSY_GIVE_UP_S + 60)
        self._writer.join(timeout=10)

    def __enter__(self) -> "CaptureLog":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _ask(self, kind: str, payload, wait_s: float):
        if not self._writer.is_alive():
            raise CaptureLogError(
                "the capture log is closed or its writer stopped (see the journal); restart the kiosk"
            )
        request = _Request(kind, payload)
        self._requests.put(request)
        if not request.done.wait(wait_s):
            raise CaptureLogError(
                f"the capture log did not answer within {wait_s:.0f} s (see the journal); "
                f"restart the kiosk if this repeats"
            )
        if request.error is not None:
            raise request.error
        return request.result

    # -- the writer thread -----------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._attempt_open()
        except BaseException as e:  # schema too new, an unusable directory: the constructor raises it
            self._fatal = (
                e
                if isinstance(e, CaptureLogError)
                else CaptureLogError(
                    f"the capture log {self.db_path} cannot be opened ({e}); check the state directory's "
                    f"permissions and the disk"
                )
            )
            self._set_status(state="failed")
            self._opened.set()
            return
        self._opened.set()
        while True:
            try:
                request = self._requests.get(timeout=self._idle_timeout())
            except queue.Empty:
                request = None
            try:
                if request is not None and request.kind == "trail":
                    self._buffer_trail(request.payload)
                elif request is not None:
                    self._serve(request)
                    if request.kind == "close":
                        return
                self._background()
            except Exception:  # a bug must not end the log: say so and go on
                log.exception("capture log writer")
                self._closing.wait(1.0)

    def _idle_timeout(self) -> float:
        now = time.monotonic()
        due = [self._last_maintenance + MAINTENANCE_S]
        if self._trail:
            due.append(self._last_commit + TRAIL_FLUSH_S)
        if self._retry_at is not None:
            due.append(self._retry_at)
        return max(0.0, min(due) - now)

    def _buffer_trail(self, point) -> None:
        self._trail.append(point)
        if len(self._trail) > TRAIL_BUFFER_MAX:
            del self._trail[0]
            self._trail_dropped += 1
            if self._trail_dropped in (1, 1000, 100_000):
                log.warning("the capture log is locked: %d trail point(s) dropped so far", self._trail_dropped)

    def _background(self) -> None:
        """Open a log that was locked, commit the trail when due, maintain: never blocks for long."""
        now = time.monotonic()
        if self._retry_at is not None and now < self._retry_at:
            return
        try:
            if self._conn is None:
                self._attempt_open()
                if self._conn is None:
                    return
            if self._trail and now - self._last_commit >= TRAIL_FLUSH_S:
                self._commit()
            if now - self._last_maintenance >= MAINTENANCE_S:
                self._maintain()
        except (sqlite3.Error, OSError) as e:
            if is_busy(e):
                self._busy(e)
                return
            if is_damaged(e):
                self._set_aside_damaged(e)
                return
            # The trail is best-effort: exploring must go on. Drop the batch rather than grow.
            log.warning("capture log: %d trail point(s) dropped: %s", len(self._trail), e)
            self._trail = []

    def _busy(self, error: BaseException) -> None:
        if self._status.state != "busy":
            log.warning(
                "the capture log %s is locked by another program (an export?): %s; retrying, "
                "visitors keep exploring and captures wait",
                self.db_path,
                error,
            )
        self._set_status(state="busy")
        self._retry_at = time.monotonic() + self._backoff
        self._backoff = min(self._backoff * 2, BUSY_RETRY_S[1])

    def _serve(self, request: _Request) -> None:
        try:
            if request.kind == "capture":
                request.result = self._save(*request.payload)
            elif request.kind == "prune":
                request.result = self._retrying(self._maintain, time.monotonic() + CAPTURE_BUSY_GIVE_UP_S)
            else:  # flush, close
                try:
                    give_up = 5.0 if self._closing.is_set() else CAPTURE_BUSY_GIVE_UP_S
                    self._retrying(self._commit, time.monotonic() + give_up)
                except (sqlite3.Error, OSError) as e:
                    log.warning("capture log: %d trail point(s) not committed: %s", len(self._trail), e)
                if request.kind == "close":
                    self._close_connection()
        except BaseException as e:
            request.error = e
        finally:
            request.done.set()

    def _retrying(self, action: Callable[[], object], give_up_at: float):
        """action() on an open log; a locked log is retried with back-off until give_up_at, a
        damaged one is set aside once and the action tried again on the new log."""
        delay, set_aside = BUSY_RETRY_S[0], False
        while True:
            try:
                if self._conn is None:
                    self._attempt_open()
                if self._conn is not None:
                    result = action()
                    self._retry_at, self._backoff = None, BUSY_RETRY_S[0]
                    return result
                error: BaseException = sqlite3.OperationalError("database is locked")
            except (sqlite3.Error, OSError) as e:
                if is_damaged(e) and not set_aside:
                    self._set_aside_damaged(e)
                    set_aside = True
                    continue
                if not is_busy(e):
                    raise
                error = e
            if self._closing.is_set() or time.monotonic() + delay > give_up_at:
                raise error
            self._busy(error)
            self._closing.wait(delay)
            delay = min(delay * 2, BUSY_RETRY_S[1])

    def _commit(self, write: Callable[[sqlite3.Connection], object] | None = None, fsync: bool = True):
        """One transaction: write(conn), the buffered trail and the sessions' unwritten activity.

        fsync=False commits without waiting for the disk: safe against a crash of the kiosk, and
        the next commit's fsync makes it durable too (the WAL is written in order).
        """
        sessions = self._sessions.take()
        if write is None and not self._trail and not sessions:
            return None
        conn = self._conn
        try:
            if not fsync:
                conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = write(conn) if write is not None else None
                conn.executemany("INSERT INTO trail (t, session_id, z, how) VALUES (?, ?, ?, ?)", self._trail)
                conn.executemany(
                    "INSERT INTO sessions VALUES (?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET last_utc = excluded.last_utc",
                    [
                        (sid, self.booth_id, utc_text(started), utc_text(last))
                        for sid, (started, last) in sessions.items()
                    ],
                )
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                raise
        except BaseException:
            self._sessions.give_back(sessions)
            raise
        finally:
            if not fsync:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("PRAGMA synchronous=FULL")
        self._trail = []
        self._last_commit = time.monotonic()
        if self._status.state == "busy":
            self._set_status(state="open")
        return result

    # -- captures (writer thread) ----------------------------------------------------------------
    def _save(self, row: tuple, png: bytes) -> int:
        relative = row[7]
        path = self.state_dir / relative
        give_up_at = time.monotonic() + CAPTURE_BUSY_GIVE_UP_S
        journal = [(relative, utc_text(time.time()))]
        try:
            # Journalled before the file exists: if anything stops us, start-up knows the file is ours.
            # No fsync of its own: the capture's commit below syncs it; a power cut before that can
            # only leave an image without its journal entry, which start-up moves to quarantine.
            self._retrying(
                lambda: self._commit(
                    lambda c: c.executemany("INSERT OR REPLACE INTO image_journal VALUES (?, 'saving', ?)", journal),
                    fsync=False,
                ),
                give_up_at,
            )
            if not path.parent.is_dir():
                path.parent.mkdir(exist_ok=True)
                fsync_dir(path.parent.parent)
            write_file_durably(path, png)

            def insert(conn: sqlite3.Connection) -> int:
                cursor = conn.execute(
                    "INSERT INTO captures (utc, booth_id, session_id, z, print_name, print_weights, "
                    "how, image_path, design28) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    row,
                )
                conn.execute("DELETE FROM image_journal WHERE image_path = ?", (relative,))
                return int(cursor.lastrowid)

            capture_id = self._retrying(lambda: self._commit(insert), give_up_at)
        except (OSError, sqlite3.Error) as e:
            self._forget_unsaved(relative)
            if _is_disk_full(e):
                raise DiskFullError(
                    f"the disk under {self.state_dir} is full: the capture was not saved. "
                    f"Pull the logs with `fse-export` and free space"
                ) from None
            if is_busy(e):
                raise CaptureLogError(
                    "the capture was not saved: another program (an export?) has held the "
                    f"capture log locked for over {CAPTURE_BUSY_GIVE_UP_S:.0f} s; try again "
                    "when it has finished"
                ) from None
            raise CaptureLogError(
                f"the capture could not be saved to {self.state_dir} ({e}); check the "
                f"disk and the directory's permissions"
            ) from None
        with contextlib.suppress(sqlite3.Error, OSError):
            self._maintain()
        return capture_id

    def _forget_unsaved(self, relative: str) -> None:
        """Remove a capture's image that did not commit; only when the log says so, else start-up will."""
        try:
            if (
                self._conn is None
                or self._conn.execute("SELECT 1 FROM captures WHERE image_path = ?", (relative,)).fetchone() is not None
            ):
                return
            remove_image(self.state_dir, relative)
            self._commit(lambda c: c.execute("DELETE FROM image_journal WHERE image_path = ?", (relative,)))
        except (sqlite3.Error, OSError) as e:
            log.info("left %s for start-up to clear (%s)", relative, e)

    # -- opening (writer thread) -----------------------------------------------------------------
    def _attempt_open(self, may_set_aside: bool = True) -> None:
        """Open the log, or leave it closed when another program holds it (then retried with back-off)."""
        try:
            self._open()
            self._retry_at, self._backoff = None, BUSY_RETRY_S[0]
        except sqlite3.Error as e:
            if is_busy(e):
                self._busy(e)
                return
            if not (is_damaged(e) and may_set_aside):
                raise
            self._set_aside_damaged(e)
            self._attempt_open(may_set_aside=False)  # a new log: nothing in it can be damaged

    def _open(self) -> None:
        conn = open_db(self.db_path, busy_timeout_ms=WRITER_BUSY_TIMEOUT_MS)
        try:
            version = check_not_newer(conn, self.db_path)
            if version > 0:
                problems = [row[0] for row in conn.execute("PRAGMA quick_check").fetchall()]
                if problems != ["ok"]:
                    raise _Damaged(f"PRAGMA quick_check: {'; '.join(problems[:3])}")
            migrate(conn)
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('booth_id', ?)", (self.booth_id,))
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('created_utc', ?)", (utc_text(time.time()),))
            conn.execute("COMMIT")
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        try:
            self._sweep()
            self._refresh_status(state="open")
        except BaseException:
            self._close_connection(checkpoint=False)  # the next attempt sweeps again (it is idempotent)
            raise

    def _set_aside_damaged(self, error: BaseException) -> None:
        """Move a damaged database to quarantine/; the next open starts a new log."""
        self._close_connection(checkpoint=False)
        target = quarantine_database(self.db_path)
        self._retry_at = time.monotonic()  # open the new log now, not at the next maintenance
        self._notice(
            f"the log was damaged ({error}); it was moved to {target} and a new log begun. "
            f"Its images stay in {self.state_dir / IMAGES_DIR}; nothing was deleted.",
            logging.ERROR,
        )

    def _sweep(self) -> None:
        """Clear what the image journal says is ours; quarantine any other image no capture refers to."""
        conn = self._conn
        referenced = set(image_paths(conn))
        journal = [row[0] for row in conn.execute("SELECT image_path FROM image_journal")]
        removed = sum(remove_image(self.state_dir, relative) for relative in journal if relative not in referenced)
        if journal:
            self._commit(
                lambda c: c.executemany("DELETE FROM image_journal WHERE image_path = ?", [(r,) for r in journal])
            )
        if removed:
            log.info("removed %d image file(s) of captures that never committed or were pruned", removed)
        if conn.execute("SELECT 1 FROM sqlite_sequence WHERE name = 'captures'").fetchone() is None:
            return  # a log that never saved a capture (a brand-new one) claims no file: leave images/ alone
        strays = stray_images(self.state_dir, referenced | set(journal))
        if strays:
            target = quarantine_images(self.state_dir, strays)
            self._notice(
                f"{len(strays)} image file(s) that no capture in this log refers to (an older or "
                f"restored log's?) were moved to {target}; nothing was deleted.",
                logging.WARNING,
            )

    def _close_connection(self, checkpoint: bool = True) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if checkpoint:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        with contextlib.suppress(sqlite3.Error):
            conn.close()

    # -- retention and status (writer thread) ----------------------------------------------------
    def _maintain(self) -> int:
        """Apply retention and refresh F12's counts; returns how many captures retention deleted."""
        self._last_maintenance = time.monotonic()
        if self._conn is None:
            return 0
        pruned = self._prune()
        self._refresh_status()
        return pruned

    def _prune(self) -> int:
        """Delete the oldest exported captures until keep_free_mb is free; never an unexported one."""
        short_bytes = (self.keep_free_mb - self.free_mb()) * 1e6
        if self.keep_free_mb <= 0 or short_bytes <= 0:
            return 0
        rows = self._conn.execute(
            "SELECT id, image_path FROM captures WHERE exported_utc IS NOT NULL ORDER BY id"
        ).fetchall()
        chosen, freed = [], 0
        for capture_id, relative in rows:
            chosen.append((capture_id, relative))
            freed += image_size(self.state_dir, relative)
            if freed >= short_bytes:
                break
        if freed < short_bytes:
            self._notice(
                f"less than [log] keep_free_mb = {self.keep_free_mb:.0f} MB is free and every capture "
                f"left is unexported: pull the log with fse-export (a USB stick) so retention can make room",
                logging.WARNING,
                once=True,
            )
        if not chosen:
            return 0
        stamp = utc_text(time.time())

        def drop(conn: sqlite3.Connection) -> None:
            # Journalled as the rows go: a crash before the unlinks leaves files start-up may remove.
            conn.executemany(
                "INSERT OR REPLACE INTO image_journal VALUES (?, 'pruned', ?)",
                [(relative, stamp) for _, relative in chosen],
            )
            conn.executemany("DELETE FROM captures WHERE id = ?", [(capture_id,) for capture_id, _ in chosen])

        self._commit(drop)
        for _, relative in chosen:
            remove_image(self.state_dir, relative)
        self._commit(
            lambda c: c.executemany(
                "DELETE FROM image_journal WHERE image_path = ?", [(relative,) for _, relative in chosen]
            )
        )
        self._pruned += len(chosen)
        log.info(
            "retention: deleted the %d oldest exported capture(s) (%.0f MB) to keep %.0f MB free",
            len(chosen),
            freed / 1e6,
            self.keep_free_mb,
        )
        return len(chosen)

    def _refresh_status(self, state: str | None = None) -> None:
        captures = self._conn.execute("SELECT COUNT(*) FROM captures").fetchone()[0]
        self._set_status(
            state=state or "open", captures=captures, not_exported=unexported_count(self._conn), pruned=self._pruned
        )

    def _notice(self, message: str, level: int, once: bool = False) -> None:
        if once and message in self._notices:
            return
        log.log(level, "capture log: %s", message)
        self._notices.append(message)
        self._set_status(notices=tuple(self._notices[-4:]))

    def _set_status(self, **changes) -> None:
        self._status = replace(self._status, **changes)
