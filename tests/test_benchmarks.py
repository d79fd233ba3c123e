"""The benchmark suite works (quick variants, no timing asserts), its PyTorch reference is the
shipped generator, and the optimisations the numbers called for behave: an idle kiosk stops
redrawing, the trail commits off the caller's thread, prints render at the capped sizes.

    SDL_VIDEODRIVER=dummy .venv/bin/python -m pytest tests/test_benchmarks.py -q
"""

from __future__ import annotations

import json
import math

import numpy as np
import pygame
import pytest

from benchmarks import __main__ as bench_main
from benchmarks import bench_generator, bench_input, table
from kiosk.headless import settle
from kiosk.render import design, image, previews
from kiosk.startup import build_app, parse_args


@pytest.fixture(scope="module")
def generator_result():
    """The generator suite at small sizes: the same code path as `make bench`, seconds not minutes."""
    return bench_generator.run(quick=True, sizes=(28, 64))


def test_generator_suite_reports_every_figure_against_its_references(generator_result):
    cases = generator_result["cases"]
    assert set(cases) == {"28", "64", "previews_8x7_40", "previews_8x7_53"}
    for case in cases.values():
        for key in ("ms_onnxruntime", "ms_torch_eager", "gflops", "megapixels_per_s"):
            assert case[key] > 0, key
        assert case["fraction_of_numpy_gemm"] == pytest.approx(case["gflops"] / case["numpy_gemm_gflops"], rel=0.02)
        assert case["numpy_gemm_gflops"] <= generator_result["numpy_gemm_gflops"]
    options = generator_result["session_options"]
    assert all(options[k] > 0 for k in options if k.startswith("ms_"))
    assert "targets" not in generator_result, "the 512 px targets are only judged when 512 px was measured"


def test_torch_reference_reproduces_generator_onnx(shipped_models, models_dir):
    """bench_generator's PyTorch eager reference (the shipped weights read back out of the ONNX files
    by `fse-train recover`'s reader) gives the shipped generator's pixels, so the speed-up compares
    like with like; and its per-pixel cost is the manifest's."""
    import torch

    manifest = json.loads((models_dir / "manifest.json").read_text())
    eager, macs = bench_generator.torch_reference(models_dir)
    assert macs == manifest["quality"]["generator_per_pixel_macs"]
    rng = np.random.default_rng(3)
    z = np.concatenate([rng.uniform(-1, 1, (3, 8)), np.ones((1, 8)), -np.ones((1, 8))]).astype(np.float32)
    size = 40
    coords = shipped_models.grid(size, size)
    want = shipped_models.generate(z, size)  # (5, 40, 40); z are slider positions
    got = eager(torch.from_numpy(shipped_models.latent.to_z(z)), torch.from_numpy(coords)).numpy().reshape(want.shape)
    np.testing.assert_allclose(got, want, atol=2e-4)


def test_input_suite_runs():
    result = bench_input.run(quick=True)
    assert result["latency_samples"] == 20
    assert (
        0 < result["parse_us_per_frame"] and 0 < result["frame_to_state_ms_median"] <= result["frame_to_state_ms_max"]
    )


