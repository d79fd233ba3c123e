"""fse-analyze end to end: real logs written by CaptureLog, real fse-export bundles, the shipped ONNX
models and reference map, and the report checked in a real headless Chromium.

One analysis run (placed on the shipped reference map: no UMAP, a few seconds) is shared by the
tests that look at its outputs; the bad-input tests stop before the models are loaded. The UMAP
fits (fit-map, --refit) are marked slow.
"""

from __future__ import annotations

import csv
import json
import shutil
import sqlite3
import tarfile

import numpy as np
import pytest

pytest.importorskip("bokeh")

from PIL import Image  # noqa: E402

from analysis.browser import (  # noqa: E402
    PLOT_READY,
    VISIBLE_HOVER_IMAGES,
    VISIBLE_TOOLTIPS,
    Chromium,
    find_chromium,
    point_on_screen,
    zoom_map,
)
from analysis.bundles import find_bundles, merge  # noqa: E402
from analysis.cli import main as analyze  # noqa: E402
from analysis.report import CLASS_COLOURS, CSV_COLUMNS, report_title, view_box, write_map_png  # noqa: E402
from analysis.synthetic import HOWS, make_day  # noqa: E402
from contract.bundle import MANIFEST  # noqa: E402
from contract.capture_schema import DB_NAME, SCHEMA_VERSION  # noqa: E402
from contract.fashion_mnist import CLASS_NAMES  # noqa: E402
from contract.latent import models_space  # noqa: E402
from contract.models import sha256_file, shipped_models_dir  # noqa: E402
from kiosk.capture.log import CaptureLog  # noqa: E402
from kiosk.log_export.pull import export_to_dir, export_to_tar  # noqa: E402

SPACE = models_space(shipped_models_dir())  # the latent map the shipped models' kiosk logs positions in

ODD_BOOTH = "booth<02>&co"
"""A booth name that is also HTML: the page must show it as text."""
UNSET_UTC = "1970-01-01T00:12:00.000Z"
"""A capture stamped by a booth whose clock was not set."""


@pytest.fixture(scope="module")
def bundles(tmp_path_factory, shipped_models):
    """Two booths; booth-01 pulled twice (overlapping), the odd booth as a tar; a damaged copy of a
    bundle directory and a truncated copy of the tar (both in damaged/)."""
    root = tmp_path_factory.mktemp("bundles")
    make_day(root / "state1", shipped_models, sessions=6, seed=1, booth_id="booth-01", image_px=64)
    first = export_to_dir(root / "state1", root / "pulls")
    make_day(
        root / "state1", shipped_models, sessions=3, seed=3, booth_id="booth-01", image_px=64, start_utc=1_714_600_000.0
    )
    second = export_to_dir(root / "state1", root / "pulls")
    make_day(root / "state2", shipped_models, sessions=5, seed=2, booth_id=ODD_BOOTH, image_px=64)
    # the odd booth's clock was not set for a while: two trail points and a capture stamped in 1970
    conn = sqlite3.connect(root / "state2" / DB_NAME)
    conn.execute("UPDATE trail SET t = 600.0 + id WHERE id IN (SELECT id FROM trail ORDER BY id LIMIT 2)")
    conn.execute("UPDATE captures SET utc = ? WHERE id = (SELECT MIN(id) FROM captures)", (UNSET_UTC,))
    conn.commit()
    conn.close()
    tar = export_to_tar(root / "state2", root / "booth-02.tar.gz")
    damaged = root / "damaged" / "booth-01-copy"
    shutil.copytree(first, damaged)
    image = next((damaged / "images").rglob("*.png"))
    image.write_bytes(image.read_bytes()[:-100])  # a truncated copy, as from a yanked stick
    truncated = root / "damaged" / "booth-02-copy.tar.gz"
    truncated.write_bytes(tar.read_bytes()[:2000])
    return {"root": root, "first": first, "second": second, "tar": tar, "damaged": damaged, "truncated": truncated}


