"""Export the prints: `prints.onnx`, `prints_baseline.onnx`, swatch PNGs and `prints.json`.

    python -m training.prints.export --run runs/prints --out onnx_models

(A run rebuilt from the shipped files by `python -m training.prints.recover` exports the same way.)

`prints.onnx`: design (B|1, 1, H, W) float32 [0,1], net_weights (B, P), tile_weights (B, P)
-> rgb (B, 3, H, W) [0,1]; H and W are dynamic (any size >= 2, no stride to respect).
`prints_baseline.onnx`: the same without the network (design, tile_weights -> rgb) for weak devices.
`prints.json` is self-contained: names, labels, swatch files with sha256, each texture's source and
licence, the method the kiosk uses per print (by the recognition score), parity and cost numbers.
Where `--out` holds the fashion space's `manifest.json`, its `prints` section is refreshed too.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

from contract.models import sha256_file
from kiosk.png import write_png

from .network import NetworkConfig
from .pipeline import BACKGROUND, BaselinePipeline, PrintPipeline
from .recover import RECOVERED_FROM
from .textures import GIMP_DIR, PRINTS, REPEATS, TILE, all_tiles
from .train import RECOGNITION_TARGET, config_from_dict, tiles_tensor

OPSET = 17
SWATCH = 96  # swatch PNG side: a tile and a half, so the repeat shows


def swatch(tile: np.ndarray, size: int = SWATCH) -> np.ndarray:
    reps = -(-size // tile.shape[0])
    return np.tile(tile, (reps, reps, 1))[:size, :size]


def _export(module, args, path: Path, inputs: list[str]) -> None:
    axes = {name: {0: "batch"} for name in inputs}
    axes["design"] = {0: "design_batch", 2: "height", 3: "width"}
    axes["rgb"] = {0: "batch", 2: "height", 3: "width"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about shape arithmetic; parity is checked below
        torch.onnx.export(
            module,
            args,
            str(path),
            opset_version=OPSET,
            input_names=inputs,
            output_names=["rgb"],
            dynamic_axes=axes,
            dynamo=False,
        )


def _onnx_run(path: Path, feeds: dict) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {k: v.numpy() for k, v in feeds.items()})[0]


def parity(module, path: Path, feeds: dict) -> float:
    with torch.no_grad():
        ref = module(*feeds.values()).numpy()
    return float(np.abs(_onnx_run(path, feeds) - ref).max())


def load_pipeline(run: Path) -> tuple[PrintPipeline, dict]:
    ckpt = run / "checkpoint.pt"
    if not ckpt.is_file():
        raise SystemExit(f"{ckpt} does not exist: train first with `fse-train prints --run {run}`")
    state = torch.load(ckpt, weights_only=False)
    if not state.get("network_done"):
        raise SystemExit(f"{ckpt} holds an unfinished run: finish it with `fse-train prints --run {run} --resume`")
    return pipeline_from(state), state


def pipeline_from(state: dict) -> PrintPipeline:
    """The pipeline a finished run's checkpoint describes (its config, network and texture seed), in eval mode."""
    cfg = config_from_dict(state["config"])
    pipeline = PrintPipeline(cfg.network, tiles_tensor(all_tiles(cfg.texture_seed)))
    pipeline.network.load_state_dict(state["network"])
    return pipeline.eval()


