"""Rebuild a print-network run from the shipped `prints.onnx` and `prints.json`, so it can be re-exported.

    python -m training.prints.recover --models onnx_models --run runs/prints_recovered
    python -m training.prints.export --run runs/prints_recovered --out onnx_models

Checkpoints never go into git, but `prints.onnx` keeps every parameter of the pipeline as a named
initializer (the network's per-print weights and biases, its frequencies, the padded tiles), and
`prints.json` the network's config, the texture seed (in the generated prints' `source`), the
recognition scores, the loss network's sanity figures and the trained steps. The frequencies are
checked against the config's seed and the tiles against `textures.all_tiles(seed)`.

What neither file holds: the loss network, the recognizer and the optimiser's state. So a recovered
run can be exported (its recognition scores and sanity figures carried over, not re-measured; the
export says so in `prints.json`'s `recovered_from`) but not trained on. The run keeps a copy of the
ONNX file it came from, so the export can measure its own output against it.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from contract.models import sha256_file

from .network import NetworkConfig
from .pipeline import PrintPipeline
from .textures import NAMES, all_tiles
from .train import PrintsConfig, tiles_tensor

RECOVERED_FROM = "recovered_from.onnx"  # the run's copy of the ONNX file it was rebuilt from
UNRECOVERABLE = ("loss_net", "recognizer", "optimizer")


def _fail(message: str):
    raise SystemExit(f"training.prints.recover: {message}")


def texture_seed(prints: dict) -> int:
    """The seed of the generated prints, from their `source` ("...textures.py:polka_dot (seed 0)")."""
    seeds = {int(m.group(1)) for e in prints["prints"] if (m := re.search(r"\(seed (\d+)\)$", e["source"]))}
    if len(seeds) != 1:
        _fail(f"prints.json's sources name {len(seeds)} texture seeds ({sorted(seeds)}); expected one")
    return seeds.pop()


def recover_state(models: Path) -> dict:
    """A finished run's checkpoint (what training/prints/export.py's load_pipeline reads), rebuilt
    from `models`/prints.json and the prints.onnx it describes."""
    index = models / "prints.json"
    if not index.is_file():
        _fail(f"{index} not found; --models is the folder training.prints.export wrote")
    prints = json.loads(index.read_text())
    onnx_path = models / prints["model"]["file"]
    if not onnx_path.is_file() or sha256_file(onnx_path) != prints["model"]["sha256"]:
        _fail(f"{onnx_path} is missing or is not the file prints.json describes (sha256)")
    names = [e["name"] for e in prints["prints"]]
    if names != list(NAMES):
        _fail(f"prints.json's prints {names} are not training/prints/textures.py's {list(NAMES)}")

    seed = texture_seed(prints)
    cfg = PrintsConfig(
        network=NetworkConfig(**prints["network_config"]), texture_seed=seed, steps=prints["trained_steps"]
    )
    pipeline = PrintPipeline(cfg.network, tiles_tensor(all_tiles(seed)))
    state = pipeline.state_dict()  # the frequencies (from the config's seed) and tiles (from the texture seed)
    values = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(onnx_path)).graph.initializer}
    for name, expected in state.items():
        if name not in values or values[name].shape != tuple(expected.shape):
            found = values[name].shape if name in values else "nothing"
            _fail(f"{onnx_path} has {found} for {name}, this pipeline {tuple(expected.shape)}")
        if name.startswith("network.weights") or name.startswith("network.biases"):
            state[name] = torch.from_numpy(values[name].copy())
        elif not np.allclose(values[name], expected.numpy(), atol=1e-6):
            _fail(
                f"{onnx_path}'s {name} is not what this code makes of its config "
                f"(network_config {prints['network_config']}, texture seed {seed}); "
                "were the frequencies' or the textures' code or sources changed?"
            )
    pipeline.load_state_dict(state)
    return {
        "config": asdict(cfg),
        "names": names,
        "network": pipeline.network.state_dict(),
        "network_step": prints["trained_steps"],
        "network_done": True,
        "sanity": prints["loss_network_sanity"],
        "recognition": {
            method: {e["name"]: e["recognition"][method] for e in prints["prints"]}
            for method in ("network", "tile-and-shade")
        },
        "recognition_method": prints["recognition_method"],
        "recovered_from": {
            "file": str(onnx_path),
            "sha256": prints["model"]["sha256"],
            "carried_over": "recognition, recognition_method, loss_network_sanity and trained_steps are that "
            "export's prints.json figures, not re-measured",
            "unrecoverable": list(UNRECOVERABLE),
            **{k: prints[k] for k in ("recovered_from",) if k in prints},  # recovered before: where from
        },
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.prints.recover", description=__doc__.split("\n\n")[0])
    p.add_argument("--models", type=Path, default=Path("onnx_models"), help="the shipped models (prints.json)")
    p.add_argument("--run", type=Path, required=True, help="run directory to write checkpoint.pt into")
    args = p.parse_args(argv)
    if (args.run / "checkpoint.pt").exists():
        _fail(f"{args.run}/checkpoint.pt exists; choose a new --run")
    state = recover_state(args.models)
    args.run.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(state["recovered_from"]["file"], args.run / RECOVERED_FROM)
    torch.save(state, args.run / "checkpoint.pt")
    print(f"recovered {args.run}/checkpoint.pt ({state['network_step']} steps) from {args.models}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