@pytest.fixture(scope="module")
def report(bundles, tmp_path_factory, models_dir):
    out = tmp_path_factory.mktemp("report")
    code = analyze(
        [
            str(bundles["root"] / "pulls"),
            str(bundles["tar"]),
            str(bundles["root"] / "damaged"),
            "--out",
            str(out),
            "--models",
            str(models_dir),
            "--quiet",
        ]
    )
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
    assert sorted(summary["booths"]) == ["booth-01", ODD_BOOTH]
    assert summary["counts"]["sessions"] == 6 + 3 + 5
    assert sum(summary["classes"]["captures"].values()) == captures
    assert sum(summary["classes"]["trail"].values()) == trail
    coverage = summary["coverage"]
    assert 0 <= coverage["captures_outside_support"] <= 1 and 0 < coverage["map_area"]["fraction"] <= 1
    assert summary["regions"] and summary["regions"][0]["captures"] >= summary["regions"][-1]["captures"]
    assert all(r["duration_s"] > 0 for r in summary["sessions"]["table"])
    assert summary["embedding"]["method"].startswith("reference map")


def test_points_whose_clock_was_not_set_are_counted_apart_and_warned_of(report):
    """The odd booth stamped two trail points and a capture in 1970: they stay in the counts and on the map,
    but the time range, the timeline and the title keep to the real days, and the summary says why."""
    summary = json.loads((report / "summary.json").read_text())
    assert summary["clock_not_set"] == {"captures": 1, "trail_points": 2, "sessions": 0, "booths": [ODD_BOOTH]}
    assert summary["time_range"]["first_utc"].startswith("2024-05-01")
    title = report_title(summary["booths"], summary["time_range"]["first_utc"], summary["time_range"]["last_utc"])
    assert summary["title"] == title and title.startswith("2 booths, 1 May") and "1970" not in title
    assert any("1 capture and 2 trail points" in w and "clock was not set" in w for w in summary["warnings"])
    page = (report / "index.html").read_text()
    assert "clock was not set" in page and f"<h1>{title}</h1>" in page
    data = json.loads(page.split('<script type="application/json" id="fse-data">')[1].split("</script>")[0])
    bins = data["bins"]
    assert bins["start"] >= bins["clockSetAfter"] and bins["count"] <= 96  # not 54 years of weekly bins
    assert data["trail"]["count"][bins["count"]] == 2  # the clock-not-set bin, after the timeline's


