"""Generator throughput: the shipped generator.onnx in onnxruntime against, in the same run,
(a) the same weights in PyTorch eager, (b) the naive formulation that tiles z over every pixel
(as the original cppn-gan-vae did), and (c) numpy's single-precision GEMM rate on this machine.

Also, same run: the session options the kiosk uses against onnxruntime's defaults for the things
they change (graph optimisation level, intra-op threads) and I/O binding (a preallocated output
buffer) against a plain `run`, at the sizes the kiosk renders.

Everything runs on ONE thread (onnxruntime, torch, numpy's BLAS), as the kiosk runs each model:
on a shared 2-core machine, two-thread pools wait on each other's descheduled threads and the
figures turn into noise (measured here: numpy's 512x512 GEMM 1.1 ms alone, 20-28 ms right after
a two-thread torch op; torch's own 3000x64 layer 22 ms at two threads, 0.6 ms at one).

    python -m benchmarks.bench_generator [--quick]
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from kiosk.models import FashionModels
from contract.space import coordinates

from .timing import best_of_interleaved

ROOT = Path(__file__).resolve().parent.parent


def generator_weights(path: Path) -> dict:
    """Read the CPPN's weights back out of generator.onnx: z projection by name, the per-pixel
    MatMul weights in graph order (coordinate projection, hidden layers, output), and the limit
    the graph clips z's shaped value to (its first Clip node)."""
    model = onnx.load(str(path))
    init = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    consts = {n.output[0]: numpy_helper.to_array(n.attribute[0].t) for n in model.graph.node if n.op_type == "Constant"}
    consts.update(init)
    clip = next(n for n in model.graph.node if n.op_type == "Clip")
    limit = float(consts[clip.input[2]])
    mats = [init[n.input[1]] for n in model.graph.node if n.op_type == "MatMul" and n.input[1] in init]
    biases = [init[k] for k in sorted(k for k in init if k.startswith("generator.hidden.") and k.endswith(".bias"))]
    return {"z_w": init["generator.z_proj.weight"], "z_b": init["generator.z_proj.bias"], "coord_w": mats[0],
            "hidden": list(zip(mats[1:-1], biases)), "out_w": mats[-1], "out_b": init["generator.out.bias"], "clip": limit}


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

    def tensor(a: np.ndarray):
        return torch.from_numpy(np.array(a))   # a writable copy (onnx's arrays are read-only)

    t = {k: (tensor(v) if isinstance(v, np.ndarray) else v) for k, v in w.items()}
    hidden = [(tensor(m), tensor(b)) for m, b in w["hidden"]]
    zs = [(tensor(m), tensor(b)) for m, b in z_terms(w)]

    def layers(h, zi):
        for i, (m, b) in enumerate(hidden):
            pre = h @ m + b
            if i + 1 < len(zs):
                pre = pre + (zi @ zs[i + 1][0].T + zs[i + 1][1]).unsqueeze(1)
            h = torch.tanh(pre)
        return torch.sigmoid(h @ t["out_w"] + t["out_b"])

    def internal(z):
        u = z.clamp(-w["clip"], w["clip"])
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


def numpy_gemm(n: int = 1024):
    """(one n x n float32 GEMM as a function, its FLOP count): timed in turns with each case."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n), np.float32), rng.standard_normal((n, n), np.float32)
    return (lambda: a @ b), 2 * n ** 3


def session_variants(path: Path, models: FashionModels, quick: bool) -> dict:
    """ms per render for the kiosk's session options vs the alternatives, same run, same inputs."""
    import onnxruntime as ort

    from kiosk.providers import session_options

    def session(level=ort.GraphOptimizationLevel.ORT_ENABLE_ALL, threads=1):
        options = session_options(threads)
        options.graph_optimization_level = level
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    size = 128 if quick else 256
    z = np.full((1, 8), 0.3, np.float32)
    feeds = {"z": z, "coords": models.grid(size, size)}
    reps = 5 if quick else 10
    variants = {
        "kiosk_enable_all_1_thread": session(),
        "no_graph_optimisation_1_thread": session(ort.GraphOptimizationLevel.ORT_DISABLE_ALL),
        "enable_all_2_threads": session(threads=2),
    }
    best = best_of_interleaved({name: (lambda s=sess: s.run(None, feeds)) for name, sess in variants.items()}, reps)
    out = {"size": size, **{f"ms_{name}": round(t * 1e3, 2) for name, t in best.items()}}
    # I/O binding: inputs and the output buffer bound once, reused every run (the preview batch).
    sess = variants["kiosk_enable_all_1_thread"]
    batch = np.repeat(np.full((1, 8), 0.3, np.float32), 56, axis=0)
    pfeeds = {"z": batch, "coords": models.grid(40, 40)}
    out_buf = np.empty((56, 40, 40), np.float32)
    binding = sess.io_binding()
    for name, value in pfeeds.items():
        binding.bind_cpu_input(name, value)
    binding.bind_output(sess.get_outputs()[0].name, "cpu", 0, np.float32, list(out_buf.shape), out_buf.ctypes.data)
    best = best_of_interleaved({"run": lambda: sess.run(None, pfeeds),
                                "io_binding": lambda: sess.run_with_iobinding(binding)}, reps)
    out["ms_previews_56x40_run"] = round(best["run"] * 1e3, 2)
    out["ms_previews_56x40_io_binding"] = round(best["io_binding"] * 1e3, 2)
    return out


