"""The capture log on real SQLite files: durability under SIGKILL, the disk floor, sessions, migrations."""
from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from contract.capture_schema import (DB_NAME, IMAGES_DIR, SCHEMA_VERSION, SchemaTooNewError, migrate, open_db,
                                     read_captures, read_sessions, read_trail, z_blob)
from kiosk.capture_log import TEMP_SUFFIX, CaptureLog, DiskFullError, decode_png, encode_png

RNG = np.random.default_rng(7)


def _capture_args(size: int = 64, seed: int = 0):
    rng = np.random.default_rng(seed)
    z = rng.uniform(-1, 1, 8).astype(np.float32)
    design = rng.random((28, 28)).astype(np.float32)
    image = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    return z, design, image


def test_save_capture_round_trips_everything(tmp_path):
    z, design, image = _capture_args(size=96)
    with CaptureLog(tmp_path, "booth-a", disk_floor_mb=0) as log:
        first = log.save_capture(z, design, image, "leopard", [0.25, 0.75], "landmark")
        second = log.save_capture(z, design, image, "none", [], "joystick")
    assert second == first + 1

    conn = open_db(tmp_path / DB_NAME, read_only=True)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    captures = read_captures(conn)
    assert [c.id for c in captures] == [first, second]
    c = captures[0]
    assert c.booth_id == "booth-a" and c.print_name == "leopard" and c.print_weights == (0.25, 0.75)
    assert c.how == "landmark" and c.session_id == captures[1].session_id
    np.testing.assert_allclose(c.z, z)
    np.testing.assert_allclose(c.design(), design, atol=1 / 255)
    assert np.array_equal(decode_png((tmp_path / c.image_path).read_bytes()), image)


def test_png_writer_reads_back_in_pygame(tmp_path):
    """The zlib PNG writer is checked by an independent decoder (pygame's libpng)."""
    pygame = pytest.importorskip("pygame")
    image = RNG.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    path = tmp_path / "x.png"
    path.write_bytes(encode_png(image))
    surface = pygame.image.load(str(path))
    assert surface.get_size() == (53, 37)
    assert np.array_equal(pygame.surfarray.array3d(surface).transpose(1, 0, 2), image)
    grey = RNG.integers(0, 256, (28, 28), dtype=np.uint8)
    assert np.array_equal(decode_png(encode_png(grey)), grey)