def test_runner_writes_the_report_and_prints_the_table(tmp_path, capsys):
    out = tmp_path / "report.json"
    assert bench_main.main(["--quick", "--only", "input", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert set(report["results"]) == {"input"} and report["quick"] is True
    printed = capsys.readouterr().out
    assert "| input | parse cost per frame (µs) |" in printed
    assert table.main([str(out)]) == 0
    assert capsys.readouterr().out == table.markdown(report)


def test_runner_rejects_an_unknown_suite(capsys):
    with pytest.raises(SystemExit):
        bench_main.main(["--only", "generater"])
    assert "unknown suite generater" in capsys.readouterr().err


def test_table_marks_targets_and_failed_suites(generator_result, tmp_path, capsys):
    results = {
        "generator": dict(
            generator_result,
            cases={
                **generator_result["cases"],
                "512": dict(
                    generator_result["cases"]["64"], size=512, speedup_vs_torch_eager=3.0, fraction_of_numpy_gemm=0.2
                ),
            },
        ),
        "kiosk": {"error": "RuntimeError: kiosk benchmark child failed"},
        "prints": {
            "print_graph_ms_720": 42.0,
            "targets": {"print_p95_ms": {"target": 300.0, "measured": 320.0, "ok": False}},
            "before_after": {"print_peak_rss_mb": {"before": 1948.0, "after": 345.0}},
        },
    }
    text = table.markdown({"machine": {"cpu": "test"}, "results": results})
    assert "| generator | 512²: speed-up vs torch eager | 3x |" in text and ">= 2x | yes |" in text
    assert "| >= 50% | **no** |" in text
    assert "| kiosk | the suite failed |" in text
    assert "| prints | print graph 720² (ms) | 42.0 |" in text
    assert "| prints | with a print: settle -> print p95 (ms) | 320 |  | <= 300 | **no** |" in text
    assert "| 1948 | 345 |" in text
    missing = tmp_path / "none.json"
    assert table.main([str(missing)]) == 2
    assert "run `make bench`" in capsys.readouterr().err


# -- the optimisations -----------------------------------------------------------------------------


def test_draft_side_follows_the_measured_speed():
    """Drafts take the largest side (a multiple of 8) that renders in the budget: the biggest allowed on
    a fast generator, smaller on a slow one, never under the floor, and one slow draft moves it a little."""
    fast = design.DraftSide(160)
    assert fast.measured(160, 3.0) == 160
    slow = design.DraftSide(160)
    per_pixel = 20.0 / 160**2  # 20 ms at 160 px
    fits = int(math.sqrt(design.DRAFT_BUDGET_MS / per_pixel)) // 8 * 8  # the largest multiple of 8 in budget
    assert design.DRAFT_MIN_SIDE < fits < 160
    side = slow.measured(160, 20.0)
    assert side == fits
    for _ in range(20):
        side = slow.measured(side, per_pixel * side * side)
    assert side == fits
    # One draft twice as slow moves the smoothed cost by a quarter (SMOOTHING), not to the floor:
    once_slow = int(math.sqrt(design.DRAFT_BUDGET_MS / (1.25 * per_pixel))) // 8 * 8
    assert design.DRAFT_MIN_SIDE < slow.measured(side, 2 * per_pixel * side * side) == once_slow < fits
    crawling = design.DraftSide(160)
    for _ in range(10):
        crawling.measured(96, 500.0)
    assert crawling.side == design.DRAFT_MIN_SIDE


def test_render_bands_matches_one_run(shipped_models):
    z = np.array([0.4, -0.2, 0.9, 0, -0.7, 0.1, 0.3, -1], np.float32)
    size = 200
    assert size % (image.BAND_PIXELS // size) != 0  # a partial last band
    banded = image.render_bands(shipped_models, z, size)
    np.testing.assert_allclose(banded, shipped_models.generate(z[None], size)[0], atol=1e-5)
    assert image.render_bands(shipped_models, z, size, stale=lambda: True) is None


@pytest.fixture
def app(tmp_path):
    app = build_app(
        parse_args(
            [
                "--windowed",
                "--joystick",
                "none",
                "--state-dir",
                str(tmp_path / "state"),
                "--size",
                "1280x720",
                "--print",
                "none",
                "--attract-after",
                "1000",
            ]
        )
    )
    yield app
    app.shutdown()


def test_idle_kiosk_stops_redrawing_and_input_redraws_at_once(app):
    settle(app)
    for _ in range(3):
        app.step(0.001)
    drawn = app.ui.frames_drawn
    for _ in range(20):  # 20 ms of app time: under IDLE_REDRAW_S, nothing changed
        app.step(0.001)
    assert app.ui.frames_drawn == drawn, "an unchanged screen was redrawn"
    app.step(0.6)  # past IDLE_REDRAW_S: the safety-net redraw
    assert app.ui.frames_drawn == drawn + 1
    drawn = app.ui.frames_drawn
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_1, mod=0, unicode="", scancode=0))
    app.step(0.001)
    assert app.ui.frames_drawn == drawn + 1, "input must redraw in the same frame"
    app.ui.redraw_every_frame = True
    pygame.event.post(pygame.event.Event(pygame.KEYUP, key=pygame.K_1, mod=0))
    settle(app)
    drawn = app.ui.frames_drawn
    app.step(0.001)
    app.step(0.001)
    assert app.ui.frames_drawn == drawn + 2


def test_settled_design_and_previews_render_at_the_capped_sizes(app):
    settle(app)
    renderer = app.renders.design_renderer
    frame = renderer.latest()
    assert renderer.full_size == min(renderer.size, design.HERO_MAX_SIDE)
    view = app.ui.layout.design_image.size
    assert frame.stage == "full" and frame.image.shape[:2] == view[::-1], "at the view's own size, never scaled"
    assert app.ui.design_view.image.get_size() == view
    from training import outline

    garment = (frame.image[..., 0].astype(np.float32) - image.PLAIN_BACKGROUND[0]) / (
        image.PLAIN_GARMENT[0] - image.PLAIN_BACKGROUND[0]
    )
    assert outline.measure(garment).width_px <= 4, "the outline drawn crisp at the view's size (issue 23)"
    thumb = app.ui.sliders.thumb(0, 0).size
    assert app.renders.preview_renderer.size == min(thumb[0], previews.PREVIEW_MAX_SIDE)
    assert app.ui.sliders.previews[3][2].get_size() == thumb
    assert app.prints is not None, app.prints_message  # the shipped prints are part of the repository
    app.commands.select_print(app.prints.names[1])
    settle(app)
    frame = renderer.latest()
    assert frame.stage == "print" and frame.image.shape[:2] == (renderer.print_size,) * 2
    assert renderer.print_size == renderer.size, "the print at the view's own size, never scaled up"


def test_the_print_graph_runs_without_a_memory_arena_and_the_generator_with_one(shipped_models, models_dir):
    """The sessions the kiosk really opens: the print graph returns its per-pixel intermediates
    after each run (no arena: a 1024 px capture's would stay), the generator keeps its arena
    (small, same-shaped runs)."""
    from kiosk.prints import Prints

    prints = Prints.load(models_dir)
    assert prints._session.get_session_options().enable_cpu_mem_arena is False
    assert shipped_models.sessions["generator"].get_session_options().enable_cpu_mem_arena is True
