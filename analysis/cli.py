"""`fse-analyze`: turn exported capture logs into a map, an interactive report and statistics.

    fse-analyze booth-01-20240501T180000Z/ booth-02.tar.gz --out report/
    fse-analyze /media/stick/fse-export --out report/ --strict
    fse-analyze fit-map --models onnx_models      # (re)build the reference map after a model export

Writes REPORT_DIR/index.html (self-contained, opens offline from file://), map.png, summary.json
and captures.csv. Captures and trail are placed on the reference map shipped with the models
(MODELS/fashion_map.npz, listed in MODELS/manifest.json), so every report shares one picture;
--refit fits UMAP again on this log instead. A damaged bundle is named and skipped (--strict:
the run fails); when no bundle can be used the run fails and leaves no old report behind.
Needs the [analysis] extra; never imports torch.

Time on a 2-core machine: seconds for a day's log, under a minute for 1,000,000 trail points
(docs/analysis.md).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from contract.capture_schema import CaptureLogError, parse_utc, utc_text
from contract.fashion_mnist import DatasetError
from contract.latent import PositionSpaceError, PositionSpaces
from contract.mapfile import MAP_FILE, MapFileError, check_manifest, load_map
from contract.models import shipped_models_dir

from . import stats, timeline
from .bundles import BundleError, MergedLog, find_bundles, merge
from .refmap import batched

TRAIL_CLASS_SAMPLE = 1000
"""Trail points decoded and classified; the rest take the class of their nearest sampled point in z.
Decoding + classifying costs ~2.5 ms a point on a busy 2-core machine, so all of a million is out."""


class Progress:
    def __init__(self, quiet: bool):
        self.quiet, self.start = quiet, time.perf_counter()

    def __call__(self, message: str) -> None:
        if not self.quiet:
            print(f"[{time.perf_counter() - self.start:6.1f} s] {message}", file=sys.stderr, flush=True)


def _summary_skeleton(log: MergedLog, command: str) -> dict:
    from .report import report_title

    capture_t = np.array([parse_utc(c.capture.utc) for c in log.captures], np.float64)
    set_t = np.concatenate([capture_t, log.trail_t])
    set_t = set_t[~timeline.clock_not_set(set_t)]
    first, last = (utc_text(set_t.min()), utc_text(set_t.max())) if len(set_t) else (None, None)
    unset_sessions = [s for s, t in log.sessions.started.items() if t < timeline.CLOCK_SET_AFTER]
    unset = {
        "captures": int(timeline.clock_not_set(capture_t).sum()),
        "trail_points": int(timeline.clock_not_set(log.trail_t).sum()),
        "sessions": len(unset_sessions),
        "booths": sorted(
            {c.capture.booth_id for c in log.captures if parse_utc(c.capture.utc) < timeline.CLOCK_SET_AFTER}
            | {log.sessions.booth[s] for s in unset_sessions if s in log.sessions.booth}
        ),
    }
    return {
        "title": report_title(log.booths, first, last),
        "generated_utc": utc_text(time.time()),
        "command": command,
        "bundles": log.bundles,
        "skipped_bundles": log.skipped,
        "booths": log.booths,
        "time_range": {"first_utc": first, "last_utc": last},
        "clock_not_set": unset,
        "counts": {
            "captures": len(log.captures),
            "trail_points": int(len(log.trail_z)),
            "sessions": len(log.sessions.started),
        },
        "bad_rows": {"count": len(log.bad_rows), "rows": [f"{label}: {row}" for label, row in log.bad_rows]},
        "warnings": warnings(log, unset),
    }


def _count(n: int, what: str) -> str:
    return f"{n:,} {what}{'' if n == 1 else 's'}"


def warnings(log: MergedLog, unset: dict) -> list[str]:
    """What an analyst must know before trusting the numbers: one sentence each (summary.json and the page)."""
    said = list(log.warnings)  # the merge's (a booth id two booths shared)
    if unset["captures"] or unset["trail_points"]:
        said.append(
            f"{_count(unset['captures'], 'capture')} and {_count(unset['trail_points'], 'trail point')} "
            f"({', '.join(unset['booths']) or 'no session'}) are stamped before "
            f"{utc_text(timeline.CLOCK_SET_AFTER)[:10]}: the booth's clock was not set. They are counted and on "
            f"the map, but not on the timeline (a box under the time range counts them in or out); set the "
            f"booth's clock (network time or an RTC battery)."
        )
    if log.bad_rows:
        tables = sorted({row.split(" row ")[0] for _, row in log.bad_rows})
        said.append(
            f"{len(log.bad_rows)} row(s) of the logs ({', '.join(tables)}) could not be decoded and are left out of "
            f"every count: {'; '.join(f'{label}: {row}' for label, row in log.bad_rows[:3])}"
            + (" (all of them are in summary.json, bad_rows)" if len(log.bad_rows) > 3 else "")
        )
    return said


def reference_map(models_dir: Path, manifest: dict):
    """The shipped reference map, after checking it is the one manifest.json lists."""
    from contract.models import sha256_file

    path = Path(models_dir) / MAP_FILE
    fmap = load_map(path)
    check_manifest(manifest, sha256_file(path), Path(models_dir))
    return fmap


def analyse(args) -> int:
    from kiosk.models import FashionModels, ModelError

    from . import embed, page, report

    say = Progress(args.quiet)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fse-analyze-") as unpack:
        log = merge(
            find_bundles(args.bundles, Path(unpack)),
            strict=args.strict,
            warn=lambda m: print(f"fse-analyze: {m}", file=sys.stderr),
        )
        if not log.bundles:
            report.remove_outputs(out)  # an old report must not pass for this one
            print(
                "fse-analyze: no bundle could be used, so no report was written:\n"
                + "".join(f"  {why}\n" for _, why in log.skipped)
                + "Export the logs from the booth again (fse-export) and rerun.",
                file=sys.stderr,
            )
            return 2
        say(
            f"{len(log.bundles)} bundle(s): {len(log.captures)} captures, {len(log.trail_z):,} trail points, "
            f"{len(log.sessions.started)} sessions"
        )
        summary = _summary_skeleton(log, "fse-analyze " + " ".join(args.argv))
        if log.empty:
            report.remove_outputs(out)
            report.write_nothing_yet(out / "index.html", summary)
            summary["nothing_yet"] = True
            report.write_summary(out / "summary.json", summary)
            print(f"fse-analyze: the bundles hold no captures and no trail yet; wrote {out / 'index.html'} saying so")
            return 0

        try:
            models = FashionModels.load(args.models)
            fmap = reference_map(args.models, models.manifest)
            latents = embed.log_latents(log, PositionSpaces.load(args.models, models.manifest), args.old_logs)
        except (ModelError, MapFileError, PositionSpaceError) as e:
            report.remove_outputs(out)  # an old report must not pass for this one
            print(f"fse-analyze: {e}", file=sys.stderr)
            return 2
        names = list(fmap.class_names)
        say(f"reference map: {len(fmap.xy)} training designs")
        summary["positions"] = latents.info
        summary["warnings"] += latents.warnings
        for line in latents.warnings:
            print(f"fse-analyze: {line}", file=sys.stderr)

        capture_z, trail_z = latents.capture_z, latents.trail_z  # the generator's latent, where the map is
        capture_designs = np.array([c.capture.design() for c in log.captures], np.float32).reshape(-1, 28, 28)
        capture_class = batched(models.classify, capture_designs).argmax(1) if len(capture_z) else np.zeros(0, np.int64)
        trail_class = np.zeros(0, np.int64)
        rng = np.random.default_rng(args.seed)
        if len(trail_z):
            sample = np.sort(rng.choice(len(trail_z), min(TRAIL_CLASS_SAMPLE, len(trail_z)), replace=False))
            sample_class = batched(
                models.classify, batched(lambda z: models.generate_z(z, 28), trail_z[sample])
            ).argmax(1)
            from scipy.spatial import cKDTree

            _, nearest = cKDTree(trail_z[sample]).query(trail_z, k=1, eps=embed.TRAIL_EPS, workers=-1)
            trail_class = sample_class[nearest]
        say("classified captures and trail")

        if args.refit:
            embedding = embed.refit(
                fmap, capture_z, trail_z, seed=args.seed, fit_captures=args.fit_captures, fit_trail=args.fit_trail
            )
        else:
            embedding = embed.on_reference(fmap, capture_z, trail_z)
        say(f"placed captures and trail ({embedding.info['method']}) in {embedding.info['seconds']} s")

        threshold = fmap.support_threshold
        capture_outside = embedding.capture_distance > threshold
        trail_outside = embedding.trail_distance > threshold
        capture_labels = [f"{c.capture.booth_id}#{c.capture.id:04d}" for c in log.captures]
        all_xy = np.concatenate([embedding.train_xy, embedding.capture_xy, embedding.trail_xy])
        capture_cells, region_boxes = stats.region_grid(all_xy, embedding.capture_xy)
        rows, overview = stats.session_table(log.sessions, [c.capture.session_id for c in log.captures])
        summary.update(
            {
                "coverage": {
                    "support_percentile": stats.SUPPORT_PERCENTILE,
                    "support_threshold": round(threshold, 4),
                    "captures_outside_support": round(float(capture_outside.mean()), 4) if len(capture_z) else 0.0,
                    "trail_outside_support": round(float(trail_outside.mean()), 4) if len(trail_outside) else 0.0,
                    "map_area": stats.map_area_visited(embedding.train_xy, embedding.trail_xy),
                },
                "classes": {
                    "captures": stats.per_class(capture_class, names),
                    "trail": stats.per_class(trail_class, names),
                    "method": (
                        f"Classes from classifier.onnx on each capture's 28x28 design; for the trail, on the "
                        f"decoded designs of a seeded sample of {min(TRAIL_CLASS_SAMPLE, len(log.trail_z))} "
                        f"points, the rest taking the class of their nearest sampled point in z (approximate "
                        f"search, eps {embed.TRAIL_EPS:g})."
                    ),
                },
                "regions": stats.captured_regions(capture_cells, region_boxes, capture_class, capture_labels, names),
                "sessions": {"overview": overview, "table": rows},
                "embedding": embedding.info,
            }
        )

        report.write_map_png(
            out / "map.png", embedding.train_xy, fmap.label, embedding.capture_xy, embedding.trail_xy, names
        )
        say("wrote map.png")
        captures = report.CaptureTable(
            labels=capture_labels,
            captures=[c.capture for c in log.captures],
            times=np.array([parse_utc(c.capture.utc) for c in log.captures], np.float64),
            image_files=[c.image_file for c in log.captures],
            designs=capture_designs,
            sliders=latents.capture_sliders,
            classes=capture_class,
            xy=embedding.capture_xy,
            outside=capture_outside,
            region_cells=capture_cells,
        )
        report.write_captures_csv(out / "captures.csv", captures, names)
        page.write_html(
            out / "index.html",
            summary,
            fmap,
            embedding,
            captures,
            log,
            trail_class,
            trail_outside,
            region_boxes,
            names,
            train_sliders=models.latent.to_sliders(fmap.z),
        )
        report.write_summary(out / "summary.json", summary)
        say("wrote index.html, captures.csv and summary.json")
    print(out / "index.html")
    return 0


def fit_map(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="fse-analyze fit-map",
        description=(
            "Fit the reference map once from the shipped models and write it beside them "
            f"(MODELS/{MAP_FILE} and its entry in MODELS/manifest.json). Only after a model export: the shipped "
            "map is the reference, and UMAP on another machine gives another (equally valid) picture. "
            "Seeded: on one machine the same models give the same file, byte for byte."
        ),
    )
    parser.add_argument(
        "--models", type=Path, default=shipped_models_dir(), help="the ONNX models (default: %(default)s)"
    )
    parser.add_argument("--data", type=Path, help="the Fashion-MNIST directory (default: the Debian package's)")
    from .refmap import POINTS, fit_reference, write_reference

    parser.add_argument("--points", type=int, default=POINTS, help="training images on the map (%(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    from kiosk.models import FashionModels, ModelError

    say = Progress(args.quiet)
    try:
        models = FashionModels.load(args.models)
        fmap = fit_reference(models, args.data, args.points, args.seed, say=say)
    except (ModelError, DatasetError) as e:
        print(f"fse-analyze fit-map: {e}", file=sys.stderr)
        return 2
    path = write_reference(args.models, fmap)
    say(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB) and its entry in {args.models / 'manifest.json'}")
    print(path)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["fit-map"]:
        return fit_map(argv[1:])
    parser = argparse.ArgumentParser(
        prog="fse-analyze",
        description=__doc__.splitlines()[0],
        epilog="fse-analyze fit-map --help: (re)build the reference map",
    )
    parser.add_argument(
        "bundles",
        nargs="+",
        type=Path,
        metavar="BUNDLE_OR_DIR",
        help="bundle directories, bundle tars, or folders holding them",
    )
    parser.add_argument("--out", type=Path, required=True, metavar="REPORT_DIR")
    parser.add_argument("--strict", action="store_true", help="fail on a damaged bundle instead of skipping it")
    parser.add_argument(
        "--models",
        type=Path,
        default=shipped_models_dir(),
        help="the ONNX models and the reference map (default: %(default)s)",
    )
    parser.add_argument(
        "--refit",
        action="store_true",
        help="fit UMAP again on this log instead of placing it on the reference map (slower; "
        "the picture is not comparable with other reports)",
    )
    parser.add_argument(
        "--fit-trail", type=int, default=1000, help="with --refit: trail points in the fit (%(default)s)"
    )
    parser.add_argument(
        "--fit-captures", type=int, default=1000, help="with --refit: captures in the fit (%(default)s)"
    )
    parser.add_argument(
        "--old-logs",
        metavar="MODELS",
        help="the models whose kiosk wrote logs that do not name the latent map of their slider positions "
        "(capture-log schema 4 and older): 'v2.1' (before the learned prior) or 'current' (these models); "
        "fse-analyze asks for it when such a log is given",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    args.argv = argv
    try:
        return analyse(args)
    except (BundleError, CaptureLogError) as e:
        print(f"fse-analyze: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
