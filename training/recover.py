"""Rebuild a fashion-space checkpoint from the shipped ONNX models, so a model can be trained on.

    fse-train recover --models onnx_models --run runs/space_recovered

Checkpoints never go into git and a machine's runs/ does not outlive it, but the ONNX files hold every
weight the kiosk uses. What they do not hold, and this leaves untrained: the encoder's log-variance
head (the kiosk needs only the mean), the discriminator and the optimisers' state. So a recovered run
can be trained on only in the polish phase, which freezes the encoder (`SpaceConfig.polish_epochs`);
the checkpoint carries the encoder's KL from the manifest, which that phase cannot change.

The ONNX exporter folds each BatchNorm into the convolution before it; the recovered encoder keeps
the folded weights and an identity BatchNorm, which is the same function in eval mode.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from contract.models import ENCODER, GENERATOR

from .config import SpaceConfig, from_dict, to_dict
from .cppn_vae import FashionSpace
from .train import save_checkpoint

UNRECOVERABLE = ("encoder.logvar", "discriminator", "optimisers")


def _initializers(path: Path) -> tuple[onnx.GraphProto, dict[str, np.ndarray]]:
    graph = onnx.load(str(path)).graph
    return graph, {t.name: numpy_helper.to_array(t) for t in graph.initializer}


def _unnamed(graph: onnx.GraphProto, values: dict, known) -> list[np.ndarray]:
    """Initializers the exporter folded (a transposed weight gets a name like onnx::MatMul_145), in the
    order the graph first uses them: their place in the graph is what says which layer they are."""
    seen, out = set(), []
    for node in graph.node:
        for name in node.input:
            if name in values and name not in known and name not in seen:
                seen.add(name)
                out.append(values[name])
    return out


def recover_state(models: Path) -> tuple[SpaceConfig, dict, dict]:
    """(config, model state_dict, training record) rebuilt from `models`/manifest.json and its ONNX files."""
    if not (models / "manifest.json").is_file():
        raise SystemExit(
            f"fse-train recover: {models}/manifest.json not found; --models is the folder fse-train export wrote"
        )
    manifest = json.loads((models / "manifest.json").read_text())
    training = manifest["training"]["space"]
    cfg = from_dict(SpaceConfig, training["config"])
    if not (cfg.film and cfg.fourier_features):
        raise SystemExit("fse-train recover: only the FiLM + Fourier generator (v2) can be recovered")
    torch.manual_seed(cfg.seed)  # the parts that cannot be recovered start as a new run's would
    model = FashionSpace(cfg)
    state = model.state_dict()

    def put(name: str, value: np.ndarray) -> None:
        if tuple(state[name].shape) != value.shape:
            raise SystemExit(f"fse-train recover: {name} is {value.shape} in ONNX, {tuple(state[name].shape)} here")
        state[name] = torch.from_numpy(value.copy())

    graph, values = _initializers(models / GENERATOR.file)
    for name, value in values.items():
        if name in state:
            put(name, value)
    folded = _unnamed(graph, values, state)
    freqs = state["generator.fourier.freqs"].numpy()  # (F, 2), from the seed
    stored = [values[k] for k in ("generator.fourier.freqs",) if k in values]
    if folded and folded[0].shape == freqs.T.shape:  # graphs before FiLM folding kept the Fourier matmul apart
        stored.append(folded.pop(0).T)
    if any(not np.allclose(f, freqs, atol=1e-6) for f in stored):
        raise SystemExit("fse-train recover: the generator's Fourier frequencies are not this config's")
    coord_proj, *hidden, out = folded  # (3 + 2F, w), gen_layers x (w, w), (w, 1): each weight transposed
    put("generator.coord_proj.weight", coord_proj.T)
    for i, w in enumerate(hidden):
        put(f"generator.hidden.{i}.weight", w.T)
    put("generator.out.weight", out.T)

    graph, values = _initializers(models / ENCODER.file)
    for name, value in values.items():
        if name in state:
            put(name, value)
    folded = _unnamed(graph, values, state)  # conv.2 and conv.5 (weight, bias) with their BatchNorm folded in
    for (weight, bias), conv, bn in zip(zip(folded[::2], folded[1::2]), ("encoder.conv.2", "encoder.conv.5"), "36"):
        put(f"{conv}.weight", weight)
        put(f"{conv}.bias", bias)
        eps = model.encoder.conv[int(bn)].eps
        state[f"encoder.conv.{bn}.weight"].fill_(1.0)
        state[f"encoder.conv.{bn}.bias"].zero_()
        state[f"encoder.conv.{bn}.running_mean"].zero_()
        state[f"encoder.conv.{bn}.running_var"].fill_(1.0 - eps)  # (x - 0) / sqrt(1 - eps + eps) = x
    model.load_state_dict(state)
    record = {
        "recovered_from": {
            "models": str(models),
            "epoch": training["epochs_done"],  # polish epochs count on from here
            "generator_sha256": manifest["models"]["generator"]["sha256"],
            "encoder_sha256": manifest["models"]["encoder"]["sha256"],
            "unrecoverable": list(UNRECOVERABLE),
        },
        "encoder_test_kl": manifest["quality"]["kl_nats"],
        "history": training,
    }
    return cfg, model.state_dict(), record


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="fse-train recover", description=__doc__.split("\n\n")[0])
    p.add_argument("--models", type=Path, default=Path("onnx_models"), help="the shipped models (manifest.json)")
    p.add_argument("--run", type=Path, required=True, help="run directory to write checkpoint.pt into")
    args = p.parse_args(argv)
    if (args.run / "checkpoint.pt").exists():
        raise SystemExit(f"fse-train recover: {args.run}/checkpoint.pt exists; choose a new --run")
    cfg, state, record = recover_state(args.models)
    args.run.mkdir(parents=True, exist_ok=True)
    save_checkpoint(
        args.run / "checkpoint.pt",
        {
            "kind": "space",
            "config": to_dict(cfg),
            "model": state,
            "epoch": record["history"]["epochs_done"],
            "train_seconds": record["history"]["train_seconds"],
            "command": record["history"]["command"],
            **record,
        },
    )
    print(f"recovered {args.run}/checkpoint.pt after epoch {record['history']['epochs_done']} from {args.models}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
