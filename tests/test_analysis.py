"""fse-analyze end to end: real logs written by CaptureLog, real fse-export bundles, the shipped ONNX
models, umap-learn, and the report checked in a real headless Chromium.

One analysis run (small training sample, so the whole module takes well under a minute) is shared
by the tests that look at its outputs; the bad-input tests stop before UMAP.
"""
from __future__ import annotations

import json
import shutil
import sqlite3
import tarfile

import numpy as np
import pytest

pytest.importorskip("umap")
pytest.importorskip("bokeh")

from PIL import Image  # noqa: E402

from analysis.browser import (PLOT_READY, VISIBLE_HOVER_IMAGES, VISIBLE_TOOLTIPS, Chromium, find_chromium,  # noqa: E402
                              point_on_screen, zoom_map)
from analysis.cli import main as analyze  # noqa: E402
from analysis.mapfile import load_map  # noqa: E402
from analysis.report import CLASS_COLOURS, view_box, write_map_png  # noqa: E402
from analysis.synthetic import make_day  # noqa: E402
from contract.capture_schema import DB_NAME, SCHEMA_VERSION  # noqa: E402
from contract.fashion_mnist import CLASS_NAMES  # noqa: E402
from kiosk.capture_log import CaptureLog  # noqa: E402
from kiosk.export import MANIFEST, export_to_dir, export_to_tar  # noqa: E402

SMALL = ["--train-sample", "400", "--fit-trail", "150", "--fit-captures", "100", "--quiet"]


@pytest.fixture(scope="module")
def bundles(tmp_path_factory, shipped_models):
    """Two booths; booth-01 pulled twice (overlapping), booth-02 as a tar; one damaged copy."""
    root = tmp_path_factory.mktemp("bundles")
    make_day(root / "state1", shipped_models, sessions=6, seed=1, booth_id="booth-01", image_px=64)
    first = export_to_dir(root / "state1", root / "pulls")
    make_day(root / "state1", shipped_models, sessions=3, seed=3, booth_id="booth-01", image_px=64,
             start_utc=1_714_600_000.0)
    second = export_to_dir(root / "state1", root / "pulls")
    make_day(root / "state2", shipped_models, sessions=5, seed=2, booth_id="booth-02", image_px=64)
    tar = export_to_tar(root / "state2", root / "booth-02.tar.gz")
    damaged = root / "damaged" / "booth-01-copy"
    shutil.copytree(first, damaged)
    image = next((damaged / "images").rglob("*.png"))
    image.write_bytes(image.read_bytes()[:-100])  # a truncated copy, as from a yanked stick
    return {"root": root, "first": first, "second": second, "tar": tar, "damaged": damaged}


@pytest.fixture(scope="module")
def report(bundles, tmp_path_factory, models_dir):
    out = tmp_path_factory.mktemp("report")
    kiosk_map = out / "fashion_map.npz"
    code = analyze([str(bundles["root"] / "pulls"), str(bundles["tar"]), str(bundles["damaged"]),
                    "--out", str(out), "--models", str(models_dir), "--write-kiosk-map", str(kiosk_map), *SMALL])
    assert code == 0
    return out


def _expected_counts(bundles) -> tuple[int, int]:
    captures = trail = 0
    for bundle in (bundles["second"],):
        manifest = json.loads((bundle / MANIFEST).read_text())
        captures += manifest["counts"]["captures"]
        trail += manifest["counts"]["trail_points"]
    with tarfile.open(bundles["tar"]) as t:
        member = next(m for m in t.getmembers() if m.name.endswith(MANIFEST))
        manifest = json.load(t.extractfile(member))
    return captures + manifest["counts"]["captures"], trail + manifest["counts"]["trail_points"]


def test_report_files_and_merged_counts(report, bundles):
    assert (report / "map.png").stat().st_size > 10_000
    assert (report / "index.html").stat().st_size > 100_000
    summary = json.loads((report / "summary.json").read_text())
    captures, trail = _expected_counts(bundles)
    # booth-01's two pulls overlap: the later one is a superset, so the merged log equals it + booth-02.
    assert summary["counts"]["captures"] == captures
    assert summary["counts"]["trail_points"] == trail
    assert sorted(summary["booths"]) == ["booth-01", "booth-02"]
    assert summary["counts"]["sessions"] == 6 + 3 + 5
    assert sum(summary["classes"]["captures"].values()) == captures
    assert sum(summary["classes"]["trail"].values()) == trail
    coverage = summary["coverage"]
    assert 0 <= coverage["captures_outside_support"] <= 1 and 0 < coverage["map_area"]["fraction"] <= 1
    assert summary["regions"] and summary["regions"][0]["captures"] >= summary["regions"][-1]["captures"]
    assert all(r["duration_s"] > 0 for r in summary["sessions"]["table"])


