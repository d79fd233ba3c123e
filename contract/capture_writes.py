"""The capture log's writes, each statement written once (the tables are in capture_schema.py).

The kiosk's writer thread (kiosk/capture/) runs them; `fse-export` marks the captures a bundle
holds (kiosk/capture/exported.py); analysis.synthetic bulk-adds trail. Each function runs inside
the caller's transaction: the caller says BEGIN IMMEDIATE ... COMMIT, so several writes commit
together (a capture's row and the end of its journal entry, for instance).

    conn.execute("BEGIN IMMEDIATE")
    capture_id = insert_capture(conn, CaptureRow(...), space)      # space = record_space(conn, name)
    clear_journal(conn, [row.image_path])
    conn.execute("COMMIT")

numpy + stdlib only (see contract/__init__.py).
"""

from __future__ import annotations

import sqlite3
from typing import Iterable, NamedTuple

EXPORT_MARKS_SINCE = 3
"""The schema version that added captures.exported_utc (and the image journal)."""


class CaptureRow(NamedTuple):
    """A capture as inserted: the columns of `captures` but its id (SQLite picks it) and exported_utc."""

    utc: str
    booth_id: str
    session_id: str
    z: bytes  # z_blob(z)
    print_name: str
    print_weights: str  # JSON list of numbers
    how: str
    image_path: str  # relative to the state directory
    design28: bytes  # 784 x uint8, row-major


def record_booth(conn: sqlite3.Connection, booth_id: str, created_utc: str) -> None:
    """The log's booth and creation time, written by the first kiosk that opens it; later ones keep them."""
    conn.execute("INSERT OR IGNORE INTO meta VALUES ('booth_id', ?)", (booth_id,))
    conn.execute("INSERT OR IGNORE INTO meta VALUES ('created_utc', ?)", (created_utc,))


def record_space(conn: sqlite3.Connection, name: str) -> int:
    """The number of a latent map's name in this log (contract.latent.space_name), entered if new:
    what insert_capture and insert_trail store beside the slider positions."""
    if not name:
        raise ValueError("a capture log needs the name of the latent map its slider positions are in")
    conn.execute("INSERT OR IGNORE INTO position_spaces (name) VALUES (?)", (name,))
    return int(conn.execute("SELECT id FROM position_spaces WHERE name = ?", (name,)).fetchone()[0])


def insert_capture(conn: sqlite3.Connection, row: CaptureRow, space: int) -> int:
    """Insert one capture, its z in the latent map numbered `space` (record_space); returns its id."""
    columns = (*CaptureRow._fields, "space")
    cursor = conn.execute(
        f"INSERT INTO captures ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", (*row, space)
    )
    return int(cursor.lastrowid)


def insert_trail(conn: sqlite3.Connection, points: Iterable[tuple[float, str | None, bytes, str]], space: int) -> None:
    """Trail points as (t, session_id or None, z_blob(z), how), their z in the map numbered `space`."""
    conn.executemany(
        "INSERT INTO trail (t, session_id, z, how, space) VALUES (?, ?, ?, ?, ?)", (p + (space,) for p in points)
    )


def upsert_sessions(conn: sqlite3.Connection, sessions: Iterable[tuple[str, str, str, str]]) -> None:
    """Sessions as (id, booth_id, started_utc, last_utc): a new one is inserted, a known one gets its last_utc."""
    conn.executemany(
        "INSERT INTO sessions VALUES (?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET last_utc = excluded.last_utc",
        sessions,
    )


# ---------------------------------------------------------------------------------------------
# The image journal: files the log is about to create ('saving') or delete ('pruned'), the only
# files start-up may remove (kiosk/capture/journal.py says how it is used).


def journal_images(conn: sqlite3.Connection, image_paths: Iterable[str], reason: str, utc: str) -> None:
    """Enter image paths (relative to the state directory) in the journal: reason 'saving' or 'pruned'."""
    conn.executemany("INSERT OR REPLACE INTO image_journal VALUES (?, ?, ?)", [(p, reason, utc) for p in image_paths])


def clear_journal(conn: sqlite3.Connection, image_paths: Iterable[str]) -> None:
    conn.executemany("DELETE FROM image_journal WHERE image_path = ?", [(p,) for p in image_paths])


def journalled_images(conn: sqlite3.Connection) -> dict[str, str]:
    """{image path: reason ('saving' or 'pruned')} of every journal entry."""
    return dict(conn.execute("SELECT image_path, reason FROM image_journal").fetchall())


def holds_image(conn: sqlite3.Connection, image_path: str) -> bool:
    """Whether a capture refers to this image (relative to the state directory)."""
    return conn.execute("SELECT 1 FROM captures WHERE image_path = ?", (image_path,)).fetchone() is not None


def ever_saved_a_capture(conn: sqlite3.Connection) -> bool:
    """Whether this log ever inserted a capture (even one retention deleted since): a brand-new log has not."""
    return conn.execute("SELECT 1 FROM sqlite_sequence WHERE name = 'captures'").fetchone() is not None


# ---------------------------------------------------------------------------------------------
# Exports and retention


def mark_captures_exported(conn: sqlite3.Connection, capture_ids: Iterable[int], utc: str) -> int:
    """Stamp captures with the time of the first export that held them; returns how many were newly stamped."""
    cursor = conn.executemany(
        "UPDATE captures SET exported_utc = ? WHERE id = ? AND exported_utc IS NULL", [(utc, i) for i in capture_ids]
    )
    return max(cursor.rowcount, 0)


def exported_captures(conn: sqlite3.Connection) -> list[tuple[int, str]]:
    """(id, image_path) of every capture an export has held, oldest first: what retention may delete."""
    return conn.execute("SELECT id, image_path FROM captures WHERE exported_utc IS NOT NULL ORDER BY id").fetchall()


def delete_captures(conn: sqlite3.Connection, capture_ids: Iterable[int]) -> None:
    conn.executemany("DELETE FROM captures WHERE id = ?", [(i,) for i in capture_ids])
