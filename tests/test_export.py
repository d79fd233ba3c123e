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
from PIL import Image

import kiosk.log_export.bundle
from analysis.bundles import find_bundles, merge
from contract.bundle import MANIFEST, MANIFEST_LIMIT, PARTIAL_SUFFIX, parse_manifest
from contract.capture_schema import DB_NAME, SCHEMA_VERSION, unexported_count
from contract.latent import models_space
from contract.models import sha256_file, shipped_models_dir
from kiosk.capture.log import CaptureLog
from kiosk.log_export.cli import main
from kiosk.log_export.usb import USB_SUBDIR, write_usb_status
from kiosk.usb_status import USB_STATUS, UsbStatusWatch, read_usb_status, usb_status_toast

SPACE = models_space(shipped_models_dir())  # the latent map the shipped models' kiosk logs positions in


def _fill(state_dir: Path, captures: int = 3, trail: int = 10, booth: str = "booth-e") -> None:
    rng = np.random.default_rng(0)
    with CaptureLog(state_dir, booth, position_space=SPACE, disk_floor_mb=0, trail_hz=1000) as log:
        for _ in range(captures):
            log.save_capture(
                rng.uniform(-1, 1, 8),
                rng.random((28, 28)),
                rng.integers(0, 256, (32, 32, 3), dtype=np.uint8),
                "none",
                [],
                "joystick",
            )
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
    held = manifest.get("images_in_earlier_bundles", {})
    for relative in set(paths) - set(manifest["missing_images"]):
        with Image.open(
            bundle.parent / held[relative]["bundle"] / relative if relative in held else bundle / relative
        ) as image:
            image.load()  # complete: a truncated PNG raises
    conn.close()
    return manifest


def test_out_writes_a_checksummed_bundle(tmp_path, capsys):
    _fill(tmp_path / "state")
    capsys.readouterr()  # pygame's greeting, when the capture log is the first to import it
    assert main(["--out", str(tmp_path / "out"), "--state-dir", str(tmp_path / "state")]) == 0
    bundle = Path(capsys.readouterr().out.strip())
    assert bundle.parent == tmp_path / "out" and bundle.name.startswith("booth-e-")
    manifest = _verify_bundle(bundle)
    assert manifest["booth_id"] == "booth-e" and manifest["schema_version"] == SCHEMA_VERSION
    assert manifest["counts"] == {
        "captures": 3,
        "trail_points": 10,
        "sessions": 1,
        "images": 3,
        "images_copied": 3,
        "images_resumed": 0,
    }
    assert manifest["time_range"]["first_utc"] <= manifest["time_range"]["last_utc"]


def test_tar_bundle_round_trips(tmp_path):
    _fill(tmp_path / "state")
    tar_path = tmp_path / "pull.tar.gz"
    assert main(["--tar", str(tar_path), "--state-dir", str(tmp_path / "state")]) == 0
    assert _unexported(tmp_path / "state") == 0
    with tarfile.open(tar_path) as tar:
        tar.extractall(tmp_path / "x", filter="data")
    (bundle,) = (tmp_path / "x").iterdir()
    _verify_bundle(bundle)


def test_snapshots_are_consistent_while_a_kiosk_process_writes(tmp_path):
    state = tmp_path / "state"
    CaptureLog(state, "busy", position_space=SPACE, disk_floor_mb=0).close()
    pid = os.fork()
    if pid == 0:  # the "kiosk": captures and trail as fast as it can
        try:
            rng = np.random.default_rng(1)
            log = CaptureLog(state, "busy", position_space=SPACE, disk_floor_mb=0, trail_hz=1000)
            while True:
                log.save_capture(
                    rng.uniform(-1, 1, 8),
                    rng.random((28, 28)),
                    rng.integers(0, 256, (64, 64, 3), dtype=np.uint8),
                    "none",
                    [],
                    "joystick",
                )
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


def _bundles(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir())


def test_exports_into_a_folder_copy_only_new_images_unless_full(tmp_path):
    """Issue 12 item 12: a second pull copies the captures taken since, not everything again; the
    analysis still finds every image (in the earlier bundle); --full copies everything."""
    state, pulls = tmp_path / "state", tmp_path / "pulls"
    _fill(state, captures=3)
    assert main(["--out", str(pulls), "--state-dir", str(state)]) == 0
    _fill(state, captures=2)
    assert main(["--out", str(pulls), "--state-dir", str(state)]) == 0
    first, second = _bundles(pulls)
    m1, m2 = _verify_bundle(first), _verify_bundle(second)
    assert m1["counts"]["images_copied"] == 3 and m1["images_in_earlier_bundles"] == {}
    assert m2["counts"]["images"] == 5 and m2["counts"]["images_copied"] == 2
    held = m2["images_in_earlier_bundles"]
    assert len(held) == 3 and {h["bundle"] for h in held.values()} == {first.name}
    assert all(h["sha256"] == m1["files"][image] for image, h in held.items())
    assert len(m2["exported_capture_ids"]) == 5 and _unexported(state) == 0

    merged = merge(find_bundles([second], tmp_path), warn=lambda _: None)
    assert len(merged.captures) == 5 and all(c.image_file.is_file() for c in merged.captures)

    # A copy on the stick that no longer matches is not trusted: the next pull copies that image again.
    damaged = first / next(iter(held))
    damaged.write_bytes(damaged.read_bytes()[:-10])
    assert main(["--out", str(pulls), "--state-dir", str(state)]) == 0
    assert _verify_bundle(_bundles(pulls)[-1])["counts"]["images_copied"] == 1
    assert main(["--out", str(pulls), "--state-dir", str(state), "--full"]) == 0
    assert _verify_bundle(_bundles(pulls)[-1])["counts"]["images_copied"] == 5


