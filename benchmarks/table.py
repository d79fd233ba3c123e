"""docs/performance.md's tables, in markdown, from a benchmark report.

    python -m benchmarks.table                          # benchmarks/report.json
    python -m benchmarks.table path/to/report.json

Two tables: every figure with its same-run reference and its target (and whether it is met), and
the optimisations' before/after pairs. Figures a run did not measure (a suite left out with
--only, or one that failed) are left out of the table; a failed suite gets one row saying so.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .bench_kiosk import TARGETS as KIOSK_TARGETS
from .bench_share import TARGETS as SHARE_TARGETS

HERE = Path(__file__).resolve().parent


def _get(d, *keys):
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def _fmt(value, unit: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    if isinstance(value, float):
        value = f"{value:.3g}" if abs(value) < 10 else f"{value:.0f}" if abs(value) >= 100 else f"{value:.1f}"
    return f"{value}{unit}"


def _met(measured, target, higher_is_better: bool = False):
    if measured is None or target is None:
        return None
    return measured >= target if higher_is_better else measured <= target


def figure_rows(results: dict) -> list[tuple]:
    """(suite, figure, measured, reference, target, met) for every figure in the report."""
    rows = []
    for name, result in results.items():
        if "error" in result:
            rows.append((name, "the suite failed", result["error"][:80], "", "", False))
    gen = results.get("generator", {})
    gemm = gen.get("numpy_gemm_gflops")
    for case, c in (gen.get("cases") or {}).items():
        label = f"{c['batch']} x {c['size']}²" if c["batch"] > 1 else f"{c['size']}²"
        rows.append(
            (
                "generator",
                f"{label}: ms (Mpixel/s)",
                f"{_fmt(c['ms_onnxruntime'])} ({_fmt(c['megapixels_per_s'])})",
                f"torch eager {_fmt(c['ms_torch_eager'])} ms",
                "",
                None,
            )
        )
        target = 2.0 if case == "512" else None
        rows.append(
            (
                "generator",
                f"{label}: speed-up vs torch eager",
                _fmt(c["speedup_vs_torch_eager"], "x"),
                f"{gen.get('macs_per_pixel', '?')} multiply-adds per pixel",
                ">= 2x" if target else "",
                _met(c["speedup_vs_torch_eager"], target, True),
            )
        )
        target = 0.5 if case == "512" else None
        rows.append(
            (
                "generator",
                f"{label}: GFLOP/s (share of numpy GEMM)",
                f"{_fmt(c['gflops'])} ({_fmt(100 * c['fraction_of_numpy_gemm'])}%)",
                f"numpy GEMM {_fmt(c.get('numpy_gemm_gflops', gemm))} GFLOP/s",
                ">= 50%" if target else "",
                _met(c["fraction_of_numpy_gemm"], target, True),
            )
        )
    k = results.get("kiosk", {})
    kiosk = [
        ("UI frame time p50 / p95 / p99 (ms), joystick sweep", "frame_ms", KIOSK_TARGETS["frame_p95_ms"]),
        ("input -> draft shown p95 (ms)", "draft_ms", KIOSK_TARGETS["draft_p95_ms"]),
        ("settled -> full resolution p95 (ms)", "full_ms", KIOSK_TARGETS["full_p95_ms"]),
        ("settled -> print p95 (ms)", "print_ms", KIOSK_TARGETS["print_p95_ms"]),
        ("preview refresh p95 (ms)", "preview_ms", KIOSK_TARGETS["preview_p95_ms"]),
    ]
    for label, key, target in kiosk:
        p = k.get(key)
        if not p or not p.get("n"):
            continue
        measured = f"{_fmt(p['p50'])} / {_fmt(p['p95'])} / {_fmt(p['p99'])}" if key == "frame_ms" else _fmt(p["p95"])
        before = _get(k, "uncapped", key, "p95")
        reference = f"uncapped sizes: {_fmt(before)}" if before is not None else ""
        redraw_all = _get(k, "sweep_redraw_all", key)
        if redraw_all and redraw_all.get("n"):
            reference = (
                f"whole screen redrawn every frame: {_fmt(redraw_all['p50'])} / {_fmt(redraw_all['p95'])} / "
                f"{_fmt(redraw_all['p99'])}"
                if key == "frame_ms"
                else f"whole screen redrawn every frame: {_fmt(redraw_all['p95'])}"
            )
        if key == "frame_ms":
            rows.append(
                (
                    "kiosk",
                    label,
                    measured,
                    reference,
                    f"p95 <= {target:g}, p99 <= {KIOSK_TARGETS['frame_p99_ms']:g}",
                    _met(p["p95"], target) and _met(p["p99"], KIOSK_TARGETS["frame_p99_ms"]),
                )
            )
            continue
        rows.append(("kiosk", label, measured, reference, f"<= {target:.0f}" if target else "", _met(p["p95"], target)))
    for key, label in (
        ("cold_start_s", "cold start to first frame (s)"),
        ("peak_rss_mb", "peak RSS of the kiosk process (MB)"),
        ("capture_peak_rss_mb", "peak RSS after a capture with a print (MB)"),
    ):
        if k.get(key) is not None:
            target = KIOSK_TARGETS[key]
            rows.append(("kiosk", label, _fmt(k[key]), "", f"<= {target:g}", _met(k[key], target)))
    pr = results.get("prints", {})
    for size in (96, 256, 720, 1024):
        if f"print_graph_ms_{size}" in pr:
            rows.append(("prints", f"print graph {size}² (ms)", _fmt(pr[f"print_graph_ms_{size}"]), "", "", None))
    for key, label in (
        ("frame_p95_ms", "with a print: frame p95 (ms)"),
        ("draft_p95_ms", "with a print: input -> draft p95 (ms)"),
        ("print_p95_ms", "with a print: settle -> print p95 (ms)"),
        ("capture_p95_ms", "with a print: press -> capture saved p95 (ms)"),
    ):
        t = _get(pr, "targets", key)
        if t and t["measured"] is not None:
            rows.append(("prints", label, _fmt(t["measured"]), "", f"<= {t['target']:g}", t["ok"]))
    inp = results.get("input", {})
    if "parse_us_per_frame" in inp:
        rows.append(
            (
                "input",
                "parse cost per frame (µs)",
                _fmt(inp["parse_us_per_frame"]),
                "",
                "< 1000",
                _met(inp["parse_us_per_frame"], 1000.0),
            )
        )
        rows.append(
            (
                "input",
                "frame -> UI state p50 / p95 (ms)",
                f"{_fmt(inp['frame_to_state_ms_median'])} / {_fmt(inp['frame_to_state_ms_p95'])}",
                "one UI frame: 16.7 ms",
                "< 16.7",
                _met(inp["frame_to_state_ms_p95"], 16.7),
            )
        )
    sh = results.get("share", {})
    if _get(sh, "image_ms", "n"):
        image, frames = sh["image_ms"], sh["frame_ms"]
        rows.append(
            (
                "share",
                f"{sh['phones']} phones at once: page -> image p50 / p95 (ms)",
                f"{_fmt(image['p50'])} / {_fmt(image['p95'])}",
                f"{sh['images_served']} images of {_fmt(sh['image_kb'])} KB; fse-share CPU "
                f"{_fmt(sh['server_cpu_ms_per_image'])} ms an image",
                f"p95 <= {SHARE_TARGETS['image_p95_ms']:g}",
                _met(image["p95"], SHARE_TARGETS["image_p95_ms"]),
            )
        )
        rows.append(
            (
                "share",
                "UI frame p50 / p95 (ms), sweep during the downloads",
                f"{_fmt(frames['under_load']['p50'])} / {_fmt(frames['under_load']['p95'])}",
                f"the same sweep without phones: {_fmt(frames['alone']['p50'])} / {_fmt(frames['alone']['p95'])}",
                f"p95 <= {SHARE_TARGETS['frame_p95_under_load_ms']:g}",
                _met(frames["under_load"]["p95"], SHARE_TARGETS["frame_p95_under_load_ms"]),
            )
        )
    for key, a in results.get("analysis", {}).items():
        if key.startswith("trail_") and isinstance(a, dict):
            rows.append(
                (
                    "analysis",
                    f"fse-analyze, {a['trail_points']:,} trail points: s (peak MB)",
                    f"{_fmt(a['seconds'])} ({_fmt(a['peak_rss_mb'])})",
                    f"{a['captures']} captures",
                    f"<= {a['target_s']:g} s" if a.get("target_s") else "finishes, < 4096 MB",
                    _met(a["seconds"], a["target_s"]) if a.get("target_s") else _met(a["peak_rss_mb"], 4096.0),
                )
            )
    return rows


def before_after_rows(results: dict) -> list[tuple]:
    """(optimisation, figure, before, after) from every suite's before_after block."""
    names = {
        "full_ms_p95": ("hero rendered at <= 540 px, scaled up", "settled -> full p95 (ms)"),
        "print_ms_p95": ("live print at 360 px, no plain full first", "settled -> print p95 (ms)"),
        "preview_ms_p95": ("previews at 40 px in one batch, scaled up once", "preview refresh p95 (ms)"),
        "idle_cpu_percent": ("redraw only on change", "idle CPU (% of a core)"),
        "sweep_frame_ms_p95": ("widgets redraw only what changed", "UI frame p95 during the sweep (ms)"),
        "sweep_draft_ms_p95": ("widgets redraw only what changed", "input -> draft p95 during the sweep (ms)"),
        "print_peak_rss_mb": ("print: arena off + live size cap", "peak RSS of one print (MB)"),
        "print_rss_kept_after_mb": ("print: arena off + live size cap", "RSS kept after the print (MB)"),
        "print_ms": ("print: live size cap", "one print (ms)"),
    }
    rows = []
    for suite in ("kiosk", "prints"):
        for key, pair in (_get(results, suite, "before_after") or {}).items():
            what, figure = names.get(key, (key, ""))
            rows.append((what, figure, _fmt(pair.get("before")), _fmt(pair.get("after"))))
    so = _get(results, "generator", "session_options")
    if so:
        s = so["size"]
        rows.append(
            (
                "graph optimisation: none -> ALL (kept; no gain on this graph)",
                f"generator {s}² (ms)",
                _fmt(so["ms_no_graph_optimisation_1_thread"]),
                _fmt(so["ms_kiosk_enable_all_1_thread"]),
            )
        )
        rows.append(
            (
                "intra-op threads 1 -> 2 (not adopted: the workers run in parallel)",
                f"generator {s}² (ms)",
                _fmt(so["ms_kiosk_enable_all_1_thread"]),
                _fmt(so["ms_enable_all_2_threads"]),
            )
        )
        rows.append(
            (
                "run -> I/O binding (not adopted: no gain)",
                "56 previews at 40 px (ms)",
                _fmt(so["ms_previews_56x40_run"]),
                _fmt(so["ms_previews_56x40_io_binding"]),
            )
        )
    return rows


