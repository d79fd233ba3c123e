"""How crisp a design's outline is at the size it is shown (issue 23), numpy only.

    width:     how far, in output pixels, the design takes to rise from 10 % to 90 % of the way from
               the background's level to the garment's, along the gradient, across its silhouette;
               the median over points of the silhouette
    overshoot: how far the profile, within two widths of the edge, goes past everything further in
               (a bright rim) or further out (a dark ring), as a fraction of the step: a halo or
               ringing; the median and the 90th percentile over the same points

A silhouette point is a pixel of the garment (above the level halfway between the background's and
the garment's median) with a background neighbour. Its profile is sampled with bilinear interpolation
along the smoothed gradient, at quarter-pixel steps, `REACH` of the side either way of the profile's
own half-level crossing; the two levels are read at the profile's ends, so a garment darker or brighter
than average is judged by its own step. The width is in output pixels, so the same design at 512 and
1024 px reads about half and the same (tests/test_outline.py), until the edge is a pixel or two wide.

    PYTHONPATH=. python -m training.outline --models onnx_models --size 1024   # JSON, ~1 min on 2 cores
    PYTHONPATH=. python -m training.outline --models onnx_models --into-manifest  # also into manifest.json

The goals (issue 23): at 1024 px, as the kiosk shows them, an outline <= MAX_WIDTH_PX wide and no halo
(overshoot p90 <= MAX_OVERSHOOT), for jumps and reconstructions (`targets()`, manifest `quality.targets`).

`figures()` gives the same for the exporter (manifest `quality`), for the designs as drawn and as
the kiosk shows them (contract.silhouette).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from contract import silhouette

REACH = 0.05
"""Half-length of a profile beyond the half-level crossing, as a fraction of the side: 51 px at 1024,
past the widest edge measured (a photo upscaled bicubically, 42 px) and under the narrowest garment
part that matters (a trouser leg, ~0.2 of the side)."""
STEP = 0.25
"""Profile sampling step, in output pixels: the 10 % and 90 % crossings are interpolated between samples."""
MIN_STEP = 0.2
"""A point whose garment and background levels differ by less than this is not on the silhouette."""
POINTS = 400
"""Silhouette points sampled per design (seeded, so a figure is repeatable)."""
MAX_WIDTH_PX = 8.0
"""Issue 23's goal for the outline's 10-90 % rise at 1024 px (the generator alone draws ~23 px)."""
MAX_OVERSHOOT = 0.02
"""Issue 23's goal for a halo or ringing: the profile goes past either level by at most this."""


@dataclass(frozen=True)
class Outline:
    width_px: float  # median 10-90 % rise, output pixels
    overshoot: float  # median fraction of the step the profile goes past either level
    overshoot_p90: float
    points: int  # silhouette points that had a clear step


def _blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur (reflecting the edges), only to steady the gradient's direction."""
    radius = max(1, int(3 * sigma))
    t = np.arange(-radius, radius + 1, dtype=np.float32)
    k = np.exp(-0.5 * (t / sigma) ** 2)
    k /= k.sum()
    padded = np.pad(image, radius, mode="reflect")
    rows = sum(k[i] * padded[:, i : i + image.shape[1]] for i in range(len(k)))
    return sum(k[i] * rows[i : i + image.shape[0], :] for i in range(len(k)))


