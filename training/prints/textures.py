"""The prints: classic textile prints drawn by code and real textures from GIMP's patterns.

Every print is a seamless RGB tile of `TILE` x `TILE` pixels. In a rendered design the tile
repeats `REPEATS` times across the coordinate square (so at 256x256 one tile is 64 pixels, and a
512x512 render shows the same print, twice as fine-grained in pixels). Generated prints are
deterministic from a seed; real ones are read from `/usr/share/gimp/2.0/patterns` with our own
`.pat` reader and resampled to the tile size, wrapping at the edges so they stay seamless.

    python -m training.prints.textures --out /tmp/swatches   # writes one PNG per print
"""

from __future__ import annotations

import argparse
import colorsys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from contract.models import PRINT_TILE_REPEATS

from .gimp_pat import read_pat

TILE = 64  # the recognizer's patch side, and one tile at a 256 px render
SWATCH_TILE = 256  # the shipped tile's side: one tile of a 1024 px capture, pixel for pixel
REPEATS = PRINT_TILE_REPEATS  # tiles across the [-1, 1] coordinate square (64 px per tile at 256x256)
SUPERSAMPLE = 4  # generated prints are drawn 4x4 supersampled, so edges are anti-aliased
GIMP_DIR = Path("/usr/share/gimp/2.0/patterns")
GIMP_SOURCE = "Debian package gimp-data (GIMP 2.10 patterns), /usr/share/gimp/2.0/patterns"
GIMP_LICENCE = (
    "GPL-3+ (debian/copyright of gimp-data, 'Files: *' stanza: GPL-3+ and GPL-2+ and "
    "LGPL-3+ and MIT and Expat and BSD-2-clause; see /usr/share/doc/gimp-data/copyright)"
)


@dataclass(frozen=True)
class PrintSpec:
    name: str
    label: str
    kind: str  # "generated" | "gimp"
    source: str  # a generator function's name or a .pat path (relative to GIMP_DIR)
    licence: str


# ---------------------------------------------------------------------------------------------
# Generated prints. Each takes an rng (from the seed) and returns a (TILE, TILE, 3) float image
# in [0, 1]; drawing happens on a supersampled grid `u, v` in [0, 1) tile units.


def _grid(n: int) -> tuple[np.ndarray, np.ndarray]:
    s = (np.arange(n, dtype=np.float64) + 0.5) / n
    v, u = np.meshgrid(s, s, indexing="ij")
    return u, v


def _jitter(rgb: tuple[float, float, float], rng: np.random.Generator, amount: float = 0.04) -> np.ndarray:
    """The seed varies each colour a little in hue and value, so seeds differ but stay on-brand."""
    h, s, v = colorsys.rgb_to_hsv(*rgb)
    h = (h + rng.uniform(-amount, amount) * 0.5) % 1.0
    v = float(np.clip(v + rng.uniform(-amount, amount), 0, 1))
    return np.array(colorsys.hsv_to_rgb(h, s, v))


def polka_dot(rng: np.random.Generator, n: int) -> np.ndarray:
    u, v = _grid(n)
    ground, dot = _jitter((0.09, 0.13, 0.36), rng), _jitter((0.97, 0.95, 0.90), rng)
    radius = 0.11 + rng.uniform(-0.01, 0.01)
    inside = np.zeros_like(u, dtype=bool)
    # two dots per tile on a half-drop lattice, plus their wrapped neighbours
    for cx, cy in ((0.25, 0.25), (0.75, 0.75)):
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                inside |= (u - cx - dx) ** 2 + (v - cy - dy) ** 2 < radius**2
    return np.where(inside[..., None], dot, ground)


def breton_stripe(rng: np.random.Generator, n: int) -> np.ndarray:
    u, v = _grid(n)
    ground, stripe = _jitter((0.96, 0.95, 0.91), rng), _jitter((0.07, 0.10, 0.32), rng)
    stripes_per_tile = 4
    band = (v * stripes_per_tile) % 1.0 < 0.38  # Breton stripes are narrower than the ground
    return np.where(band[..., None], stripe, ground)


