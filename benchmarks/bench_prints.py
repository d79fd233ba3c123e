"""Prints: the print graph alone, and the kiosk with a print on.

    python -m benchmarks --only prints         # this suite alone (the machine may be shared: say so)
    python -m benchmarks.bench_prints [--quick]

1. The shipped prints.onnx through `kiosk.prints.Prints.apply` (one thread, no memory arena, as the
   kiosk runs it), best of N at a draft's size (96 px), 256 px, the hero's 720 px and a capture's
   1024 px; and one 1024 px print in a fresh process for its peak RSS.
2. The kiosk with a print on (benchmarks/bench_kiosk.py `--scenario print`): frame time and
   input -> draft while the sticks sweep (every draft carries the print), settle -> print at the
   view's own size, and press -> saved for captures with the print (1024 px design and print).

Targets (issue 19): frame p95 <= 16.7 ms and input -> draft p95 <= 50 ms with a print on;
settle -> print p95 <= 300 ms; a capture with a print <= 1500 ms.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from .timing import best_of

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"frame_p95_ms": 16.7, "draft_p95_ms": 50.0, "print_p95_ms": 300.0, "capture_p95_ms": 1500.0}
PRINT = "tartan"

CHILD = """
import json, sys, time
import numpy as np
from kiosk.prints import Prints
prints = Prints.load(sys.argv[1])
size = int(sys.argv[2])
design = np.zeros((size, size), np.float32)
design[size // 8:-size // 8, size // 4:-size // 4] = 0.7
def status(key):
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the parent (the benchmark runner)
    with open("/proc/self/status") as f:
        return [int(l.split()[1]) / 1024 for l in f if l.startswith(key + ":")][0]
before = status("VmHWM")
prints.apply(design, prints.weights(sys.argv[3]))
print(json.dumps({"peak_rss_mb": round(status("VmHWM"), 1), "rss_before_run_mb": round(before, 1),
                  "rss_after_mb": round(status("VmRSS"), 1)}))
"""


def memory(models: Path, size: int) -> dict:
    """One print in a fresh process: peak RSS, and RSS before and after the run."""
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(models), str(size), PRINT],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
        cwd=ROOT,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def graph_times(quick: bool) -> dict:
    from kiosk.prints import Prints

    models = ROOT / "onnx_models"
    prints = Prints.load(models)
    weights = prints.weights(PRINT)
    rng = np.random.default_rng(0)
    out = {}
    for size in (96, 256) if quick else (96, 256, 720, 1024):
        design = np.zeros((size, size), np.float32)
        design[size // 8 : -size // 8, size // 4 : -size // 4] = rng.uniform(0.3, 0.9)
        out[f"print_graph_ms_{size}"] = round(
            1e3 * best_of(lambda: prints.apply(design, weights), 3 if quick else 7), 2
        )
    out["memory_1024"] = memory(models, 192 if quick else 1024)
    return out


def run(quick: bool = False) -> dict:
    from .bench_kiosk import run_child

    out = graph_times(quick)
    kiosk, _ = run_child(quick, scenario="print")
    out["kiosk_with_print"] = kiosk
    measured = {
        "frame_p95_ms": kiosk["frame_ms"].get("p95"),
        "draft_p95_ms": kiosk["draft_ms"].get("p95"),
        "print_p95_ms": kiosk["print_ms"].get("p95"),
        "capture_p95_ms": kiosk["capture_ms"].get("p95"),
    }
    out["targets"] = {
        k: {"target": t, "measured": measured[k], "ok": None if measured[k] is None else measured[k] <= t}
        for k, t in TARGETS.items()
    }
    out["quick"] = quick
    return out


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=1))
