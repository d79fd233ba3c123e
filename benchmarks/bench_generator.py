"""Generator throughput: the shipped generator.onnx in onnxruntime against, in the same run,
(a) the same weights in PyTorch eager (the training code's Generator) and (b) numpy's
single-precision GEMM rate on this machine. (v1 also timed the original's formulation that tiles z
over every pixel: it measured the same speed as broadcasting, 0.96-1.06x; v2's mapping network runs
once per image by construction.)

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

from contract.space import coordinates
from kiosk.models import FashionModels

from .timing import best_of_interleaved

ROOT = Path(__file__).resolve().parent.parent


def torch_reference(models_dir: Path):
    """The shipped generator's weights, read back out of the ONNX files into the training code's own
    model (`fse-train recover`'s reader), run in PyTorch eager through the exporter's own wrapper.
    Returns (eager(z, coords) -> designs, multiply-adds per pixel)."""
    import torch

    from training.cppn_vae import FashionSpace
    from training.export import ExportGenerator
    from training.recover import recover_state

    cfg, state, _ = recover_state(models_dir)
    model = FashionSpace(cfg)
    model.load_state_dict(state)
    manifest = json.loads((models_dir / "manifest.json").read_text())
    generator = ExportGenerator(model.eval(), manifest["rendering"]["sharpness"])
    return torch.no_grad()(generator), cfg.per_pixel_macs()


def numpy_gemm(n: int = 1024):
    """(one n x n float32 GEMM as a function, its FLOP count): timed in turns with each case."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n), np.float32), rng.standard_normal((n, n), np.float32)
    return (lambda: a @ b), 2 * n**3


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
    best = best_of_interleaved(
        {"run": lambda: sess.run(None, pfeeds), "io_binding": lambda: sess.run_with_iobinding(binding)}, reps
    )
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
        from threadpoolctl import threadpool_limits  # comes with the analysis extras (scikit-learn)
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
    eager, mpp = torch_reference(ROOT / "onnx_models")
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
        best = best_of_interleaved(
            {"ort": lambda: models.generate(z, size), "eager": lambda: eager(zt, ct), "gemm": gemm_fn}, reps
        )
        t_ort, t_eager = best["ort"], best["eager"]
        case_gemm = gemm_flop / best["gemm"] / 1e9
        gemm = max(gemm, case_gemm)
        pixels = batch * size * size
        gflops = 2 * mpp * pixels / t_ort / 1e9
        rows[name] = {
            "batch": batch,
            "size": size,
            "ms_onnxruntime": round(t_ort * 1e3, 2),
            "ms_torch_eager": round(t_eager * 1e3, 2),
            "megapixels_per_s": round(pixels / t_ort / 1e6, 2),
            "gflops": round(gflops, 2),
            "speedup_vs_torch_eager": round(t_eager / t_ort, 2),
            "numpy_gemm_gflops": round(case_gemm, 1),
            "fraction_of_numpy_gemm": round(gflops / case_gemm, 3),
        }
    out = {
        "threads": threads,
        "macs_per_pixel": mpp,
        "numpy_gemm_gflops": round(gemm, 1),
        "cases": rows,
        "session_options": session_variants(path, models, quick),
    }
    if "512" in rows:
        out["targets"] = {
            "ort_vs_torch_eager_at_512": {
                "target": 2.0,
                "measured": rows["512"]["speedup_vs_torch_eager"],
                "ok": rows["512"]["speedup_vs_torch_eager"] >= 2,
            },
            "fraction_of_numpy_gemm_at_512": {
                "target": 0.5,
                "measured": rows["512"]["fraction_of_numpy_gemm"],
                "ok": rows["512"]["fraction_of_numpy_gemm"] >= 0.5,
            },
        }
    return out


if __name__ == "__main__":
    import sys

    print(json.dumps(run(quick="--quick" in sys.argv), indent=1))
