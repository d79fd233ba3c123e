"""The capture log's writer thread (`capture-log`): the one owner of the SQLite connection.

CaptureLog (log.py) sends it Requests on a queue; nothing else touches the connection. The thread:
- buffers trail points and commits them, with the sessions' activity, every TRAIL_FLUSH_S (one
  fsync per batch: a crash loses at most that much trail, never a capture);
- serves captures (journal.py: the image journal, the durable PNG, one commit), flushes, pruning
  and the close;
- opens the log (migrating it, then sweeping what the image journal names); a log another program
  holds locked is retried with back-off while visitors keep exploring (faults.py);
- moves a damaged log to quarantine/ and begins a new one, said in F12 and the journal;
- every MAINTENANCE_S, and after every capture, refreshes F12's counts and applies retention
  (an export marks captures from another process).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from contract.capture_schema import (
    DB_NAME,
    IMAGES_DIR,
    CaptureLogError,
    capture_count,
    check_not_newer,
    migrate,
    open_db,
    unexported_count,
    utc_text,
)
from contract.capture_writes import insert_trail, record_booth, record_space, upsert_sessions

from . import faults
from .faults import Backoff, DamagedLogError, is_busy, is_damaged
from .files import quarantine_database, set_aside_logs
from .journal import prune, save_capture, sweep
from .sessions import Sessions
from .status import StatusBoard

log = logging.getLogger(__name__)

TRAIL_FLUSH_S = 5.0
"""Trail points are committed in batches this often: one fsync per batch instead of per point; a
crash loses at most this much trail."""

MAINTENANCE_S = 30.0
"""How often the writer refreshes F12's counts (an export marks captures from another process)
and applies the retention policy; it also does both after every capture."""

TRAIL_BUFFER_MAX = 20_000
"""Trail points held while the log is locked (hours at 2 Hz); past that the oldest are dropped."""

CLOSE_GIVE_UP_S = 5.0
"""At shutdown the buffered trail waits this long for a locked log, not a capture's minute."""


@dataclass
class Request:
    """A command for the writer thread, and its answer for a caller that waits."""

    kind: str  # "trail", "capture", "flush", "prune", "close"
    payload: object = None
    done: threading.Event = field(default_factory=threading.Event)
    result: object = None
    error: BaseException | None = None


