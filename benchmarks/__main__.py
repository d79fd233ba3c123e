"""Run every benchmark and write benchmarks/report.json plus a short table.

    python -m benchmarks            # full run (make bench)
    python -m benchmarks --quick    # a fast variant that proves the suite works (CI)
    python -m benchmarks --only generator,prints
    python -m benchmarks.table      # the markdown tables again, from benchmarks/report.json

Each suite is benchmarks/bench_<name>.py with `run(quick) -> dict`; the report keeps every
figure, and the tables printed at the end (benchmarks/table.py) are docs/performance.md's.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
import time
import traceback
from pathlib import Path

SUITES = ("generator", "kiosk", "prints", "input", "analysis", "share")
HERE = Path(__file__).resolve().parent


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import os

    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine()}


def flatten(prefix: str, value, out: list):
    if isinstance(value, dict):
        for k, v in value.items():
            flatten(f"{prefix}.{k}" if prefix else k, v, out)
    elif not isinstance(value, list):
        out.append((prefix, value))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true")
    p.add_argument("--only", help="comma-separated subset of: " + ", ".join(SUITES))
    p.add_argument("--out", type=Path, default=HERE / "report.json")
    p.add_argument("--verbose", action="store_true", help="also print every figure as it is measured")
    args = p.parse_args(argv)
    chosen = args.only.split(",") if args.only else SUITES
    unknown = [name for name in chosen if name not in SUITES]
    if unknown:
        p.error(f"unknown suite {', '.join(unknown)}; choose from {', '.join(SUITES)}")
    report = {
        "machine": machine(),
        "quick": args.quick,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "results": {},
    }
    failed = []
    for name in chosen:
        t0 = time.time()
        print(f"== {name}", flush=True)
        try:
            result = importlib.import_module(f"benchmarks.bench_{name}").run(quick=args.quick)
        except Exception as e:  # a broken benchmark is reported, the others still run
            traceback.print_exc()
            result = {"error": f"{type(e).__name__}: {e}"}
            failed.append(name)
        result["seconds"] = round(time.time() - t0, 1)
        report["results"][name] = result
        if args.verbose:
            rows = []
            flatten("", result, rows)
            for key, value in rows:
                print(f"  {key:60s} {value}")
        print(f"   {name}: {'FAILED' if name in failed else 'done'} in {result['seconds']} s", flush=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    from .table import markdown

    print()
    print(markdown(report))
    print(f"wrote {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
