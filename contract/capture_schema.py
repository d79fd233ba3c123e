"""The capture log's format: its SQLite schema, the migrations between versions, and its readers.

The kiosk writes the log (kiosk/capture/, through the statements in capture_writes.py);
`fse-export` snapshots it into bundles (kiosk/log_export/, the format in contract/bundle.py), the kiosk's map mode places the booth's
captures (kiosk/ui/map_loader.py) and `fse-analyze` merges bundles (analysis/bundles.py). All of
them read through the functions here, so the tables and columns are written down once. The format
is documented in docs/analysis.md.

Positions (`z` of captures and trail) are the visitor's slider positions, each row naming the latent
map they are in (schema 5, `position_spaces`; contract/latent.py says why and turns them into z).

    conn = open_db(state_dir / DB_NAME, read_only=True)
    check_not_newer(conn, state_dir / DB_NAME)
    captures = read_captures(conn)            # [Capture], oldest first
    trail = read_trail(conn)                  # Trail: ids, t, z (N, 8) slider positions, session ids, hows, spaces

numpy + stdlib only (see contract/__init__.py).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import numpy as np

from .space import LATENT_DIM

log = logging.getLogger(__name__)

DB_NAME = "log.sqlite"
IMAGES_DIR = "images"
DESIGN_SIDE = 28

HOWS = ("joystick", "canvas", "landmark", "jump", "random", "slider", "keyboard", "map", "attract", "start")
"""How the visitor reached a design; stored with every capture and trail point."""

BUSY_TIMEOUT_MS = 10_000
"""How long SQLite itself waits for another connection's lock before "database is locked"."""


class CaptureLogError(Exception):
    """The capture log cannot do what was asked; the message names the problem and the fix."""


class SchemaTooNewError(CaptureLogError):
    """The database was written by a newer fse than this one."""


@dataclass(frozen=True)
class Capture:
    """One photographed design, as stored.

    z: the 8 slider positions (float32 precision), in the latent map `space` names. print_weights: the print's weights as stored by the
    kiosk (an empty tuple for no print). image_path: relative to the state directory (or bundle).
    design28: the 28x28 design as 784 raw uint8 bytes, row-major (np.frombuffer(..., np.uint8)
    .reshape(28, 28) / 255 gives the design in [0, 1]).
    """

    id: int
    utc: str
    booth_id: str
    session_id: str
    z: tuple[float, ...]
    print_name: str
    print_weights: tuple[float, ...]
    how: str
    image_path: str
    design28: bytes
    log_id: str = ""  # the log it was saved in (log_identity): id restarts at 1 in every new log
    space: str | None = None  # the latent map z is in (contract.latent.PositionSpaces); None: not named (schema < 5)

    @property
    def uid(self) -> str:
        """The capture's identity across logs and booths: its log's id and its number in that log."""
        return f"{self.log_id}/{self.id}"

    def design(self) -> np.ndarray:
        """design28 as (28, 28) float32 in [0, 1]."""
        return np.frombuffer(self.design28, np.uint8).reshape(DESIGN_SIDE, DESIGN_SIDE).astype(np.float32) / 255.0


# ---------------------------------------------------------------------------------------------
# Schema and migrations. Each entry takes the database from version N-1 to N; user_version holds
# the version reached. Never edit a released migration: append a new one.

