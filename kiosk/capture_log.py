"""The booth's capture log: photographed designs and the visitors' trail, kept durably in SQLite.

The kiosk owns one `CaptureLog` on its state directory (`/var/lib/fse` on the booth):

    log = CaptureLog(config.state_dir, config.booth_id, config.disk_floor_mb, config.trail_hz,
                     config.session_idle_s)
    log.touch()                                   # on every visitor input: keeps the session open
    log.start_background_flush()                  # the kiosk: trail commits (fsync) off the UI thread
    log.record_trail(z, "joystick")               # every frame; stores at most trail_hz points/s
    capture_id = log.save_capture(z, design28, image_rgb, "none", weights, "joystick")  # worker thread
    log.close()

Layout of the state directory (the format is documented in docs/analysis.md):

    log.sqlite (+ -wal, -shm)        the database (WAL mode, synchronous=FULL)
    images/YYYY-MM-DD/<utc>-<hex>.png  one 1024x1024 RGB PNG per capture, never rewritten
    usb-export.json                  status of the last USB export (written by `fse-export --usb`)

Durability: a capture's PNG is written to a temp file, fsynced, renamed into place and the
directory fsynced *before* its row is committed; `save_capture` returns the id only after the
commit, so a capture the visitor saw acknowledged survives a power cut, and a row never points at
a missing or half-written image. A crash between rename and commit leaves an unreferenced image,
which the next `CaptureLog` removes when it opens. The trail is buffered for up to
`TRAIL_FLUSH_S` seconds (a crash loses at most that much trail, never a capture).

numpy + stdlib only (PNGs come from a small zlib writer), so the kiosk needs neither Pillow nor torch.
"""
from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import sqlite3
import struct
import threading
import time
import zlib
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from contract.capture_schema import (DB_NAME, DESIGN_SIDE, HOWS, IMAGES_DIR, CaptureLogError, check_not_newer,
                                     migrate, open_db, utc_text, z_blob)

log = logging.getLogger(__name__)

TEMP_SUFFIX = ".part"

TRAIL_FLUSH_S = 5.0
"""Trail points are committed in batches this often: one fsync per batch instead of per point keeps
the UI thread from stalling on a slow SD card; a crash loses at most this much trail."""

DISK_CHECK_S = 2.0
"""How often record_trail re-reads the free space (statvfs is cheap, but not free at 60 fps)."""

PNG_LEVEL = 6
"""zlib level for capture PNGs: 1024x1024 RGB takes ~0.1 s on a Jetson core at 6, on a worker thread."""


class DiskFullError(CaptureLogError):
    """Free space under the state directory is below the floor: captures are refused, the trail pauses."""


# ---------------------------------------------------------------------------------------------
# PNG without Pillow

def encode_png(pixels: np.ndarray, level: int = PNG_LEVEL) -> bytes:
    """(H, W) grey or (H, W, 3) RGB uint8 -> PNG bytes (8-bit, no interlace, filter 0)."""
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    if pixels.ndim == 2:
        colour_type, channels = 0, 1
    elif pixels.ndim == 3 and pixels.shape[2] == 3:
        colour_type, channels = 2, 3
    else:
        raise ValueError(f"expected an (H, W) or (H, W, 3) image, got shape {pixels.shape}")
    height, width = pixels.shape[:2]
    rows = pixels.reshape(height, width * channels)
    raw = np.concatenate([np.zeros((height, 1), np.uint8), rows], axis=1).tobytes()  # filter byte 0 per row

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, level)) + chunk(b"IEND", b"")


