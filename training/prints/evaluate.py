"""How good the kiosk's prints are, measured on the same 12 designs before and after a change.

    python -m training.prints.evaluate --models onnx_models --out runs/prints_eval.json

The 12 designs are the shipped generator's renders: the encodings of the first test photo of
trousers, dress, shirt, coat, sneaker and bag, and 6 hyperspace jumps (seed 0). Each is printed in
every print by the kiosk's own `kiosk.prints.Prints.apply`, and measured:

* recognition: 64x64 patches wholly on the garment (up to 4 per design at 256 px) classified by
  the separate recognizer (`recognizer.py`, trained on swatch crops only); per print, the share
  recognised as that print.
* texture distance: per print, the distance between the recognizer's channel statistics (mean and
  standard deviation of each body feature over a patch, averaged over patches) on garment patches
  and on shaded swatch crops; how far the printed garment's texture is from the swatch's.
* dark bands: the share of garment pixels (pixels not the background colour) darker than the
  print's darkest swatch colour (luminance); holes printed as garment show up here, and so does
  the shading multiplying the print in deep folds and on dark garments, the same way before and
  after. `holes_printed` isolates the first: the share of garment pixels where the design is as
  black as its background (< 0.02), i.e. a hole (between legs, a neckline) printed as a dark band.
* drape: the correlation between the print's displacement (the graph's `uv` output minus the flat
  tile coordinates) and the design's downhill shading gradient (minus the gradient of its
  intensity smoothed by a Gaussian of sigma 4 px at 256 px: where a surface turns away it darkens
  and a print on it crowds), over garment pixels; a flat print is 0 by construction.
* time: the median of 5 `apply` calls per size, one print, in this process.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

DESIGN_CLASSES = ("Trouser", "Dress", "Shirt", "Coat", "Sneaker", "Bag")
JUMPS = 6
EVAL_SIZE = 256
PATCH = 64
PATCHES_PER_DESIGN = 4


def latents(models, data_dir=None) -> dict[str, np.ndarray]:
    """The 12 designs' parameters by name -> (8,) float32."""
    from contract.fashion_mnist import CLASS_NAMES, load_split

    test = load_split("test", data_dir)
    zs = {}
    for name in DESIGN_CLASSES:
        k = next(i for i, c in enumerate(CLASS_NAMES) if c.lower().startswith(name.lower()))
        photo = test.images[int(np.flatnonzero(test.labels == k)[0])]
        zs[name.lower()] = models.encode(photo[None])[0]
    rng = np.random.default_rng(0)
    for j in range(JUMPS):
        zs[f"jump{j}"] = rng.uniform(-1, 1, 8).astype(np.float32)
    return zs


def designs(models, size: int = EVAL_SIZE, data_dir=None) -> dict[str, np.ndarray]:
    """The 12 designs by name -> (size, size) float32 in [0, 1]."""
    return {name: models.generate(z, size, size)[0] for name, z in latents(models, data_dir).items()}


def garment(rgb: np.ndarray, background) -> np.ndarray:
    """(H, W) bool: pixels that are not the clean background colour."""
    return np.abs(rgb.astype(np.float32) - np.asarray(background, np.float32) * 255).max(axis=2) > 2


def luminance(rgb: np.ndarray) -> np.ndarray:
    return rgb[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def garment_patches(rgb: np.ndarray, inside: np.ndarray, k: int, rng) -> list[np.ndarray]:
    """Up to k PATCHxPATCH crops (stride 8 candidates) lying wholly on the garment."""
    H, W = inside.shape
    ok = [
        (y, x)
        for y in range(0, H - PATCH + 1, 8)
        for x in range(0, W - PATCH + 1, 8)
        if inside[y : y + PATCH, x : x + PATCH].all()
    ]
    pick = rng.permutation(len(ok))[:k]
    return [rgb[ok[i][0] : ok[i][0] + PATCH, ok[i][1] : ok[i][1] + PATCH] for i in pick]


def smooth_gradient(design: np.ndarray, sigma: float = 4.0) -> tuple[np.ndarray, np.ndarray]:
    r = int(3 * sigma)
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    p = np.pad(design, r, mode="edge")
    p = np.apply_along_axis(lambda a: np.convolve(a, k, "valid"), 0, p)
    s = np.apply_along_axis(lambda a: np.convolve(a, k, "valid"), 1, p)
    gy, gx = np.gradient(s)
    return gx, gy


def drape_correlation(prints, design: np.ndarray, inside: np.ndarray) -> float | None:
    """Pearson correlation of (du, dv) with the downhill shading gradient -(gx, gy) over garment pixels;
    None when the prints graph has no `uv` output (a flat print: 0 by construction)."""
    flat_and_draped = prints.coordinates(design) if hasattr(prints, "coordinates") else None
    if flat_and_draped is None:
        return None
    flat, uv = flat_and_draped  # (2, H, W) each, tile units
    gx, gy = smooth_gradient(design)
    d = (uv - flat)[:, inside].reshape(-1)
    g = -np.stack([gx, gy])[:, inside].reshape(-1)
    if d.std() == 0 or g.std() == 0:
        return 0.0
    return float(np.corrcoef(d, g)[0, 1])


def recognizer_features(recognizer, patches: np.ndarray):
    """(n, 64, 64, 3) uint8 -> logits (n, P+1), channel statistics (n, 2C) of the last body layer."""
    import torch

    x = torch.as_tensor(patches).permute(0, 3, 1, 2).float() / 255.0
    with torch.no_grad():
        h = recognizer.body(x - 0.5)
        logits = recognizer.head(torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], dim=1))
        stats = torch.cat([h.mean(dim=(2, 3)), h.std(dim=(2, 3))], dim=1)
    return logits.numpy(), stats.numpy()


