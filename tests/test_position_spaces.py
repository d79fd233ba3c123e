"""Slider positions in the capture log and where they land on the reference map.

The log stores slider positions, and a position means a design only under the latent map it was set
with; the reference map is fitted in the generator's latent z (contract/latent.py, contract/mapfile.py).
Real logs (CaptureLog, or SQLite written the way the model v2.1 kiosk wrote schema 4), real
fse-export bundles, the shipped ONNX models and map, and the kiosk driven headless.

Model v2.1's sliders are u = tanh(z / 1.1027) of this same network (its encoder.onnx output exactly
that: measured max |difference| 1.8e-7 on 500 test photos against v2.1's file, which is not shipped),
so an old log is made here from the shipped encoder's z through that map.
"""

from __future__ import annotations

import csv
import json
import sqlite3

import numpy as np
import pygame
import pytest

from analysis.cli import main as analyze
from contract.capture_schema import (
    DB_NAME,
    SCHEMA_VERSION,
    migrate,
    open_db,
    read_captures,
    read_trail,
    schema_version,
    utc_text,
    z_blob,
)
from contract.capture_writes import CaptureRow, record_booth, upsert_sessions
from contract.fashion_mnist import load_split
from contract.latent import PositionSpaces, TanhMap, models_space
from contract.mapfile import MAP_FILE, load_map
from kiosk.capture.log import CaptureLog
from kiosk.headless import wait_for
from kiosk.log_export.pull import export_to_dir
from kiosk.png import encode_png
from kiosk.ui.map_loader import MapLoader

T0 = 1_714_550_400.0  # 2024-05-01T08:00:00Z


@pytest.fixture(scope="module")
def shipped_map(models_dir):
    return load_map(models_dir / MAP_FILE, images=False)


@pytest.fixture(scope="module")
def v21(models_dir) -> TanhMap:
    """Model v2.1's slider map, as the shipped manifest lists it (latent.earlier_spaces)."""
    manifest = json.loads((models_dir / "manifest.json").read_text())
    entry = next(e for e in manifest["latent"]["earlier_spaces"] if e["models"] == "v2.1")
    return TanhMap(entry["map"]["latent_scale"], entry["map"]["clip"], entry["space"])


@pytest.fixture(scope="module")
def photos(shipped_models, v21):
    """One test photo of each class whose v2.1 positions are inside v2.1's clip (so they convert exactly):
    (images, labels, latent z, v2.1 slider positions)."""
    test = load_split("test", None, 400)
    z = shipped_models.encode_z(test.images)
    old = v21.to_sliders(z)
    pick = [next(i for i in range(len(z)) if test.labels[i] == c and np.abs(old[i]).max() < 0.97) for c in range(10)]
    return test.images[pick], test.labels[pick], z[pick], old[pick]


def write_v21_log(state_dir, positions, designs, booth="booth-old") -> None:
    """A capture log as the model v2.1 kiosk left it: schema 4, slider positions that name no map,
    rows inserted with that kiosk's statements. One capture per position, a trail through them."""
    (state_dir / "images").mkdir(parents=True)
    conn = open_db(state_dir / DB_NAME)
    migrate(conn, target=4)
    conn.execute("BEGIN IMMEDIATE")
    record_booth(conn, booth, utc_text(T0))
    for i, (u, design) in enumerate(zip(positions, designs)):
        relative = f"images/2024-05-01/capture-{i}.png"
        (state_dir / relative).parent.mkdir(exist_ok=True)
        (state_dir / relative).write_bytes(encode_png(np.zeros((16, 16, 3), np.uint8)))
        row = CaptureRow(
            utc_text(T0 + 60 * i), booth, "session-old", z_blob(u), "none", "[]", "joystick", relative,
            np.round(design * 255).astype(np.uint8).tobytes(),
        )  # fmt: skip
        conn.execute(f"INSERT INTO captures ({', '.join(CaptureRow._fields)}) VALUES ({', '.join('?' * 9)})", row)
    path = np.concatenate([np.linspace(a, b, 5, endpoint=False) for a, b in zip(positions[:-1], positions[1:])])
    conn.executemany(
        "INSERT INTO trail (t, session_id, z, how) VALUES (?, ?, ?, ?)",
        [(T0 + 10 * i, "session-old", z_blob(u), "joystick") for i, u in enumerate(path)],
    )
    upsert_sessions(conn, [("session-old", booth, utc_text(T0), utc_text(T0 + 600))])
    conn.execute("COMMIT")
    conn.close()


