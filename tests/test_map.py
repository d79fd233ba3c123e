"""The reference map (contract/mapfile.py): the shipped file, its manifest entry, placing points on it,
and the kiosk's loader that reads it off the UI thread. Real files, the real capture log."""

from __future__ import annotations

import json
import shutil
import threading

import numpy as np
import pytest

from analysis.embed import place_knn
from contract.latent import models_space
from contract.mapfile import FIT_COMMAND, MANIFEST_KEY, MAP_FILE, VERSION, FashionMap, MapFileError, load_map, save_map
from contract.models import sha256_file, shipped_models_dir
from kiosk.capture.log import CaptureLog
from kiosk.ui import map_loader
from kiosk.ui.map_loader import MapLoader, read_map

SPACE = models_space(shipped_models_dir())  # the latent map the shipped models' kiosk logs positions in


@pytest.fixture(scope="module")
def shipped_map(models_dir):
    return load_map(models_dir / MAP_FILE)


def test_shipped_map_is_listed_in_the_manifest_and_was_made_from_the_shipped_models(models_dir, shipped_map):
    manifest = json.loads((models_dir / "manifest.json").read_text())
    entry = manifest[MANIFEST_KEY]
    assert entry["file"] == MAP_FILE and entry["sha256"] == sha256_file(models_dir / MAP_FILE)
    assert entry["encoder_sha256"] == manifest["models"]["encoder"]["sha256"] == shipped_map.encoder_sha256
    assert entry["generator_sha256"] == manifest["models"]["generator"]["sha256"] == shipped_map.generator_sha256
    n = entry["points"]
    assert shipped_map.xy.shape == (n, 2) and shipped_map.z.shape == (n, 8) and shipped_map.design.shape == (n, 28, 28)
    assert shipped_map.image.shape == (n, 28, 28) and shipped_map.image.std() > 20  # real photographs
    assert shipped_map.xy.min() >= 0 and shipped_map.xy.max() <= 1 and len(set(shipped_map.label.tolist())) == 10
    assert 0 < shipped_map.support_threshold < 10
    assert read_map(models_dir)[0] is not None, read_map(models_dir)[2]
    # the whole models folder must stay small enough to ship on the booth's image
    assert sum(p.stat().st_size for p in models_dir.rglob("*") if p.is_file()) < 30e6


def test_a_known_point_lands_on_itself_and_both_placements_agree(shipped_map):
    np.testing.assert_allclose(shipped_map.place(shipped_map.z[:20]), shipped_map.xy[:20], atol=1e-3)
    between = shipped_map.place((shipped_map.z[0] + shipped_map.z[1]) / 2)
    assert between.shape == (2,) and np.all((between >= 0) & (between <= 1))
    z = np.random.default_rng(0).uniform(-2, 2, (200, 8)).astype(np.float32)
    xy, nearest = place_knn(z, shipped_map.z, shipped_map.xy, shipped_map.k)
    np.testing.assert_allclose(xy, shipped_map.place(z), atol=1e-4)  # the kiosk's numpy and the report's KD-tree
    np.testing.assert_allclose(nearest, np.sqrt(((z[:, None] - shipped_map.z[None]) ** 2).sum(-1)).min(1), rtol=1e-4)


@pytest.fixture
def models_copy(tmp_path, models_dir):
    target = tmp_path / "models"
    shutil.copytree(models_dir, target)
    return target


def test_a_replaced_map_file_is_refused_with_the_fix(models_copy, shipped_map):
    save_map(
        models_copy / MAP_FILE,
        FashionMap(
            shipped_map.xy[:50],
            shipped_map.z[:50],
            shipped_map.label[:50],
            shipped_map.class_names,
            5,
            shipped_map.encoder_sha256,
            design=shipped_map.design[:50],
        ),
    )
    fmap, _, why = read_map(models_copy)
    assert fmap is None and "does not match its sha256 in manifest.json" in why and FIT_COMMAND in why


def test_a_map_of_another_encoder_is_refused(models_copy):
    manifest = json.loads((models_copy / "manifest.json").read_text())
    manifest["models"]["encoder"]["sha256"] = "0" * 64  # as after a model export without fit-map
    (models_copy / "manifest.json").write_text(json.dumps(manifest))
    fmap, _, why = read_map(models_copy)
    assert fmap is None and "another encoder.onnx" in why and FIT_COMMAND in why


def test_an_unlisted_or_old_map_file_is_refused(models_copy, shipped_map):
    manifest = json.loads((models_copy / "manifest.json").read_text())
    del manifest[MANIFEST_KEY]
    (models_copy / "manifest.json").write_text(json.dumps(manifest))
    assert "lists no map file" in read_map(models_copy)[2]
    old = models_copy / "old.npz"
    np.savez(old, format=np.array("fse-map"), version=np.array(1), xy=shipped_map.xy)
    with pytest.raises(MapFileError, match=f"this fse reads version {VERSION}.*fit-map"):
        load_map(old)
    # version 2 held slider positions in `z`, made from the same encoder: the version alone tells it
    np.savez(old, **{**dict(np.load(models_copy / MAP_FILE).items()), "version": np.array(2)})
    with pytest.raises(MapFileError, match=f"version 2, this fse reads version {VERSION}.*fit-map"):
        load_map(old)


