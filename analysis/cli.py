"""`fse-analyze`: turn exported capture logs into a map, an interactive report and statistics.

    fse-analyze booth-01-20240501T180000Z/ booth-02.tar.gz --out report/
    fse-analyze /media/stick/fse-export --out report/ --strict --write-kiosk-map

Writes REPORT_DIR/map.png, REPORT_DIR/index.html (self-contained, opens offline from file://) and
REPORT_DIR/summary.json; with --write-kiosk-map also the kiosk's map file (default
MODELS/fashion_map.npz, format in analysis/mapfile.py). A damaged bundle is named and skipped
(--strict: the run fails). Needs the [analysis] extra; never imports torch.

Time on a 2-core machine: about a minute for a day's log, a few minutes for 1,000,000 trail points
(see benchmarks/bench_analysis.py).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from contract.capture_schema import CaptureLogError, utc_text

from . import stats
from .bundles import BundleError, MergedLog, Sessions, find_bundles, merge

TRAIN_SAMPLE = 3000
"""Training images on the map (seeded choice), as in the original team's map."""
TRAIL_CLASS_SAMPLE = 2000
"""Trail points decoded and classified; the rest take the class of their nearest sampled point in z.
Decoding + classifying costs ~5 ms a point on a busy 2-core machine, so all of a million is out."""
BATCH = 500


def _default_models_dir() -> Path:
    import kiosk
    return Path(kiosk.__file__).resolve().parent.parent / "onnx_models"


class Progress:
    def __init__(self, quiet: bool):
        self.quiet, self.start = quiet, time.perf_counter()

    def __call__(self, message: str) -> None:
        if not self.quiet:
            print(f"[{time.perf_counter() - self.start:6.1f} s] {message}", file=sys.stderr, flush=True)


def _batched(fn, items: np.ndarray) -> np.ndarray:
    return np.concatenate([fn(items[i:i + BATCH]) for i in range(0, len(items), BATCH)]) if len(items) else None


def _summary_skeleton(log: MergedLog, args) -> dict:
    capture_times = [c.capture.utc for c in log.captures]
    times = capture_times + ([utc_text(log.trail_t[0]), utc_text(log.trail_t[-1])] if len(log.trail_t) else [])
    return {
        "generated_utc": utc_text(time.time()),
        "command": "fse-analyze " + " ".join(sys.argv[1:]) if args.argv is None else "fse-analyze " + " ".join(args.argv),
        "bundles": log.bundles,
        "skipped_bundles": log.skipped,
        "booths": log.booths,
        "time_range": {"first_utc": min(times) if times else None, "last_utc": max(times) if times else None},
        "counts": {"captures": len(log.captures), "trail_points": int(len(log.trail_z)),
                   "sessions": len(log.sessions.started)},
    }


