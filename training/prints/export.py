"""Export the prints: the print graph `prints.onnx`, one swatch tile PNG per print, `prints.json`.

    fse-train prints --out onnx_models [--evaluation runs/prints_eval.json]
    (the same as: python -m training.prints.export --out onnx_models)

`prints.onnx` is contract.models.PRINTS: design (1, 1, H, W) float32 [0,1] + tile (B, 3, T, T)
float32 [0,1] -> rgb (B, 3, H, W) [0,1] and uv (1, 2, H, W); H, W and T are dynamic (H, W >= 2).
It has no learned weights (training/prints/pipeline.py): nothing to train, so exporting is the
whole of `fse-train prints`. Each swatch is one tile of SWATCH_TILE px, the print at a 1024 px
capture's scale; the kiosk filters it down for smaller renders.
`prints.json` is self-contained: names, labels, swatch files with sha256, each texture's source and
licence, the graph's parity with PyTorch, and (with `--evaluation`, the output of
`python -m training.prints.evaluate`) each print's recognition. Where `--out` holds the fashion
space's `manifest.json`, its `prints` section is refreshed too.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

from contract.models import PRINT_BACKGROUND, PRINT_TILE_REPEATS, PRINTS, sha256_file
from kiosk.png import write_png

from .pipeline import PrintGraph
from .textures import GIMP_DIR, SWATCH_TILE, all_tiles
from .textures import PRINTS as PRINT_SPECS

OPSET = 17
FORMAT = 2  # prints.json: 1 was the print network's (net_weights / tile_weights)


def _tensors(tensors) -> list[dict]:
    return [{"name": t.name, "shape": list(t.shape), "dtype": t.dtype} for t in tensors]


def export_graph(path: Path) -> None:
    design, tile = torch.rand(1, 1, 64, 80), torch.rand(2, 3, 32, 32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about shape arithmetic; parity is checked below
        torch.onnx.export(
            PrintGraph().eval(),
            (design, tile),
            str(path),
            opset_version=OPSET,
            input_names=PRINTS.input_names,
            output_names=PRINTS.output_names,
            dynamic_axes=PRINTS.dynamic_axes(),
            dynamo=False,
        )


def parity(path: Path, design: torch.Tensor, tile: torch.Tensor) -> float:
    from kiosk.providers import create_session  # the one place sessions are made

    with torch.no_grad():
        ref = PrintGraph().eval()(design, tile)
    session = create_session(path, "cpu")[0]
    got = session.run(None, {"design": design.numpy(), "tile": tile.numpy()})
    return float(max(np.abs(g - r.numpy()).max() for g, r in zip(got, ref)))


def export(out: Path, evaluation: Path | None = None, seed: int = 0) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    (out / "prints").mkdir(exist_ok=True)
    export_graph(out / PRINTS.file)
    tiles = all_tiles(seed, SWATCH_TILE)
    # parity on a smooth garment-like blob at 256 px, in two prints at the 256 px render's scale
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 256), torch.linspace(-1, 1, 256), indexing="ij")
    design = torch.clamp(1.5 - 3 * (xx**2 / 0.3 + yy**2 / 0.6), 0, 1)[None, None] * (0.7 + 0.3 * torch.sin(5 * yy))
    small = torch.as_tensor(tiles[:2, ::4, ::4].copy()).permute(0, 3, 1, 2).float() / 255
    diff = parity(out / PRINTS.file, design, small)
    recognised = json.loads(evaluation.read_text())["prints"] if evaluation else {}

    entries = []
    for spec, tile in zip(PRINT_SPECS, tiles):
        png = out / "prints" / f"{spec.name}.png"
        write_png(png, tile)
        entries.append(
            {
                "name": spec.name,
                "label": spec.label,
                "kind": spec.kind,
                "swatch": f"prints/{spec.name}.png",
                "swatch_sha256": sha256_file(png),
                "source": (
                    f"{GIMP_DIR / spec.source}"
                    if spec.kind == "gimp"
                    else f"training/prints/textures.py:{spec.source} (seed {seed})"
                ),
                "licence": spec.licence,
                "recognition": recognised.get(spec.name, {}).get("recognised"),
            }
        )
    manifest = {
        "format": FORMAT,
        "model": {
            "file": PRINTS.file,
            "sha256": sha256_file(out / PRINTS.file),
            "opset": OPSET,
            "inputs": _tensors(PRINTS.inputs),
            "outputs": _tensors(PRINTS.outputs),
        },
        "background": list(PRINT_BACKGROUND),
        "tile_pixels": SWATCH_TILE,
        "tile_repeats_across": PRINT_TILE_REPEATS,
        "prints": entries,
        "recognition_method": "training/prints/evaluate.py: the separate recognizer on 64x64 garment patches "
        "of the 12 evaluation designs at 256 px, up to 4 per design",
        "parity_max_abs_diff_256": diff,
    }
    (out / "prints.json").write_text(json.dumps(manifest, indent=1))
    space = out / "manifest.json"
    if space.is_file():  # the fashion space's manifest records the prints' files too: keep it true
        models = json.loads(space.read_text())
        add_prints(models, out)
        space.write_text(json.dumps(models, indent=1) + "\n")
    return manifest


def add_prints(manifest: dict, out: Path) -> None:
    """The prints' entries (from `out`/prints.json) in the fashion space's manifest, the one the kiosk
    checks: every file with its sha256, the graph's inputs/outputs, each print's score."""
    path = out / "prints.json"
    if not path.exists():
        return
    prints = json.loads(path.read_text())
    manifest["prints"] = {
        "index": {"file": "prints.json", "sha256": sha256_file(path)},
        "graph": {**prints["model"], "sha256": sha256_file(out / prints["model"]["file"])},
        "prints": [
            {
                "name": e["name"],
                "recognition": e["recognition"],
                "swatch": {"file": e["swatch"], "sha256": sha256_file(out / e["swatch"])},
                "source": e["source"],
                "licence": e["licence"],
            }
            for e in prints["prints"]
        ],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("onnx_models"))
    ap.add_argument("--evaluation", type=Path, help="python -m training.prints.evaluate's JSON: recognition per print")
    args = ap.parse_args(argv)
    m = export(args.out, args.evaluation)
    print(f"wrote {args.out / PRINTS.file} (parity {m['parity_max_abs_diff_256']:.2g}) and {len(m['prints'])} swatches")
    return 0


if __name__ == "__main__":
    sys.exit(main())
