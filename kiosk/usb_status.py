"""What the kiosk shows of USB exports: `fse-export --usb` (kiosk/log_export/usb.py) writes its progress
to `<state_dir>/usb-export.json`; the kiosk polls it and shows a toast.

    {"state": "running" | "done" | "failed", "message": "...", "device": "...", "stick": "the 16 GB stick sdb1",
     "bundle": "...", "missing_images": 0, "started_utc": "...", "finished_utc": "..."}
"""

from __future__ import annotations

import json
from pathlib import Path

USB_STATUS = "usb-export.json"


def read_usb_status(state_dir: Path) -> dict | None:
    """The last USB export's status, or None if there never was one."""
    try:
        return json.loads((Path(state_dir) / USB_STATUS).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


class UsbStatusWatch:
    """What the kiosk shows of USB exports: each status written after the kiosk started, once.

    A status already there at start-up is old news; the first one ever written (no file at start-up)
    is not. Compares the file's bytes, not its mtime: "running" and "done" may share a timestamp.
    """

    POLL_S = 1.0
    """How often `toast` reads the file (the kiosk asks every frame)."""

    def __init__(self, state_dir: Path):
        self.path = Path(state_dir) / USB_STATUS
        self._last = self._read()
        self._polled = -self.POLL_S

    def toast(self, now: float) -> tuple[str, str, float] | None:
        """usb_status_toast of a new status; the file is read at most every POLL_S of `now` (seconds)."""
        if now - self._polled < self.POLL_S:
            return None
        self._polled = now
        return usb_status_toast(self.poll())

    def _read(self) -> bytes | None:
        try:
            return self.path.read_bytes()
        except OSError:
            return None

    def poll(self) -> dict | None:
        data = self._read()
        if data is None or data == self._last:
            self._last = data
            return None
        self._last = data
        try:
            status = json.loads(data)
        except json.JSONDecodeError:
            return None
        return status if isinstance(status, dict) else None


def usb_status_toast(status: dict | None) -> tuple[str, str, float] | None:
    """(text, level, seconds) for the kiosk's status line, or None."""
    if not status:
        return None
    state, stick = status.get("state"), status.get("stick") or "the stick"
    if state == "running":
        return f"USB export running: don't remove {stick}", "info", 6.0
    if state == "done":
        missing = status.get("missing_images") or 0
        if missing:
            return f"USB export finished, {missing} images missing (F12): safe to remove {stick}", "warn", 10.0
        return f"USB export finished: safe to remove {stick}", "ok", 8.0
    if state == "failed":
        return f"USB export failed: {status.get('message', '')}", "warn", 10.0
    return None