def tartan(rng: np.random.Generator, n: int) -> np.ndarray:
    u, v = _grid(n)
    # a symmetric sett (thread counts of a Royal-Stewart-like plaid), in tile fractions
    sett = [
        ((0.72, 0.08, 0.09), 0.28),
        ((0.05, 0.10, 0.28), 0.14),
        ((0.72, 0.08, 0.09), 0.06),
        ((0.05, 0.30, 0.14), 0.14),
        ((0.95, 0.88, 0.30), 0.04),
        ((0.05, 0.30, 0.14), 0.14),
        ((0.72, 0.08, 0.09), 0.06),
        ((0.05, 0.10, 0.28), 0.14),
    ]
    colours = np.array([_jitter(c, rng) for c, _ in sett])
    edges = np.cumsum([w for _, w in sett])
    edges = edges / edges[-1]
    warp = colours[np.searchsorted(edges, u, side="right").clip(0, len(sett) - 1)]
    weft = colours[np.searchsorted(edges, v, side="right").clip(0, len(sett) - 1)]
    # 2/2 twill: which thread shows alternates along diagonals, four threads per period
    threads = 32
    twill = ((np.floor(u * threads) + np.floor(v * threads)) % 4) < 2
    return np.where(twill[..., None], warp, weft) * 0.85 + 0.15 * (warp + weft) / 2


HOUNDSTOOTH_UNIT = np.array(
    [  # the classic 8x8 four-and-four houndstooth cell
        [1, 1, 1, 1, 0, 0, 0, 1],
        [1, 1, 1, 1, 0, 0, 1, 1],
        [1, 1, 1, 1, 0, 1, 1, 0],
        [1, 1, 1, 1, 1, 1, 0, 0],
        [0, 0, 0, 1, 1, 1, 1, 0],
        [0, 0, 1, 1, 1, 1, 0, 0],
        [0, 1, 1, 0, 1, 0, 0, 0],
        [1, 1, 0, 0, 0, 0, 0, 0],
    ],
    dtype=bool,
)


def houndstooth(rng: np.random.Generator, n: int) -> np.ndarray:
    u, v = _grid(n)
    dark, light = _jitter((0.08, 0.07, 0.07), rng), _jitter((0.93, 0.90, 0.84), rng)
    cells_per_tile = 4
    i = np.floor(v * cells_per_tile * 8).astype(int) % 8
    j = np.floor(u * cells_per_tile * 8).astype(int) % 8
    return np.where(HOUNDSTOOTH_UNIT[i, j][..., None], dark, light)


def _wrapped_distance(u: np.ndarray, v: np.ndarray, cx: float, cy: float) -> tuple[np.ndarray, np.ndarray]:
    """The offset from (cx, cy) to each point, through the nearest tile edge (the tile is seamless)."""
    return (u - cx + 0.5) % 1.0 - 0.5, (v - cy + 0.5) % 1.0 - 0.5


def ditsy_floral(rng: np.random.Generator, n: int) -> np.ndarray:
    """Small five-petal flowers with a yellow heart and two leaves, scattered on cream: a print
    read as flowers at a glance (it replaced GIMP's leaves pattern, which visitors read as cannabis)."""
    u, v = _grid(n)
    ground = _jitter((0.96, 0.91, 0.84), rng)
    petal, heart, leaf = (
        _jitter((0.85, 0.27, 0.36), rng),
        _jitter((0.98, 0.78, 0.22), rng),
        _jitter((0.25, 0.52, 0.33), rng),
    )
    out = np.broadcast_to(ground, u.shape + (3,)).copy()
    # two flowers per tile on a half-drop lattice, jittered, each turned at random
    for cx, cy in ((0.27, 0.25), (0.77, 0.75)):
        cx, cy, turn = cx + rng.uniform(-0.04, 0.04), cy + rng.uniform(-0.04, 0.04), rng.uniform(0, 2 * np.pi)
        dx, dy = _wrapped_distance(u, v, cx, cy)
        for k in (0, 1):  # two pointed leaves, drawn first so the petals overlap them
            a = turn + np.pi / 5 + k * np.pi
            lx, ly = dx - 0.17 * np.cos(a), dy - 0.17 * np.sin(a)
            along, across = lx * np.cos(a) + ly * np.sin(a), -lx * np.sin(a) + ly * np.cos(a)
            out[(along / 0.085) ** 2 + (across / 0.035) ** 2 < 1] = leaf
        for k in range(5):
            a = turn + 2 * np.pi * k / 5
            px, py = dx - 0.075 * np.cos(a), dy - 0.075 * np.sin(a)
            out[px**2 + py**2 < 0.058**2] = petal
        out[dx**2 + dy**2 < 0.035**2] = heart
    return out