def markdown(report: dict) -> str:
    m = report.get("machine", {})
    lines = [
        f"Machine: {m.get('cpu', '?')}, {m.get('cores', '?')} cores, Python {m.get('python', '?')}; "
        f"run started {report.get('started', '?')}{' (--quick)' if report.get('quick') else ''}.",
        "",
        "| Suite | Figure | Measured | Reference (same run) | Target | Met |",
        "|---|---|---|---|---|---|",
    ]
    for suite, figure, measured, reference, target, met in figure_rows(report.get("results", {})):
        lines.append(
            f"| {suite} | {figure} | {measured} | {reference} | {target} | {'' if met is None else _fmt(met)} |"
        )
    pairs = before_after_rows(report.get("results", {}))
    if pairs:
        lines += ["", "| Optimisation | Figure | Before | After |", "|---|---|---|---|"]
        lines += [f"| {what} | {figure} | {before} | {after} |" for what, figure, before, after in pairs]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    path = Path(argv[0]) if argv else HERE / "report.json"
    try:
        report = json.loads(path.read_text())
    except FileNotFoundError:
        print(f"no report at {path}: run `make bench` (or `python -m benchmarks --quick`) first", file=sys.stderr)
        return 2
    except json.JSONDecodeError as e:
        print(f"{path} is not a benchmark report ({e}); run `make bench` again to rewrite it", file=sys.stderr)
        return 2
    sys.stdout.write(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