MIGRATIONS: tuple[tuple[int, str], ...] = (
    (
        1,
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE captures (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            utc TEXT NOT NULL,
            booth_id TEXT NOT NULL,
            session_id TEXT NOT NULL,
            z BLOB NOT NULL,                 -- 8 x float32 little-endian
            print_name TEXT NOT NULL,
            print_weights TEXT NOT NULL,     -- JSON list of numbers
            how TEXT NOT NULL,
            image_path TEXT NOT NULL UNIQUE, -- relative to the state directory
            design28 BLOB NOT NULL           -- 784 x uint8, row-major
        );
        CREATE TABLE trail (
            id INTEGER PRIMARY KEY,
            t REAL NOT NULL,                 -- unix time, seconds
            session_id TEXT,                 -- NULL while nobody is at the booth (attract loop)
            z BLOB NOT NULL,
            how TEXT NOT NULL
        );
    """,
    ),
    (
        2,
        """
        -- Sessions get their own table so durations don't depend on the trail being recorded.
        CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            booth_id TEXT NOT NULL,
            started_utc TEXT NOT NULL,
            last_utc TEXT NOT NULL
        );
        INSERT INTO sessions (id, booth_id, started_utc, last_utc)
            SELECT session_id, booth_id, MIN(utc), MAX(utc) FROM captures GROUP BY session_id;
        CREATE INDEX trail_t ON trail (t);
        CREATE INDEX captures_session ON captures (session_id);
        CREATE TABLE schema_history (version INTEGER PRIMARY KEY, applied_utc TEXT NOT NULL);
    """,
    ),
    (
        3,
        """
        -- Retention may delete a capture only once a bundle holding it is safely on a stick.
        ALTER TABLE captures ADD COLUMN exported_utc TEXT;   -- first export that held it; NULL: never exported
        -- Image files the log is about to create or delete: the only files start-up may remove.
        CREATE TABLE image_journal (
            image_path TEXT PRIMARY KEY,     -- relative to the state directory
            reason TEXT NOT NULL,            -- 'saving': its capture has not committed; 'pruned': its capture is gone
            utc TEXT NOT NULL
        );
    """,
    ),
    (
        4,
        """
        -- The log's own identity: capture and trail ids restart at 1 in every new log (one set aside,
        -- a restored one, a second booth with the same booth_id), so what leaves the booth is keyed
        -- by (log_id, id). A log that already has a booth and a creation time gets the id that
        -- log_identity() gives its older snapshots, so bundles from before and after this
        -- migration merge as one log; a new log gets a random one.
        INSERT OR IGNORE INTO meta (key, value)
            SELECT 'log_id', COALESCE(
                (SELECT 'v3:' || b.value || ':' || c.value FROM meta b, meta c
                    WHERE b.key = 'booth_id' AND c.key = 'created_utc'),
                lower(hex(randomblob(16))));
    """,
    ),
    (
        5,
        """
        -- A slider position means a design only under the latent map it was set with (a model
        -- export changes the map: contract/latent.py). Every capture and trail point names its map;
        -- NULL: logged before this version, by a kiosk that did not say (fse-analyze asks which).
        CREATE TABLE position_spaces (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE        -- "prior.npz:<sha256>" or "generator.onnx:<sha256>"
        );
        ALTER TABLE captures ADD COLUMN space INTEGER REFERENCES position_spaces (id);
        ALTER TABLE trail ADD COLUMN space INTEGER REFERENCES position_spaces (id);
    """,
    ),
)
SPACES_SINCE = 5
"""The schema version whose rows name their latent map; older logs' positions name none."""
SCHEMA_VERSION = MIGRATIONS[-1][0]


def utc_text(t: float) -> str:
    """Unix time as ISO-8601 UTC with milliseconds, e.g. 2024-05-01T12:00:00.123Z."""
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_utc(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()


def schema_version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def check_not_newer(conn: sqlite3.Connection, where: str | os.PathLike) -> int:
    """The database's schema version; SchemaTooNewError if this fse cannot read it."""
    version = schema_version(conn)
    if version > SCHEMA_VERSION:
        raise SchemaTooNewError(
            f"{where} has capture-log schema version {version}, but this fse understands up to "
            f"version {SCHEMA_VERSION}; upgrade fse (pip install -U fashion-space-explorer, or pull "
            f"the newer repository) to read it"
        )
    return version


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Apply the migrations after the database's version up to `target`, each in one transaction."""
    version = schema_version(conn)
    for number, script in MIGRATIONS:
        if version < number <= target:
            # executescript would commit on its own; wrap it so a migration is all-or-nothing.
            conn.execute("BEGIN IMMEDIATE")
            try:
                if schema_version(conn) >= number:  # another process migrated while we waited for the lock
                    conn.execute("ROLLBACK")
                    version = schema_version(conn)
                    continue
                for statement in _statements(script):
                    conn.execute(statement)
                if number >= 2:
                    conn.execute("INSERT INTO schema_history VALUES (?, ?)", (number, utc_text(time.time())))
                conn.execute(f"PRAGMA user_version = {number}")
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            log.info("capture log migrated to schema version %d", number)
            version = number
    return version


def _statements(script: str) -> Iterator[str]:
    buffer = ""
    for line in script.splitlines():
        line = line.split("--", 1)[0]
        buffer += line + "\n"
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                yield buffer.strip()
            buffer = ""


def open_db(path: Path, *, read_only: bool = False, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> sqlite3.Connection:
    """A connection set up the way the log needs it (WAL, synchronous=FULL); no migration.

    Autocommit (isolation_level=None): writers say BEGIN IMMEDIATE ... COMMIT themselves.
    """
    if read_only:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False)
    else:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=busy_timeout_ms / 1000)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
    conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    return conn


def open_snapshot(path: Path) -> sqlite3.Connection:
    """A read-only connection to a bundle's single-file snapshot, which nothing writes any more."""
    return sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)


# ---------------------------------------------------------------------------------------------
# Readers (the kiosk's map, the export and the analysis)


def z_blob(z) -> bytes:
    values = np.asarray(z, np.float32).reshape(-1)
    if values.shape != (LATENT_DIM,):
        raise ValueError(f"z must have {LATENT_DIM} values, got {values.size}")
    return values.astype("<f4").tobytes()