def swatch_statistics(recognizer, tiles: np.ndarray, n: int = 32, seed: int = 5) -> np.ndarray:
    """(P, 2C) mean channel statistics of shaded swatch crops at the 256 px render scale."""
    import torch

    from . import crops

    gen = torch.Generator().manual_seed(seed)
    pad = crops.to_tensor(tiles)
    out = []
    for p in range(len(tiles)):
        x = crops.sample(pad, torch.full((n,), p), PATCH, (1.0, 1.0), gen)
        x = (x * crops.smooth_field(n, PATCH, 0.7, 1.1, gen)).clamp(0, 1)
        patches = (x.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
        out.append(recognizer_features(recognizer, patches)[1].mean(0))
    return np.stack(out)


def evaluate(prints, models, recognizer, tiles: np.ndarray, sizes=(256, 720, 1024)) -> dict:
    """Every figure of the module docstring for this `prints` (a kiosk.prints.Prints)."""
    names = prints.names[1:]
    ds = designs(models)
    reference = swatch_statistics(recognizer, tiles)
    rng = np.random.default_rng(3)
    background = getattr(prints, "background", (0.96, 0.96, 0.95))  # the network-era Prints had it fixed
    result: dict = {"designs": list(ds), "prints": {}}
    for p, name in enumerate(names):
        w = prints.weights(name)
        floor = luminance(tiles[p].reshape(-1, 3)).min()
        hits = total = 0
        stats, dark, holes, drape = [], [], [], []
        for design in ds.values():
            rgb = prints.apply(design, w)
            inside = garment(rgb, background)
            dark.append(float((luminance(rgb)[inside] < floor - 1).mean()) if inside.any() else 0.0)
            holes.append(float((design[inside] < 0.02).mean()) if inside.any() else 0.0)
            patches = garment_patches(rgb, inside, PATCHES_PER_DESIGN, rng)
            if patches:
                logits, st = recognizer_features(recognizer, np.stack(patches))
                hits += int((logits.argmax(1) == p).sum())
                total += len(patches)
                stats.append(st)
            c = drape_correlation(prints, design, inside)
            drape.append(0.0 if c is None else c)
        texture = float(np.linalg.norm(np.concatenate(stats).mean(0) - reference[p]) / np.linalg.norm(reference[p]))
        result["prints"][name] = {
            "recognised": round(hits / max(total, 1), 4),
            "patches": total,
            "texture_distance": round(texture, 4),
            "dark_band_share": round(float(np.mean(dark)), 5),
            "holes_printed": round(float(np.mean(holes)), 5),
            "drape_correlation": round(float(np.mean(drape)), 3),
        }
    result["apply_ms"] = {}
    z = np.random.default_rng(1).uniform(-1, 1, 8).astype(np.float32)
    w = prints.weights(names[0])
    for size in sizes:
        design = models.generate(z, size, size)[0]
        prints.apply(design, w)  # first run of a shape plans it
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            prints.apply(design, w)
            times.append((time.perf_counter() - t0) * 1e3)
        result["apply_ms"][str(size)] = round(float(np.median(times)), 2)
    return result


def train_or_load_recognizer(path: Path, tiles: np.ndarray):
    """The recognizer, trained once (~2 min on 2 cores) and kept at `path` for later comparisons."""
    import torch

    from .recognizer import Recognizer, RecognizerConfig, train_recognizer
    from .textures import other_textures

    cfg = RecognizerConfig()
    if path.is_file():
        net = Recognizer(len(tiles), cfg.width)
        net.load_state_dict(torch.load(path))
        return net.eval()
    net = train_recognizer(cfg, tiles, np.stack(list(other_textures().values())), lambda it, desc: it)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), path)
    return net.eval()


def main(argv: list[str] | None = None) -> int:
    from kiosk.models import FashionModels
    from kiosk.prints import Prints

    from .textures import TILE, all_tiles

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", type=Path, default=Path("onnx_models"))
    ap.add_argument("--recognizer", type=Path, default=Path("runs/prints_recognizer.pt"))
    ap.add_argument("--mode", default=None, help="a Prints.load mode, where the prints have modes")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    tiles = all_tiles(0, TILE)
    recognizer = train_or_load_recognizer(args.recognizer, tiles)
    models = FashionModels.load(args.models)
    prints = Prints.load(args.models, mode=args.mode) if args.mode else Prints.load(args.models)
    result = evaluate(prints, models, recognizer, tiles)
    text = json.dumps(result, indent=1)
    if args.out:
        args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