def test_damaged_bundle_is_named_and_skipped(report, bundles):
    summary = json.loads((report / "summary.json").read_text())
    (skipped,) = summary["skipped_bundles"]
    assert skipped[0] == str(bundles["damaged"]) and "sha256" in skipped[1]


def test_strict_fails_on_a_damaged_bundle(bundles, tmp_path, capsys, models_dir):
    code = analyze([str(bundles["damaged"]), "--strict", "--out", str(tmp_path), "--models", str(models_dir), *SMALL])
    assert code == 2
    err = capsys.readouterr().err
    assert str(bundles["damaged"]) in err and "export it from the booth again" in err


def test_synthetic_captures_use_the_shipped_prints(bundles, models_dir):
    shipped = [e["name"] for e in json.loads((models_dir / "prints.json").read_text())["prints"]]
    conn = sqlite3.connect(bundles["root"] / "state1" / DB_NAME)
    rows = conn.execute("SELECT print_name, print_weights FROM captures").fetchall()
    conn.close()
    used = {name for name, _ in rows}
    assert used <= set(shipped) | {"none"} and used & set(shipped), used
    for name, weights in rows:  # what the kiosk stores: the one-hot weights over the shipped prints
        assert json.loads(weights) == ([] if name == "none" else [float(n == name) for n in shipped])


def _cluster_with_outliers(rng):
    xy = rng.normal(0, 1, (2000, 2))
    xy[:3] = [[60, 0], [0, -80], [-70, 70]]  # three points UMAP threw far away
    return xy


def test_view_ignores_a_few_far_points():
    xy = _cluster_with_outliers(np.random.default_rng(0))
    low, high = view_box(xy, aspect=1.5)
    assert np.all(high - low < 10), (low, high)  # the cluster is ~6 wide; the outliers are 60-80 away
    assert (high - low)[0] / (high - low)[1] == pytest.approx(1.5)
    inside = np.all((xy >= low) & (xy <= high), axis=1)
    assert not inside[:3].any() and inside[3:].mean() > 0.98


def test_map_png_keeps_the_cluster_big_and_marks_outliers_on_the_border(tmp_path):
    xy = _cluster_with_outliers(np.random.default_rng(1))
    label = np.zeros(len(xy), int)
    label[0] = 3  # the far-right outlier is the only Dress
    write_map_png(tmp_path / "map.png", xy, label, np.zeros((0, 2)), np.zeros((0, 2)), CLASS_NAMES, size=600)
    rgb = np.asarray(Image.open(tmp_path / "map.png").convert("RGB"))[:, :600].astype(int)

    def where(colour):
        target = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])
        return np.argwhere(np.abs(rgb - target).sum(2) < 30)

    cluster = where(CLASS_COLOURS[0])
    assert np.ptp(cluster[:, 1]) > 300 and np.ptp(cluster[:, 0]) > 300  # not squeezed into a corner
    dress = where(CLASS_COLOURS[3])
    assert len(dress) and dress[:, 1].min() > 570  # the Dress outlier sits on the right border


def test_kiosk_map_places_points_without_umap(report, shipped_models):
    fmap = load_map(report / "fashion_map.npz")
    assert fmap.xy.shape == (400, 2) and fmap.z.shape == (400, 8) and len(fmap.class_names) == 10
    assert fmap.xy.min() >= 0 and fmap.xy.max() <= 1
    np.testing.assert_allclose(fmap.place(fmap.z[:20]), fmap.xy[:20], atol=1e-3)  # a known point lands on itself
    between = fmap.place((fmap.z[0] + fmap.z[1]) / 2)
    assert between.shape == (2,) and np.all((between >= 0) & (between <= 1))
    assert fmap.models_sha256 == shipped_models.manifest["models"]["encoder"]["sha256"]


