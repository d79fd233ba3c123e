"""CaptureLog: what the kiosk holds of its capture log. Any thread may call it; it never touches SQLite.

The kiosk owns one `CaptureLog` on its state directory (`/var/lib/fse` on the booth):

    log = CaptureLog.from_config(config, models.latent.space)  # starts the writer thread, which opens the log
    log.touch()                                   # UI thread, every visitor input: keeps the session open
    log.record_trail(z, "joystick")               # UI thread, every frame: keeps at most trail_hz points/s
    capture_id = log.save_capture(z, design28, image_rgb, "none", weights, "joystick")  # capture worker
    log.status()                                  # for F12: open or busy, captures not yet exported, notices
    log.close()

Threads: the calls here check and convert their arguments on the caller's thread, then hand a
command to the writer thread (writer.py), which owns the connection. touch() and record_trail()
never wait for the disk; save_capture() waits for its own commit. Readers (the export, map mode,
the analysis) open their own connections through contract.capture_schema.

Layout of the state directory (the format is documented in docs/analysis.md):

    log.sqlite (+ -wal, -shm)          the database (WAL mode, synchronous=FULL)
    images/YYYY-MM-DD/<utc>-<hex>.png  one 1024x1024 RGB PNG per capture (written by pygame), never rewritten
    quarantine/                        what the log set aside and never deletes: a damaged database
                                       (log-<utc>.sqlite), images no capture refers to (images-<utc>/...)
    usb-export-<partition>.json        status of the last USB export to that stick (`fse-export --usb`)
"""

from __future__ import annotations

import json
import secrets
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from contract.capture_schema import DB_NAME, DESIGN_SIDE, HOWS, IMAGES_DIR, CaptureLogError, utc_text, z_blob
from contract.capture_writes import CaptureRow

from ..png import encode_png
from . import files
from .faults import DiskFullError
from .sessions import Sessions
from .status import LogStatus
from .writer import LogWriter

DISK_CHECK_S = 2.0
"""How often record_trail re-reads the free space (statvfs is cheap, but not free at 60 fps)."""


class CaptureLog:
    """The kiosk's log: checks what it is given and hands it to the writer thread."""

    def __init__(
        self,
        state_dir: Path,
        booth_id: str,
        *,
        position_space: str,
        disk_floor_mb: float = 200,
        trail_hz: float = 2.0,
        session_idle_s: float = 90,
        keep_free_mb: float = 0,
    ):
        self.state_dir = Path(state_dir)
        self.booth_id = booth_id
        self.disk_floor_mb = float(disk_floor_mb)
        self.trail_period = 1.0 / float(trail_hz) if trail_hz > 0 else float("inf")
        self.db_path = self.state_dir / DB_NAME
        try:
            (self.state_dir / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise CaptureLogError(
                f"cannot create the state directory {self.state_dir} ({e.strerror}); "
                f"create it writable for this user or set [paths] state_dir"
            ) from None
        self._sessions = Sessions(booth_id, float(session_idle_s))
        # The UI thread's (record_trail is only ever called from one thread).
        self._last_trail = -float("inf")
        self._free_checked_at = -float("inf")
        self._free_ok = True
        self._writer = LogWriter(self.state_dir, booth_id, position_space, self._sessions, float(keep_free_mb))
        self._writer.start()  # the first attempt to open: a locked log is retried in the background

    @classmethod
    def from_config(cls, config, position_space: str) -> "CaptureLog":
        """The kiosk's log, set up from its KioskConfig; position_space: the models' latent map name
        (FashionModels.latent.space), stored beside every slider position."""
        return cls(
            config.state_dir,
            config.booth_id,
            position_space=position_space,
            disk_floor_mb=config.disk_floor_mb,
            trail_hz=config.trail_hz,
            session_idle_s=config.session_idle_s,
            keep_free_mb=config.keep_free_mb,
        )

    @property
    def keep_free_mb(self) -> float:
        """Retention's target ([log] keep_free_mb); the writer reads it at every maintenance."""
        return self._writer.keep_free_mb

    @keep_free_mb.setter
    def keep_free_mb(self, value: float) -> None:
        self._writer.keep_free_mb = float(value)

    def touch(self, now: float | None = None) -> str:
        """Visitor activity: keeps the session open (or starts one) and returns its id. Never waits."""
        return self._sessions.touch(time.time() if now is None else now)

    def status(self) -> LogStatus:
        """The latest LogStatus (no database access: safe on the UI thread)."""
        return self._writer.status.current

    def free_mb(self) -> float:
        return files.free_mb(self.state_dir)

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
        self._writer.offer_trail((now, self._sessions.current(now), z_blob(z), how))
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
        png: bytes | None = None,
    ) -> int:
        """Store a capture durably and return its id (only after the commit). Blocking; not the UI thread.

        design28: (28, 28) in [0, 1] (float) or uint8. image_rgb: (H, W, 3) uint8, encoded here (on
        the caller's thread) as PNG unless `png` holds it already encoded (the share spool keeps the
        same bytes). now: the capture's unix time (default: the clock).
        Raises DiskFullError under the disk floor (nothing is written), CaptureLogError otherwise
        (also when another program keeps the log locked for faults.CAPTURE_BUSY_GIVE_UP_S).
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
        png = encode_png(image_rgb) if png is None else png
        now = time.time() if now is None else now
        session_id = self.touch(now)
        when = datetime.fromtimestamp(now, timezone.utc)
        relative = f"{IMAGES_DIR}/{when:%Y-%m-%d}/{when:%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(4)}.png"
        row = CaptureRow(
            utc_text(now), self.booth_id, session_id, blob, print_name, weights, how, relative, design.tobytes()
        )
        return self._writer.ask("capture", (row, png))

    def flush(self) -> None:
        """Commit the buffered trail and the session's last activity now (tests, shutdown). Blocking."""
        self._writer.ask("flush")

    def prune(self) -> int:
        """Apply the retention policy now; returns how many exported captures were deleted. Blocking."""
        return self._writer.ask("prune")

    def close(self) -> None:
        """Commit what is buffered, checkpoint and close; captures already asked for finish first."""
        self._writer.close()

    def __enter__(self) -> "CaptureLog":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
