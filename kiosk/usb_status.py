"""What the kiosk shows of USB exports: `fse-export --usb` (kiosk/log_export/usb.py) writes each stick's
progress to `<state_dir>/usb-export-<partition>.json`; the kiosk polls them and shows a toast. One
file per stick and one toast slot per file: with two sticks in at once, one's "running" must neither
hide nor replace the other's "done" or "failed", and a stick's "done" replaces its own "running".

    {"state": "running" | "done" | "failed", "message": "...", "device": "...", "stick": "the 16 GB stick sdb1",
     "bundle": "...", "missing_images": 0, "started_utc": "...", "finished_utc": "..."}
"""

from __future__ import annotations

import json
import time
from pathlib import Path

USB_STATUS = "usb-export.json"
"""What one status file is called without its stick: usb-export-<partition>.json (status_file)."""


def status_file(device: str) -> str:
    """The status file of the export to `device` (/dev/sdb1 -> usb-export-sdb1.json)."""
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in Path(device).name) or "stick"
    return USB_STATUS.replace(".json", f"-{name}.json")


def _status_files(state_dir: Path) -> list[Path]:
    return sorted(Path(state_dir).glob(USB_STATUS.replace(".json", "*.json")))


def _parse(data: bytes) -> dict | None:
    try:
        status = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return status if isinstance(status, dict) else None


def read_usb_status(state_dir: Path, device: str | None = None) -> dict | None:
    """The status of the export to `device`, or (None) the most recently updated of any stick's;
    None if there never was one."""
    files = [Path(state_dir) / status_file(device)] if device else _status_files(state_dir)
    found = []
    for path in files:
        try:
            status = _parse(path.read_bytes())
        except OSError:
            continue
        if status is not None:
            found.append(status)
    return max(found, key=lambda s: str(s.get("updated_utc", "")), default=None)


class StatusWatch:
    """What the kiosk shows of status files matching `pattern` in the state directory (USB exports,
    updates): each status written after the kiosk started, once, for every file, as `toast(status)`.

    A status already there at start-up is old news, unless it is younger than `news_at_start_s` (an
    update's "back on 0.1.0" is written just before the kiosk it restarts); the first one ever
    written (no file at start-up) is news. Compares the files' bytes, not their mtimes: "running"
    and "done" may share a timestamp.
    """

    POLL_S = 1.0
    """How often `toast` reads the files (the kiosk asks every frame)."""

    def __init__(self, state_dir: Path, pattern: str, toast, news_at_start_s: float = 0.0):
        self.state_dir, self.pattern, self._toast = Path(state_dir), pattern, toast
        now = time.time()
        self._last = {
            path: data
            for path, data in self._read().items()
            if not news_at_start_s or _mtime(path) < now - news_at_start_s
        }
        self._polled = -self.POLL_S

    def toast(self, now: float) -> tuple[str, str, float, str] | None:
        """(text, level, seconds, slot) of a new status; the files are read at most every POLL_S of
        `now` (seconds). slot: the status file's name, so a newer status of the same stick (or
        update) replaces its older toast and never another file's."""
        if now - self._polled < self.POLL_S:
            return None
        self._polled = now
        news = self._news()
        shown = self._toast(news[1]) if news else None
        return (*shown, news[0].name) if shown else None

    def _read(self) -> dict[Path, bytes]:
        contents = {}
        for path in sorted(self.state_dir.glob(self.pattern)):
            try:
                contents[path] = path.read_bytes()
            except OSError:
                continue
        return contents

    def poll(self) -> dict | None:
        """A status written since the last poll (one a poll: two sticks' news come a poll apart)."""
        news = self._news()
        return news[1] if news else None

    def _news(self) -> tuple[Path, dict | None] | None:
        """(its file, the status) of a status written since the last poll; None when nothing is new."""
        now = self._read()
        for path, data in now.items():
            if self._last.get(path) != data:
                self._last[path] = data
                return path, _parse(data)
        self._last = now
        return None


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


class UsbStatusWatch(StatusWatch):
    """The USB exports' status files (usb-export-<partition>.json), shown as usb_status_toast says."""

    def __init__(self, state_dir: Path):
        super().__init__(state_dir, USB_STATUS.replace(".json", "*.json"), usb_status_toast)


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