def export(run: Path, out: Path) -> dict:
    pipeline, state = load_pipeline(run)
    cfg = config_from_dict(state["config"])
    out.mkdir(parents=True, exist_ok=True)
    (out / "prints").mkdir(exist_ok=True)
    P = len(PRINTS)
    baseline = BaselinePipeline(
        NetworkConfig(frequencies=1, width=1, layers=1), pipeline.baseline.tiles[:, :, 1:-1, 1:-1]
    ).eval()

    design = torch.rand(1, 1, 64, 80)
    w = torch.eye(P)[:2]
    _export(pipeline, (design, w, w * 0), out / "prints.onnx", ["design", "net_weights", "tile_weights"])
    _export(baseline, (design, w), out / "prints_baseline.onnx", ["design", "tile_weights"])

    # parity at 256x256 on a real garment, one design rendered in a network print, a tile print and a mix
    from .train import load_designs

    d = load_designs("test", 1, 256)
    net_w = torch.zeros(3, P)
    net_w[0, 0], net_w[2, 4] = 1, 0.5
    tile_w = torch.zeros(3, P)
    tile_w[1, 5], tile_w[2, 6] = 1, 0.5
    feeds = {"design": d, "net_weights": net_w, "tile_weights": tile_w}
    diff = parity(pipeline, out / "prints.onnx", feeds)
    diff_base = parity(baseline, out / "prints_baseline.onnx", {"design": d, "tile_weights": tile_w})
    recovered = run / RECOVERED_FROM
    if recovered.is_file():  # the same figure against the file this run was rebuilt from
        diff_recovered = float(np.abs(_onnx_run(out / "prints.onnx", feeds) - _onnx_run(recovered, feeds)).max())

    rec = state.get("recognition", {})
    entries = []
    for spec, tile in zip(PRINTS, all_tiles(cfg.texture_seed)):
        png = out / "prints" / f"{spec.name}.png"
        write_png(png, swatch(tile))
        net_score = rec.get("network", {}).get(spec.name)
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
                    else f"training/prints/textures.py:{spec.source} (seed {cfg.texture_seed})"
                ),
                "licence": spec.licence,
                "method": "network" if net_score is not None and net_score >= RECOGNITION_TARGET else "tile-and-shade",
                "recognition": {"network": net_score, "tile-and-shade": rec.get("tile-and-shade", {}).get(spec.name)},
            }
        )
    manifest = {
        "format": 1,
        "model": {
            "file": "prints.onnx",
            "sha256": sha256_file(out / "prints.onnx"),
            "opset": OPSET,
            "inputs": [
                {"name": "design", "shape": ["design_batch", 1, "height", "width"], "dtype": "float32"},
                {"name": "net_weights", "shape": ["batch", P], "dtype": "float32"},
                {"name": "tile_weights", "shape": ["batch", P], "dtype": "float32"},
            ],
            "outputs": [{"name": "rgb", "shape": ["batch", 3, "height", "width"], "dtype": "float32"}],
        },
        "baseline_model": {
            "file": "prints_baseline.onnx",
            "sha256": sha256_file(out / "prints_baseline.onnx"),
            "opset": OPSET,
            "inputs": [
                {"name": "design", "shape": ["design_batch", 1, "height", "width"], "dtype": "float32"},
                {"name": "tile_weights", "shape": ["batch", P], "dtype": "float32"},
            ],
            "outputs": [{"name": "rgb", "shape": ["batch", 3, "height", "width"], "dtype": "float32"}],
        },
        "background": list(BACKGROUND),
        "tile_pixels": TILE,
        "tile_repeats_across": REPEATS,
        "prints": entries,
        "recognition_target": RECOGNITION_TARGET,
        "recognition_method": state.get("recognition_method")  # a recovered run carries its source's
        or "held-out recognizer (training/prints/recognizer.py), 64x64 garment patches of "
        f"{cfg.recognizer.designs} Fashion-MNIST test designs at 256x256, up to "
        f"{cfg.recognizer.patches_per_design} per design; classes: the prints + other",
        "loss_network_sanity": state.get("sanity"),
        "parity_max_abs_diff_256": {"prints.onnx": diff, "prints_baseline.onnx": diff_base},
        "gmac_256": round(pipeline.network.macs_per_pixel() * 256 * 256 / 1e9, 3),
        "network_config": state["config"]["network"],
        "trained_steps": state.get("network_step"),
    }
    if recovered.is_file():
        manifest["recovered_from"] = {**state["recovered_from"], "parity_max_abs_diff_256": diff_recovered}
    (out / "prints.json").write_text(json.dumps(manifest, indent=1))
    space = out / "manifest.json"
    if space.is_file():  # the fashion space's manifest records the prints' files too: keep it true
        models = json.loads(space.read_text())
        add_prints(models, out)
        space.write_text(json.dumps(models, indent=1) + "\n")
    return manifest


def add_prints(manifest: dict, out: Path) -> None:
    """The prints' entries (from `out`/prints.json) in the fashion space's manifest, the one the kiosk
    checks: every file with its sha256, the graphs' inputs/outputs, each print's method and score."""
    path = out / "prints.json"
    if not path.exists():
        return
    prints = json.loads(path.read_text())
    manifest["prints"] = {
        "index": {"file": "prints.json", "sha256": sha256_file(path)},
        "network": {**prints["model"], "sha256": sha256_file(out / prints["model"]["file"])},
        "baseline": {**prints["baseline_model"], "sha256": sha256_file(out / prints["baseline_model"]["file"])},
        "prints": [
            {
                "name": e["name"],
                "method": e["method"],
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
    ap.add_argument("--run", type=Path, default=Path("runs/prints"))
    ap.add_argument("--out", type=Path, default=Path("onnx_models"))
    args = ap.parse_args(argv)
    m = export(args.run, args.out)
    print(f"wrote {args.out / 'prints.onnx'} (parity {m['parity_max_abs_diff_256']}, {m['gmac_256']} GMAC at 256x256)")
    for e in m["prints"]:
        print(f"  {e['name']:14s} {e['method']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