def test_test_photos_placed_on_the_shipped_map_land_among_their_class(models_dir, shipped_models, shipped_map):
    """The map is fitted in the encoder's latent, where the classes cluster (0.808 and 0.7515 on the
    shipped map). Fitted in slider positions, which the learned prior spreads evenly over the cube,
    the same measures were 0.6333 and 0.3605. fit-map writes the figures into the manifest entry."""
    from analysis.refmap import TEST_PHOTOS, placement_accuracy
    from contract.fashion_mnist import load_split

    test = load_split("test", None, TEST_PHOTOS)
    measured = placement_accuracy(shipped_map, shipped_models.encode_z(test.images), test.labels)
    assert measured["knn_in_z"] >= 0.80 and measured["knn_placed_on_map"] >= 0.70, measured
    recorded = json.loads((models_dir / "manifest.json").read_text())[MANIFEST_KEY]["fit"]["test_photos"]
    assert recorded == measured


def test_loader_reads_and_places_captures_on_its_own_thread(
    tmp_path, models_dir, shipped_models, shipped_map, monkeypatch
):
    """Captures at three training designs' slider positions land on those designs' map points: the
    log holds slider positions, the map latent z (the map's own points are where the sliders show them)."""
    log = CaptureLog(tmp_path / "state", "booth-01", position_space=SPACE, disk_floor_mb=0)
    sliders = shipped_models.latent.to_sliders(shipped_map.z[:3])
    for i in range(3):
        design = shipped_map.design[i] / 255.0
        log.save_capture(
            sliders[i], design, np.zeros((32, 32, 3), np.uint8), "none", [], "joystick", now=1_714_550_400.0 + i
        )
    log.close()
    readers = []
    real = map_loader.captured_z
    monkeypatch.setattr(
        map_loader, "captured_z", lambda d, s: readers.append(threading.current_thread().name) or real(d, s)
    )
    loader = MapLoader(models_dir, tmp_path / "state")
    loader.request_captures()
    assert loader.loaded.wait(10) and loader.served.wait(10)
    assert readers and set(readers) == {"map-loader"}  # SQLite is read off the UI thread
    np.testing.assert_allclose(loader.captures_xy, shipped_map.xy[:3], atol=1e-3)
    np.testing.assert_allclose(loader.place_sliders(sliders), shipped_map.xy[:3], atol=1e-3)  # the visitor's way
    np.testing.assert_allclose(loader.sliders_at(2), sliders[2], atol=1e-5)  # what a tap glides to (float32 flow)


def test_the_trails_outside_flag_is_exact_although_its_placement_is_approximate(shipped_map):
    from scipy.spatial import cKDTree

    from analysis.embed import on_reference

    rng = np.random.default_rng(1)
    spread = shipped_map.support_threshold  # the map is in the latent z, whose scale is the data's own
    trail = np.concatenate(
        [
            shipped_map.z[rng.choice(len(shipped_map.z), 300)] + rng.normal(0, 0.3 * spread, (300, 8)),
            rng.uniform(shipped_map.z.min(0), shipped_map.z.max(0), (300, 8)),
        ]
    ).astype(np.float32)
    placed = on_reference(shipped_map, np.zeros((0, 8), np.float32), trail)
    exact = cKDTree(shipped_map.z).query(trail, k=1)[0]
    threshold = shipped_map.support_threshold
    assert 0.05 < (exact > threshold).mean() < 0.95  # both kinds are there
    np.testing.assert_array_equal(placed.trail_distance > threshold, exact > threshold)


@pytest.mark.parametrize("damage", ["truncated", "flipped"])
def test_a_damaged_map_file_is_refused_by_the_kiosk_and_the_analysis(models_copy, damage, capsys):
    """A map file cut short (a full disk, an interrupted copy) or with a flipped byte: the kiosk's loader
    publishes the rebuild message (not "Loading the map..." forever) and fse-analyze says it, no traceback."""
    data = bytearray((models_copy / MAP_FILE).read_bytes())
    if damage == "truncated":
        data = data[: len(data) // 2]
    else:
        data[len(data) // 2] ^= 0xFF
    (models_copy / MAP_FILE).write_bytes(bytes(data))
    loader = MapLoader(models_copy, None)
    assert loader.loaded.wait(10)
    assert loader.map is None and loader.message != map_loader.LOADING and FIT_COMMAND in loader.message
    from analysis.cli import reference_map

    with pytest.raises(MapFileError, match="fit-map"):
        reference_map(models_copy, json.loads((models_copy / "manifest.json").read_text()))
