"""Print application: the shipped prints.onnx in onnxruntime, by the network and by
tile-and-shade, at 256x256 and 512x512 (one design, one print), plus the network's cost in GMAC.

Target: the network <= 150 ms at 256x256 on the reference 2-core CPU; tile-and-shade far less.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort

from .timing import best_of

ROOT = Path(__file__).resolve().parent.parent


def _session(path: Path, threads: int) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def run(quick: bool = False) -> dict:
    models = ROOT / "onnx_models"
    manifest = json.loads((models / "prints.json").read_text())
    threads = 2
    full = _session(models / manifest["model"]["file"], threads)
    base = _session(models / manifest["baseline_model"]["file"], threads)
    P = len(manifest["prints"])
    one = np.zeros((1, P), np.float32)
    one[0, 4] = 1.0
    rng = np.random.default_rng(0)
    repeats = 3 if quick else 10
    out = {"gmac_256": manifest["gmac_256"], "threads": threads, "target_network_ms_256": 150}
    for size in (256, 512):
        design = np.zeros((1, 1, size, size), np.float32)
        design[..., size // 8:-size // 8, size // 4:-size // 4] = rng.uniform(0.3, 0.9)
        net_feeds = {"design": design, "net_weights": one, "tile_weights": one * 0}
        tile_feeds = {"design": design, "net_weights": one * 0, "tile_weights": one}
        out[f"network_ms_{size}"] = round(1e3 * best_of(lambda: full.run(None, net_feeds), repeats), 2)
        out[f"tile_and_shade_full_graph_ms_{size}"] = round(1e3 * best_of(lambda: full.run(None, tile_feeds), repeats), 2)
        out[f"tile_and_shade_baseline_graph_ms_{size}"] = round(
            1e3 * best_of(lambda: base.run(None, {"design": design, "tile_weights": one}), repeats), 2)
    out["network_meets_target_256"] = out["network_ms_256"] <= 150
    return out


if __name__ == "__main__":
    print(json.dumps(run(quick=True), indent=1))