def z_from_blob(blob: bytes) -> tuple[float, ...]:
    return tuple(float(v) for v in np.frombuffer(blob, "<f4"))


def log_identity(conn: sqlite3.Connection) -> str:
    """The log's own id (meta log_id, schema 4). A snapshot from before has none: it gets the id that
    migration 4 gives its log, from the booth id and the log's creation time (unique to the millisecond)."""
    meta = read_meta(conn)
    if meta.get("log_id"):
        return meta["log_id"]
    if "booth_id" in meta and "created_utc" in meta:
        return f"v3:{meta['booth_id']}:{meta['created_utc']}"
    first = conn.execute("SELECT MIN(id) FROM sessions").fetchone() if schema_version(conn) >= 2 else None
    return f"v1:{meta.get('booth_id', 'unknown')}:{first[0] if first and first[0] else 'empty'}"


@dataclass(frozen=True)
class BadRow:
    """A row a reader could not decode (a log whose file is whole, but with a row the kiosk never
    wrote that way: a damaged page, a hand edit). Readers leave it out and say which and why."""

    table: str
    id: int
    why: str

    def __str__(self) -> str:
        return f"{self.table} row {self.id}: {self.why}"


def _rejected(bad: list[BadRow] | None, row: BadRow) -> None:
    if bad is None:
        raise CaptureLogError(f"the capture log's {row}")
    bad.append(row)


def _z_why(blob) -> str:
    """Why a stored z is not 8 little-endian float32s ("" if it is)."""
    if not isinstance(blob, bytes):
        return f"z is {type(blob).__name__}, not a blob"
    if len(blob) != LATENT_DIM * 4:
        return f"z holds {len(blob) / 4:g} floats, not {LATENT_DIM}"
    return ""


def _capture(r, log_id: str) -> Capture:
    """One captures row decoded; ValueError saying what is wrong with it."""
    why = _z_why(r[4])
    if why:
        raise ValueError(why)
    try:
        weights = json.loads(r[6])
    except (TypeError, json.JSONDecodeError) as e:
        raise ValueError(f"print_weights is not JSON ({e})") from None
    if not isinstance(weights, list) or not all(isinstance(w, (int, float)) for w in weights):
        raise ValueError(f"print_weights is not a list of numbers: {str(r[6])[:40]!r}")
    if not isinstance(r[9], bytes) or len(r[9]) != DESIGN_SIDE * DESIGN_SIDE:
        raise ValueError(f"design28 holds {len(r[9]) if isinstance(r[9], bytes) else 0} bytes, not {DESIGN_SIDE**2}")
    try:
        parse_utc(r[1])
    except (TypeError, ValueError):
        raise ValueError(f"utc {str(r[1])[:40]!r} is not a time") from None
    z = z_from_blob(r[4])
    return Capture(r[0], r[1], r[2], r[3], z, r[5], tuple(weights), r[7], r[8], bytes(r[9]), log_id, r[10])


def _space_column(conn: sqlite3.Connection, table: str) -> tuple[str, str]:
    """(the column giving each row's latent map name, the join it needs): NULL before schema 5."""
    if schema_version(conn) < SPACES_SINCE:
        return "NULL", ""
    return "position_spaces.name", f" LEFT JOIN position_spaces ON {table}.space = position_spaces.id"


def read_captures(conn: sqlite3.Connection, bad: list[BadRow] | None = None) -> list[Capture]:
    """Every capture, oldest first. A row that cannot be decoded is added to `bad` and left out
    (without `bad`: CaptureLogError naming it)."""
    space, join = _space_column(conn, "captures")
    rows = conn.execute(
        "SELECT captures.id, utc, booth_id, session_id, z, print_name, print_weights, how, "
        f"image_path, design28, {space} FROM captures{join} ORDER BY captures.id"
    ).fetchall()
    log_id = log_identity(conn)
    captures = []
    for r in rows:
        try:
            captures.append(_capture(r, log_id))
        except ValueError as e:
            _rejected(bad, BadRow("captures", r[0], str(e)))
    return captures


def recent_capture_positions(conn: sqlite3.Connection, limit: int) -> tuple[np.ndarray, list]:
    """The newest `limit` captures, oldest first: their slider positions (M, 8) float32 and each
    one's latent map name (None: not named, schema < 5)."""
    space, join = _space_column(conn, "captures")
    rows = conn.execute(
        f"SELECT z, space_name FROM (SELECT captures.id, z, {space} AS space_name FROM captures{join} "
        "ORDER BY captures.id DESC LIMIT ?) ORDER BY id",
        (int(limit),),
    ).fetchall()
    rows = [r for r in rows if not _z_why(r[0])]
    z = np.frombuffer(b"".join(r[0] for r in rows), "<f4").reshape(-1, LATENT_DIM).astype(np.float32)
    return z, [r[1] for r in rows]