def test_empty_log_gives_a_nothing_yet_report(tmp_path, capsys):
    CaptureLog(tmp_path / "state", "quiet-booth", disk_floor_mb=0).close()
    bundle = export_to_dir(tmp_path / "state", tmp_path / "pull")
    assert analyze([str(bundle), "--out", str(tmp_path / "report"), "--quiet"]) == 0
    assert "Nothing logged yet" in (tmp_path / "report" / "index.html").read_text()
    assert json.loads((tmp_path / "report" / "summary.json").read_text())["nothing_yet"] is True


def test_newer_schema_gives_a_clear_message(tmp_path, capsys):
    CaptureLog(tmp_path / "state", "future-booth", disk_floor_mb=0).close()
    conn = sqlite3.connect(tmp_path / "state" / DB_NAME)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    shutil.copytree(tmp_path / "state", tmp_path / "fake-bundle")
    manifest = {"format": "fse-capture-bundle", "format_version": 1, "booth_id": "future-booth",
                "schema_version": SCHEMA_VERSION + 1, "files": {}}
    (tmp_path / "fake-bundle" / MANIFEST).write_text(json.dumps(manifest))
    assert analyze([str(tmp_path / "fake-bundle"), "--out", str(tmp_path / "r"), "--quiet"]) == 2
    assert "upgrade fse" in capsys.readouterr().err


def test_not_a_bundle_is_a_message(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("hello")
    assert analyze([str(tmp_path / "notes.txt"), "--out", str(tmp_path / "r")]) == 2
    assert "is not a bundle" in capsys.readouterr().err
    assert analyze([str(tmp_path / "missing"), "--out", str(tmp_path / "r")]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.skipif(find_chromium() is None, reason="needs Debian's chromium (apt-get install chromium)")
def test_report_renders_and_hover_shows_the_design_in_chromium(report, artifacts):
    with Chromium(width=1400, height=1100) as browser:
        browser.open((report / "index.html").resolve().as_uri())
        browser.wait_for(PLOT_READY)
        # The plot drew: its canvas has non-blank pixels (WebGL or 2-D, whichever Chromium gave us).
        assert browser.evaluate("""(() => {
            const view = Bokeh.index.find_one(Bokeh.documents[0].get_model_by_name('map'));
            return view.canvas_view.el.getBoundingClientRect().width > 500; })()""")
        assert browser.evaluate(VISIBLE_HOVER_IMAGES) == []

        x, y = point_on_screen(browser, "captures", 0)
        browser.mouse_move(x, y)
        shown = browser.wait_for(VISIBLE_HOVER_IMAGES + ".length ? " + VISIBLE_HOVER_IMAGES + " : null")
        assert "design" in shown and "with print" in shown
        browser.screenshot(artifacts / "analysis-report-hover.png")

        browser.click(x, y)
        details = browser.wait_for("""(() => {
            const d = Bokeh.documents[0].get_model_by_name('details').text;
            return d.includes('fse-kiosk --z') ? d : null; })()""")
        assert "--print" in details

        legend = browser.evaluate("Bokeh.documents[0].get_model_by_name('legend').items.map(i => i.label.value)")
        assert legend == [*CLASS_NAMES, "capture", "trail (grey density)"]

        # Zoomed far out, every point lies under the cursor: still one tooltip, and a capture's.
        zoom_map(browser, 300)
        x, y = point_on_screen(browser, "captures", 0)
        under_cursor = browser.evaluate(f"""(() => {{
            const doc = Bokeh.documents[0];
            const renderer = doc.get_model_by_name('points');
            const view = Bokeh.index.find_one(renderer);
            const box = Bokeh.index.find_one(doc.get_model_by_name('map')).canvas_view.el.getBoundingClientRect();
            const d = renderer.data_source.data;
            let n = 0;
            for (let i = 0; i < d.x.length; i++) {{
              const dx = view.coordinates.x_scale.compute(d.x[i]) + box.left - {x};
              const dy = view.coordinates.y_scale.compute(d.y[i]) + box.top - {y};
              if (Math.hypot(dx, dy) < 2) n++;
            }}
            return n; }})()""")
        assert under_cursor > 10
        browser.mouse_move(x + 1, y)
        browser.mouse_move(x, y)
        tooltips = browser.wait_for(VISIBLE_TOOLTIPS + ".length ? " + VISIBLE_TOOLTIPS + " : null")
        assert len(tooltips) == 1 and tooltips[0].startswith("Capture"), tooltips
    assert (artifacts / "analysis-report-hover.png").stat().st_size > 50_000