def test_every_file_is_on_the_disk_before_the_manifest(tmp_path, monkeypatch):
    """Issue 12 item 11: the file system is flushed after the last image and before the manifest,
    so a manifest on a stick means its images are there."""
    _fill(tmp_path / "state", captures=4)
    flushes = []
    real_sync = kiosk.log_export.bundle.sync_filesystem

    def spy(path):
        written = sorted(p.relative_to(path).as_posix() for p in Path(path).rglob("*") if p.is_file())
        flushes.append((Path(path).name, written))
        real_sync(path)

    monkeypatch.setattr(kiosk.log_export.bundle, "sync_filesystem", spy)
    assert main(["--out", str(tmp_path / "out"), "--state-dir", str(tmp_path / "state")]) == 0
    (bundle,) = _bundles(tmp_path / "out")
    manifest = _verify_bundle(bundle)
    ((flushed, written),) = flushes
    assert flushed == bundle.name + PARTIAL_SUFFIX
    assert MANIFEST not in written and set(written) == set(manifest["files"])


def test_capture_paths_outside_the_state_directory_are_not_copied(tmp_path, capsys):
    """The kiosk's user can write the log: an image path that leaves the state directory (or a
    link in its place) must not make the exporter copy another file."""
    state = tmp_path / "state"
    _fill(state, captures=2)
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"not a capture")
    conn = sqlite3.connect(state / DB_NAME)
    first, second = [row[0] for row in conn.execute("SELECT image_path FROM captures ORDER BY id")]
    conn.execute("UPDATE captures SET image_path = ? WHERE image_path = ?", ("../secret.png", first))
    conn.commit()
    conn.close()
    (state / second).unlink()
    (state / second).symlink_to(secret)
    assert main(["--out", str(tmp_path / "out"), "--state-dir", str(state)]) == 0
    (bundle,) = _bundles(tmp_path / "out")
    manifest = _verify_bundle_files(bundle)
    assert sorted(manifest["missing_images"]) == sorted(["../secret.png", second])
    assert manifest["exported_capture_ids"] == [] and _unexported(state) == 2  # retention keeps them
    assert not any(b"not a capture" in p.read_bytes() for p in bundle.rglob("*") if p.is_file())
    err = capsys.readouterr().err
    assert "../secret.png" in err and second in err


def _unexported(state: Path) -> int:
    conn = sqlite3.connect(state / DB_NAME)
    try:
        return unexported_count(conn)
    finally:
        conn.close()


def _verify_bundle_files(bundle: Path) -> dict:
    manifest = json.loads((bundle / MANIFEST).read_text())
    for relative, digest in manifest["files"].items():
        assert sha256_file(bundle / relative) == digest
    return manifest


def test_the_first_usb_status_ever_is_shown(tmp_path):
    """Issue 12 item 13: with no status file at start-up, the first one written is news; a status
    from before start-up is not; "running" then "done" are both shown even within one second."""
    watch = UsbStatusWatch(tmp_path)
    assert watch.poll() is None
    write_usb_status(tmp_path, "running", "Copying")
    assert usb_status_toast(watch.poll()) == ("USB export running: don't remove the stick", "info", 6.0)
    assert watch.poll() is None
    write_usb_status(tmp_path, "done", "Export finished")
    assert usb_status_toast(watch.poll())[1] == "ok"
    assert UsbStatusWatch(tmp_path).poll() is None  # a kiosk started after the export: old news
    write_usb_status(tmp_path, "failed", "the stick is full")
    assert usb_status_toast(watch.poll()) == ("USB export failed: the stick is full", "warn", 10.0)
    (tmp_path / USB_STATUS).write_text("{half")
    assert watch.poll() is None


def test_an_earlier_copy_is_read_back_before_it_is_relied_on(tmp_path):
    """Issue 21 item 6: a copy on the stick damaged without changing its size was trusted (the manifest's
    sha256, not the bytes): the new bundle pointed at it and the capture stayed marked exported."""
    state, pulls = tmp_path / "state", tmp_path / "pulls"
    _fill(state, captures=3)
    assert main(["--out", str(pulls), "--state-dir", str(state)]) == 0
    (first,) = _bundles(pulls)
    image = next(p for p in first.rglob("*.png"))
    data = bytearray(image.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped bit-pattern, same size
    image.write_bytes(bytes(data))
    assert main(["--out", str(pulls), "--state-dir", str(state)]) == 0
    manifest = _verify_bundle(_bundles(pulls)[-1])
    assert manifest["counts"]["images_copied"] == 1
    assert image.relative_to(first).as_posix() in manifest["files"]


def test_a_hostile_earlier_manifest_is_treated_as_absent(tmp_path):
    """Issue 21 item 8: 100 KB of `[[[[...` as an earlier bundle's manifest raised RecursionError on
    every export to that stick; one over the size limit is not read whole either."""
    _fill(tmp_path / "state")
    for name, text in (("booth-e-deep", "[" * 100_000), ("booth-e-big", " " * (MANIFEST_LIMIT + 10) + "{}")):
        (tmp_path / "out" / name).mkdir(parents=True)
        (tmp_path / "out" / name / MANIFEST).write_text(text)
    assert main(["--out", str(tmp_path / "out"), "--state-dir", str(tmp_path / "state")]) == 0
    bundle = next(p for p in _bundles(tmp_path / "out") if p.name not in ("booth-e-deep", "booth-e-big"))
    assert _verify_bundle(bundle)["counts"]["images_copied"] == 3
    with pytest.raises(ValueError, match="deeper"):
        parse_manifest(b'{"a": ' + b"[" * 9 + b"]" * 9 + b"}")
    assert parse_manifest(b'{"a": "[[[[[[[[[[[[", "b": [[{"c": 1}]]}')["b"] == [[{"c": 1}]]
