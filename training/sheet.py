"""`fse-train sheet`: a PNG contact sheet of the shipped fashion space, rendered from the ONNX models.

    fse-train sheet --out docs/model_sheet.png                       # the shipped models
    fse-train sheet --compare runs/vae_models --out docs/gan_vs_vae.png   # side by side with another export
    fse-train sheet --before /tmp/v1_models --out docs/space_before_after.png   # a visitor's before/after

Rows: test images and their reconstructions; random designs (hyperspace jumps) at 28x28 and the
same designs at 256x256; a walk along each of the 8 parameters. The before/after sheet shows the
designs as the kiosk does, outlines drawn crisp at each size (contract.silhouette), beside the older
models' plain renders.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from contract import silhouette
from contract.fashion_mnist import DatasetError, load_split
from contract.jumps import jump_proposals
from kiosk.models import FashionModels, ModelError

from . import outline

PAD = 6
BG = 255
CROP = 384  # px of a 1024 px design shown unscaled, so a visitor's eye judges the outline


def _font(size: int):
    for path in ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",):
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default()


def _tile(img: np.ndarray, size: int) -> Image.Image:
    """A design (dark garment on white, as a visitor sees it) at `size` px, nearest-neighbour for 28x28."""
    g = Image.fromarray((255 - np.clip(img, 0, 1) * 255).astype(np.uint8), "L")
    return g.resize((size, size), Image.NEAREST if img.shape[0] < size else Image.BILINEAR)


def _row(label: str, tiles: list[Image.Image], label_w: int = 210) -> Image.Image:
    h = max(t.height for t in tiles)
    w = label_w + sum(t.width + PAD for t in tiles)
    row = Image.new("L", (w, h + PAD), BG)
    ImageDraw.Draw(row).text((4, h // 2 - 8), label, fill=0, font=_font(15))
    x = label_w
    for t in tiles:
        row.paste(t, (x, 0))
        x += t.width + PAD
    return row


def _stack(rows: list[Image.Image], title: str) -> Image.Image:
    w = max(r.width for r in rows)
    sheet = Image.new("L", (w + 2 * PAD, sum(r.height for r in rows) + 50), BG)
    ImageDraw.Draw(sheet).text((PAD, 10), title, fill=0, font=_font(22))
    y = 45
    for r in rows:
        sheet.paste(r, (PAD, y))
        y += r.height
    return sheet


def model_rows(models: FashionModels, name: str, data: str | None, seed: int) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    test = load_split("test", data, 2000)
    pick = rng.choice(len(test.images), 10, replace=False)
    recon = models.generate(models.encode(test.images[pick]), 28)
    z = kiosk_jumps(models, rng, 6)
    small, big = models.generate(z, 28), models.generate(z, 256)
    lo, hi = models.slider_range
    rows = [
        _row(f"{name}: test", [_tile(x, 56) for x in test.images[pick]]),
        _row(f"{name}: recon", [_tile(x, 56) for x in recon]),
        _row(f"{name}: jump 28px", [_tile(x, 112) for x in small]),
        _row(f"{name}: jump 256px", [_tile(x, 256) for x in big]),
    ]
    base = models.landmarks[0].z if models.landmarks else np.zeros(8, np.float32)
    steps = np.linspace(lo, hi, 9, dtype=np.float32)
    for k in range(8):
        zs = np.repeat(base[None], len(steps), 0)
        zs[:, k] = steps
        rows.append(_row(f"{name}: param {k + 1}", [_tile(x, 72) for x in models.generate(zs, 72)]))
    return rows


def kiosk_jumps(models: FashionModels, rng: np.random.Generator, count: int) -> np.ndarray:
    """(count, 8) hyperspace jumps as the kiosk makes them (contract.jumps: the first of a few uniform
    proposals that reads as a garment)."""
    return np.stack([p[models.jump_landing(p)] for p in (jump_proposals(rng) for _ in range(count))])


def shown(models: FashionModels, z: np.ndarray, size: int) -> np.ndarray:
    """Designs (N, size, size) as the kiosk shows them: the generator's render with its silhouette drawn
    crisp at that size (contract.silhouette)."""
    return np.stack([silhouette.sharpen(d, d28) for d, d28 in zip(models.generate(z, size), models.generate(z, 28))])


def _outline_crop(design: np.ndarray, size: int = CROP) -> tuple[int, int]:
    """Top-left corner of a size x size crop centred on the design's outline where it is leftmost
    in the middle third of the garment's height (a sleeve, a side seam): background on the left,
    the garment and its shading on the right, the outline running through the middle."""
    points = outline.silhouette_points(design, np.random.default_rng(0), n=4000)
    if len(points) == 0:
        return (design.shape[0] - size) // 2, (design.shape[1] - size) // 2
    top, bottom = points[:, 0].min(), points[:, 0].max()
    middle = points[np.abs(points[:, 0] - (top + bottom) / 2) <= (bottom - top) / 6]
    y, x = middle[np.argmin(middle[:, 1])]
    return tuple(int(np.clip(v - size // 2, 0, design.shape[0] - size)) for v in (y, x))


def before_after_rows(before: FashionModels, after: FashionModels, data: str | None, seed: int) -> list[Image.Image]:
    """The same 16 test photos, reconstructed by the older models and by these; 20 jumps of these at
    256 px; one jump and one reconstruction at 1024 px as a capture saves them; and 384 px crops of
    their outlines at full resolution, the older models' capture beside this one's."""
    rng = np.random.default_rng(seed)
    test = load_split("test", data, 2000)
    photos = test.images[rng.choice(len(test.images), 16, replace=False)]
    z = kiosk_jumps(after, rng, 20)
    jumps = shown(after, z, 256)
    pair = {"jump": z[:1], "reconstruction": None}  # the reconstruction: the first photo's
    rows = [
        _row("test photo", [_tile(x, 128) for x in photos]),
        _row("before: recon", [_tile(x, 128) for x in before.generate(before.encode(photos), 128)]),
        _row("after: recon", [_tile(x, 128) for x in shown(after, after.encode(photos), 128)]),
        _row("after: jumps 256 px", [_tile(x, 256) for x in jumps[:10]]),
        _row("", [_tile(x, 256) for x in jumps[10:]]),
    ]
    big, crops = [], []
    for name in pair:
        z_after = pair[name] if name == "jump" else after.encode(photos[:1])
        z_before = pair[name] if name == "jump" else before.encode(photos[:1])
        design = shown(after, z_after, 1024)[0]
        old = before.generate(z_before, 1024)[0]
        top, left = _outline_crop(design)
        big.append(_tile(design, 1024))
        for label, image in (("before", old), ("after", design)):
            crop = _tile(image[top : top + CROP, left : left + CROP], CROP)
            ImageDraw.Draw(crop).text((8, 6), f"{name}, {label}", fill=0, font=_font(18))
            crops.append(crop)
    rows.append(_row("after: 1024 px\n(jump, recon\nof photo 1)", big))
    rows.append(_row("384 px crops\nat full size", crops))
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="fse-train sheet", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--models", type=Path, default=Path("onnx_models"))
    p.add_argument("--compare", type=Path, help="another export to show first, for a side-by-side")
    p.add_argument("--before", type=Path, help="older models: the before/after sheet of reconstructions and jumps")
    p.add_argument("--out", type=Path, default=Path("docs/model_sheet.png"))
    p.add_argument("--data", help="Fashion-MNIST directory")
    p.add_argument("--seed", type=int, default=3)
    args = p.parse_args(argv)
    try:
        rows = []
        title = "Fashion space: reconstructions, hyperspace jumps at 28 and 256 px, walks along each parameter"
        if args.before:
            rows = before_after_rows(
                FashionModels.load(args.before), FashionModels.load(args.models), args.data, args.seed
            )
            title = f"Before ({args.before.name}) and after ({args.models.name}): the same photos, new jumps, outlines at 1024 px"
        elif args.compare:
            rows += model_rows(FashionModels.load(args.compare), args.compare.name, args.data, args.seed)
        if not args.before:
            rows += model_rows(FashionModels.load(args.models), args.models.name, args.data, args.seed)
    except (ModelError, DatasetError) as e:
        print(f"fse-train sheet: {e}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    _stack(rows, title).save(args.out, optimize=True)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