def captures_csv(out) -> list[dict]:
    with open(out / "captures.csv", newline="") as f:
        return list(csv.DictReader(f))


def map_xy(rows) -> np.ndarray:
    return np.array([[float(r["map_x"]), float(r["map_y"])] for r in rows])


def test_an_old_log_is_refused_until_its_models_are_named_then_placed_where_its_designs_are(
    tmp_path, models_dir, shipped_models, shipped_map, photos, capsys
):
    images, labels, z, old = photos
    write_v21_log(tmp_path / "state", old, images)
    bundle = export_to_dir(tmp_path / "state", tmp_path / "pulls")
    out = tmp_path / "report"
    args = [str(tmp_path / "pulls"), "--out", str(out), "--models", str(models_dir), "--quiet"]

    assert analyze(args) == 2  # which designs the positions mean is not the analysis' guess
    said = capsys.readouterr().err
    assert "10 captures and 45 trail points" in said and bundle.name in said
    assert "--old-logs v2.1" in said and "--old-logs current" in said
    assert not (out / "index.html").exists() and not (out / "captures.csv").exists()

    assert analyze([*args, "--old-logs", "v2.1"]) == 0
    rows = sorted(captures_csv(out), key=lambda r: int(r["capture_id"].split("/")[1]))
    np.testing.assert_allclose(map_xy(rows), shipped_map.place(z), atol=2e-5)  # where each photo's z lands
    sliders = np.array([[float(r[f"z{i}"]) for i in range(1, 9)] for r in rows])
    np.testing.assert_allclose(sliders, shipped_models.latent.to_sliders(z), atol=1e-4)  # fse-kiosk --z shows it
    summary = json.loads((out / "summary.json").read_text())
    assert summary["positions"] == {
        "not named": {"captures": 10, "trail_points": 45, "read_as": "v2.1", "bundles": [str(bundle)]}
    }
    assert any("read, as --old-logs said, in model v2.1's sliders" in w for w in summary["warnings"])

    # Read as the shipped models' sliders instead, the same log lands elsewhere: the flag is not a formality
    assert analyze([*args, "--old-logs", "current"]) == 0
    misread = map_xy(sorted(captures_csv(out), key=lambda r: int(r["capture_id"].split("/")[1])))
    assert np.median(np.linalg.norm(misread - shipped_map.place(z), axis=1)) > 0.05


