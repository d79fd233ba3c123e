"""fse-analyze at scale: wall time and peak memory for a day's log with 10k, 100k and 1M trail points.

Each size is a synthetic log (30 sessions with captures, the rest of the trail bulk-added), exported
with fse-export and analysed in a fresh process (so the peak RSS is that run's alone, and every
start-up cost is counted as an analyst would pay it), placed on the shipped reference map.

Targets (issue 14): a day's log (10k trail points) in <= 15 s, 1,000,000 trail points in <= 60 s
on the reference 2-core machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = {10_000: 15.0, 100_000: 30.0, 1_000_000: 60.0}
"""Wall-time targets by trail size (issue 14: a day in 15 s, a million points in a minute)."""

CHILD = """
import json, sys, time
from analysis.cli import main
t0 = time.perf_counter()
code = main(sys.argv[1:])
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the parent (the benchmark runner)
with open("/proc/self/status") as f:
    peak = [int(line.split()[1]) / 1024 for line in f if line.startswith("VmHWM:")][0]
print(json.dumps({"code": code, "seconds": round(time.perf_counter() - t0, 1), "peak_rss_mb": round(peak, 1)}))
"""


def _one(trail: int, work: Path) -> dict:
    from analysis.synthetic import make_day
    from kiosk.log_export.pull import export_to_dir
    from kiosk.models import FashionModels

    state = work / f"state-{trail}"
    t0 = time.perf_counter()
    made = make_day(state, FashionModels.load(ROOT / "onnx_models"), sessions=30, trail=trail, seed=0, image_px=256)
    bundle = export_to_dir(state, work / f"pull-{trail}")
    prepare = time.perf_counter() - t0
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(bundle), "--out", str(work / f"report-{trail}"), "--quiet"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    html_mb = (work / f"report-{trail}" / "index.html").stat().st_size / 1e6
    return {
        "captures": made["captures"],
        "trail_points": made["trail_points"],
        "seconds": measured["seconds"],
        "peak_rss_mb": measured["peak_rss_mb"],
        "index_html_mb": round(html_mb, 1),
        "prepare_bundle_s": round(prepare, 1),
        "target_s": TARGET_S.get(trail),
    }


def run(quick: bool = False) -> dict:
    sizes = (2_000, 20_000) if quick else (10_000, 100_000, 1_000_000)
    with tempfile.TemporaryDirectory(prefix="fse-bench-analysis-") as temp:
        return {f"trail_{n}": _one(n, Path(temp)) for n in sizes}


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