def image_paths(conn: sqlite3.Connection) -> list[str]:
    """Every capture's image, relative to the state directory (or bundle), oldest first."""
    return [row[0] for row in conn.execute("SELECT image_path FROM captures ORDER BY id")]


@dataclass(frozen=True)
class Trail:
    """The visitors' trail in time order: ids (N,) int64 (unique per booth), t (N,) unix seconds,
    z (N, 8) float32 slider positions, session_ids (None while nobody was at the booth), hows, and
    spaces: each point's latent map name (None: not named, schema < 5)."""

    ids: np.ndarray
    t: np.ndarray
    z: np.ndarray
    session_ids: list
    hows: list
    spaces: list


def read_trail(conn: sqlite3.Connection, bad: list[BadRow] | None = None) -> Trail:
    """The whole trail. z is decoded in one numpy call from the joined blobs: a million points take ~1 s.
    A row whose t or z cannot be decoded is added to `bad` and left out (without `bad`: CaptureLogError)."""
    space, join = _space_column(conn, "trail")
    rows = conn.execute(
        f"SELECT trail.id, t, z, session_id, how, {space} FROM trail{join} ORDER BY t, trail.id"
    ).fetchall()
    whole = LATENT_DIM * 4
    if any(type(r[1]) is not float or type(r[2]) is not bytes or len(r[2]) != whole for r in rows):
        good = []
        for r in rows:
            why = _z_why(r[2]) or ("" if isinstance(r[1], (int, float)) else f"t {str(r[1])[:40]!r} is not a time")
            if why:
                _rejected(bad, BadRow("trail", r[0], why))
            else:
                good.append((r[0], float(r[1]), *r[2:]))
        rows = good
    if not rows:
        return Trail(np.zeros(0, np.int64), np.zeros(0), np.zeros((0, LATENT_DIM), np.float32), [], [], [])
    ids, t, blobs, sessions, hows, spaces = zip(*rows)
    z = np.frombuffer(b"".join(blobs), "<f4").reshape(-1, LATENT_DIM).astype(np.float32)
    return Trail(np.asarray(ids, np.int64), np.asarray(t, np.float64), z, list(sessions), list(hows), list(spaces))


def read_sessions(conn: sqlite3.Connection, bad: list[BadRow] | None = None) -> list[dict]:
    """Every session; one whose times cannot be read is added to `bad` and left out (without `bad`:
    CaptureLogError)."""
    sessions = []
    query = "SELECT rowid, id, booth_id, started_utc, last_utc FROM sessions ORDER BY started_utc"
    for rowid, sid, booth, started, last in conn.execute(query):
        try:
            parse_utc(started), parse_utc(last)
        except (TypeError, ValueError):
            why = f"session {str(sid)[:40]!r} has times {str(started)[:40]!r}, {str(last)[:40]!r}"
            _rejected(bad, BadRow("sessions", rowid, why))
            continue
        sessions.append(dict(id=sid, booth_id=booth, started_utc=started, last_utc=last))
    return sessions


def trail_points_per_session(conn: sqlite3.Connection) -> dict[str, int]:
    return dict(
        conn.execute(
            "SELECT session_id, COUNT(*) FROM trail WHERE session_id IS NOT NULL GROUP BY session_id"
        ).fetchall()
    )


def capture_count(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT COUNT(*) FROM captures").fetchone()[0]


def unexported_count(conn: sqlite3.Connection) -> int:
    """Captures no export has held yet (retention never deletes those)."""
    return conn.execute("SELECT COUNT(*) FROM captures WHERE exported_utc IS NULL").fetchone()[0]


def read_meta(conn: sqlite3.Connection) -> dict[str, str]:
    return dict(conn.execute("SELECT key, value FROM meta").fetchall())


@dataclass(frozen=True)
class LogSummary:
    """Counts and time range of a log, for a bundle's manifest (times are None for an empty log)."""

    captures: int
    first_capture_utc: str | None
    last_capture_utc: str | None
    trail_points: int
    first_trail_t: float | None
    last_trail_t: float | None
    sessions: int


def read_summary(conn: sqlite3.Connection) -> LogSummary:
    captures, first_c, last_c = conn.execute("SELECT COUNT(*), MIN(utc), MAX(utc) FROM captures").fetchone()
    trail, first_t, last_t = conn.execute("SELECT COUNT(*), MIN(t), MAX(t) FROM trail").fetchone()
    sessions = conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0]
    return LogSummary(captures, first_c, last_c, trail, first_t, last_t, sessions)
