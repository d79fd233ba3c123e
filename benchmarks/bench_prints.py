"""Print application: the shipped prints.onnx in onnxruntime, by the network and by
tile-and-shade, at 256x256 and 512x512 (one design, one print), plus the network's cost in GMAC.

Target: the network <= 150 ms at 256x256 on the reference 2-core CPU; tile-and-shade far less.

Also, same run, each in a fresh process so its peak RSS is its own: one print at the live view's
size (kiosk.render.PRINT_LIVE_SIDE) and at the hero's full 720 px, with onnxruntime's CPU memory
arena on (its default) and off (what kiosk/prints.py asks for). The print network's per-pixel
intermediates are ~1 KB a pixel and the graph cannot run in bands (its garment mask and shading
are computed over the whole design inside it), so the size is the only bound on its memory.

    python -m benchmarks.bench_prints [--quick]
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort

from .timing import best_of

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import json, sys, time
import numpy as np
import onnxruntime as ort
path, size, arena = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
options = ort.SessionOptions()
options.intra_op_num_threads = 1
options.enable_cpu_mem_arena = arena
session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
design = np.zeros((1, 1, size, size), np.float32)
design[..., size // 8:-size // 8, size // 4:-size // 4] = 0.7
one = np.zeros((1, 8), np.float32)
one[0, 4] = 1.0
def status(key):
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the parent (the benchmark runner)
    with open("/proc/self/status") as f:
        return [int(l.split()[1]) / 1024 for l in f if l.startswith(key + ":")][0]
before = status("VmHWM")
times = []
for _ in range(3):
    t0 = time.perf_counter()
    session.run(None, {"design": design, "net_weights": one, "tile_weights": one * 0})
    times.append(time.perf_counter() - t0)
rss_after = status("VmRSS")
print(json.dumps({"ms_first": round(times[0] * 1e3, 1), "ms_best": round(min(times) * 1e3, 1),
                  "peak_rss_mb": round(status("VmHWM"), 1),
                  "rss_after_mb": round(rss_after, 1), "rss_before_run_mb": round(before, 1)}))
"""


def _session(path: Path, threads: int) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def memory(path: Path, size: int, arena: bool) -> dict:
    """One print in a fresh process: time (first and best of 3) and peak / after-run RSS."""
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), str(size), "1" if arena else "0"],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> dict:
    from kiosk.render import PRINT_LIVE_SIDE

    models = ROOT / "onnx_models"
    manifest = json.loads((models / "prints.json").read_text())
    threads = 1  # as the kiosk runs it (kiosk/prints.py); see bench_generator on why one
    full = _session(models / manifest["model"]["file"], threads)
    base = _session(models / manifest["baseline_model"]["file"], threads)
    P = len(manifest["prints"])
    one = np.zeros((1, P), np.float32)
    one[0, 4] = 1.0
    rng = np.random.default_rng(0)
    repeats = 3 if quick else 10
    out = {"gmac_256": manifest["gmac_256"], "threads": threads, "target_network_ms_256": 150}
    for size in (256, 512):
        design = np.zeros((1, 1, size, size), np.float32)
        design[..., size // 8 : -size // 8, size // 4 : -size // 4] = rng.uniform(0.3, 0.9)
        net_feeds = {"design": design, "net_weights": one, "tile_weights": one * 0}
        tile_feeds = {"design": design, "net_weights": one * 0, "tile_weights": one}
        out[f"network_ms_{size}"] = round(1e3 * best_of(lambda: full.run(None, net_feeds), repeats), 2)
        out[f"tile_and_shade_full_graph_ms_{size}"] = round(
            1e3 * best_of(lambda: full.run(None, tile_feeds), repeats), 2
        )
        out[f"tile_and_shade_baseline_graph_ms_{size}"] = round(
            1e3 * best_of(lambda: base.run(None, {"design": design, "tile_weights": one}), repeats), 2
        )
    out["network_meets_target_256"] = out["network_ms_256"] <= 150
    out["targets"] = {
        "network_ms_256": {"target": 150.0, "measured": out["network_ms_256"], "ok": out["network_ms_256"] <= 150}
    }
    # One thread, as the kiosk runs it; quick runs small sizes only (it proves the code path).
    live, hero = (96, 192) if quick else (PRINT_LIVE_SIDE, 720)
    path = models / manifest["model"]["file"]
    out["memory"] = {
        "live_side": live,
        "hero_side": hero,
        "hero_arena_on": memory(path, hero, True),
        "hero_arena_off": memory(path, hero, False),
        "live_arena_off": memory(path, live, False),
    }
    m = out["memory"]
    out["before_after"] = {
        "print_peak_rss_mb": {"before": m["hero_arena_on"]["peak_rss_mb"], "after": m["live_arena_off"]["peak_rss_mb"]},
        "print_rss_kept_after_mb": {
            "before": m["hero_arena_on"]["rss_after_mb"],
            "after": m["live_arena_off"]["rss_after_mb"],
        },
        "print_ms": {"before": m["hero_arena_on"]["ms_best"], "after": m["live_arena_off"]["ms_best"]},
    }
    return out


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=1))
