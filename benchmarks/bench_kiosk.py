"""Kiosk responsiveness benchmark: a scripted joystick sweep through the simulated board, headless.

    python benchmarks/bench_kiosk.py            # full run (~40 s), prints JSON
    python benchmarks/bench_kiosk.py --quick    # ~15 s

`run(quick)` starts the kiosk in a subprocess (SDL dummy driver, 1920x1080, `--joystick sim`) so
cold start and peak RSS are the real process's. The child runs the main loop as App.run does
(render threads reniced, step, wait for the frame's time on the 60 Hz grid, present) while the
simulated board sweeps the sticks, then does settle cycles: move one stick for 0.4 s, let go, wait
until the full-resolution design (and the print) is on screen, then saves a capture with a print.
Reported (ms): UI frame time p50/p95/p99 during the sweep, input-to-draft, settle-to-full,
settle-to-print, preview refresh; cold start to first interactive frame (s); peak RSS, and the
peak after the capture with a print (MB). Targets from issue 13 are listed under "targets" with
pass/fail. The same script runs an older kiosk (getattr fallbacks), for before/after pairs.

`--scenario print` (benchmarks/bench_prints.py runs it, `python -m benchmarks --only prints`): the
same kiosk with a print on throughout: the sweep (frame time, input -> draft, every draft carrying
the print), settle cycles (settle -> print at the view's size) and captures with the print
(press -> saved, a 1024 px design and print).

Before/after pairs measured in the same process (the full run only; `--quick` skips them):
- "sweep_redraw_all": the sweep again with every widget redrawn every frame.
- "uncapped": the settle cycles again with the final design, the print and the previews rendered
  at the sizes they are shown (the kiosk's behaviour before the caps in kiosk/render/design.py); the
  peak RSS above is read before this pass, since a 720 px print alone needs ~1.1 GB.
- idle CPU: the kiosk resting on a design, redrawing only what changed vs every frame at 60 fps.
- trail flush: the UI thread's longest `record_trail` call with the commit on a worker thread vs
  inline (the fsync every TRAIL_FLUSH_S).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from contract.latent import models_space
from contract.models import shipped_models_dir

SPACE = models_space(shipped_models_dir())  # the latent map the shipped models' kiosk logs positions in

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {
    "frame_p95_ms": 16.7,
    "frame_p99_ms": 25.0,
    "draft_p95_ms": 50.0,
    "full_p95_ms": 500.0,
    "print_p95_ms": 800.0,
    "preview_p95_ms": 250.0,
    "cold_start_s": 3.0,
    "peak_rss_mb": 600.0,
    "capture_peak_rss_mb": 700.0,
}


def _percentiles(values) -> dict:
    import numpy as np

    v = np.asarray(list(values), np.float64)
    if not v.size:
        return {"n": 0}
    return {
        "n": int(v.size),
        "p50": round(float(np.percentile(v, 50)), 1),
        "p95": round(float(np.percentile(v, 95)), 1),
        "p99": round(float(np.percentile(v, 99)), 1),
    }


def child(quick: bool, state_dir: str, print_name: str = "leopard", scenario: str = "kiosk") -> dict:
    """Runs inside the kiosk process; scenario "kiosk" (the plain sweep and everything after it) or
    "print" (a print on throughout, see the module docstring)."""
    import pygame

    argv = ["--windowed", "--joystick", "sim", "--state-dir", state_dir, "--size", "1920x1080", "--print", print_name]
    try:
        from kiosk.startup import build_app, parse_args

        app = build_app(parse_args(argv))
    except ImportError:  # a checkout from before kiosk.startup.parse_args: build_app parsed the list itself
        from kiosk.app import build_app

        app = build_app(argv)
    app.step()
    first_frame = time.time()
    if hasattr(app, "prioritise_ui"):
        app.prioritise_ui()  # what App.run does first
    # The kiosk's own pacing (App.run's); a kiosk from before the FramePacer (an old checkout) ticks pygame's clock.
    pace = app.wait_for_frame if hasattr(app, "wait_for_frame") else (lambda clock=pygame.time.Clock(): clock.tick(60))
    parts = KioskParts(app)
    board = app.hub.simulator
    deadline = time.monotonic() + 10
    while not parts.joystick_label()[1] and time.monotonic() < deadline:
        app.step()
        pace()
    parts.settle(30)

    def loop(seconds: float, axes=None) -> None:
        end = time.monotonic() + seconds
        last = time.perf_counter()
        t0 = time.monotonic()
        while time.monotonic() < end:
            if axes:
                for k, v in axes(time.monotonic() - t0).items():
                    board.set_axis(k, v)
            now = time.perf_counter()
            if hasattr(app, "present"):  # as App.run: draw, wait for the frame's time, present
                app.step(min(now - last, 0.1), present=False)
                pace()
                app.present()
            else:
                app.step(min(now - last, 0.1))
                pace()
            last = now

    def sweep(seconds: float) -> tuple[list, list]:
        """Every stick moving, phases apart; (frame times, input -> draft latencies)."""
        app.metrics.frame_ms.clear()
        app.metrics.draft_ms.clear()
        loop(seconds, lambda t: {k: 0.8 * math.sin(2 * math.pi * (0.25 * t + k / 8)) for k in range(8)})
        frames, drafts = list(app.metrics.frame_ms), list(app.metrics.draft_ms)
        for k in range(8):
            board.set_axis(k, 0.0)
        loop(0.5)
        return frames, drafts

    if scenario == "print":
        return print_scenario(app, parts, loop, sweep, pace, print_name, quick)

    # 1. Continuous sweep, the plain design (the kiosk starts with the print; scenario "print" sweeps with it).
    if hasattr(parts.commands, "select_print"):
        parts.commands.select_print("none")
    sweep_s = 5.0 if quick else 15.0
    sweep_frames, sweep_draft = sweep(sweep_s)

    # 2. Settle cycles: move, let go, wait for the final render.
    def settle_cycles(cycles: int) -> dict:
        for name in ("full_ms", "print_ms", "preview_ms"):
            getattr(app.metrics, name).clear()
        for i in range(cycles):
            # First half plain (settle -> full resolution), second half with the print (settle -> print).
            parts.commands.select_print("none" if i < cycles // 2 else print_name)
            board.set_axis(i % 8, 0.9 if i % 2 else -0.9)
            loop(0.4)
            board.set_axis(i % 8, 0.0)
            end = time.monotonic() + 15
            while not parts.renders_final() and time.monotonic() < end:
                app.step()
                pace()
        return {name: _percentiles(getattr(app.metrics, name)) for name in ("full_ms", "print_ms", "preview_ms")}

    out = {
        "frame_ms": _percentiles(sweep_frames),
        "draft_ms": _percentiles(sweep_draft),
        **settle_cycles(6 if quick else 12),
    }
    rss_before_capture = peak_rss_mb()
    out["capture_peak_rss_mb"] = capture_with_print(app, parts, loop, print_name)
    out.update(
        prints=app.prints is not None,
        providers=app.models.providers,
        first_frame_unix=first_frame,
        peak_rss_mb=rss_before_capture,
        sizes={
            "hero": parts.renders.design_renderer.size,
            "preview": parts.renders.preview_renderer.size,
            # absent in kiosks from before the caps (comparing against an old checkout)
            "full": getattr(parts.renders.design_renderer, "full_size", None),
            "print": getattr(parts.renders.design_renderer, "print_size", None),
        },
    )
    if not quick and hasattr(parts.ui, "redraw_every_frame"):
        # The same sweep with every widget redrawn every frame: the cost of the whole screen, which
        # is what the kiosk drew per frame before widgets redrew only what changed.
        parts.ui.redraw_every_frame = True
        frames, drafts = sweep(sweep_s)
        parts.ui.redraw_every_frame = False
        out["sweep_redraw_all"] = {"frame_ms": _percentiles(frames), "draft_ms": _percentiles(drafts)}
        parts.commands.select_print("none")
        parts.settle(30)
        out["idle_cpu_percent"] = {
            "redraw_on_change": idle_cpu(parts, loop, False),
            "redraw_every_frame": idle_cpu(parts, loop, True),
        }
        out["trail_record_max_ms"] = trail_flush_cost(state_dir)
        renderer, previews = parts.renders.design_renderer, parts.renders.preview_renderer
        renderer.full_size = renderer.print_size = renderer.size
        previews.size = parts.ui.sliders.thumb(0, 0).w
        out["uncapped"] = settle_cycles(8)
    app.shutdown()
    return out


def print_scenario(app, parts, loop, sweep, pace, print_name: str, quick: bool) -> dict:
    """A print on throughout: the sweep, settle -> print, and captures with the print."""
    parts.commands.select_print(print_name)
    parts.settle(30)
    frames, drafts = sweep(5.0 if quick else 15.0)
    app.metrics.print_ms.clear()
    board = app.hub.simulator
    for i in range(4 if quick else 12):
        board.set_axis(i % 8, 0.9 if i % 2 else -0.9)
        loop(0.4)
        board.set_axis(i % 8, 0.0)
        end = time.monotonic() + 15
        while not parts.renders_final() and time.monotonic() < end:
            app.step()
            pace()
    settled = list(app.metrics.print_ms)
    app.metrics.capture_ms.clear()
    for i in range(2 if quick else 5):  # a new design each time: the same one is debounced
        board.set_axis(i % 8, 0.5)
        loop(0.3)
        board.set_axis(i % 8, 0.0)
        parts.settle(30)
        capture_with_print(app, parts, loop, print_name)
    out = {
        "frame_ms": _percentiles(frames),
        "draft_ms": _percentiles(drafts),
        "print_ms": _percentiles(settled),
        "capture_ms": _percentiles(app.metrics.capture_ms),
        "capture_peak_rss_mb": peak_rss_mb(),
        "sizes": {"hero": parts.renders.design_renderer.size, "print": parts.renders.design_renderer.print_size},
    }
    app.shutdown()
    return out


def capture_with_print(app, parts, loop, print_name: str) -> float | None:
    """Peak RSS (MB) of the kiosk once a capture with a print is saved (a 1024 px design and print,
    the PNG and the log's durable write), on top of everything before it."""
    if parts.renders.capture_worker is None:
        return None
    parts.commands.select_print(print_name)
    done = len(app.metrics.capture_ms)
    parts.commands.capture()
    end = time.monotonic() + 60
    while len(app.metrics.capture_ms) == done and time.monotonic() < end:
        loop(0.1)
    return peak_rss_mb()


class KioskParts:
    """Where the benchmark finds what it drives: today's kiosk (kiosk/headless.py, App.renders, .ui,
    .commands, .input) or an older checkout's App, which had all of it on itself."""

    def __init__(self, app) -> None:
        self.app = app
        split = hasattr(app, "renders")
        self.renders = app.renders if split else app
        self.ui = app.ui if split else app
        self.commands = app.commands if split else app
        self.joystick_label = app.input.joystick_label if split else app.joystick_label

    def settle(self, timeout: float) -> None:
        try:
            from kiosk.headless import settle
        except ImportError:
            self.app.settle(timeout)
        else:
            settle(self.app, timeout)

    def renders_final(self) -> bool:
        app = self.app
        if hasattr(app, "renders"):
            return app.renders.final(app.state)
        return (getattr(app, "renders_final", None) or app.idle)()


def peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the
    parent, so a kiosk started by the benchmark runner would report the runner's peak."""
    with open("/proc/self/status") as f:
        return round([int(line.split()[1]) / 1024 for line in f if line.startswith("VmHWM:")][0], 1)


def idle_cpu(parts, loop, every_frame: bool, seconds: float = 3.0) -> float:
    """Percent of one core the kiosk process uses while resting on a settled design."""
    parts.ui.redraw_every_frame = every_frame
    loop(0.3)
    cpu, wall = time.process_time(), time.monotonic()
    loop(seconds)
    parts.ui.redraw_every_frame = False
    return round(100 * (time.process_time() - cpu) / (time.monotonic() - wall), 1)


def trail_flush_cost(state_dir: str, points: int = 40) -> dict:
    """The longest record_trail call on the caller's (UI) thread while the log's writer thread commits.

    The log's flush interval is set to 0, so every point is committed (one fsync each), the worst
    case of the kiosk's every-TRAIL_FLUSH_S commit; the UI thread only hands the point over.
    """
    import numpy as np

    from kiosk.capture import writer
    from kiosk.capture.log import CaptureLog

    every_point, writer.TRAIL_FLUSH_S = writer.TRAIL_FLUSH_S, 0.0
    try:
        log = CaptureLog(Path(state_dir) / "trail", "bench", position_space=SPACE, disk_floor_mb=0, trail_hz=1e6)
        log.touch()
        worst = 0.0
        for i in range(points):
            t0 = time.perf_counter()
            log.record_trail(np.full(8, i / points, np.float32), "joystick")
            worst = max(worst, time.perf_counter() - t0)
            time.sleep(0.01)  # a UI frame's worth of time for the writer's commit
        log.close()
    finally:
        writer.TRAIL_FLUSH_S = every_point
    return {"writer_thread": round(worst * 1e3, 2)}


def run_child(quick: bool, scenario: str = "kiosk") -> tuple[dict, float]:
    """The kiosk subprocess's results and when it was started (unix time)."""
    env = dict(os.environ, SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy", FSE_CONFIG="")
    env.pop("FSE_CONFIG")
    with tempfile.TemporaryDirectory() as state:
        start = time.time()
        result = subprocess.run(
            [sys.executable, __file__, "--child", state, "--scenario", scenario] + (["--quick"] if quick else []),
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if result.returncode != 0:
            raise RuntimeError(f"kiosk benchmark child failed:\n{result.stderr[-3000:]}")
        return json.loads(result.stdout.strip().splitlines()[-1]), start


def run(quick: bool = False) -> dict:
    """The benchmark's results as a dict (see the module docstring)."""
    out, start = run_child(quick)
    out["cold_start_s"] = round(out.pop("first_frame_unix") - start, 2)
    measured = {
        "frame_p95_ms": out["frame_ms"].get("p95"),
        "frame_p99_ms": out["frame_ms"].get("p99"),
        "draft_p95_ms": out["draft_ms"].get("p95"),
        "capture_peak_rss_mb": out.get("capture_peak_rss_mb"),
        "full_p95_ms": out["full_ms"].get("p95"),
        "print_p95_ms": out["print_ms"].get("p95"),
        "preview_p95_ms": out["preview_ms"].get("p95"),
        "cold_start_s": out["cold_start_s"],
        "peak_rss_mb": out["peak_rss_mb"],
    }
    out["targets"] = {
        k: {"target": t, "measured": measured[k], "ok": None if measured[k] is None else measured[k] <= t}
        for k, t in TARGETS.items()
    }
    if "uncapped" in out:
        out["before_after"] = {
            f"{name}_p95": {"before": out["uncapped"][name].get("p95"), "after": out[name].get("p95")}
            for name in ("full_ms", "print_ms", "preview_ms")
        }
        for name in ("frame_ms", "draft_ms"):
            out["before_after"][f"sweep_{name}_p95"] = {
                "before": out["sweep_redraw_all"][name].get("p95"),
                "after": out[name].get("p95"),
            }
        out["before_after"]["idle_cpu_percent"] = {
            "before": out["idle_cpu_percent"]["redraw_every_frame"],
            "after": out["idle_cpu_percent"]["redraw_on_change"],
        }
    out["quick"] = quick
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--child", metavar="STATE_DIR", help=argparse.SUPPRESS)
    p.add_argument("--scenario", choices=("kiosk", "print"), default="kiosk", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        sys.path.insert(0, str(ROOT))
        print(json.dumps(child(args.quick, args.child, scenario=args.scenario)))
        return 0
    print(json.dumps(run(args.quick), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
