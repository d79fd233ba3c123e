"""Marking captures exported: `fse-export` calls mark_exported, in its own process, once a bundle is safe.

Retention (`[log] keep_free_mb`, kiosk/capture/journal.py) only ever deletes captures marked here.
This opens its own connection beside the kiosk's writer and imports none of its thread machinery.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path
from typing import Iterable

from contract.capture_schema import DB_NAME, CaptureLogError, check_not_newer, log_identity, open_db, utc_text
from contract.capture_writes import EXPORT_MARKS_SINCE, mark_captures_exported

from . import faults

log = logging.getLogger(__name__)


def mark_exported(state_dir: Path, log_id: str, capture_ids: Iterable[int], when: float | None = None) -> int:
    """Record that a bundle holding these captures of log `log_id` is safely written; returns how many
    were newly marked.

    fse-export calls this once the bundle's images and manifest are durable on the stick. If the log
    there now is another one (the exported log was set aside or replaced while the export ran), nothing
    is marked: its captures with the same numbers are not on the stick. Retention
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
    give_up_at = time.monotonic() + faults.MARK_GIVE_UP_S
    backoff = faults.Backoff()
    while True:
        conn = None
        try:
            conn = open_db(db, busy_timeout_ms=faults.WRITER_BUSY_TIMEOUT_MS)
            if check_not_newer(conn, db) < EXPORT_MARKS_SINCE:
                log.warning(
                    "%s predates export marks (schema < %d); the kiosk upgrades it at its next start",
                    db,
                    EXPORT_MARKS_SINCE,
                )
                return 0
            conn.execute("BEGIN IMMEDIATE")
            if log_identity(conn) != log_id:
                conn.execute("ROLLBACK")
                log.warning(
                    "%s is no longer the log that was exported (%s); its captures stay marked as not exported",
                    db,
                    log_id,
                )
                return 0
            marked = mark_captures_exported(conn, ids, stamp)
            conn.execute("COMMIT")
            return marked
        except sqlite3.Error as e:
            if not faults.is_busy(e) or time.monotonic() + backoff.delay > give_up_at:
                raise CaptureLogError(
                    f"could not record the export in {db} ({e}); the captures stay marked as "
                    f"not exported, so retention keeps them: export again later"
                ) from None
        finally:
            if conn is not None:
                conn.close()
        time.sleep(backoff.next())