GENERATORS: dict[str, Callable[[np.random.Generator, int], np.ndarray]] = {
    "polka_dot": polka_dot,
    "breton_stripe": breton_stripe,
    "tartan": tartan,
    "houndstooth": houndstooth,
    "ditsy_floral": ditsy_floral,
}

PRINTS: tuple[PrintSpec, ...] = (
    PrintSpec("polka_dot", "Polka dot", "generated", "polka_dot", "MIT (this repository)"),
    PrintSpec("breton_stripe", "Breton stripe", "generated", "breton_stripe", "MIT (this repository)"),
    PrintSpec("tartan", "Tartan", "generated", "tartan", "MIT (this repository)"),
    PrintSpec("houndstooth", "Houndstooth", "generated", "houndstooth", "MIT (this repository)"),
    PrintSpec("leopard", "Leopard", "gimp", "Animal/leopard.pat", GIMP_LICENCE),
    PrintSpec("burlap", "Burlap", "gimp", "Fabric/burlap.pat", GIMP_LICENCE),
    PrintSpec("ditsy_floral", "Ditsy floral", "generated", "ditsy_floral", "MIT (this repository)"),
    PrintSpec("pastel_swirl", "Pastel swirl", "gimp", "Legacy/pastel.pat", GIMP_LICENCE),
)
NAMES = tuple(p.name for p in PRINTS)


def generated_tile(name: str, seed: int = 0, size: int = TILE) -> np.ndarray:
    """A generated print's tile, (size, size, 3) uint8; the same seed always gives the same tile."""
    rng = np.random.default_rng(seed)
    big = GENERATORS[name](rng, size * SUPERSAMPLE)
    small = big.reshape(size, SUPERSAMPLE, size, SUPERSAMPLE, 3).mean(axis=(1, 3))
    return np.round(np.clip(small, 0, 1) * 255).astype(np.uint8)


def resample_periodic(image: np.ndarray, size: int) -> np.ndarray:
    """Resize a seamless tile to size x size with bilinear sampling that wraps, keeping it seamless.

    Shrinking first box-averages by the integer part of the ratio, so fine texture isn't aliased.
    """
    img = image.astype(np.float64)
    h, w = img.shape[:2]
    fy, fx = max(1, h // size), max(1, w // size)
    if fy > 1 or fx > 1:
        img = img[: h - h % fy, : w - w % fx].reshape(h // fy, fy, w // fx, fx, -1).mean(axis=(1, 3))
        h, w = img.shape[:2]
    ys = (np.arange(size) + 0.5) * h / size - 0.5
    xs = (np.arange(size) + 0.5) * w / size - 0.5
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    ty, tx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
    y0, y1, x0, x1 = y0 % h, (y0 + 1) % h, x0 % w, (x0 + 1) % w
    top = img[y0][:, x0] * (1 - tx) + img[y0][:, x1] * tx
    bottom = img[y1][:, x0] * (1 - tx) + img[y1][:, x1] * tx
    return np.round(np.clip(top * (1 - ty) + bottom * ty, 0, 255)).astype(np.uint8)


def gimp_tile(relative: str, size: int = TILE, root: Path = GIMP_DIR) -> np.ndarray:
    return resample_periodic(read_pat(root / relative).pixels, size)


def print_tile(spec: PrintSpec, seed: int = 0, size: int = TILE) -> np.ndarray:
    if spec.kind == "generated":
        return generated_tile(spec.source, seed, size)
    return gimp_tile(spec.source, size)


def all_tiles(seed: int = 0, size: int = TILE) -> np.ndarray:
    """(P, size, size, 3) uint8, in PRINTS order."""
    return np.stack([print_tile(p, seed, size) for p in PRINTS])


def other_textures(size: int = TILE, root: Path = GIMP_DIR) -> dict[str, np.ndarray]:
    """Every GIMP pattern that is not a print: the 'anything else' the classifiers must tell apart."""
    used = {p.source for p in PRINTS if p.kind == "gimp"}
    out = {}
    for path in sorted(root.glob("**/*.pat")):
        rel = str(path.relative_to(root))
        if rel not in used:
            out[rel] = resample_periodic(read_pat(path).pixels, size)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    from kiosk.png import write_png  # PNG writing only; numpy is enough for everything else here

    args.out.mkdir(parents=True, exist_ok=True)
    for spec, tile in zip(PRINTS, all_tiles(args.seed)):
        write_png(args.out / f"{spec.name}.png", tile)
        print(args.out / f"{spec.name}.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