class LogWriter:
    """The thread that owns the log's connection. Any thread may send it requests; only the
    thread itself touches `conn`, the trail buffer and the status (journal.py runs on it too)."""

    def __init__(
        self, state_dir: Path, booth_id: str, position_space: str, sessions: Sessions, keep_free_mb: float
    ) -> None:
        self.state_dir = state_dir
        self.db_path = state_dir / DB_NAME
        self.booth_id = booth_id
        self.position_space = position_space  # the latent map's name (contract.latent.space_name)
        self.space_id = 0  # its number in the open log (record_space), set at every open
        self.sessions = sessions
        self.keep_free_mb = keep_free_mb  # a plain float: the kiosk (or a test) may change it
        self.status = StatusBoard()
        self.conn: sqlite3.Connection | None = None
        self.pruned = 0  # exported captures retention deleted since the kiosk started
        self._requests: queue.Queue[Request] = queue.Queue()
        self._closing = threading.Event()
        self._trail: list[tuple[float, str | None, bytes, str]] = []
        self._trail_dropped = 0
        self._last_commit = self._last_maintenance = time.monotonic()
        self._retry_at: float | None = None
        self._backoff = Backoff()
        self._opened = threading.Event()
        self._fatal: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="capture-log", daemon=True)

    # -- any thread ------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the thread and wait for its first attempt to open the log (a locked log is retried
        in the background); raises CaptureLogError when the log cannot be opened at all."""
        self._thread.start()
        self._opened.wait()
        if self._fatal is not None:
            self._thread.join()
            raise self._fatal

    def offer_trail(self, point: tuple[float, str | None, bytes, str]) -> None:
        """Hand over a trail point (t, session id, z blob, how); never waits."""
        self._requests.put(Request("trail", point))

    def ask(self, kind: str, payload=None):
        """Send a request and wait for its answer (its result, or the error it raised)."""
        wait_s = faults.CAPTURE_BUSY_GIVE_UP_S + 60  # a capture's wait for the lock, and the write
        if not self._thread.is_alive():
            raise CaptureLogError(
                "the capture log is closed or its writer stopped (see the journal); restart the kiosk"
            )
        request = Request(kind, payload)
        self._requests.put(request)
        if not request.done.wait(wait_s):
            raise CaptureLogError(
                f"the capture log did not answer within {wait_s:.0f} s (see the journal); "
                f"restart the kiosk if this repeats"
            )
        if request.error is not None:
            raise request.error
        return request.result

    def close(self) -> None:
        """Commit what is buffered, checkpoint and close; captures already asked for finish first."""
        if not self._thread.is_alive():
            return
        self._closing.set()  # a locked log is no longer waited for
        with contextlib.suppress(CaptureLogError):
            self.ask("close")
        self._thread.join(timeout=10)

    # -- the thread ------------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._attempt_open()
        except BaseException as e:  # schema too new, an unusable directory: start() raises it
            self._fatal = (
                e
                if isinstance(e, CaptureLogError)
                else CaptureLogError(
                    f"the capture log {self.db_path} cannot be opened ({e}); check the state directory's "
                    f"permissions and the disk"
                )
            )
            self.status.update(state="failed")
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
            if self.conn is None:
                self._attempt_open()
                if self.conn is None:
                    return
            if self._trail and now - self._last_commit >= TRAIL_FLUSH_S:
                self.commit()
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
        if self.status.current.state != "busy":
            log.warning(
                "the capture log %s is locked by another program (an export?): %s; retrying, "
                "visitors keep exploring and captures wait",
                self.db_path,
                error,
            )
        self.status.update(state="busy")
        self._retry_at = time.monotonic() + self._backoff.next()

    def _serve(self, request: Request) -> None:
        try:
            if request.kind == "capture":
                request.result = save_capture(self, *request.payload)
                with contextlib.suppress(sqlite3.Error, OSError):
                    self._maintain()
            elif request.kind == "prune":
                request.result = self.retrying(self._maintain, time.monotonic() + faults.CAPTURE_BUSY_GIVE_UP_S)
            else:  # flush, close
                try:
                    give_up = CLOSE_GIVE_UP_S if self._closing.is_set() else faults.CAPTURE_BUSY_GIVE_UP_S
                    self.retrying(self.commit, time.monotonic() + give_up)
                except (sqlite3.Error, OSError) as e:
                    log.warning("capture log: %d trail point(s) not committed: %s", len(self._trail), e)
                if request.kind == "close":
                    self._close_connection()
        except BaseException as e:
            request.error = e
        finally:
            request.done.set()

    # -- transactions (the thread; journal.py uses these too) ------------------------------------
    def retrying(self, action: Callable[[], object], give_up_at: float):
        """action() on an open log; a locked log is retried with back-off until give_up_at, a
        damaged one is set aside once and the action tried again on the new log."""
        backoff, set_aside = Backoff(), False
        while True:
            try:
                if self.conn is None:
                    self._attempt_open()
                if self.conn is not None:
                    result = action()
                    self._retry_at = None
                    self._backoff.reset()
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
            if self._closing.is_set() or time.monotonic() + backoff.delay > give_up_at:
                raise error
            self._busy(error)
            self._closing.wait(backoff.next())

    def commit(self, write: Callable[[sqlite3.Connection], object] | None = None, fsync: bool = True):
        """One transaction: write(conn), the buffered trail and the sessions' unwritten activity.

        fsync=False commits without waiting for the disk: safe against a crash of the kiosk, and
        the next commit's fsync makes it durable too (the WAL is written in order).
        """
        sessions = self.sessions.take()
        if write is None and not self._trail and not sessions:
            return None
        conn = self.conn
        try:
            if not fsync:
                conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = write(conn) if write is not None else None
                insert_trail(conn, self._trail, self.space_id)
                upsert_sessions(
                    conn,
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
            self.sessions.give_back(sessions)
            raise
        finally:
            if not fsync:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("PRAGMA synchronous=FULL")
        self._trail = []
        self._last_commit = time.monotonic()
        if self.status.current.state == "busy":
            self.status.update(state="open")
        return result

    # -- opening and closing (the thread) --------------------------------------------------------
    def _attempt_open(self, may_set_aside: bool = True) -> None:
        """Open the log, or leave it closed when another program holds it (then retried with back-off)."""
        try:
            self._open()
            self._retry_at = None
            self._backoff.reset()
        except sqlite3.Error as e:
            if is_busy(e):
                self._busy(e)
                return
            if not (is_damaged(e) and may_set_aside):
                raise
            self._set_aside_damaged(e)
            self._attempt_open(may_set_aside=False)  # a new log: nothing in it can be damaged

    def _open(self) -> None:
        conn = open_db(self.db_path, busy_timeout_ms=faults.WRITER_BUSY_TIMEOUT_MS)
        try:
            version = check_not_newer(conn, self.db_path)
            if version > 0:
                problems = [row[0] for row in conn.execute("PRAGMA quick_check").fetchall()]
                if problems != ["ok"]:
                    raise DamagedLogError(f"PRAGMA quick_check: {'; '.join(problems[:3])}")
            migrate(conn)
            conn.execute("BEGIN IMMEDIATE")
            record_booth(conn, self.booth_id, utc_text(time.time()))
            space_id = record_space(conn, self.position_space)
            conn.execute("COMMIT")
        except BaseException:
            conn.close()
            raise
        self.conn, self.space_id = conn, space_id
        try:
            sweep(self)
            self._refresh_status(state="open")
        except BaseException:
            self._close_connection(checkpoint=False)  # the next attempt sweeps again (it is idempotent)
            raise

    def _set_aside_damaged(self, error: BaseException) -> None:
        """Move a damaged database to quarantine/; the next open starts a new log."""
        self._close_connection(checkpoint=False)
        target = quarantine_database(self.db_path)
        self._retry_at = time.monotonic()  # open the new log now, not at the next maintenance
        self.status.notice(
            f"the log was damaged ({error}); it was moved to {target} and a new log begun. "
            f"Its images stay in {self.state_dir / IMAGES_DIR}; nothing was deleted.",
            logging.ERROR,
        )

    def _close_connection(self, checkpoint: bool = True) -> None:
        conn, self.conn = self.conn, None
        if conn is None:
            return
        if checkpoint:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        with contextlib.suppress(sqlite3.Error):
            conn.close()

    # -- retention and F12's counts (the thread) -------------------------------------------------
    def _maintain(self) -> int:
        """Apply retention and refresh F12's counts; returns how many captures retention deleted."""
        self._last_maintenance = time.monotonic()
        if self.conn is None:
            return 0
        pruned = prune(self)
        self.pruned += pruned
        self._refresh_status()
        return pruned

    def _refresh_status(self, state: str | None = None) -> None:
        self.status.update(
            state=state or "open",
            captures=capture_count(self.conn),
            not_exported=unexported_count(self.conn),
            pruned=self.pruned,
            set_aside=len(set_aside_logs(self.state_dir)),
        )