def decode_png(data: bytes) -> np.ndarray:
    """The inverse of encode_png (filter-0, 8-bit grey/RGB PNGs only); ValueError if damaged.

    Used to verify images (tests, export) without Pillow; every chunk's CRC is checked.
    """
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG (bad signature)")
    pos, idat, header = 8, b"", None
    while pos < len(data):
        if pos + 8 > len(data):
            raise ValueError("truncated PNG chunk header")
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        crc = data[pos + 8 + length:pos + 12 + length]
        if len(body) != length or len(crc) != 4 or struct.unpack(">I", crc)[0] != zlib.crc32(kind + body) & 0xFFFFFFFF:
            raise ValueError(f"PNG chunk {kind!r} is truncated or its CRC does not match")
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        pos += 12 + length
    else:
        raise ValueError("PNG has no IEND chunk (truncated)")
    if header is None:
        raise ValueError("PNG has no IHDR chunk")
    width, height, depth, colour_type = header[:4]
    channels = {0: 1, 2: 3}.get(colour_type)
    if depth != 8 or channels is None:
        raise ValueError("only 8-bit grey or RGB PNGs are supported")
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(height, 1 + width * channels)
    if raw[:, 0].any():
        raise ValueError("only filter type 0 PNGs are supported")
    pixels = raw[:, 1:].reshape(height, width, channels)
    return pixels[:, :, 0] if channels == 1 else pixels


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
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, path)
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _is_disk_full(error: BaseException) -> bool:
    if isinstance(error, OSError) and error.errno in (28, 122):  # ENOSPC, EDQUOT
        return True
    return isinstance(error, sqlite3.OperationalError) and "full" in str(error).lower()


# ---------------------------------------------------------------------------------------------

