"""Generator throughput: the shipped generator.onnx in onnxruntime against, in the same run,
(a) the same weights in PyTorch eager, (b) the naive formulation that tiles z over every pixel
(as the original cppn-gan-vae did), and (c) numpy's single-precision GEMM rate on this machine.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from kiosk.models import FashionModels
from kiosk.space import coordinates

from .timing import best_of

ROOT = Path(__file__).resolve().parent.parent


def generator_weights(path: Path) -> dict:
    """Read the CPPN's weights back out of generator.onnx: z projection by name, the per-pixel
    MatMul weights in graph order (coordinate projection, hidden layers, output)."""
    model = onnx.load(str(path))
    init = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    mats = [init[n.input[1]] for n in model.graph.node if n.op_type == "MatMul" and n.input[1] in init]
    biases = [init[k] for k in sorted(k for k in init if k.startswith("generator.hidden.") and k.endswith(".bias"))]
    return {"z_w": init["generator.z_proj.weight"], "z_b": init["generator.z_proj.bias"], "coord_w": mats[0],
            "hidden": list(zip(mats[1:-1], biases)), "out_w": mats[-1], "out_b": init["generator.out.bias"]}


def z_terms(w: dict) -> list:
    """The z projection split into the first layer's term and one bias per hidden layer (if any)."""
    width = w["coord_w"].shape[1]
    n = w["z_w"].shape[0] // width
    return [(w["z_w"][i * width:(i + 1) * width], w["z_b"][i * width:(i + 1) * width]) for i in range(n)]


def macs_per_pixel(w: dict) -> int:
    width = w["coord_w"].shape[1]
    return 3 * width + sum(m.shape[0] * m.shape[1] for m, _ in w["hidden"]) + width


def torch_reference(w: dict, scale: float):
    """The same weights in PyTorch eager: broadcast formulation and the naive tiled one."""
    import torch

    t = {k: (torch.from_numpy(v) if isinstance(v, np.ndarray) else v) for k, v in w.items()}
    hidden = [(torch.from_numpy(m), torch.from_numpy(b)) for m, b in w["hidden"]]
    zs = [(torch.from_numpy(m), torch.from_numpy(b)) for m, b in z_terms(w)]

    def layers(h, zi):
        for i, (m, b) in enumerate(hidden):
            pre = h @ m + b
            if i + 1 < len(zs):
                pre = pre + (zi @ zs[i + 1][0].T + zs[i + 1][1]).unsqueeze(1)
            h = torch.tanh(pre)
        return torch.sigmoid(h @ t["out_w"] + t["out_b"])

    def internal(z):
        u = z.clamp(-0.98, 0.98)
        return 0.5 * scale * torch.log((1 + u) / (1 - u))

    @torch.no_grad()
    def eager(z, coords):
        zi = internal(z)
        h = torch.tanh((zi @ zs[0][0].T + zs[0][1]).unsqueeze(1) + (coords.reshape(-1, 3) @ t["coord_w"]).unsqueeze(0))
        return layers(h, zi)

    @torch.no_grad()
    def tiled(z, coords):
        """The original's way: concatenate z to every pixel's (x, y, r) and run one big first layer."""
        zi = internal(z)
        n = coords.shape[0] * coords.shape[1]
        first = torch.cat([zs[0][0].T, t["coord_w"]], 0)                       # (8 + 3, w)
        x = torch.cat([zi.unsqueeze(1).expand(-1, n, -1), coords.reshape(1, n, 3).expand(len(z), -1, -1)], 2)
        h = torch.tanh(x @ first + zs[0][1])
        return layers(h, zi)

    return eager, tiled


def numpy_gemm_gflops(n: int = 1024) -> float:
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n), np.float32), rng.standard_normal((n, n), np.float32)
    return 2 * n ** 3 / best_of(lambda: a @ b, repeats=5) / 1e9


def run(quick: bool = False) -> dict:
    import torch

    threads = 2
    torch.set_num_threads(threads)
    models = FashionModels.load(ROOT / "onnx_models", intra_op_threads=threads)
    manifest = json.loads((ROOT / "onnx_models" / "manifest.json").read_text())
    w = generator_weights(ROOT / "onnx_models" / manifest["models"]["generator"]["file"])
    eager, tiled = torch_reference(w, manifest["latent"]["latent_scale"])
    mpp = macs_per_pixel(w)
    gemm = numpy_gemm_gflops(512 if quick else 1024)
    rng = np.random.default_rng(1)
    cases = [("28", 1, 28), ("256", 1, 256), ("512", 1, 512), ("previews_8x9_56", 72, 56)]
    if not quick:
        cases.insert(3, ("1024", 1, 1024))
    rows = {}
    for name, batch, size in cases:
        z = rng.uniform(-1, 1, (batch, 8)).astype(np.float32)
        coords = coordinates(size, size)
        zt, ct = torch.from_numpy(z), torch.from_numpy(coords)
        reps = 2 if quick or size >= 1024 else 5
        t_ort = best_of(lambda: models.generate(z, size), repeats=reps)
        t_eager = best_of(lambda: eager(zt, ct), repeats=reps)
        t_tiled = best_of(lambda: tiled(zt, ct), repeats=reps)
        pixels = batch * size * size
        gflops = 2 * mpp * pixels / t_ort / 1e9
        rows[name] = {
            "batch": batch, "size": size, "ms_onnxruntime": round(t_ort * 1e3, 2),
            "ms_torch_eager": round(t_eager * 1e3, 2), "ms_torch_tiled_z": round(t_tiled * 1e3, 2),
            "megapixels_per_s": round(pixels / t_ort / 1e6, 2), "gflops": round(gflops, 2),
            "speedup_vs_torch_eager": round(t_eager / t_ort, 2), "speedup_broadcast_vs_tiled": round(t_tiled / t_eager, 2),
            "fraction_of_numpy_gemm": round(gflops / gemm, 3),
        }
    return {"threads": threads, "macs_per_pixel": mpp, "numpy_gemm_gflops": round(gemm, 1), "cases": rows,
            "targets": {"ort_vs_torch_eager>=2x_at_512": rows["512"]["speedup_vs_torch_eager"] >= 2,
                        "ort>=50%_numpy_gemm_at_512": rows["512"]["fraction_of_numpy_gemm"] >= 0.5}}
