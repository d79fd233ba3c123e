"""`fse-export` on real logs: snapshots while a kiosk process writes, tar bundles, the USB status file."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest

from contract.capture_schema import DB_NAME, SCHEMA_VERSION
from kiosk.capture_log import CaptureLog, decode_png
from kiosk.export import MANIFEST, USB_SUBDIR, main, read_usb_status, sha256_file


def _fill(state_dir: Path, captures: int = 3, trail: int = 10, booth: str = "booth-e") -> None:
    rng = np.random.default_rng(0)
    with CaptureLog(state_dir, booth, disk_floor_mb=0, trail_hz=1000) as log:
        for i in range(captures):
            log.save_capture(rng.uniform(-1, 1, 8), rng.random((28, 28)),
                             rng.integers(0, 256, (32, 32, 3), dtype=np.uint8), "none", [], "joystick")
        for i in range(trail):
            log.record_trail(rng.uniform(-1, 1, 8), "joystick", now=1_700_000_000 + i)


def _verify_bundle(bundle: Path) -> dict:
    """Every file in the manifest matches its sha256, and the snapshot is whole and self-consistent."""
    manifest = json.loads((bundle / MANIFEST).read_text())
    on_disk = {p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file()} - {MANIFEST}
    assert on_disk == set(manifest["files"])
    for relative, digest in manifest["files"].items():
        assert sha256_file(bundle / relative) == digest, relative
    conn = sqlite3.connect(f"file:{bundle / DB_NAME}?mode=ro", uri=True)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # one file, no -wal to lose
    paths = [row[0] for row in conn.execute("SELECT image_path FROM captures")]
    assert manifest["counts"]["captures"] == len(paths)
    assert manifest["counts"]["trail_points"] == conn.execute("SELECT COUNT(*) FROM trail").fetchone()[0]
    for relative in paths:
        decode_png((bundle / relative).read_bytes())
    conn.close()
    return manifest


def test_out_writes_a_checksummed_bundle(tmp_path, capsys):
    _fill(tmp_path / "state")
    assert main(["--out", str(tmp_path / "out"), "--state-dir", str(tmp_path / "state")]) == 0
    bundle = Path(capsys.readouterr().out.strip())
    assert bundle.parent == tmp_path / "out" and bundle.name.startswith("booth-e-")
    manifest = _verify_bundle(bundle)
    assert manifest["booth_id"] == "booth-e" and manifest["schema_version"] == SCHEMA_VERSION
    assert manifest["counts"] == {"captures": 3, "trail_points": 10, "sessions": 1, "images": 3}
    assert manifest["time_range"]["first_utc"] <= manifest["time_range"]["last_utc"]


def test_tar_bundle_round_trips(tmp_path):
    _fill(tmp_path / "state")
    tar_path = tmp_path / "pull.tar.gz"
    assert main(["--tar", str(tar_path), "--state-dir", str(tmp_path / "state")]) == 0
    with tarfile.open(tar_path) as tar:
        tar.extractall(tmp_path / "x", filter="data")
    (bundle,) = (tmp_path / "x").iterdir()
    _verify_bundle(bundle)


def test_snapshots_are_consistent_while_a_kiosk_process_writes(tmp_path):
    state = tmp_path / "state"
    CaptureLog(state, "busy", disk_floor_mb=0).close()
    pid = os.fork()
    if pid == 0:  # the "kiosk": captures and trail as fast as it can
        try:
            rng = np.random.default_rng(1)
            log = CaptureLog(state, "busy", disk_floor_mb=0, trail_hz=1000)
            while True:
                log.save_capture(rng.uniform(-1, 1, 8), rng.random((28, 28)),
                                 rng.integers(0, 256, (64, 64, 3), dtype=np.uint8), "none", [], "joystick")
                log.record_trail(rng.uniform(-1, 1, 8), "joystick")
        finally:
            os._exit(1)
    try:
        counts = []
        deadline = time.monotonic() + 30
        while len(counts) < 3 and time.monotonic() < deadline:
            assert main(["--out", str(tmp_path / f"out{len(counts)}"), "--state-dir", str(state)]) == 0
            (bundle,) = (tmp_path / f"out{len(counts)}").iterdir()
            counts.append(_verify_bundle(bundle)["counts"]["captures"])
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    assert counts == sorted(counts) and counts[-1] > counts[0], counts


def test_usb_export_to_a_mounted_stick_reports_safe_to_remove(tmp_path):
    _fill(tmp_path / "state")
    stick = tmp_path / "stick"
    stick.mkdir()
    assert main(["--usb", str(stick), "--state-dir", str(tmp_path / "state")]) == 0
    status = read_usb_status(tmp_path / "state")
    assert status["state"] == "done" and "safe to remove" in status["message"]
    _verify_bundle(stick / status["bundle"])
    assert status["bundle"].startswith(USB_SUBDIR + "/")


def test_usb_export_failure_is_reported_to_the_kiosk(tmp_path, capsys):
    _fill(tmp_path / "state")
    assert main(["--usb", str(tmp_path / "not-plugged-in"), "--state-dir", str(tmp_path / "state")]) == 2
    status = read_usb_status(tmp_path / "state")
    assert status["state"] == "failed" and "try again" in status["message"]
    assert "neither a block device" in capsys.readouterr().err


def test_bad_state_dirs_give_messages_not_tracebacks(tmp_path, capsys):
    assert main(["--out", str(tmp_path / "o"), "--state-dir", str(tmp_path / "nothing")]) == 2
    assert "no capture log" in capsys.readouterr().err

    _fill(tmp_path / "state")
    conn = sqlite3.connect(tmp_path / "state" / DB_NAME)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.close()
    assert main(["--out", str(tmp_path / "o2"), "--state-dir", str(tmp_path / "state")]) == 2
    assert "upgrade fse" in capsys.readouterr().err


def test_fse_export_only_pulls_booth_logs(capsys):
    """The models moved to `fse-train export`: the booth's command has no second job (and no torch)."""
    with pytest.raises(SystemExit) as exit_:
        main(["models", "--out", "x"])
    assert exit_.value.code == 2
    assert "fse-train export" in capsys.readouterr().err