class CaptureLog:
    """The kiosk's writer. Thread-safe: save_capture runs on a worker thread, the rest on the UI thread."""

    def __init__(self, state_dir: Path, booth_id: str, disk_floor_mb: float = 200, trail_hz: float = 2.0,
                 session_idle_s: float = 90):
        self.state_dir = Path(state_dir)
        self.booth_id = booth_id
        self.disk_floor_mb = float(disk_floor_mb)
        self.trail_period = 1.0 / float(trail_hz) if trail_hz > 0 else float("inf")
        self.session_idle_s = float(session_idle_s)
        self.db_path = self.state_dir / DB_NAME
        try:
            (self.state_dir / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise CaptureLogError(f"cannot create the state directory {self.state_dir} ({e.strerror}); "
                                  f"create it writable for this user or set [paths] state_dir") from None
        self._lock = threading.RLock()
        try:
            self._conn = open_db(self.db_path)
            check_not_newer(self._conn, self.db_path)
            migrate(self._conn)
            self._conn.execute("INSERT OR IGNORE INTO meta VALUES ('booth_id', ?)", (booth_id,))
            self._conn.execute("INSERT OR IGNORE INTO meta VALUES ('created_utc', ?)", (utc_text(time.time()),))
        except sqlite3.DatabaseError as e:
            raise CaptureLogError(f"the capture log {self.db_path} cannot be opened ({e}); move it aside "
                                  f"(it is kept for inspection) and restart the kiosk to begin a new log") from None
        self._session_id: str | None = None
        self._session_started = 0.0
        self._last_activity = -float("inf")
        self._session_dirty = False
        self._last_trail = -float("inf")
        self._trail_buffer: list[tuple[float, str | None, bytes, str]] = []
        self._trail_lock = threading.Lock()   # the buffer only: never held across a database write
        self._last_flush = time.time()
        self._flush_wanted = threading.Event()
        self._flusher: threading.Thread | None = None
        self._flusher_stop = False
        self._free_checked_at = -float("inf")
        self._free_ok = True
        self._sweep_unreferenced_images()

    # -- sessions ----------------------------------------------------------------------------
    def touch(self, now: float | None = None) -> str:
        """Visitor activity: keeps the session open (or starts one) and returns its id."""
        now = time.time() if now is None else now
        session = self._session_id
        if session is not None and now - self._last_activity <= self.session_idle_s:
            # The common case takes no lock: a background flush may hold it through an fsync, and
            # this runs on the UI thread at every visitor input.
            self._last_activity = now
            self._session_dirty = True
            return session
        with self._lock:
            if self._session_id is None or now - self._last_activity > self.session_idle_s:
                self._flush_session()
                self._session_id = f"{self.booth_id}-{datetime.fromtimestamp(now, timezone.utc):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
                self._session_started = now
                self._session_dirty = True
            self._last_activity = now
            self._session_dirty = True
            return self._session_id

    def _current_session(self, now: float) -> str | None:
        if self._session_id is not None and now - self._last_activity <= self.session_idle_s:
            return self._session_id
        return None

    def _flush_session(self) -> None:
        """Write the current session's start and last activity (inside or outside a transaction)."""
        if self._session_id is None or not self._session_dirty:
            return
        self._conn.execute(
            "INSERT INTO sessions VALUES (?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET last_utc = excluded.last_utc",
            (self._session_id, self.booth_id, utc_text(self._session_started), utc_text(self._last_activity)))
        self._session_dirty = False

    # -- disk --------------------------------------------------------------------------------
    def free_mb(self) -> float:
        return shutil.disk_usage(self.state_dir).free / 1e6

    def _check_floor(self) -> None:
        free = self.free_mb()
        if free < self.disk_floor_mb:
            raise DiskFullError(
                f"only {free:.0f} MB free under {self.state_dir}, below the {self.disk_floor_mb:.0f} MB floor: "
                f"captures are paused. Pull the logs with `fse-export` and free space, or lower [log] disk_floor_mb")

    # -- captures ----------------------------------------------------------------------------
    def save_capture(self, z, design28: np.ndarray, image_rgb: np.ndarray, print_name: str, print_weights,
                     how: str, now: float | None = None) -> int:
        """Store a capture durably and return its id (only after the commit). Blocking.

        design28: (28, 28) in [0, 1] (float) or uint8. image_rgb: (H, W, 3) uint8.
        now: the capture's unix time (default: the clock; tests and replays pass their own).
        Raises DiskFullError under the disk floor (nothing is written), CaptureLogError otherwise.
        """
        if how not in HOWS:
            raise ValueError(f"how must be one of {', '.join(HOWS)}, got {how!r}")
        blob = z_blob(z)
        design = np.asarray(design28)
        if design.shape != (DESIGN_SIDE, DESIGN_SIDE):
            raise ValueError(f"design28 must be 28x28, got shape {design.shape}")
        if design.dtype != np.uint8:
            design = np.round(np.clip(np.nan_to_num(design.astype(np.float32)), 0, 1) * 255).astype(np.uint8)
        weights = json.dumps([float(w) for w in np.asarray(print_weights if print_weights is not None else [],
                                                           np.float64).reshape(-1)])
        self._check_floor()
        png = encode_png(np.asarray(image_rgb, np.uint8))

        now = time.time() if now is None else now
        session_id = self.touch(now)
        day_dir = self.state_dir / IMAGES_DIR / f"{datetime.fromtimestamp(now, timezone.utc):%Y-%m-%d}"
        relative = f"{IMAGES_DIR}/{day_dir.name}/{datetime.fromtimestamp(now, timezone.utc):%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(4)}.png"
        path = self.state_dir / relative
        try:
            if not day_dir.is_dir():
                day_dir.mkdir(exist_ok=True)
                fsync_dir(day_dir.parent)
            write_file_durably(path, png)
            with self._lock:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    cursor = self._conn.execute(
                        "INSERT INTO captures (utc, booth_id, session_id, z, print_name, print_weights, how, "
                        "image_path, design28) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (utc_text(now), self.booth_id, session_id, blob, print_name, weights, how, relative,
                         design.tobytes()))
                    self._flush_session()
                    self._conn.execute("COMMIT")
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                return int(cursor.lastrowid)
        except (OSError, sqlite3.Error) as e:
            _remove_quietly(path.with_name(path.name + TEMP_SUFFIX))
            _remove_quietly(path)
            if _is_disk_full(e):
                raise DiskFullError(f"the disk under {self.state_dir} is full: the capture was not saved. "
                                    f"Pull the logs with `fse-export` and free space") from None
            raise CaptureLogError(f"the capture could not be saved to {self.state_dir} ({e}); check the "
                                  f"disk and the directory's permissions") from None

    # -- trail -------------------------------------------------------------------------------
    def record_trail(self, z, how: str, now: float | None = None) -> bool:
        """Offer the visitor's current position; stores at most trail_hz points per second.

        Returns True when the point was kept. Never raises for disk trouble: under the disk floor
        (or on a full disk) the trail pauses and this returns False.
        """
        now = time.time() if now is None else now
        with self._trail_lock:
            if now - self._last_trail < self.trail_period:
                return False
            if now - self._free_checked_at >= DISK_CHECK_S:
                self._free_checked_at = now
                self._free_ok = self.free_mb() >= self.disk_floor_mb
            if not self._free_ok:
                return False
            self._last_trail = now
            self._trail_buffer.append((now, self._current_session(now), z_blob(z), how))
            due = now - self._last_flush >= TRAIL_FLUSH_S
            if due and self._flusher is not None:
                self._last_flush = now
                self._flush_wanted.set()
                return True
        if due:
            self.flush(now)
        return True

    def start_background_flush(self) -> None:
        """Commit the trail on a worker thread from now on: `record_trail` then never waits for
        a commit's fsync (4-10 ms on an SSD, far more on a busy SD card, every TRAIL_FLUSH_S)."""
        if self._flusher is None:
            self._flusher = threading.Thread(target=self._flush_loop, name="trail-flush", daemon=True)
            self._flusher.start()

    def _flush_loop(self) -> None:
        while not self._flusher_stop:
            self._flush_wanted.wait()
            self._flush_wanted.clear()
            if self._flusher_stop:
                return
            try:
                self.flush()
            except Exception:  # a closed connection at shutdown; close() flushes itself
                log.exception("background trail flush")

    def _stop_background_flush(self) -> None:
        flusher, self._flusher = self._flusher, None
        if flusher is not None:
            self._flusher_stop = True
            self._flush_wanted.set()
            flusher.join(timeout=10)

    def flush(self, now: float | None = None) -> None:
        """Commit buffered trail points and the session's last activity (one fsync)."""
        with self._lock:
            with self._trail_lock:
                self._last_flush = time.time() if now is None else now
                batch, self._trail_buffer = self._trail_buffer, []
            if not batch and not self._session_dirty:
                return
            if self._conn is None:
                return
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    self._conn.executemany("INSERT INTO trail (t, session_id, z, how) VALUES (?, ?, ?, ?)", batch)
                    self._flush_session()
                    self._conn.execute("COMMIT")
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as e:
                # The trail is best-effort: exploring must go on. Drop the batch rather than grow.
                log.warning("trail batch of %d points dropped: %s", len(batch), e)
                self._session_dirty = True

    def close(self) -> None:
        self._stop_background_flush()
        with self._lock:
            if self._conn is None:
                return
            self.flush()
            try:
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error:
                pass
            self._conn.close()
            self._conn = None

    def __enter__(self) -> "CaptureLog":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- start-up ----------------------------------------------------------------------------
    def _sweep_unreferenced_images(self) -> None:
        """Remove temp files and images whose capture never committed (a crash mid-save).

        Those captures were never acknowledged to a visitor, so nothing anyone saw is lost; the
        sweep only keeps them from filling the disk over months.
        """
        images = self.state_dir / IMAGES_DIR
        referenced = {row[0] for row in self._conn.execute("SELECT image_path FROM captures")}
        removed = 0
        for path in images.rglob("*"):
            if not path.is_file():
                continue
            relative = path.relative_to(self.state_dir).as_posix()
            if path.name.endswith(TEMP_SUFFIX) or (path.suffix == ".png" and relative not in referenced):
                _remove_quietly(path)
                removed += 1
        if removed:
            log.info("removed %d unfinished capture image(s) left by an interrupted save", removed)


def _remove_quietly(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as e:
        log.warning("could not remove %s: %s", path, e)

