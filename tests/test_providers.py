"""kiosk.providers on this CPU-only onnxruntime: real sessions on a small real ONNX model.

There is no GPU here, so GPU success can't be tested; what is tested is what a booth with a broken
GPU stack sees: a request for tensorrt/cuda comes up on the CPU, visibly. Where a test pretends the
build offers TensorRT/CUDA (monkeypatched `get_available_providers`, said so in its docstring),
onnxruntime itself then falls back silently, which is exactly the case `create_session` must catch.
"""

from __future__ import annotations

import logging

import numpy as np
import onnx
import onnx.helper as oh
import onnxruntime as ort
import pytest

from kiosk import providers
from kiosk.providers import SessionError, create_session


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    """z (batch, 8) -> tanh(z @ W): a real graph with a dynamic batch, opset 17 as the kiosk's."""
    weights = np.arange(64, dtype=np.float32).reshape(8, 8) / 64.0
    graph = oh.make_graph(
        [oh.make_node("MatMul", ["z", "W"], ["h"]), oh.make_node("Tanh", ["h"], ["design"])],
        "tiny",
        [oh.make_tensor_value_info("z", onnx.TensorProto.FLOAT, ["batch", 8])],
        [oh.make_tensor_value_info("design", onnx.TensorProto.FLOAT, ["batch", 8])],
        initializer=[onnx.numpy_helper.from_array(weights, "W")],
    )
    model = oh.make_model(graph, opset_imports=[oh.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path_factory.mktemp("models") / "tiny.onnx"
    onnx.save(model, path)
    return path


def expected(z):
    return np.tanh(z @ (np.arange(64, dtype=np.float32).reshape(8, 8) / 64.0))


def run(session, batch=3):
    z = np.random.default_rng(0).uniform(-1, 1, (batch, 8)).astype(np.float32)
    (out,) = session.run(None, {"z": z})
    np.testing.assert_allclose(out, expected(z), rtol=1e-5, atol=1e-6)


def test_cpu_is_exact_and_quiet(model_path, caplog):
    caplog.set_level(logging.INFO, logger="kiosk.providers")
    session, active = create_session(model_path, "cpu", intra_op_threads=1)
    assert active == "cpu"
    assert session.get_providers() == ["CPUExecutionProvider"]
    run(session)
    assert "running on cpu" in caplog.text and "WARNING" not in caplog.text


@pytest.mark.parametrize("requested", ["tensorrt", "cuda"])
def test_gpu_request_on_cpu_build_falls_back_visibly(model_path, requested, caplog):
    session, active = create_session(model_path, requested)
    assert active.startswith("cpu (") and f"{requested} unavailable" in active
    run(session)
    assert any(r.levelno == logging.WARNING and requested in r.getMessage() for r in caplog.records)


def test_auto_on_cpu_build_is_informative_not_alarming(model_path, caplog):
    caplog.set_level(logging.INFO, logger="kiosk.providers")
    session, active = create_session(model_path, "auto")
    assert active.startswith("cpu (tensorrt unavailable") and "cuda unavailable" in active
    run(session)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_silent_fallback_is_caught(model_path, monkeypatch, caplog, tmp_path):
    """Pretends (monkeypatched get_available_providers) the build offers TensorRT and CUDA; the
    real onnxruntime then silently runs the session on the CPU, and get_providers() exposes it."""
    monkeypatch.setattr(
        ort,
        "get_available_providers",
        lambda: ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
    )
    assert providers.available_providers() == ["tensorrt", "cuda", "cpu"]
    with pytest.warns(UserWarning):  # onnxruntime's own complaint, which is all it does
        session, active = create_session(
            model_path, "auto", cache_dir=tmp_path / "cache", trt_profiles={"z": ((1, 8), (1, 8), (16, 8))}
        )
    assert active.startswith("cpu (") and "tensorrt unavailable: failed to load" in active
    assert "cuda unavailable: failed to load" in active
    assert session.get_providers() == ["CPUExecutionProvider"]
    assert (tmp_path / "cache" / "tensorrt").is_dir()  # the engine cache is prepared for TensorRT
    run(session, batch=16)
    assert any(r.levelno == logging.WARNING for r in caplog.records)


def test_provider_that_raises_falls_back(model_path, monkeypatch):
    """Pretends CUDA is built in and makes its session creation raise, as a CUDA build does when
    libcudart is missing on some versions; the CPU session that follows is real."""
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    real = ort.InferenceSession

    def session(path, sess_options=None, providers=None):
        if any("CUDA" in (p[0] if isinstance(p, tuple) else p) for p in providers):
            raise RuntimeError("libcudart.so.12: cannot open shared object file\nmore detail")
        return real(path, sess_options=sess_options, providers=providers)

    monkeypatch.setattr(ort, "InferenceSession", session)
    sess, active = create_session(model_path, "cuda")
    assert active == "cpu (cuda unavailable: libcudart.so.12: cannot open shared object file)"
    run(sess)


def test_sessions_get_the_threads_asked_for_and_never_spin(model_path):
    """What create_session hands onnxruntime, read back from the real session (not the options
    object it builds): a thread count from the config, and no busy-waiting pool on the 2-core booth."""
    session, _ = create_session(model_path, "cpu", intra_op_threads=3)
    options = session.get_session_options()
    assert options.intra_op_num_threads == 3
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    run(session)


def test_trt_profile_options():
    options = providers.trt_profile_options(
        {"z": ((1, 8), (1, 8), (64, 8)), "coords": ((1, 784, 3), (1, 784, 3), (1, 1048576, 3))}
    )
    assert options == {
        "trt_profile_min_shapes": "z:1x8,coords:1x784x3",
        "trt_profile_opt_shapes": "z:1x8,coords:1x784x3",
        "trt_profile_max_shapes": "z:64x8,coords:1x1048576x3",
    }
    assert providers.trt_profile_options(None) == {}
    with pytest.raises(ValueError, match="min <= opt <= max"):
        providers.trt_profile_options({"z": ((4, 8), (1, 8), (64, 8))})
    tensorrt = providers._provider_list("tensorrt", None, {"z": ((1, 8), (1, 8), (2, 8))})
    assert tensorrt[0][0] == "TensorrtExecutionProvider" and tensorrt[0][1]["trt_fp16_enable"] is True
    assert [p[0] if isinstance(p, tuple) else p for p in tensorrt[1:]] == [
        "CUDAExecutionProvider",
        "CPUExecutionProvider",
    ]


def test_bad_requests(model_path, tmp_path):
    with pytest.raises(ValueError, match="expected one of auto, tensorrt, cuda, cpu"):
        create_session(model_path, "gpu")
    with pytest.raises(SessionError, match="does not exist.*fse-train export"):
        create_session(tmp_path / "missing.onnx", "cpu")
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    with pytest.raises(SessionError, match="cannot be opened.*fse-train export"):
        create_session(broken, "auto")