def test_a_log_that_outlives_a_model_update_keeps_each_rows_map(
    tmp_path, models_dir, shipped_models, shipped_map, photos, capsys
):
    """The booth was updated from v2.1: the new kiosk migrates the log (schema 5) and names its map on
    what it adds; the old rows stay unnamed. Two pulls (before and after) merge; the kiosk's map mode
    shows only what it can place; the report places every row by its own map."""
    images, labels, z, old = photos
    state = tmp_path / "state"
    write_v21_log(state, old[:6], images[:6])
    export_to_dir(state, tmp_path / "pulls")  # pulled before the update: a schema 4 bundle
    with CaptureLog(state, "booth-old", position_space=shipped_models.latent.space, disk_floor_mb=0) as log:
        new = shipped_models.latent.to_sliders(z[6:])
        for i, (u, image) in enumerate(zip(new, images[6:])):
            log.save_capture(u, image, np.zeros((16, 16, 3), np.uint8), "none", [], "slider", now=T0 + 3600 + i)
            log.record_trail(u, "slider", now=T0 + 3600 + i)
    conn = open_db(state / DB_NAME, read_only=True)
    assert schema_version(conn) == SCHEMA_VERSION == 5
    spaces = [c.space for c in read_captures(conn)]
    assert spaces == [None] * 6 + [shipped_models.latent.space] * 4
    assert set(read_trail(conn).spaces) == {None, shipped_models.latent.space}
    conn.close()

    loader = MapLoader(models_dir, state)
    loader.request_captures()
    assert loader.loaded.wait(10) and loader.served.wait(10)
    np.testing.assert_allclose(loader.captures_xy, shipped_map.place(z[6:]), atol=1e-5)  # not the unnamed ones

    after = export_to_dir(state, tmp_path / "pulls")
    out = tmp_path / "report"
    assert analyze([str(tmp_path / "pulls"), "--out", str(out), "--models", str(models_dir), "--quiet"]) == 2
    assert "6 captures and 25 trail points" in capsys.readouterr().err  # the two pulls hold the same old rows
    args = [str(tmp_path / "pulls"), "--out", str(out), "--models", str(models_dir), "--old-logs", "v2.1", "--quiet"]
    assert analyze(args) == 0
    rows = sorted(captures_csv(out), key=lambda r: int(r["capture_id"].split("/")[1]))
    assert len(rows) == 10
    np.testing.assert_allclose(map_xy(rows), shipped_map.place(z), atol=2e-5)
    positions = json.loads((out / "summary.json").read_text())["positions"]
    assert positions["not named"]["captures"] == 6 and positions["not named"]["read_as"] == "v2.1"
    assert positions[shipped_models.latent.space] == {
        "captures": 4,
        "trail_points": 4,
        "read_as": "current",
        "bundles": [str(after)],
    }


def test_positions_of_models_these_cannot_read_are_refused_by_name(tmp_path, models_dir, photos, capsys):
    """A log from a booth with other models (another network's prior): no map here turns them into z."""
    other = "prior.npz:" + "0" * 64
    images, _, z, _ = photos
    with CaptureLog(tmp_path / "state", "booth-other", position_space=other, disk_floor_mb=0) as log:
        log.save_capture(np.zeros(8), images[0], np.zeros((16, 16, 3), np.uint8), "none", [], "slider", now=T0)
    bundle = export_to_dir(tmp_path / "state", tmp_path / "pulls")
    out = tmp_path / "report"
    assert analyze([str(bundle), "--out", str(out), "--models", str(models_dir), "--old-logs", "v2.1"]) == 2
    said = capsys.readouterr().err
    assert other in said and bundle.name in said and "--models" in said
    assert not (out / "index.html").exists()
    loader = MapLoader(models_dir, tmp_path / "state")  # the kiosk's map mode leaves it off, and lives on
    loader.request_captures()
    assert loader.served.wait(10) and loader.captures_xy is None


def test_position_spaces_convert_exactly_and_name_what_they_cannot(models_dir, shipped_models, v21, photos):
    _, _, z, old = photos
    manifest = json.loads((models_dir / "manifest.json").read_text())
    spaces = PositionSpaces.load(models_dir, manifest)
    assert spaces.current.space == models_space(models_dir) == shipped_models.latent.space
    assert spaces.current.space.startswith("prior.npz:") and spaces.by_name("v2.1") == v21.space
    mixed = np.concatenate([old, shipped_models.latent.to_sliders(z)])
    codes = np.repeat([0, 1], len(z))
    back = spaces.to_z(mixed, codes, [v21.space, spaces.current.space])
    np.testing.assert_allclose(back, np.concatenate([z, z]), atol=2e-4)
    with pytest.raises(ValueError, match="name no latent map"):
        spaces.to_z(old, np.full(len(old), -1), [])
    np.testing.assert_allclose(spaces.to_z(old, np.full(len(old), -1), [], unnamed=v21.space), z, atol=2e-4)
    with pytest.raises(ValueError, match="generator.onnx:1234, which these models cannot read"):
        spaces.to_z(old, np.zeros(len(old)), ["generator.onnx:1234"])