def run(quick: bool = False, sizes: tuple[int, ...] | None = None) -> dict:
    """`sizes` limits the single-image cases (the tests use small ones); previews always run."""
    import torch

    threads = 1
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        from threadpoolctl import threadpool_limits   # comes with the analysis extras (scikit-learn)
    except ImportError:
        import contextlib
        threadpool_limits = contextlib.nullcontext
    try:
        with threadpool_limits(threads):
            return _run(quick, sizes, threads)
    finally:
        torch.set_num_threads(torch_threads)


def _run(quick: bool, sizes, threads: int) -> dict:
    import torch

    models = FashionModels.load(ROOT / "onnx_models", intra_op_threads=threads)
    manifest = json.loads((ROOT / "onnx_models" / "manifest.json").read_text())
    path = ROOT / "onnx_models" / manifest["models"]["generator"]["file"]
    w = generator_weights(path)
    eager, tiled = torch_reference(w, manifest["latent"]["latent_scale"])
    mpp = macs_per_pixel(w)
    gemm_fn, gemm_flop = numpy_gemm(512 if quick else 1024)
    gemm = 0.0
    rng = np.random.default_rng(1)
    sizes = sizes or ((28, 256, 512) if quick else (28, 256, 512, 1024))
    cases = [(str(s), 1, s) for s in sizes] + [("previews_8x7_40", 56, 40), ("previews_8x7_53", 56, 53)]
    rows = {}
    for name, batch, size in cases:
        z = rng.uniform(-1, 1, (batch, 8)).astype(np.float32)
        coords = coordinates(size, size)
        zt, ct = torch.from_numpy(z), torch.from_numpy(coords)
        reps = 2 if quick or size >= 1024 else 5
        # numpy's GEMM in the same turns: the machine's load (shared CPUs) hits the reference alike
        best = best_of_interleaved({"ort": lambda: models.generate(z, size), "eager": lambda: eager(zt, ct),
                                    "tiled": lambda: tiled(zt, ct), "gemm": gemm_fn}, reps)
        t_ort, t_eager, t_tiled = best["ort"], best["eager"], best["tiled"]
        case_gemm = gemm_flop / best["gemm"] / 1e9
        gemm = max(gemm, case_gemm)
        pixels = batch * size * size
        gflops = 2 * mpp * pixels / t_ort / 1e9
        rows[name] = {
            "batch": batch, "size": size, "ms_onnxruntime": round(t_ort * 1e3, 2),
            "ms_torch_eager": round(t_eager * 1e3, 2), "ms_torch_tiled_z": round(t_tiled * 1e3, 2),
            "megapixels_per_s": round(pixels / t_ort / 1e6, 2), "gflops": round(gflops, 2),
            "speedup_vs_torch_eager": round(t_eager / t_ort, 2), "speedup_broadcast_vs_tiled": round(t_tiled / t_eager, 2),
            "numpy_gemm_gflops": round(case_gemm, 1), "fraction_of_numpy_gemm": round(gflops / case_gemm, 3),
        }
    out = {"threads": threads, "macs_per_pixel": mpp, "numpy_gemm_gflops": round(gemm, 1), "cases": rows,
           "session_options": session_variants(path, models, quick)}
    if "512" in rows:
        out["targets"] = {
            "ort_vs_torch_eager_at_512": {"target": 2.0, "measured": rows["512"]["speedup_vs_torch_eager"],
                                          "ok": rows["512"]["speedup_vs_torch_eager"] >= 2},
            "fraction_of_numpy_gemm_at_512": {"target": 0.5, "measured": rows["512"]["fraction_of_numpy_gemm"],
                                              "ok": rows["512"]["fraction_of_numpy_gemm"] >= 0.5}}
    return out


if __name__ == "__main__":
    import sys
    print(json.dumps(run(quick="--quick" in sys.argv), indent=1))
