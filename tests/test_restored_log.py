"""Restored and set-aside capture logs never cost an image (issue 21 items 3-4): start-up quarantines
what it does not own instead of unlinking it, brings a restored log's images back from quarantine,
names the ones that are gone (F12, the export's "done"), and exports set-aside logs. Real logs, real files."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
from pathlib import Path

import numpy as np

from analysis.bundles import find_bundles, merge
from contract.capture_schema import DB_NAME, IMAGES_DIR, image_paths, open_db
from contract.latent import models_space
from contract.models import shipped_models_dir
from kiosk.capture.files import QUARANTINE_DIR, quarantine_database
from kiosk.capture.log import CaptureLog
from kiosk.log_export.usb import export_to_usb
from kiosk.usb_status import read_usb_status, usb_status_toast

SPACE = models_space(shipped_models_dir())  # the latent map the shipped models' kiosk logs positions in


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
    with CaptureLog(tmp_path, "booth-a", position_space=SPACE, disk_floor_mb=0) as log:
        _save(log, 1)
    shutil.copy(tmp_path / DB_NAME, tmp_path / "snapshot.sqlite")
    with CaptureLog(tmp_path, "booth-a", position_space=SPACE, disk_floor_mb=0) as log:
        _save(log, 2)
    saved = _paths(tmp_path)[1]
    picture = (tmp_path / saved).read_bytes()
    conn = sqlite3.connect(tmp_path / "snapshot.sqlite")  # as the snapshot saw it: journalled, not committed
    conn.execute("INSERT INTO image_journal VALUES (?, 'saving', '2026-01-01T00:00:00.000Z')", (saved,))
    conn.commit()
    conn.close()
    _restore(tmp_path, tmp_path / "snapshot.sqlite")

    with CaptureLog(tmp_path, "booth-a", position_space=SPACE, disk_floor_mb=0) as log:
        notices = log.status().notices
    assert _quarantined(tmp_path) == {saved: picture}
    assert any("moved to" in n and "nothing was deleted" in n for n in notices), notices


def test_a_restored_logs_images_come_back_from_quarantine_and_missing_ones_are_named(tmp_path):
    """The operator moved the log aside, a new log ran (and its next start quarantined the old log's
    images), then the old log was restored: its images stayed in quarantine while the export said
    "done (3 captures, 0 new images)". One of them is lost meanwhile: F12 and "done" say so."""
    state = tmp_path / "state"
    with CaptureLog(state, "booth-a", position_space=SPACE, disk_floor_mb=0) as log:
        for seed in range(3):
            _save(log, seed)
    own = _paths(state)
    pictures = {p: (state / p).read_bytes() for p in own}
    os.replace(state / DB_NAME, tmp_path / "aside.sqlite")
    with CaptureLog(state, "booth-a", position_space=SPACE, disk_floor_mb=0) as log:
        _save(log, 9)
    CaptureLog(
        state, "booth-a", position_space=SPACE, disk_floor_mb=0
    ).close()  # the next start quarantines the old images
    assert set(_quarantined(state)) == set(own)
    lost = next(p for p in (state / QUARANTINE_DIR).rglob("*.png") if p.name == Path(own[0]).name)
    lost.unlink()
    _restore(state, tmp_path / "aside.sqlite")

    with CaptureLog(state, "booth-a", position_space=SPACE, disk_floor_mb=0) as log:
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


def test_set_aside_logs_leave_the_booth_in_their_own_bundles_and_f12_counts_them(tmp_path):
    """Item 4: a damaged log set aside (quarantine/log-<utc>.sqlite) and its images never left the
    booth: F12 said "0 not yet exported" and the export "done". Each gets its own bundle now, once."""
    state = tmp_path / "state"
    with CaptureLog(state, "booth-a", position_space=SPACE, disk_floor_mb=0) as log:
        for seed in range(3):
            _save(log, seed)
    quarantine_database(state / DB_NAME)  # what the writer does with a damaged log
    (state / QUARANTINE_DIR / "log-19700101T000000Z.sqlite").write_bytes(b"not a database at all" * 100)
    with CaptureLog(state, "booth-a", position_space=SPACE, disk_floor_mb=0) as log:
        _save(log, 7), _save(log, 8)
    with CaptureLog(
        state, "booth-a", position_space=SPACE, disk_floor_mb=0
    ) as log:  # this start quarantines the old images
        line = log.status().lines()[0]
    assert "2 not yet exported, 2 set-aside logs not yet exported" in line, line

    stick = tmp_path / "stick"
    stick.mkdir()
    export_to_usb(state, str(stick))
    status = read_usb_status(state)
    assert "1 set-aside logs too; 1 set-aside logs could not be read" in status["message"], status["message"]
    bundles = sorted(p.name for p in (stick / "fse-export").iterdir())
    assert len(bundles) == 2 and "-set-aside-log-" in bundles[1] and not any(b.endswith(".partial") for b in bundles)
    merged = merge(find_bundles([stick / "fse-export"], tmp_path), warn=lambda _: None)
    assert len(merged.captures) == 5 and all(c.image_file.is_file() for c in merged.captures)
    with CaptureLog(state, "booth-a", position_space=SPACE, disk_floor_mb=0) as log:
        assert "1 set-aside logs not yet exported" in log.status().lines()[0]  # the unreadable one stays
    export_to_usb(state, str(stick))
    assert len(list((stick / "fse-export").iterdir())) == 3  # the log again; the set-aside log is not