def test_captures_csv_holds_every_capture_with_its_place_and_flags(report):
    summary = json.loads((report / "summary.json").read_text())
    with open(report / "captures.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == summary["counts"]["captures"]
    assert len({(r["booth"], r["capture"]) for r in rows}) == len(rows)
    assert len({r["capture_id"] for r in rows}) == len(rows)  # unique across logs and booths
    assert {r["booth"] for r in rows} == {"booth-01", ODD_BOOTH}
    assert {r["how"] for r in rows} <= set(HOWS) and len({r["how"] for r in rows}) >= 3  # not all "joystick"
    outside = np.mean([int(r["outside_support"]) for r in rows])
    assert outside == pytest.approx(summary["coverage"]["captures_outside_support"], abs=1e-4)
    assert all(0 <= float(r["map_x"]) <= 1 and 0 <= float(r["map_y"]) <= 1 for r in rows)  # on the reference map


def test_damaged_bundles_are_named_and_skipped_and_the_run_goes_on(report, bundles):
    """A damaged bundle directory and a truncated tar among good ones: named, skipped, the rest analysed."""
    summary = json.loads((report / "summary.json").read_text())
    skipped = dict(summary["skipped_bundles"])
    assert set(skipped) == {str(bundles["damaged"]), str(bundles["truncated"])}
    assert "sha256" in skipped[str(bundles["damaged"])] and "cannot be unpacked" in skipped[str(bundles["truncated"])]


def test_strict_fails_on_a_damaged_bundle(bundles, tmp_path, capsys, models_dir):
    code = analyze([str(bundles["damaged"]), "--strict", "--out", str(tmp_path), "--models", str(models_dir)])
    assert code == 2
    err = capsys.readouterr().err
    assert str(bundles["damaged"]) in err and "export it from the booth again" in err


def _with_damaged_log(bundle, target):
    """A copy whose log.sqlite lost its trail table, with the manifest's sha256 updated to match: the
    bundle verifies, its captures read, and then the log fails."""
    shutil.copytree(bundle, target)
    conn = sqlite3.connect(target / DB_NAME)
    conn.execute("DROP TABLE trail")
    conn.commit()
    conn.close()
    manifest = json.loads((target / MANIFEST).read_text())
    manifest["files"][DB_NAME] = sha256_file(target / DB_NAME)
    (target / MANIFEST).write_text(json.dumps(manifest))
    return target


def test_a_bundle_with_a_damaged_log_is_skipped_whole(bundles, tmp_path):
    bad = _with_damaged_log(bundles["first"], tmp_path / "bad-log")
    log = merge(find_bundles([bad, bundles["tar"]], tmp_path), warn=lambda m: None)
    assert log.bundles == [str(bundles["tar"])] and [label for label, _ in log.skipped] == [str(bad)]
    assert "cannot be read" in log.skipped[0][1]
    assert {c.capture.booth_id for c in log.captures} == {ODD_BOOTH}  # none of the skipped bundle's captures


def test_when_every_bundle_is_damaged_the_run_fails_and_leaves_nothing_stale(bundles, tmp_path, capsys):
    out = tmp_path / "report"
    out.mkdir()
    for name in ("map.png", "index.html", "summary.json", "captures.csv"):
        (out / name).write_text("yesterday's report")
    truncated = tmp_path / "cut.tar"
    truncated.write_bytes(b"not a tar at all")
    assert analyze([str(bundles["damaged"]), str(truncated), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "no bundle could be used" in err and str(bundles["damaged"]) in err and str(truncated) in err
    assert list(out.iterdir()) == []


def test_synthetic_captures_use_the_shipped_prints(bundles, models_dir):
    shipped = [e["name"] for e in json.loads((models_dir / "prints.json").read_text())["prints"]]
    conn = sqlite3.connect(bundles["root"] / "state1" / DB_NAME)
    rows = conn.execute("SELECT print_name, print_weights FROM captures").fetchall()
    conn.close()
    used = {name for name, _ in rows}
    assert used <= set(shipped) | {"none"} and used & set(shipped), used
    for name, weights in rows:  # what the kiosk stores: the one-hot weights over the shipped prints
        assert json.loads(weights) == ([] if name == "none" else [float(n == name) for n in shipped])


def test_the_title_says_what_the_data_spans():
    assert report_title(["booth-01"], "2024-05-01T08:00:00.000Z", "2024-05-01T17:00:00.000Z") == "booth-01, 1 May 2024"
    assert report_title(["a", "b", "c"], "2024-04-30T08:00:00.000Z", "2024-05-02T09:00:00.000Z") == (
        "3 booths, 30 Apr to 2 May 2024"
    )
    assert report_title(["a"], "2024-12-31T08:00:00.000Z", "2025-01-02T09:00:00.000Z") == "a, 31 Dec 2024 to 2 Jan 2025"
    assert report_title(["a"], None, None) == "a, clock not set"


def test_class_colours_are_distinct_and_none_is_grey_like_the_trail():
    import colorsys

    rgb = [tuple(int(c[i : i + 2], 16) / 255 for i in (1, 3, 5)) for c in CLASS_COLOURS]
    assert len(set(CLASS_COLOURS)) == 10
    assert all(colorsys.rgb_to_hsv(*c)[1] > 0.3 for c in rgb), "a class colour is greyish: it would look like the trail"


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
        target = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
        return np.argwhere(np.abs(rgb - target).sum(2) < 30)

    cluster = where(CLASS_COLOURS[0])
    assert np.ptp(cluster[:, 1]) > 300 and np.ptp(cluster[:, 0]) > 300  # not squeezed into a corner
    dress = where(CLASS_COLOURS[3])
    assert len(dress) and dress[:, 1].min() > 570  # the Dress outlier sits on the right border


def test_empty_log_gives_a_nothing_yet_report(tmp_path, capsys):
    CaptureLog(tmp_path / "state", "quiet-booth", position_space=SPACE, disk_floor_mb=0).close()
    bundle = export_to_dir(tmp_path / "state", tmp_path / "pull")
    assert analyze([str(bundle), "--out", str(tmp_path / "report"), "--quiet"]) == 0
    assert "Nothing logged yet" in (tmp_path / "report" / "index.html").read_text()
    assert json.loads((tmp_path / "report" / "summary.json").read_text())["nothing_yet"] is True


def test_newer_schema_gives_a_clear_message(tmp_path, capsys):
    CaptureLog(tmp_path / "state", "future-booth", position_space=SPACE, disk_floor_mb=0).close()
    conn = sqlite3.connect(tmp_path / "state" / DB_NAME)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    shutil.copytree(tmp_path / "state", tmp_path / "fake-bundle")
    manifest = {
        "format": "fse-capture-bundle",
        "format_version": 1,
        "booth_id": "future-booth",
        "schema_version": SCHEMA_VERSION + 1,
        "files": {},
    }
    (tmp_path / "fake-bundle" / MANIFEST).write_text(json.dumps(manifest))
    assert analyze([str(tmp_path / "fake-bundle"), "--out", str(tmp_path / "r"), "--quiet"]) == 2
    assert "upgrade fse" in capsys.readouterr().err


def test_not_a_bundle_is_a_message(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("hello")
    assert analyze([str(tmp_path / "notes.txt"), "--out", str(tmp_path / "r")]) == 2
    assert "is not a bundle" in capsys.readouterr().err
    assert analyze([str(tmp_path / "missing"), "--out", str(tmp_path / "r")]) == 2
    assert "does not exist" in capsys.readouterr().err


def _page(browser, expression):
    return browser.evaluate(
        f"(() => {{ const doc = Bokeh.documents[0], m = (n) => doc.get_model_by_name(n); return {expression}; }})()"
    )


@pytest.mark.skipif(find_chromium() is None, reason="needs Debian's chromium (apt-get install chromium)")
def test_report_in_chromium_hover_click_time_colour_lasso_and_csv(report, artifacts, tmp_path):
    summary = json.loads((report / "summary.json").read_text())
    with open(report / "captures.csv", newline="") as f:
        csv_rows = list(csv.DictReader(f))
    with Chromium(width=1280, height=1000) as browser:
        browser.allow_downloads(tmp_path)
        browser.open((report / "index.html").resolve().as_uri())
        browser.wait_for(PLOT_READY)
        assert _page(browser, "Bokeh.index.find_one(m('map')).canvas_view.el.getBoundingClientRect().width > 500")
        legend = _page(browser, "m('legend').items.filter(i => i.visible).map(i => i.label.value)")
        assert legend == [
            *CLASS_NAMES,
            "trail (grey density)",
            "session paths",
            "captures (see colour key)",
            "capture outside training support",
        ]

        # The page's statistics over the whole time range are summary.json's.
        stats = browser.evaluate("window.fse.rangeStats()")
        assert (stats["captures"], stats["trail_points"], stats["sessions"]) == tuple(summary["counts"].values())
        assert stats["classes"]["captures"] == summary["classes"]["captures"]
        assert stats["classes"]["trail"] == summary["classes"]["trail"]
        coverage = summary["coverage"]
        assert round(stats["captures_outside_support"], 4) == coverage["captures_outside_support"]
        assert round(stats["trail_outside_support"], 4) == coverage["trail_outside_support"]
        assert stats["visited_cells"] == coverage["map_area"]["visited_cells"]
        assert [{k: r[k] for k in ("captures", "main_class", "map_region", "examples")} for r in stats["regions"]] == [
            {k: r[k] for k in ("captures", "main_class", "map_region", "examples")} for r in summary["regions"]
        ]
        # Captures outside the training support are the diamonds.
        diamonds = _page(browser, "m('capture_data').data.marker.map(k => k === 'diamond' ? 1 : 0)")
        assert diamonds == [int(r["outside_support"]) for r in csv_rows] and 0 < sum(diamonds) < len(csv_rows)
        # Booth names are text, never markup (the odd booth's name holds < > &).
        assert ODD_BOOTH in browser.evaluate("document.getElementById('headline').textContent")
        assert "&lt;02&gt;&amp;co" in browser.evaluate("document.getElementById('headline').innerHTML")
        # The page's CSS reaches the statistics: their tables have borders.
        assert (
            browser.evaluate("getComputedStyle(document.querySelector('#stats table.fse td')).borderTopStyle")
            == "solid"
        )

        # Hover a capture: its design and its photograph with the print.
        x, y = point_on_screen(browser, "captures", 0)
        browser.mouse_move(x, y)
        shown = browser.wait_for(VISIBLE_HOVER_IMAGES + ".length ? " + VISIBLE_HOVER_IMAGES + " : null")
        assert "design" in shown and "with print" in shown

        # Click it: the details panel shows it large, with the kiosk command and a copy button, all on screen.
        browser.click(x, y)
        command = browser.wait_for("document.getElementById('details-command')?.textContent")
        assert command.startswith("fse-kiosk --z ") and "--print" in command
        large = browser.evaluate("""[...document.querySelectorAll('#details-body img.large')].map(
            i => [i.getBoundingClientRect().width, i.getBoundingClientRect().right, i.naturalWidth])""")
        assert len(large) == 2 and all(w >= 150 and right <= 1280 and n > 0 for w, right, n in large), large
        box = browser.evaluate(
            "(() => { const r = document.getElementById('details-command').getBoundingClientRect(); "
            "return [r.right, document.documentElement.clientWidth]; })()"
        )
        assert box[0] <= box[1], "the command runs off the page"
        assert browser.evaluate("!!document.getElementById('copy-command')")
        browser.screenshot(artifacts / "analysis-report-details.png")

        # Time filter: the first half of the bins (the slider speaks times); the map, the captures, the
        # statistics and a selection made before follow. The 1970 capture is counted in, then out.
        data = json.loads(browser.evaluate("document.getElementById('fse-data').textContent"))
        bins = data["bins"]
        half, start_ms, width_ms = bins["count"] // 2, bins["start"], bins["width"]
        assert "01 May 08:00 .. " in _page(browser, "Bokeh.index.find_one(m('time')).shadow_el.textContent")
        _page(browser, f"(m('capture_data').selected.indices = [...Array({len(csv_rows)}).keys()], true)")
        _page(browser, f"(m('time').value = [{start_ms}, {start_ms + half * width_ms}], true)")
        from contract.capture_schema import parse_utc

        def in_first_half(r):
            return r["utc"] == UNSET_UTC or int((parse_utc(r["utc"]) * 1000 - start_ms) // width_ms) < half

        expected = sum(in_first_half(r) for r in csv_rows)
        stats = browser.evaluate("window.fse.rangeStats()")
        assert stats["captures"] == expected < len(csv_rows)
        assert _page(browser, "m('captures_filter').indices.length") == expected
        trail_in_range = sum(data["trail"]["count"][:half]) + data["trail"]["count"][bins["count"]]
        assert stats["trail_points"] == trail_in_range < summary["counts"]["trail_points"]
        assert str(expected) in browser.evaluate("document.getElementById('headline').textContent")
        # the selection is what is visible: its count and its CSV hold the captures in range only
        assert _page(browser, "m('capture_data').selected.indices.length") == expected
        assert browser.evaluate("document.getElementById('selection-count').textContent").startswith(f"{expected} ")
        selection_csv = browser.evaluate("window.fse.csvText(window.fse.selectedVisible())").strip().split("\r\n")
        assert len(selection_csv) == 1 + expected
        _page(browser, "(m('clock_not_set').active = false, true)")
        assert browser.evaluate("window.fse.rangeStats().captures") == expected - 1
        _page(browser, "(m('clock_not_set').active = true, m('capture_data').selected.indices = [], true)")
        _page(browser, f"(m('time').value = [{start_ms}, {start_ms + bins['count'] * width_ms}], true)")
        assert browser.evaluate("window.fse.rangeStats().captures") == len(csv_rows)

        # Colour by booth: the captures take one colour per booth, the training designs turn grey.
        _page(browser, "(m('colour_by').value = 'booth', true)")
        colours = _page(browser, "[...new Set(m('capture_data').data.colour)]")
        assert len(colours) == 2 and set(colours) == set(data["palettes"]["booth"].values())
        assert (
            _page(browser, f"m({json.dumps('training ' + CLASS_NAMES[0])}).glyph.fill_color.value") == data["paleGrey"]
        )
        assert ODD_BOOTH in browser.evaluate("document.getElementById('colour-key').textContent")
        legend = _page(browser, "m('legend').items.filter(i => i.visible).map(i => i.label.value)")
        assert legend[0] == "training designs" and not set(legend) & set(CLASS_NAMES), legend
        _page(browser, "(m('colour_by').value = 'class', true)")

        # Lasso round the first capture, then download the selection: the CSV's rows are captures.csv's.
        _page(browser, "(m('map').toolbar.active_drag = m('lasso'), true)")
        x, y = point_on_screen(browser, "captures", 0)
        r = 25
        browser.drag([(x - r, y - r), (x + r, y - r), (x + r, y + r), (x - r, y + r), (x - r, y - r + 1)])
        selected = browser.wait_for(
            "(() => { const s = Bokeh.documents[0].get_model_by_name('capture_data')"
            ".selected.indices; return s.length ? s : null; })()"
        )
        assert 0 in selected
        assert "selected" in browser.evaluate("document.getElementById('selection-count').textContent")
        browser.evaluate("document.getElementById('download-csv').click()")
        download = tmp_path / "captures-selection.csv"
        browser.wait_for("true", timeout=1)
        for _ in range(100):
            if download.exists() and download.stat().st_size:
                break
            browser.wait_for("new Promise(r => setTimeout(() => r(true), 50))")
        with open(download, newline="") as f:
            downloaded = list(csv.DictReader(f))
        assert downloaded == [csv_rows[i] for i in sorted(selected)]

        # A session's row: its path is picked and its captures selected.
        browser.evaluate("document.querySelector('#stats table.sessions tbody tr').click()")
        row = data["sessions"][0]
        assert _page(browser, "m('path_data').selected.indices.length") == (1 if row["path"] >= 0 else 0)
        picked = _page(browser, "m('capture_data').selected.indices")
        assert sorted(picked) == [i for i, r in enumerate(csv_rows) if r["session"] == row["session"]]

        # Zoomed far out, every point lies under the cursor: still one design tooltip, and a capture's.
        _page(browser, "(m('capture_data').selected.indices = [], m('path_data').selected.indices = [], true)")
        zoom_map(browser, 300)
        x, y = point_on_screen(browser, "captures", 0)
        browser.mouse_move(x + 1, y)
        browser.mouse_move(x, y)
        tooltips = browser.wait_for(VISIBLE_TOOLTIPS + ".length ? " + VISIBLE_TOOLTIPS + " : null")
        assert len(tooltips) == 1 and tooltips[0].startswith("Capture"), tooltips
    assert (artifacts / "analysis-report-details.png").stat().st_size > 50_000


@pytest.mark.slow
def test_fit_map_is_seeded_and_lists_the_map_in_the_manifest(tmp_path, models_dir):
    from contract.mapfile import MAP_FILE, load_map
    from kiosk.ui.map_loader import read_map

    models = tmp_path / "models"
    shutil.copytree(models_dir, models, ignore=shutil.ignore_patterns(MAP_FILE))
    maps, files = [], []
    for _ in range(2):
        assert analyze(["fit-map", "--models", str(models), "--points", "300", "--quiet"]) == 0
        maps.append(load_map(models / MAP_FILE))
        files.append((models / MAP_FILE).read_bytes())
    np.testing.assert_array_equal(maps[0].xy, maps[1].xy)  # the same models give the same map
    assert files[0] == files[1]  # byte for byte: no times in the file
    np.testing.assert_array_equal(maps[0].train_index, maps[1].train_index)
    assert len(maps[0].xy) == 300 and read_map(models)[0] is not None, read_map(models)[2]


@pytest.mark.slow
def test_refit_fits_umap_on_this_log(bundles, tmp_path, models_dir):
    out = tmp_path / "report"
    assert (
        analyze(
            [
                str(bundles["second"]),
                "--refit",
                "--fit-trail",
                "150",
                "--fit-captures",
                "10",
                "--out",
                str(out),
                "--models",
                str(models_dir),
                "--quiet",
            ]
        )
        == 0
    )
    embedding = json.loads((out / "summary.json").read_text())["embedding"]
    assert embedding["method"].startswith("--refit") and embedding["trail"] == 150 and embedding["captures"] == 10


def test_bad_rows_in_a_whole_bundle_are_left_out_counted_and_named(bundles, tmp_path, models_dir, capsys):
    """A log whose sha256 matches its manifest but holds rows the kiosk never wrote that way (a 7-float z,
    print_weights that are not JSON, a trail point's short z): those rows are skipped and named, the rest analysed."""
    bundle = tmp_path / "odd-rows"
    shutil.copytree(bundles["second"], bundle)
    conn = sqlite3.connect(bundle / DB_NAME)
    (first, second), trail_id = [r[0] for r in conn.execute("SELECT id FROM captures ORDER BY id LIMIT 2")], 5
    conn.execute("UPDATE captures SET z = ? WHERE id = ?", (np.zeros(7, "<f4").tobytes(), first))
    conn.execute("UPDATE captures SET print_weights = '[1.0, 0.' WHERE id = ?", (second,))
    conn.execute("UPDATE trail SET z = ? WHERE id = ?", (np.zeros(7, "<f4").tobytes(), trail_id))
    conn.commit()
    conn.close()
    manifest = json.loads((bundle / MANIFEST).read_text())
    manifest["files"][DB_NAME] = sha256_file(bundle / DB_NAME)
    (bundle / MANIFEST).write_text(json.dumps(manifest))

    out = tmp_path / "report"
    assert analyze([str(bundle), "--out", str(out), "--models", str(models_dir), "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["counts"]["captures"] == manifest["counts"]["captures"] - 2
    assert summary["counts"]["trail_points"] == manifest["counts"]["trail_points"] - 1
    rows = summary["bad_rows"]["rows"]
    assert summary["bad_rows"]["count"] == 3 and all(r.startswith(str(bundle)) for r in rows)
    assert any(f"captures row {first}: z holds 7 floats, not 8" in r for r in rows)
    assert any(f"captures row {second}: print_weights is not JSON" in r for r in rows)
    assert any(f"trail row {trail_id}: z holds 7 floats" in r for r in rows)
    assert summary["warnings"] and "3 row(s)" in summary["warnings"][0]
    assert "3 row(s)" in (out / "index.html").read_text()
    assert "cannot be decoded" in capsys.readouterr().err


MAP_FITS = """(() => {
  const doc = Bokeh.documents[0], map = Bokeh.index.find_one(doc.get_model_by_name('map')).el.getBoundingClientRect();
  const details = document.getElementById('details').getBoundingClientRect();
  return map.bottom <= innerHeight && map.right <= details.left && map.width > 0.45 * innerWidth
    ? [map.right, map.bottom, details.left] : null; })()"""


@pytest.mark.skipif(find_chromium() is None, reason="needs Debian's chromium (apt-get install chromium)")
def test_report_layout_at_1280x800_and_1920x1080(report, artifacts):
    """The map fits below the controls and beside the details on the two usual screens, and a clicked
    capture's details stay in view while the page scrolls (it was 600 px tall at any size, the panel scrolled away)."""
    with Chromium(width=1280, height=800) as browser:
        browser.open((report / "index.html").resolve().as_uri())
        browser.wait_for(PLOT_READY)
        for width, height in ((1280, 800), (1920, 1080)):
            browser.send(
                "Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False
            )
            browser.evaluate("(window.scrollTo(0, 0), window.dispatchEvent(new Event('resize')), true)")
            browser.wait_for(MAP_FITS)
            browser.screenshot(artifacts / f"analysis-report-{width}x{height}.png")
            x, y = point_on_screen(browser, "captures", 1)
            browser.click(x, y)
            browser.wait_for("document.getElementById('details-command')?.textContent")
            browser.evaluate("(window.scrollTo(0, document.body.scrollHeight), true)")
            shown = browser.wait_for(
                "(() => { const r = [...document.querySelectorAll('#details-body img.large')].map("
                "i => i.getBoundingClientRect()); return r.length && window.scrollY > 200 ? r.map(b => [b.top, b.bottom]) : null; })()"
            )
            assert all(0 <= top and bottom <= height for top, bottom in shown), (width, shown)