def test_a_capture_in_the_kiosk_lands_where_the_report_puts_it(tmp_path, models_dir, shipped_models, shipped_map):
    """A visitor at the Trouser landmark captures it in the headless kiosk (real ONNX, the real log):
    the kiosk's map mode marks the capture, and the visitor, at the point captures.csv gives it, and
    that point is among the map's trousers."""
    from kiosk.startup import build_app, parse_args

    trouser = next(lm.z for lm in shipped_models.landmarks if lm.name == "Trouser")
    state = tmp_path / "state"
    start = ",".join(f"{v:.6f}" for v in trouser)
    app = build_app(
        parse_args(["--windowed", "--joystick", "none", "--state-dir", str(state), "--size", "1280x720", "--z", start])
    )
    try:
        app.step()
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_RETURN, mod=0, unicode="", scancode=0))
        app.step()
        pressed = app.state.z.copy()
        wait_for(app, lambda a: any(t.text.startswith("Saved #") for t in a.ui.status.toasts), 90, dt=0.05)
        loader = app.ui.map.loader
        assert loader.loaded.wait(10) and loader.map is not None, loader.message
        loader.request_captures()
        assert loader.served.wait(10)
        kiosk_xy = loader.captures_xy
        visitor_xy = loader.place_sliders(pressed)
    finally:
        app.shutdown()

    bundle = export_to_dir(state, tmp_path / "pulls")
    out = tmp_path / "report"
    assert analyze([str(bundle), "--out", str(out), "--models", str(models_dir), "--quiet"]) == 0
    report_xy = map_xy(captures_csv(out))
    assert kiosk_xy.shape == report_xy.shape == (1, 2)
    np.testing.assert_allclose(kiosk_xy, report_xy, atol=2e-5)  # the CSV writes 5 decimals
    np.testing.assert_allclose(visitor_xy, report_xy[0], atol=2e-5)
    nearest = np.argsort(np.linalg.norm(shipped_map.xy - report_xy[0], axis=1))[: shipped_map.k]
    assert (shipped_map.label[nearest] == shipped_map.class_names.index("Trouser")).sum() >= 3


def test_old_rows_stay_unnamed_through_the_migration(tmp_path, photos):
    """Migration 5 adds the map table and columns; it does not guess a map for rows already there."""
    images, _, _, old = photos
    write_v21_log(tmp_path / "state", old[:2], images[:2])
    conn = sqlite3.connect(tmp_path / "state" / DB_NAME, isolation_level=None)
    migrate(conn)
    assert conn.execute("SELECT COUNT(*) FROM captures WHERE space IS NULL").fetchone()[0] == 2
    assert conn.execute("SELECT COUNT(*) FROM position_spaces").fetchone()[0] == 0
    conn.close()


def test_a_hand_edited_earlier_space_is_named_by_the_kiosk_and_the_analysis(tmp_path, models_dir, capsys):
    import shutil

    models = tmp_path / "models"
    shutil.copytree(models_dir, models)
    manifest = json.loads((models / "manifest.json").read_text())
    del manifest["latent"]["earlier_spaces"][0]["map"]["latent_scale"]
    (models / "manifest.json").write_text(json.dumps(manifest))
    loader = MapLoader(models, None)
    assert loader.loaded.wait(10) and loader.map is None
    assert "latent.earlier_spaces[0]" in loader.message and "latent_scale" in loader.message
    with CaptureLog(tmp_path / "state", "booth-a", position_space=models_space(models), disk_floor_mb=0) as log:
        log.save_capture(np.zeros(8), np.zeros((28, 28)), np.zeros((16, 16, 3), np.uint8), "none", [], "slider")
    bundle = export_to_dir(tmp_path / "state", tmp_path / "pulls")
    assert analyze([str(bundle), "--out", str(tmp_path / "report"), "--models", str(models), "--quiet"]) == 2
    assert "latent.earlier_spaces[0]" in capsys.readouterr().err