def test_damaged_png_is_detected():
    data = encode_png(RNG.integers(0, 256, (16, 16, 3), dtype=np.uint8))
    with pytest.raises(ValueError):
        decode_png(data[: len(data) // 2])
    flipped = bytearray(data)
    flipped[40] ^= 0xFF
    with pytest.raises(ValueError):
        decode_png(bytes(flipped))


def test_trail_is_rate_limited_and_sessions_follow_idle_timeout(tmp_path):
    t0 = 1_700_000_000.0
    with CaptureLog(tmp_path, "booth-a", disk_floor_mb=0, trail_hz=2.0, session_idle_s=90) as log:
        first = log.touch(t0)
        stored = sum(log.record_trail(np.full(8, k / 100), "joystick", now=t0 + k * 0.1) for k in range(101))
        assert stored == 21  # 10 s at 2 Hz, both ends included
        assert log.touch(t0 + 60) == first
        second = log.touch(t0 + 60 + 91)
        assert second != first
        assert log.record_trail(np.zeros(8), "attract", now=t0 + 400)  # nobody there: no session
    conn = open_db(tmp_path / DB_NAME, read_only=True)
    trail = read_trail(conn)
    assert len(trail.t) == 22 and trail.z.shape == (22, 8)
    assert trail.session_ids[:21] == [first] * 21 and trail.session_ids[21] is None and trail.hows[21] == "attract"
    rows = {s["id"]: s for s in read_sessions(conn)}
    assert set(rows) == {first, second}
    assert rows[first]["last_utc"] > rows[first]["started_utc"]


def test_capture_from_worker_thread_while_trail_records(tmp_path):
    with CaptureLog(tmp_path, "booth-a", disk_floor_mb=0, trail_hz=1000) as log:
        ids = []
        worker = threading.Thread(target=lambda: ids.extend(
            log.save_capture(*_capture_args(seed=i), "none", [], "joystick") for i in range(5)))
        worker.start()
        trail = 0
        while worker.is_alive() or trail < 50:
            trail += log.record_trail(RNG.uniform(-1, 1, 8), "joystick")
            time.sleep(0.002)
        worker.join()
    conn = open_db(tmp_path / DB_NAME, read_only=True)
    assert [c.id for c in read_captures(conn)] == ids
    assert conn.execute("SELECT COUNT(*) FROM trail").fetchone()[0] == trail


def test_disk_floor_refuses_captures_and_pauses_trail(tmp_path):
    """The floor is configurable, so "nearly full" is reached by raising it above the free space."""
    z, design, image = _capture_args()
    log = CaptureLog(tmp_path, "booth-a", disk_floor_mb=0, trail_hz=10)
    kept = log.save_capture(z, design, image, "none", [], "joystick")
    t0 = 1_700_000_000.0
    assert log.record_trail(z, "joystick", now=t0)
    before = sorted(p.relative_to(tmp_path) for p in (tmp_path / IMAGES_DIR).rglob("*"))

    log.disk_floor_mb = log.free_mb() + 10_000
    with pytest.raises(DiskFullError, match="fse-export"):
        log.save_capture(z, design, image, "none", [], "joystick")
    assert not log.record_trail(z, "joystick", now=t0 + 10)
    assert sorted(p.relative_to(tmp_path) for p in (tmp_path / IMAGES_DIR).rglob("*")) == before

    log.disk_floor_mb = 0  # space freed: both resume (the trail at its next free-space check)
    assert log.record_trail(z, "joystick", now=t0 + 20)
    assert log.save_capture(z, design, image, "none", [], "joystick") == kept + 1
    log.close()
    conn = open_db(tmp_path / DB_NAME, read_only=True)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("SELECT COUNT(*) FROM trail").fetchone()[0] == 2


def test_migration_from_version_1_keeps_the_data(tmp_path):
    conn = open_db(tmp_path / DB_NAME)
    assert migrate(conn, target=1) == 1
    conn.execute("INSERT INTO meta VALUES ('booth_id', 'old-booth')")
    conn.execute("INSERT INTO captures (utc, booth_id, session_id, z, print_name, print_weights, how, image_path, "
                 "design28) VALUES ('2024-05-01T10:00:00.000Z', 'old-booth', 's1', ?, 'none', '[]', 'jump', "
                 "'images/old.png', ?)", (z_blob(np.ones(8)), bytes(784)))
    (tmp_path / IMAGES_DIR).mkdir()
    (tmp_path / IMAGES_DIR / "old.png").write_bytes(encode_png(np.zeros((8, 8, 3), np.uint8)))
    conn.close()

    CaptureLog(tmp_path, "new-booth", disk_floor_mb=0).close()
    conn = open_db(tmp_path / DB_NAME, read_only=True)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert read_captures(conn)[0].z == (1.0,) * 8
    assert [s["id"] for s in read_sessions(conn)] == ["s1"]
    assert conn.execute("SELECT value FROM meta WHERE key='booth_id'").fetchone()[0] == "old-booth"
    assert (tmp_path / IMAGES_DIR / "old.png").is_file()  # referenced: the sweep keeps it


def test_newer_schema_is_refused_with_a_clear_message(tmp_path):
    CaptureLog(tmp_path, "booth-a", disk_floor_mb=0).close()
    conn = sqlite3.connect(tmp_path / DB_NAME)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(SchemaTooNewError, match="upgrade fse"):
        CaptureLog(tmp_path, "booth-a", disk_floor_mb=0)


# ---------------------------------------------------------------------------------------------
# Crash safety: a real writer process killed with SIGKILL at random moments.

KILLS = 100


def _writer(state_dir: Path, ack_fd: int, seed: int) -> None:
    """Child: save captures (and trail) forever, acknowledging each id only after save_capture returns."""
    log = CaptureLog(state_dir, "crash-booth", disk_floor_mb=0, trail_hz=1000)
    n = 0
    while True:
        z, design, image = _capture_args(size=160, seed=seed * 1000 + n)
        capture_id = log.save_capture(z, design, image, "none", [], "joystick")
        os.write(ack_fd, f"{capture_id}\n".encode())  # one write < PIPE_BUF: atomic
        log.record_trail(z, "joystick")
        log.flush()  # commit the trail now too, so kills also land inside trail transactions
        n += 1


def _check_log(state_dir: Path, acknowledged: set[int]) -> int:
    conn = sqlite3.connect(f"file:{state_dir / DB_NAME}?mode=ro", uri=True)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rows = dict(conn.execute("SELECT id, image_path FROM captures").fetchall())
    conn.close()
    assert acknowledged <= set(rows), f"acknowledged captures lost: {sorted(acknowledged - set(rows))}"
    for capture_id, relative in rows.items():
        image = decode_png((state_dir / relative).read_bytes())  # present and complete
        assert image.shape == (160, 160, 3), capture_id
    return len(rows)


@pytest.mark.slow
def test_sigkill_at_random_points_never_loses_an_acknowledged_capture(tmp_path):
    rng = random.Random(1234)
    acknowledged: set[int] = set()
    for kill in range(KILLS):
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child never returns into pytest
            try:
                os.close(read_end)
                _writer(tmp_path, write_end, kill)
            finally:
                os._exit(1)
        os.close(write_end)
        # Random kill points: some during open/sweep, most mid-save (PNG write, fsync, commit).
        time.sleep(rng.uniform(0.0, 0.12))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        with os.fdopen(read_end, "rb") as pipe:
            acknowledged |= {int(line) for line in pipe.read().split()}
        if (tmp_path / DB_NAME).exists():
            _check_log(tmp_path, acknowledged)

    assert len(acknowledged) >= KILLS // 4, "the writer should have saved captures in most rounds"
    # Reopening sweeps what the kills left behind; nothing referenced may go.
    CaptureLog(tmp_path, "crash-booth", disk_floor_mb=0).close()
    stored = _check_log(tmp_path, acknowledged)
    conn = sqlite3.connect(tmp_path / DB_NAME)
    referenced = {row[0] for row in conn.execute("SELECT image_path FROM captures")}
    on_disk = {p.relative_to(tmp_path).as_posix() for p in (tmp_path / IMAGES_DIR).rglob("*") if p.is_file()}
    assert on_disk == referenced, "orphan or temp images left after reopening"
    assert not any(name.endswith(TEMP_SUFFIX) for name in on_disk)
    assert stored >= len(acknowledged)
    print(json.dumps({"kills": KILLS, "acknowledged": len(acknowledged), "stored": stored}))
