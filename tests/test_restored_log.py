"""Restoring an older capture log never costs an image (issue 21 item 3): start-up quarantines what
it does not own instead of unlinking it, brings a restored log's images back from quarantine, and
names the ones that are gone, on F12 and in the export's "done". Real logs, real files."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
from pathlib import Path

import numpy as np

from contract.capture_schema import DB_NAME, IMAGES_DIR, image_paths, open_db
from kiosk.capture.files import QUARANTINE_DIR
from kiosk.capture.log import CaptureLog
from kiosk.log_export.usb import export_to_usb
from kiosk.usb_status import read_usb_status, usb_status_toast


def _save(log: CaptureLog, seed: int) -> int:
    rng = np.random.default_rng(seed)
    return log.save_capture(
        rng.uniform(-1, 1, 8), rng.random((28, 28)), rng.integers(0, 256, (16, 16, 3), np.uint8), "none", [], "joystick"
    )


def _paths(state: Path) -> list[str]:
    conn = open_db(state / DB_NAME, read_only=True)
    try:
        return image_paths(conn)
    finally:
        conn.close()


def _quarantined(state: Path) -> dict[str, bytes]:
    """Quarantined images by their path relative to the state directory, as it was under images/."""
    out = {}
    for folder in (state / QUARANTINE_DIR).glob("images-*"):
        out.update({f"{IMAGES_DIR}/{p.relative_to(folder).as_posix()}": p.read_bytes() for p in folder.rglob("*.png")})
    return out


def _restore(state: Path, backup: Path) -> None:
    for suffix in ("-wal", "-shm"):
        (state / (DB_NAME + suffix)).unlink(missing_ok=True)
    os.replace(backup, state / DB_NAME)


def test_a_log_restored_from_mid_capture_never_unlinks_the_image_its_successor_saved(tmp_path):
    """The bundle's log.sqlite was taken while capture 2 was saving (its journal says "saving"); the
    live log went on to commit it and the visitor saw "Saved". Start-up used to unlink that image."""
    with CaptureLog(tmp_path, "booth-a", disk_floor_mb=0) as log:
        _save(log, 1)
    shutil.copy(tmp_path / DB_NAME, tmp_path / "snapshot.sqlite")
    with CaptureLog(tmp_path, "booth-a", disk_floor_mb=0) as log:
        _save(log, 2)
    saved = _paths(tmp_path)[1]
    picture = (tmp_path / saved).read_bytes()
    conn = sqlite3.connect(tmp_path / "snapshot.sqlite")  # as the snapshot saw it: journalled, not committed
    conn.execute("INSERT INTO image_journal VALUES (?, 'saving', '2026-01-01T00:00:00.000Z')", (saved,))
    conn.commit()
    conn.close()
    _restore(tmp_path, tmp_path / "snapshot.sqlite")

    with CaptureLog(tmp_path, "booth-a", disk_floor_mb=0) as log:
        notices = log.status().notices
    assert _quarantined(tmp_path) == {saved: picture}
    assert any("moved to" in n and "nothing was deleted" in n for n in notices), notices


def test_a_restored_logs_images_come_back_from_quarantine_and_missing_ones_are_named(tmp_path):
    """The operator moved the log aside, a new log ran (and its next start quarantined the old log's
    images), then the old log was restored: its images stayed in quarantine while the export said
    "done (3 captures, 0 new images)". One of them is lost meanwhile: F12 and "done" say so."""
    state = tmp_path / "state"
    with CaptureLog(state, "booth-a", disk_floor_mb=0) as log:
        for seed in range(3):
            _save(log, seed)
    own = _paths(state)
    pictures = {p: (state / p).read_bytes() for p in own}
    os.replace(state / DB_NAME, tmp_path / "aside.sqlite")
    with CaptureLog(state, "booth-a", disk_floor_mb=0) as log:
        _save(log, 9)
    CaptureLog(state, "booth-a", disk_floor_mb=0).close()  # the next start quarantines the old images
    assert set(_quarantined(state)) == set(own)
    lost = next(p for p in (state / QUARANTINE_DIR).rglob("*.png") if p.name == Path(own[0]).name)
    lost.unlink()
    _restore(state, tmp_path / "aside.sqlite")

    with CaptureLog(state, "booth-a", disk_floor_mb=0) as log:
        notices = log.status().notices
    assert {p: (state / p).read_bytes() for p in own[1:]} == {p: pictures[p] for p in own[1:]}
    assert any("2 image(s)" in n and "brought back" in n for n in notices), notices
    assert any("1 image(s)" in n and "missing" in n and own[0] in n for n in notices), notices

    stick = tmp_path / "stick"
    stick.mkdir()
    export_to_usb(state, str(stick))
    status = read_usb_status(state)
    assert re.search(r"3 captures, 2 new images; 1 images are missing", status["message"]), status["message"]
    text, level, _ = usb_status_toast(status)
    assert "1 images missing" in text and level == "warn"
