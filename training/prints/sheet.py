"""The prints contact sheet: every print by the network and by tile-and-shade, on 4 designs.

    python -m training.prints.sheet --models onnx_models --out docs/img/prints_sheet.png

Header row: each print's swatch over its two columns (network, tile-and-shade); the last column
is the kiosk's 50/50 blend of leopard and tartan (`kiosk.prints.Prints.apply`: each print drawn by
its shipped method, the two pictures averaged), under both swatches. Rows: 4 designs of the shipped
generator (encoded Fashion-MNIST test garments; Fashion-MNIST itself if no generator). Renders with
the exported ONNX models, so the sheet shows what the kiosk shows. Saved as an optimised 256-colour
PNG (under 1 MB; the prints' textures are what make a full-colour sheet big).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

CELL = 144
"""Pixels per sheet cell; designs render at 256 and are resized down."""
BLEND = ("leopard", "tartan")
PALETTE_COLOURS = 256


def sheet_designs(models_dir: Path, size: int, n: int = 4) -> np.ndarray:
    from contract.fashion_mnist import load_split

    garments = load_split("test", limit=200).images[[1, 2, 4, 13][:n]]  # pullover, trouser, shirt, dress
    try:
        from kiosk.models import FashionModels

        models = FashionModels.load(models_dir)
        return models.generate(models.encode(garments), size, size)
    except Exception as e:  # no generator shipped yet: fall back to the data itself
        print(f"sheet: using Fashion-MNIST garments ({e})", file=sys.stderr)
        import torch
        import torch.nn.functional as F

        return F.interpolate(torch.as_tensor(garments)[:, None], size=(size, size), mode="bilinear").numpy()[:, 0]


def make_sheet(models_dir: Path, out: Path) -> None:
    import onnxruntime as ort
    import pygame

    from kiosk.prints import Prints

    pygame.font.init()
    font = pygame.font.Font(None, 20)
    prints = Prints.load(models_dir)
    session = ort.InferenceSession(str(models_dir / "prints.onnx"), providers=["CPUExecutionProvider"])
    names = prints.names[1:]
    P = len(names)
    designs = sheet_designs(models_dir, 256)
    cols = 2 * P + 1
    header = CELL + 24
    canvas = np.full((header + len(designs) * CELL, cols * CELL, 3), 255, np.uint8)
    labels = []
    for i, name in enumerate(names):
        sw = prints.info(name).swatch
        reps = -(-(CELL - 24) // sw.shape[0])
        canvas[4 : CELL - 20, 2 * i * CELL + CELL // 2 : 2 * i * CELL + CELL // 2 + CELL - 24] = np.tile(
            sw, (reps, reps, 1)
        )[: CELL - 24, : CELL - 24]
        labels.append((prints.info(name).label + f" ({prints.info(name).method})", 2 * i * CELL + 8, CELL - 14))
        labels.append(("network", 2 * i * CELL + 8, CELL + 4))
        labels.append(("tile-and-shade", (2 * i + 1) * CELL + 8, CELL + 4))
    half = (CELL - 24) // 2
    for j, name in enumerate(BLEND):  # the blend's header: its two swatches side by side
        sw = prints.info(name).swatch
        reps = -(-(CELL - 24) // min(sw.shape[:2]))
        x0 = 2 * P * CELL + 12 + j * half
        canvas[4 : CELL - 20, x0 : x0 + half] = np.tile(sw, (reps, reps, 1))[: CELL - 24, :half]
    labels.append((" + ".join(prints.info(n).label for n in BLEND), 2 * P * CELL + 8, CELL - 14))
    labels.append(("50/50 blend", 2 * P * CELL + 8, CELL + 4))
    eye = np.eye(P, dtype=np.float32)
    for r, design in enumerate(designs):
        d = design[None, None].astype(np.float32)
        rgb_net = session.run(None, {"design": d, "net_weights": eye, "tile_weights": eye * 0})[0]
        rgb_tile = session.run(None, {"design": d, "net_weights": eye * 0, "tile_weights": eye})[0]
        blend = prints.apply(design, prints.weights({BLEND[0]: 0.5, BLEND[1]: 0.5}))
        cells = []
        for i in range(P):
            cells += [rgb_net[i], rgb_tile[i]]
        cells = [np.round(c.transpose(1, 2, 0) * 255).astype(np.uint8) for c in cells] + [blend]
        for c, img in enumerate(cells):
            small = img if img.shape[0] == CELL else _resize(img, CELL)
            canvas[header + r * CELL : header + (r + 1) * CELL, c * CELL : (c + 1) * CELL] = small
    surface = pygame.surfarray.make_surface(canvas.transpose(1, 0, 2))
    for text, x, y in labels:
        surface.blit(font.render(text, True, (0, 0, 0)), (x, y))
    out.parent.mkdir(parents=True, exist_ok=True)
    save_small_png(pygame.surfarray.array3d(surface).transpose(1, 0, 2), out)


def save_small_png(rgb: np.ndarray, out: Path) -> None:
    """An (H, W, 3) uint8 picture as a 256-colour, optimised PNG: a third of full colour's size, and
    at sheet scale the prints read the same (no dithering: it would cost size and add noise)."""
    from PIL import Image

    image = Image.fromarray(np.ascontiguousarray(rgb)).quantize(
        PALETTE_COLOURS, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
    )
    image.save(out, optimize=True)


def _resize(img: np.ndarray, size: int) -> np.ndarray:
    """Area-average (for 256 -> 160 sample bilinearly) resize of an (H, W, 3) uint8 image."""
    h, w = img.shape[:2]
    ys = np.clip(((np.arange(size) + 0.5) * h / size - 0.5), 0, h - 1)
    xs = np.clip(((np.arange(size) + 0.5) * w / size - 0.5), 0, w - 1)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    ty, tx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
    f = img.astype(np.float32)
    top = f[y0][:, x0] * (1 - tx) + f[y0][:, x1] * tx
    bot = f[y1][:, x0] * (1 - tx) + f[y1][:, x1] * tx
    return np.round(top * (1 - ty) + bot * ty).astype(np.uint8)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", type=Path, default=Path("onnx_models"))
    ap.add_argument("--out", type=Path, default=Path("docs/img/prints_sheet.png"))
    args = ap.parse_args(argv)
    make_sheet(args.models, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