def _bilinear(image: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    h, w = image.shape
    ys, xs = np.clip(ys, 0, h - 1), np.clip(xs, 0, w - 1)
    y0, x0 = np.minimum(ys.astype(int), h - 2), np.minimum(xs.astype(int), w - 2)
    fy, fx = ys - y0, xs - x0
    top = image[y0, x0] * (1 - fx) + image[y0, x0 + 1] * fx
    bottom = image[y0 + 1, x0] * (1 - fx) + image[y0 + 1, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


def silhouette_points(design: np.ndarray, rng: np.random.Generator, n: int = POINTS) -> np.ndarray:
    """(P, 2) row, column of garment pixels with a background neighbour; empty if no garment."""
    garment = design > 0.1
    if garment.sum() < 16 or (~garment).sum() < 16:
        return np.zeros((0, 2), int)
    half = 0.5 * (np.median(design[garment]) + np.median(design[~garment]))
    inside = design > half
    edge = inside.copy()
    edge[1:-1, 1:-1] &= ~(inside[:-2, 1:-1] & inside[2:, 1:-1] & inside[1:-1, :-2] & inside[1:-1, 2:])
    edge[[0, -1], :] = edge[:, [0, -1]] = False  # the frame is not an outline
    points = np.argwhere(edge)
    if len(points) > n:
        points = points[np.sort(rng.choice(len(points), n, replace=False))]
    return points


def edge_profiles(design: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Profiles (P, S) across the silhouette at `points`, from the background side to the garment's,
    and their sample offsets (S,) in output pixels."""
    side = design.shape[0]
    reach = 2 * REACH * side  # twice, so the profile can be re-centred on its own crossing
    offsets = np.arange(-reach, reach + STEP / 2, STEP, dtype=np.float32)
    smooth = _blur(design.astype(np.float32), max(1.0, side / 512))
    gy, gx = np.gradient(smooth)
    ys, xs = points[:, 0], points[:, 1]
    norm = np.hypot(gy[ys, xs], gx[ys, xs])
    keep = norm > 1e-6
    ys, xs, uy, ux = ys[keep], xs[keep], gy[ys, xs][keep] / norm[keep], gx[ys, xs][keep] / norm[keep]
    py = ys[:, None] + offsets[None, :] * uy[:, None]
    px = xs[:, None] + offsets[None, :] * ux[:, None]
    return _bilinear(design.astype(np.float32), py, px), offsets


def _crossing(profile: np.ndarray, level: float, start: int, step: int) -> float | None:
    """Fractional index where `profile` first crosses `level` walking from `start` by `step` (+1 or -1)."""
    above = profile >= level
    changes = np.flatnonzero(above[1:] != above[:-1])  # a crossing between i and i + 1
    changes = changes[changes >= start] if step > 0 else changes[changes < start][::-1]
    if len(changes) == 0:
        return None
    i = int(changes[0])
    a, b = profile[i], profile[i + 1]
    return i + (a - level) / (a - b)


def measure(design: np.ndarray, seed: int = 0) -> Outline | None:
    """The outline figures of one design (H, W) in [0, 1]; None if it has no silhouette."""
    points = silhouette_points(design, np.random.default_rng(seed))
    if len(points) == 0:
        return None
    profiles, offsets = edge_profiles(design, points)
    reach = int(round(REACH * design.shape[0] / STEP))  # samples
    centre = len(offsets) // 2
    widths, overshoots = [], []
    for p in profiles:
        lo0, hi0 = p[: centre - reach].min(), p[centre + reach :].max()
        mid = _crossing(p, 0.5 * (lo0 + hi0), centre - reach, 1)
        if mid is None:
            continue
        c = int(round(mid))
        if c - reach < 0 or c + reach >= len(p):
            continue
        lo, hi = p[c - reach], p[c + reach]
        step = hi - lo
        if step < MIN_STEP:
            continue
        low = _crossing(p, lo + 0.1 * step, c, -1)
        high = _crossing(p, lo + 0.9 * step, c, 1)
        if low is None or high is None:
            continue
        widths.append((high - low) * STEP)
        # A halo is a rim brighter than anything further in (or a dark ring darker than anything
        # further out): the edge's neighbourhood (its own width twice, and a pixel) against the rest
        # of the reach. Shading further inside, brighter than the rim, is the garment, not a halo.
        near = min(int(2 * (high - low)) + int(1 / STEP), reach // 2)
        past = max(
            p[c : c + near + 1].max() - p[c + near : c + reach + 1].max(),
            p[c - reach : c - near + 1].min() - p[c - near : c + 1].min(),
            0.0,
        )
        overshoots.append(past / step)
    if not widths:
        return None
    return Outline(
        width_px=float(np.median(widths)),
        overshoot=float(np.median(overshoots)),
        overshoot_p90=float(np.percentile(overshoots, 90)),
        points=len(widths),
    )


def summarise(designs) -> dict:
    """Median over designs of each figure (designs without a silhouette are counted, not averaged)."""
    found = [m for m in (measure(d, seed=i) for i, d in enumerate(designs)) if m is not None]
    if not found:
        return {"designs": 0}
    return {
        "designs": len(found),
        "width_px": round(float(np.median([m.width_px for m in found])), 2),
        "overshoot": round(float(np.median([m.overshoot for m in found])), 4),
        "overshoot_p90": round(float(np.median([m.overshoot_p90 for m in found])), 4),
    }


def figures(sessions, photos: np.ndarray, size: int = 1024, n: int = 20, seed: int = 23) -> dict:
    """Outline figures of `n` jumps and the reconstructions of `n` of `photos` at `size` px, as the
    generator draws them ("drawn") and as the kiosk shows them ("shown": contract.silhouette), and of
    the photos upscaled bicubically; `sessions` is a kiosk.models.FashionModels. For the exporter's
    manifest `quality` and for comparing two sets of models (the same jumps and photos for both)."""
    rng = np.random.default_rng(seed)
    jumps = rng.uniform(-1, 1, (n, 8)).astype(np.float32)
    picked = photos[rng.choice(len(photos), n, replace=False)]
    out = {"size": size, "designs_each": n}
    for name, z in (("jumps", jumps), ("reconstructions", sessions.encode(picked))):
        drawn, small = sessions.generate_many(z, size), sessions.generate_many(z, 28)
        out[name] = {
            "drawn": summarise(drawn),
            "shown": summarise([silhouette.sharpen(d, d28) for d, d28 in zip(drawn, small)]),
        }
    out["photos_bicubic"] = summarise(_bicubic(picked, size))
    return out


def targets(o: dict) -> dict:
    """figures() against the goals, as the kiosk shows the designs (manifest `quality.targets`)."""
    t = {}
    for name in ("jumps", "reconstructions"):
        shown = o[name]["shown"]
        t[f"outline_width_{name}_{o['size']}px<={MAX_WIDTH_PX:g}px"] = shown.get("width_px", np.inf) <= MAX_WIDTH_PX
        t[f"outline_overshoot_p90_{name}<={MAX_OVERSHOOT:g}"] = shown.get("overshoot_p90", np.inf) <= MAX_OVERSHOOT
    return t


def into_manifest(models_dir: Path, o: dict) -> None:
    """Record figures() and their targets in a models folder's manifest.json `quality`, as
    `fse-train export` does (training/export_figures.py `measure`, `targets`) for a folder it writes;
    this is for a folder already written, e.g. one whose checkpoints are gone."""
    path = Path(models_dir) / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["quality"]["outline"] = o
    manifest["quality"]["targets"].update(targets(o))
    path.write_text(json.dumps(manifest, indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    """Outline width and overshoot of a models folder's jumps and test reconstructions."""
    from contract.fashion_mnist import load_split
    from contract.models import shipped_models_dir
    from kiosk.models import FashionModels

    p = argparse.ArgumentParser(prog="python -m training.outline", description=main.__doc__)
    p.add_argument("--models", type=Path, default=shipped_models_dir())
    p.add_argument("--size", type=int, default=1024)
    p.add_argument("--n", type=int, default=20, help="jumps and reconstructions each")
    p.add_argument("--seed", type=int, default=23)
    p.add_argument("--into-manifest", action="store_true", help="also record the figures in MODELS/manifest.json")
    args = p.parse_args(argv)
    result = figures(FashionModels.unverified(args.models), load_split("test").images, args.size, args.n, args.seed)
    print(json.dumps({"models": str(args.models), **result, "targets": targets(result)}))
    if args.into_manifest:
        into_manifest(args.models, result)
    return 0


def _bicubic(images: np.ndarray, size: int) -> np.ndarray:
    """Photos upscaled bicubically, the reference an outline should beat (PIL, as a viewer would)."""
    from PIL import Image

    return np.stack(
        [np.asarray(Image.fromarray(im, "F").resize((size, size), Image.BICUBIC)).clip(0, 1) for im in images]
    )


if __name__ == "__main__":
    sys.exit(main())
