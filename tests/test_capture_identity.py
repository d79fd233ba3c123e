"""One identity per capture from the booth to the report (issue 21 items 1-2, issue 22 item 15).

A new log numbers its captures from 1 again (after a damaged log is set aside, or on a second booth
given the same booth id): the export's marks and the analysis's merge key on the log's own id too.
Real logs, real exports, real merges.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np

from analysis.bundles import find_bundles, merge
from contract.capture_schema import DB_NAME, log_identity, open_db, unexported_count
from contract.latent import models_space
from contract.models import shipped_models_dir
from kiosk.capture.files import quarantine_database
from kiosk.capture.log import CaptureLog
from kiosk.log_export.bundle import make_bundle
from kiosk.log_export.pull import export_to_dir, record_export

SPACE = models_space(shipped_models_dir())  # the latent map the shipped models' kiosk logs positions in


def _fill(state: Path, captures: int, booth: str = "booth-i", trail_t0: float | None = None, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    with CaptureLog(state, booth, position_space=SPACE, disk_floor_mb=0, trail_hz=1000) as log:
        for _ in range(captures):
            log.save_capture(
                rng.uniform(-1, 1, 8),
                rng.random((28, 28)),
                rng.integers(0, 256, (16, 16, 3), np.uint8),
                "none",
                [],
                "joystick",
            )
        if trail_t0 is not None:
            for i in range(10):
                log.record_trail(rng.uniform(-1, 1, 8), "joystick", now=trail_t0 + i)


def _db(state: Path) -> sqlite3.Connection:
    return open_db(state / DB_NAME, read_only=True)


def _unexported(state: Path) -> int:
    conn = _db(state)
    try:
        return unexported_count(conn)
    finally:
        conn.close()


def _merged(*folders: Path, tmp: Path):
    warnings = []
    return merge(find_bundles(list(folders), tmp), warn=warnings.append), warnings


def test_an_export_of_a_log_set_aside_meanwhile_marks_nothing_in_the_new_log(tmp_path):
    """Item 1: the export ends after its log was set aside and a new one saved 5 captures numbered
    1-5; marking "captures 1-3 exported" there would let retention delete images no stick holds."""
    state = tmp_path / "state"
    _fill(state, captures=3)
    manifest = make_bundle(state, tmp_path / "bundle")  # the copy, done; the marks come last
    quarantine_database(state / DB_NAME)  # meanwhile: the log is set aside, a new one begins
    _fill(state, captures=5, seed=1)
    record_export(state, manifest)
    assert _unexported(state) == 5


def test_a_set_aside_log_and_its_successor_merge_without_losing_captures(tmp_path):
    """Item 2: both logs number from 1; merged by (booth, number) 3 + 2 captures became 3."""
    state, pulls = tmp_path / "state", tmp_path / "pulls"
    _fill(state, captures=3)
    export_to_dir(state, pulls)
    quarantine_database(state / DB_NAME)
    _fill(state, captures=2, seed=1)
    export_to_dir(state, pulls)
    merged, warnings = _merged(pulls, tmp=tmp_path)
    assert len(merged.captures) == 5 and len({c.capture.uid for c in merged.captures}) == 5
    assert all(c.image_file.is_file() for c in merged.captures)
    assert not warnings  # one booth's logs one after the other: nothing to warn about


def test_two_booths_with_one_booth_id_are_told_apart_and_named(tmp_path):
    """Issue 22 item 15: two booths configured with the same booth_id, running at the same time, were
    taken as two pulls of one log (captures and trail points silently halved)."""
    a, b = tmp_path / "a", tmp_path / "b"
    _fill(a, captures=3, trail_t0=1_700_000_000)
    _fill(b, captures=2, trail_t0=1_700_000_005, seed=1)
    _fill(a, captures=1, seed=2)
    export_to_dir(a, tmp_path / "stick-a")
    export_to_dir(b, tmp_path / "stick-b")
    merged, warnings = _merged(tmp_path / "stick-a", tmp_path / "stick-b", tmp=tmp_path)
    assert len(merged.captures) == 6 and len(merged.trail_t) == 20
    assert len(warnings) == 1 and "'booth-i'" in warnings[0] and "booth_id" in warnings[0]
    assert merged.warnings == warnings


def test_bundles_from_before_and_after_the_log_id_merge_as_one_log(tmp_path):
    """A log from before schema 4 gets, when the kiosk migrates it, the id its older snapshots are
    read with: a pull before the upgrade and one after hold the same captures once."""
    state = tmp_path / "state"
    _fill(state, captures=2, trail_t0=1_700_000_000)
    conn = sqlite3.connect(state / DB_NAME)  # as a schema-3 kiosk left it
    conn.execute("DELETE FROM meta WHERE key = 'log_id'")
    for table in ("captures", "trail"):  # what schemas 4 and 5 added
        conn.execute(f"ALTER TABLE {table} DROP COLUMN space")
    conn.execute("DROP TABLE position_spaces")
    conn.execute("DELETE FROM schema_history WHERE version >= 4")
    conn.execute("PRAGMA user_version = 3")
    conn.commit()
    conn.close()
    export_to_dir(state, tmp_path / "before")
    _fill(state, captures=1, seed=1)  # the upgraded kiosk migrates the log to schema 4
    conn = _db(state)
    migrated = log_identity(conn)
    conn.close()
    export_to_dir(state, tmp_path / "after")
    merged, warnings = _merged(tmp_path / "before", tmp_path / "after", tmp=tmp_path)
    assert migrated.startswith("v3:booth-i:")
    assert {c.capture.log_id for c in merged.captures} == {migrated}
    assert len(merged.captures) == 3 and len(merged.trail_t) == 10 and not warnings


def test_every_new_log_has_its_own_id(tmp_path):
    ids = set()
    for n in range(3):
        CaptureLog(tmp_path / str(n), "booth-i", position_space=SPACE, disk_floor_mb=0).close()
        conn = _db(tmp_path / str(n))
        ids.add(log_identity(conn))
        conn.close()
    assert len(ids) == 3 and all(len(i) == 32 for i in ids)
