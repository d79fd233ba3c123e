"""Kiosk responsiveness benchmark: a scripted joystick sweep through the simulated board, headless.

    python benchmarks/bench_kiosk.py            # full run (~40 s), prints JSON
    python benchmarks/bench_kiosk.py --quick    # ~15 s

`run(quick)` starts the kiosk in a subprocess (SDL dummy driver, 1920x1080, `--joystick sim`) so
cold start and peak RSS are the real process's. The child runs the real main loop (step + 60 Hz
tick) while the simulated board sweeps the sticks, then does settle cycles: move one stick for
0.4 s, let go, wait until the full-resolution design (and the print, when prints ship) is on
screen. Reported (ms): UI frame time p50/p95/p99 during the sweep, input-to-draft, settle-to-full,
settle-to-print, preview refresh; cold start to first interactive frame (s); peak RSS (MB).
Targets from the performance issue are listed under "targets" with pass/fail.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"frame_p95_ms": 33.0, "full_p95_ms": 500.0, "print_p95_ms": 800.0, "preview_p95_ms": 250.0,
           "cold_start_s": 3.0, "peak_rss_mb": 600.0}


def _percentiles(values) -> dict:
    import numpy as np
    v = np.asarray(list(values), np.float64)
    if not v.size:
        return {"n": 0}
    return {"n": int(v.size), "p50": round(float(np.percentile(v, 50)), 1),
            "p95": round(float(np.percentile(v, 95)), 1), "p99": round(float(np.percentile(v, 99)), 1)}


def child(quick: bool, state_dir: str, print_name: str = "leopard") -> dict:
    """Runs inside the kiosk process."""
    import pygame

    from kiosk.app import build_app

    app = build_app(["--windowed", "--joystick", "sim", "--state-dir", state_dir, "--size", "1920x1080",
                     "--print", print_name])
    app.step()
    first_frame = time.time()
    clock = pygame.time.Clock()
    board = app.hub.simulator
    deadline = time.monotonic() + 10
    while not app.joystick_label()[1] and time.monotonic() < deadline:
        app.step()
        clock.tick(60)
    app.settle(30)

    def loop(seconds: float, axes=None) -> None:
        end = time.monotonic() + seconds
        last = time.perf_counter()
        t0 = time.monotonic()
        while time.monotonic() < end:
            if axes:
                for k, v in axes(time.monotonic() - t0).items():
                    board.set_axis(k, v)
            now = time.perf_counter()
            app.step(min(now - last, 0.1))
            last = now
            clock.tick(60)

    # 1. Continuous sweep: every stick moving, phases apart.
    app.metrics.frame_ms.clear()
    sweep_s = 5.0 if quick else 15.0
    loop(sweep_s, lambda t: {k: 0.8 * math.sin(2 * math.pi * (0.25 * t + k / 8)) for k in range(8)})
    sweep_frames = list(app.metrics.frame_ms)
    sweep_draft = list(app.metrics.draft_ms)
    for k in range(8):
        board.set_axis(k, 0.0)

    # 2. Settle cycles: move, let go, wait for the final render.
    app.metrics.full_ms.clear()
    app.metrics.print_ms.clear()
    app.metrics.print_first_ms.clear()
    app.metrics.preview_ms.clear()
    cycles = 6 if quick else 12
    for i in range(cycles):
        # First half plain (settle -> full resolution), second half with the print (settle -> print).
        app.select_print("none" if i < cycles // 2 else print_name)
        board.set_axis(i % 8, 0.9 if i % 2 else -0.9)
        loop(0.4)
        board.set_axis(i % 8, 0.0)
        end = time.monotonic() + 10
        while not app.idle() and time.monotonic() < end:
            app.step()
            clock.tick(60)
    out = {
        "frame_ms": _percentiles(sweep_frames),
        "draft_ms": _percentiles(sweep_draft),
        "full_ms": _percentiles(app.metrics.full_ms),
        "print_first_ms": _percentiles(app.metrics.print_first_ms),
        "print_ms": _percentiles(app.metrics.print_ms),
        "preview_ms": _percentiles(app.metrics.preview_ms),
        "prints": app.prints is not None,
        "providers": app.models.providers,
        "first_frame_unix": first_frame,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    app.shutdown()
    return out


def run(quick: bool = False) -> dict:
    """The benchmark's results as a dict (see the module docstring)."""
    env = dict(os.environ, SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy", FSE_CONFIG="")
    env.pop("FSE_CONFIG")
    with tempfile.TemporaryDirectory() as state:
        start = time.time()
        result = subprocess.run([sys.executable, __file__, "--child", state] + (["--quick"] if quick else []),
                                cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        if result.returncode != 0:
            raise RuntimeError(f"kiosk benchmark child failed:\n{result.stderr[-3000:]}")
        out = json.loads(result.stdout.strip().splitlines()[-1])
    out["cold_start_s"] = round(out.pop("first_frame_unix") - start, 2)
    measured = {"frame_p95_ms": out["frame_ms"].get("p95"), "full_p95_ms": out["full_ms"].get("p95"),
                "print_p95_ms": out["print_ms"].get("p95"), "preview_p95_ms": out["preview_ms"].get("p95"),
                "cold_start_s": out["cold_start_s"], "peak_rss_mb": out["peak_rss_mb"]}
    out["targets"] = {k: {"target": t, "measured": measured[k],
                          "ok": None if measured[k] is None else measured[k] <= t} for k, t in TARGETS.items()}
    out["quick"] = quick
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--child", metavar="STATE_DIR", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        sys.path.insert(0, str(ROOT))
        print(json.dumps(child(args.quick, args.child)))
        return 0
    print(json.dumps(run(args.quick), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