def analyse(args) -> int:
    from kiosk.models import FashionModels, ModelError
    from contract.fashion_mnist import CLASS_NAMES, DatasetError, load_split

    from . import report
    from .embed import PLACE_K, embed
    from .mapfile import FashionMap, save_map

    say = Progress(args.quiet)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fse-analyze-") as unpack:
        log = merge(find_bundles(args.bundles, Path(unpack)), strict=args.strict,
                    warn=lambda m: print(f"fse-analyze: {m}", file=sys.stderr)) if args.bundles else \
            MergedLog([], [], [], [], np.zeros(0), np.zeros((0, 8), np.float32), Sessions())
        say(f"{len(log.bundles)} bundle(s): {len(log.captures)} captures, {len(log.trail_z):,} trail points, "
            f"{len(log.sessions.started)} sessions")
        summary = _summary_skeleton(log, args)
        if log.empty and not args.write_kiosk_map:
            report.write_nothing_yet(out / "index.html", summary)
            summary["nothing_yet"] = True
            report.write_summary(out / "summary.json", summary)
            print(f"fse-analyze: the bundles hold no captures and no trail yet; wrote {out / 'index.html'} saying so")
            return 0

        try:
            models = FashionModels.load(args.models)
        except ModelError as e:
            print(f"fse-analyze: {e}", file=sys.stderr)
            return 2
        rng = np.random.default_rng(args.seed)
        try:
            train = load_split("train", args.data)
        except DatasetError as e:
            print(f"fse-analyze: {e}", file=sys.stderr)
            return 2
        pick = np.sort(rng.choice(len(train.images), min(args.train_sample, len(train.images)), replace=False))
        train_images, train_label = train.images[pick], train.labels[pick]
        train_z = _batched(models.encode, train_images)
        train_designs = _batched(lambda z: models.generate(z, 28), train_z)
        say(f"encoded and decoded {len(pick)} training images")

        capture_z = np.array([c.capture.z for c in log.captures], np.float32).reshape(-1, 8)
        capture_designs = np.array([c.capture.design() for c in log.captures], np.float32).reshape(-1, 28, 28)
        capture_class = (_batched(models.classify, capture_designs).argmax(1) if len(capture_z)
                         else np.zeros(0, np.int64))
        trail_class = np.zeros(0, np.int64)
        if len(log.trail_z):
            sample = np.sort(rng.choice(len(log.trail_z), min(TRAIL_CLASS_SAMPLE, len(log.trail_z)), replace=False))
            sample_class = _batched(models.classify, _batched(lambda z: models.generate(z, 28), log.trail_z[sample])).argmax(1)
            from scipy.spatial import cKDTree
            _, nearest = cKDTree(log.trail_z[sample]).query(log.trail_z, k=1, workers=-1)
            trail_class = sample_class[nearest]
        say("classified captures and trail")

        embedding = embed(train_z, capture_z, log.trail_z, seed=args.seed,
                          fit_captures=args.fit_captures, fit_trail=args.fit_trail)
        say(f"UMAP fit on {embedding.fit_counts} in {embedding.seconds['umap_fit']} s; "
            f"placed the rest in {embedding.seconds['knn_place']} s")

        names = list(CLASS_NAMES)
        threshold = stats.support_threshold(train_z)
        capture_outside = stats.outside_support(capture_z, train_z, threshold)
        trail_outside = stats.outside_support(log.trail_z, train_z, threshold)
        capture_labels = [f"{c.capture.booth_id}#{c.capture.id:04d}" for c in log.captures]
        all_xy = np.concatenate([embedding.train_xy, embedding.capture_xy, embedding.trail_xy])
        rows, overview = stats.session_table(log.sessions, [c.capture.session_id for c in log.captures])
        summary.update({
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
                "method": (f"Classes from classifier.onnx on each capture's 28x28 design; for the trail, on the "
                           f"decoded designs of a seeded sample of {min(TRAIL_CLASS_SAMPLE, len(log.trail_z))} "
                           f"points, the rest taking the class of their nearest sampled point in z."),
            },
            "regions": stats.captured_regions(all_xy, embedding.capture_xy, capture_class, capture_labels, names),
            "sessions": {"overview": overview, "table": rows},
            "embedding": {"training_sample": int(len(pick)), "seed": args.seed, **embedding.fit_counts,
                          "seconds": embedding.seconds},
        })

        report.write_map_png(out / "map.png", embedding.train_xy, train_label, embedding.capture_xy,
                             embedding.trail_xy, names)
        say("wrote map.png")
        train_columns = {
            "x": embedding.train_xy[:, 0], "y": embedding.train_xy[:, 1],
            "class_name": [names[i] for i in train_label],
            "colour": [report.CLASS_COLOURS[i] for i in train_label],
            "original": [report.design_uri(im) for im in train_images],
            "design": [report.design_uri(d) for d in train_designs],
            "title": [f"Training image {int(i)}" for i in pick],
            "ztext": [", ".join(f"{v:.3f}" for v in z) for z in train_z],
            "command": [report.kiosk_command(z, "none") for z in train_z],
        }
        thumbs = [report.thumbnail_uri(c.image_file) if i < report.MAX_THUMBS else ""
                  for i, c in enumerate(log.captures)]
        capture_columns = {
            "x": embedding.capture_xy[:, 0], "y": embedding.capture_xy[:, 1],
            "class_name": [names[i] for i in capture_class],
            "design": [report.design_uri(d) for d in capture_designs],
            "print_image": thumbs,
            "print_name": [c.capture.print_name for c in log.captures],
            "title": [f"Capture {label} ({c.capture.utc}, {c.capture.how})" for label, c in zip(capture_labels, log.captures)],
            "ztext": [", ".join(f"{v:.3f}" for v in c.capture.z) for c in log.captures],
            "command": [report.kiosk_command(c.capture.z, c.capture.print_name) for c in log.captures],
        }
        report.write_html(out / "index.html", summary, train_columns, capture_columns, embedding.trail_xy, names)
        report.write_summary(out / "summary.json", summary)
        say("wrote index.html and summary.json")

        if args.write_kiosk_map:
            target = args.write_kiosk_map if isinstance(args.write_kiosk_map, Path) else args.models / "fashion_map.npz"
            low, high = embedding.train_xy.min(0), embedding.train_xy.max(0)
            xy = 0.02 + 0.96 * (embedding.train_xy - low) / np.maximum(high - low, 1e-9)
            save_map(target, FashionMap(xy.astype(np.float32), train_z, train_label.astype(np.int16), tuple(names),
                                        PLACE_K, models.manifest["models"]["encoder"].get("sha256", "")))
            say(f"wrote the kiosk's map {target}")
    print(out / "index.html")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fse-analyze", description=__doc__.splitlines()[0])
    parser.add_argument("bundles", nargs="*", type=Path, metavar="BUNDLE_OR_DIR",
                        help="bundle directories, bundle tars, or folders holding them")
    parser.add_argument("--out", type=Path, required=True, metavar="REPORT_DIR")
    parser.add_argument("--strict", action="store_true", help="fail on a damaged bundle instead of skipping it")
    parser.add_argument("--models", type=Path, default=_default_models_dir(), help="the ONNX models (default: %(default)s)")
    parser.add_argument("--data", type=Path, help="the Fashion-MNIST directory (default: the Debian package's)")
    parser.add_argument("--write-kiosk-map", nargs="?", const=True, type=Path, metavar="PATH",
                        help="also write the kiosk's map file (default MODELS/fashion_map.npz)")
    parser.add_argument("--train-sample", type=int, default=TRAIN_SAMPLE, help="training images on the map (%(default)s)")
    parser.add_argument("--fit-trail", type=int, default=1000, help="trail points in the UMAP fit (%(default)s)")
    parser.add_argument("--fit-captures", type=int, default=1000, help="captures in the UMAP fit (%(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    args.argv = argv
    if not args.bundles and not args.write_kiosk_map:
        parser.error("give at least one bundle (what fse-export wrote), or --write-kiosk-map alone")
    try:
        return analyse(args)
    except (BundleError, CaptureLogError) as e:
        print(f"fse-analyze: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
