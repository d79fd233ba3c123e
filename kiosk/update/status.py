"""What the kiosk shows of updates: `fse-update` (root's units) writes `<state_dir>/update-status.json`,
the kiosk polls it (kiosk.usb_status.StatusWatch) and shows its message as a toast.

    {"state": "running" | "installed" | "updated" | "failed" | "rolled-back", "message": "...",
     "detail": "...", "version": "0.2.0", "previous": "0.1.0", "updated_utc": "..."}

`message` is what the screen shows (a toast holds three lines, about SCREEN_CHARS characters);
`detail`, when there is one, is the whole reason and its fix, for the journal.

"installed" and "rolled-back" are written just before the kiosk restarts, so a status younger than
NEWS_AT_START_S is shown by a kiosk that starts after it.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

UPDATE_STATUS = "update-status.json"
SCREEN_CHARS = 110
NEWS_AT_START_S = 120.0
TOASTS = {
    # state: (level, seconds on screen)
    "running": ("info", 8.0),
    "installed": ("ok", 10.0),
    "updated": ("ok", 12.0),
    "failed": ("warn", 15.0),
    "rolled-back": ("warn", 20.0),
}


def update_status_toast(status: dict | None) -> tuple[str, str, float] | None:
    """(text, level, seconds) for the kiosk's status line, or None."""
    if not status or status.get("state") not in TOASTS or not status.get("message"):
        return None
    level, seconds = TOASTS[status["state"]]
    return str(status["message"]), level, seconds


def update_status_watch(state_dir: Path):
    from ..usb_status import StatusWatch

    return StatusWatch(state_dir, UPDATE_STATUS, update_status_toast, news_at_start_s=NEWS_AT_START_S)


def write_update_status(state_dir: Path, state: str, message: str, **extra) -> None:
    """Write the status as the state directory's owner (root's units hold no CAP_DAC_OVERRIDE), durably."""
    from ..durable import write_file_durably
    from ..usb_stick import acting_as

    assert state in TOASTS, state
    status = {"state": state, "message": message, "updated_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    path = Path(state_dir) / UPDATE_STATUS
    try:
        info = os.lstat(state_dir)
        owner = (info.st_uid, info.st_gid) if os.geteuid() == 0 and info.st_uid != 0 else None
        with acting_as(owner):
            write_file_durably(path, (json.dumps({**status, **extra}, indent=2) + "\n").encode())
            os.chmod(path, 0o644)
    except OSError as e:
        print(f"fse-update: cannot write {path} ({e})", file=sys.stderr)
    said = f"{message} ({extra['detail']})" if extra.get("detail") else message
    print(f"fse-update: {state}: {said}", file=sys.stderr if state in ("failed", "rolled-back") else sys.stdout)
