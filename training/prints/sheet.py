"""Contact sheets, one per print: flat tiling against the kiosk's draped print.

    python -m training.prints.sheet --models onnx_models --out docs/img/prints

Each sheet (`<out>/<print>.png`): the top two rows are 6 of the evaluation designs
(`evaluate.latents`: trousers, dress, shirt, coat, sneaker, bag) at 256 px shown at CELL px, flat
(the tile laid straight, `Drape` all zero) above draped (what the kiosk draws: `Prints.apply`);
the bottom row is a CROP x CROP window of a 1024 px capture of the dress at full resolution, flat
then draped, then the same window of the coat. Saved as 128-colour PNGs, so 8 sheets stay a few MB.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

CELL = 160
CROP = 232  # four crops and their gaps fit under the six cells
COLOURS = 128


def flat_print(prints, design: np.ndarray, name: str) -> np.ndarray:
    """The print laid flat (no drape) over the same mask and shading, the way prints looked before."""
    import torch

    from kiosk.prints import tile_side

    from .pipeline import Drape, PrintGraph

    graph = PrintGraph(Drape(wrap=0.0, bow=0.0, displace=0.0)).eval()
    tile = torch.as_tensor(prints.tile(prints.weights(name), tile_side(design.shape[1])))
    with torch.no_grad():
        rgb, _ = graph(torch.as_tensor(design)[None, None], tile)
    return np.round(rgb[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)


def _shrink(image: np.ndarray, size: int) -> np.ndarray:
    from kiosk.prints import resize_periodic  # a box filter (its wrap-around touches only the edge pixels)

    return np.round(np.clip(resize_periodic(image.astype(np.float32), size), 0, 255)).astype(np.uint8)


def make_sheets(models_dir: Path, out: Path) -> list[Path]:
    from PIL import Image

    from kiosk.models import FashionModels
    from kiosk.prints import Prints

    from .evaluate import latents

    models = FashionModels.load(models_dir)
    prints = Prints.load(models_dir)

    def render(z, size):
        return models.generate(z, size, size)[0]

    zs = latents(models)
    small = [render(z, 256) for z in list(zs.values())[:6]]
    big = {name: render(zs[name], 1024) for name in ("dress", "coat")}
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in prints.names[1:]:
        w = prints.weights(name)
        flat = [_shrink(flat_print(prints, d, name), CELL) for d in small]
        draped = [_shrink(prints.apply(d, w), CELL) for d in small]
        crops = []
        for which, (y, x) in (("dress", (300, 350)), ("coat", (250, 150))):
            d = big[which]
            for image in (flat_print(prints, d, name), prints.apply(d, w)):
                crops.append(image[y : y + CROP, x : x + CROP])
        sheet = np.full((2 * CELL + CROP + 8, max(6 * CELL, 4 * CROP + 24), 3), 255, np.uint8)
        sheet[:CELL, : 6 * CELL] = np.concatenate(flat, axis=1)
        sheet[CELL : 2 * CELL, : 6 * CELL] = np.concatenate(draped, axis=1)
        for i, crop in enumerate(crops):
            x0 = i * (CROP + 8)
            sheet[2 * CELL + 8 :, x0 : x0 + CROP] = crop
        path = out / f"{name}.png"
        Image.fromarray(sheet).quantize(COLOURS, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", type=Path, default=Path("onnx_models"))
    ap.add_argument("--out", type=Path, default=Path("docs/img/prints"))
    args = ap.parse_args(argv)
    for path in make_sheets(args.models, args.out):
        print(f"wrote {path} ({path.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
