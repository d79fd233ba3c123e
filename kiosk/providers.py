"""onnxruntime sessions on the best hardware the booth has, and an honest report of which.

`create_session(path, "auto")` tries TensorRT (FP16, engines cached under cache_dir), then CUDA,
then the CPU. onnxruntime falls back silently when a provider can't load (a missing CUDA
library, a wheel built without it), so after creating each session we ask it which providers are
really active and return that as a short string the diagnostics overlay shows: "tensorrt",
"cuda", "cpu", or "cpu (tensorrt unavailable: ...; cuda unavailable: ...)" when a fallback
happened.

    python -m kiosk.providers                 # what this onnxruntime build offers
    python -m kiosk.providers MODEL.onnx cuda # open a model and say which provider it got
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import onnxruntime as ort

log = logging.getLogger(__name__)

PROVIDER_CHOICES = ("auto", "tensorrt", "cuda", "cpu")

_ORT_NAMES = {
    "tensorrt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
_SHORT_NAMES = {ort_name: short for short, ort_name in _ORT_NAMES.items()}

# What each request tries, best first. The CPU always ends the chain: a booth with a broken GPU
# stack should still show designs (slowly), with the reason on the diagnostics overlay.
_CHAINS = {
    "auto": ("tensorrt", "cuda", "cpu"),
    "tensorrt": ("tensorrt", "cpu"),
    "cuda": ("cuda", "cpu"),
    "cpu": ("cpu",),
}

# TensorRT builds an engine per input-shape profile on first start (minutes on a Jetson); FP16
# halves memory traffic and the Orin/Xavier tensor cores run it natively.
_TRT_WORKSPACE_BYTES = 1 << 30


class SessionError(RuntimeError):
    """A model that could not be opened on any provider; the message names the file and the fix."""


def short_name(ort_name: str) -> str:
    """'CUDAExecutionProvider' -> 'cuda'; unknown providers keep a readable lower-case name."""
    return _SHORT_NAMES.get(ort_name, ort_name.replace("ExecutionProvider", "").lower())


def available_providers() -> list[str]:
    """Short names of the providers this onnxruntime build offers, e.g. ['tensorrt', 'cuda', 'cpu'].

    "Offered" only means compiled in; whether its libraries load is known once a session is made.
    """
    return [short_name(name) for name in ort.get_available_providers()]


def _shape_string(profiles: dict[str, tuple], which: int) -> str:
    return ",".join(f"{name}:" + "x".join(str(int(d)) for d in shapes[which]) for name, shapes in profiles.items())


def trt_profile_options(trt_profiles: dict | None) -> dict[str, str]:
    """TensorRT optimization-profile options from {input_name: (min_shape, opt_shape, max_shape)}.

    The kiosk renders at a few known sizes (the canvas, preview strips, captures); a profile that
    covers them lets one engine serve all, instead of a rebuild whenever a new shape arrives.
    """
    if not trt_profiles:
        return {}
    for name, shapes in trt_profiles.items():
        if len(shapes) != 3 or len({len(s) for s in shapes}) != 1:
            raise ValueError(
                f"TensorRT profile for input {name!r} must be (min, opt, max) shapes of one rank, got {shapes!r}"
            )
        for low, mid, high in zip(*shapes):
            if not low <= mid <= high:
                raise ValueError(
                    f"TensorRT profile for input {name!r} needs min <= opt <= max in every dimension, got {shapes!r}"
                )
    return {
        "trt_profile_min_shapes": _shape_string(trt_profiles, 0),
        "trt_profile_opt_shapes": _shape_string(trt_profiles, 1),
        "trt_profile_max_shapes": _shape_string(trt_profiles, 2),
    }


def _ort_version() -> tuple[int, int]:
    major, minor = ort.__version__.split(".")[:2]
    return int(major), int(minor)


def _provider_list(choice: str, cache_dir: Path | None, trt_profiles: dict | None) -> list:
    """The providers argument for one attempt: the wanted provider first, the ones under it after.

    TensorRT runs only the nodes it supports; CUDA and then the CPU take the rest, as
    onnxruntime's documentation advises.
    """
    cpu = _ORT_NAMES["cpu"]
    cuda = (_ORT_NAMES["cuda"], {"device_id": 0})
    if choice == "cpu":
        return [cpu]
    if choice == "cuda":
        return [cuda, cpu]
    options: dict[str, object] = {
        "device_id": 0,
        "trt_fp16_enable": True,
        "trt_max_workspace_size": _TRT_WORKSPACE_BYTES,
    }
    if cache_dir is not None:
        engines = Path(cache_dir) / "tensorrt"
        engines.mkdir(parents=True, exist_ok=True)
        options.update(trt_engine_cache_enable=True, trt_engine_cache_path=str(engines), trt_timing_cache_enable=True)
        if _ort_version() >= (1, 16):  # older builds reject the option and keep the cache beside the engines
            options["trt_timing_cache_path"] = str(engines)
    options.update(trt_profile_options(trt_profiles))
    return [(_ORT_NAMES["tensorrt"], options), cuda, cpu]


def session_options(intra_op_threads: int = 1, cpu_mem_arena: bool = True) -> ort.SessionOptions:
    """Full graph optimization; few threads, so the UI and input threads keep a core.

    cpu_mem_arena=False returns each run's intermediates to the system when the run ends. The
    arena keeps its high-water mark for the life of the process: right for the generator (small,
    same-shaped runs reuse it), wrong for the print graph, whose runs change size (drafts, the view,
    1024 px captures; the print network before it kept 1.9 GB after one 720x720 print, measured;
    benchmarks/bench_prints.py).
    """
    options = ort.SessionOptions()
    options.enable_cpu_mem_arena = bool(cpu_mem_arena)
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = max(1, int(intra_op_threads))
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # With more than one thread, onnxruntime's pool busy-waits after each run by default: on a
    # 2-core booth that spinning takes the core the UI and the other render worker need (the
    # benchmark's 1-thread runs took 2x as long right after a spinning 2-thread session's).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def _first_line(error: BaseException, limit: int = 160) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def create_session(
    path: Path,
    provider: str = "auto",
    cache_dir: Path | None = None,
    intra_op_threads: int = 1,
    trt_profiles: dict | None = None,
    cpu_mem_arena: bool = True,
) -> tuple[ort.InferenceSession, str]:
    """Open the ONNX model at path on the best provider the request allows.

    Returns (session, provider_string): "tensorrt", "cuda" or "cpu" when the first choice is
    active, or e.g. "cpu (cuda unavailable: ...)" when it fell back. Raises SessionError if the
    model opens nowhere (a missing or broken file), ValueError for an unknown provider name.
    cpu_mem_arena: see `session_options`.
    """
    if provider not in _CHAINS:
        raise ValueError(f"provider {provider!r} is not known; expected one of " + ", ".join(PROVIDER_CHOICES))
    path = Path(path)
    if not path.is_file():
        raise SessionError(
            f"model file {path} does not exist; check models_dir in the config "
            f"or run `fse-train export` to write the ONNX models"
        )

    built_in = set(ort.get_available_providers())
    reasons: list[str] = []
    for choice in _CHAINS[provider]:
        wanted = _ORT_NAMES[choice]
        if wanted not in built_in:
            reasons.append(f"{choice} unavailable: not in this onnxruntime {ort.__version__} build")
            continue
        try:
            session = ort.InferenceSession(
                str(path),
                sess_options=session_options(intra_op_threads, cpu_mem_arena),
                providers=_provider_list(choice, cache_dir, trt_profiles),
            )
        except Exception as error:  # onnxruntime raises bare RuntimeErrors and its own Fail types
            if choice == "cpu":
                raise SessionError(
                    f"model file {path} cannot be opened: {_first_line(error)}; re-export it with `fse-train export`"
                ) from None
            reasons.append(f"{choice} unavailable: {_first_line(error)}")
            continue
        active = session.get_providers()
        if active and active[0] == wanted:
            return session, _report(path, provider, choice, reasons)
        # The silent fallback: the session exists but runs on something lesser (typically a
        # provider whose shared libraries failed to load). Keep it if that lesser provider is one
        # the request allows (TensorRT failed but CUDA is up), else try the next choice explicitly.
        got = short_name(active[0]) if active else "nothing"
        attempted = [short_name(p[0] if isinstance(p, tuple) else p) for p in _provider_list(choice, None, None)]
        failed = attempted[: attempted.index(got)] if got in attempted else attempted
        reasons += [f"{name} unavailable: failed to load, the session came up on {got}" for name in failed]
        remaining = _CHAINS[provider][_CHAINS[provider].index(choice) + 1 :]
        if got in remaining:
            return session, _report(path, provider, got, reasons)
    raise SessionError(f"model file {path}: no provider could run it ({'; '.join(reasons)})")


def _report(path: Path, requested: str, active: str, reasons: list[str]) -> str:
    if not reasons:
        log.info("%s: running on %s", path.name, active)
        return active
    text = f"{active} ({'; '.join(reasons)})"
    # auto on a machine whose onnxruntime has no GPU support at all is the normal desktop case.
    only_not_built = all("not in this onnxruntime" in r for r in reasons)
    level = logging.INFO if requested == "auto" and only_not_built else logging.WARNING
    log.log(level, "%s: asked for %s, running on %s", path.name, requested, text)
    return text


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    print(f"onnxruntime {ort.__version__} ({ort.get_device()}): providers {', '.join(available_providers())}")
    if not argv:
        return 0
    provider = argv[1] if len(argv) > 1 else "auto"
    try:
        _, active = create_session(Path(argv[0]), provider)
    except (SessionError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{argv[0]}: {active}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
