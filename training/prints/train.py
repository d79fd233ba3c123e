"""Training the prints: loss network -> sanity check -> print network -> recognizer -> evidence.

    fse-train prints --run runs/prints [--resume] [--quick]

Each stage's result is saved in `<run>/checkpoint.pt` (with the config), so `--resume` continues
where a run stopped: a finished stage is not redone, and the print network resumes at its last
saved step. `<run>/evidence.json` receives the sanity check and the recognition scores. Then
`python -m training.prints.export --run runs/prints --out onnx_models` writes the ONNX model.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from contract.fashion_mnist import load_split

from . import loss as style
from .loss import LossNetConfig, TextureNet
from .network import NetworkConfig
from .pipeline import PrintPipeline, tile_coordinates
from .recognizer import Recognizer, RecognizerConfig, score, train_recognizer
from .textures import NAMES, all_tiles, other_textures

RECOGNITION_TARGET = 0.9  # below this a print ships with tile-and-shade (the bar)


@dataclass
class PrintsConfig:
    network: NetworkConfig = field(default_factory=NetworkConfig)
    loss_net: LossNetConfig = field(default_factory=LossNetConfig)
    recognizer: RecognizerConfig = field(default_factory=RecognizerConfig)
    texture_seed: int = 0  # seed of the generated prints (part of what the swatches are)
    steps: int = 1500  # print-network steps; ~5 min of a shared CPU core
    window: int = 64  # training window side in pixels (one tile at 256x256)
    render_sizes: tuple = (192, 256, 384)  # the window is cut from a design rendered at one of these
    lr: float = 3e-3
    pixel_weight: float = 1.0  # L1 to the swatch tiled at the same coordinates: anchors layout
    style_weight: float = 0.5  # Gram distance in the trained loss network: keeps texture crisp
    checkpoint_every: int = 250
    seed: int = 1
    threads: int = 1  # 2 cores are shared with other training on the reference machine


def quick_config() -> PrintsConfig:
    return PrintsConfig(
        network=NetworkConfig(frequencies=16, width=16, layers=2),
        loss_net=LossNetConfig(width=8, steps=5, batch=16, crop=32),
        recognizer=RecognizerConfig(width=8, steps=5, batch=16, designs=3, patches_per_design=1),
        steps=6,
        window=32,
        render_sizes=(96,),
        checkpoint_every=3,
    )


def config_from_dict(d: dict) -> PrintsConfig:
    return PrintsConfig(
        **{
            **d,
            "network": NetworkConfig(**d["network"]),
            "loss_net": LossNetConfig(**d["loss_net"]),
            "recognizer": RecognizerConfig(**d["recognizer"]),
            "render_sizes": tuple(d["render_sizes"]),
        }
    )


def tiles_tensor(tiles: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(tiles).permute(0, 3, 1, 2).float() / 255.0


def load_designs(split: str, n: int, size: int, data_dir=None) -> torch.Tensor:
    """Fashion-MNIST garments upscaled smoothly (bilinear) to size x size: (n, 1, size, size)."""
    images = torch.as_tensor(load_split(split, data_dir, limit=n).images)[:, None]
    return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False).clamp(0, 1)


def _progress(enabled: bool):
    def wrap(it, desc):
        if not enabled:
            return it
        from tqdm import tqdm

        return tqdm(it, desc=desc, dynamic_ncols=True)

    return wrap


def _save(path: Path, state: dict) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)  # a run killed mid-save keeps its previous checkpoint


def train_prints(
    run: Path, cfg: PrintsConfig, data_dir=None, resume: bool = False, progress: bool = True, steps: int | None = None
) -> dict:
    """`steps` overrides the print-network steps, also of a resumed run (to shorten or extend it)."""
    run.mkdir(parents=True, exist_ok=True)
    ckpt_path = run / "checkpoint.pt"
    bar = _progress(progress)
    state: dict = {}
    if resume and ckpt_path.exists():
        state = torch.load(ckpt_path, weights_only=False)
        if "recovered_from" in state:
            raise SystemExit(
                f"{ckpt_path} was rebuilt from {state['recovered_from']['file']} (training.prints.recover): it "
                "holds no loss network, recognizer or optimiser state, so it exports but does not resume; "
                "train a new run"
            )
        cfg = config_from_dict(state["config"])
        if steps is not None and steps != cfg.steps:
            state.pop("network_done", None)
            state.pop("recognition", None)
        print(
            f"resuming {ckpt_path}: stages done {[k for k in ('loss_net', 'network_done', 'recognizer') if k in state]}"
        )
    if steps is not None:
        cfg.steps = steps
    state["config"] = asdict(cfg)
    state["names"] = list(NAMES)
    torch.set_num_threads(cfg.threads)
    t_start = time.time()

    print_tiles = all_tiles(cfg.texture_seed)
    others = other_textures()
    other_tiles = np.stack(list(others.values()))

    # 1. the loss network, trained to tell textures apart, then checked before use
    lossnet = TextureNet(len(print_tiles) + len(other_tiles) + 1, cfg.loss_net.width)
    if "loss_net" in state:
        lossnet.load_state_dict(state["loss_net"])
    else:
        lossnet = style.train_loss_net(cfg.loss_net, np.concatenate([print_tiles, other_tiles]), bar)
        state["loss_net"] = lossnet.state_dict()
        state["sanity"] = style.sanity_check(lossnet, print_tiles, NAMES)
        _save(ckpt_path, state)
    lossnet.eval().requires_grad_(False)
    failing = [n for n, r in state["sanity"].items() if not r["passes"]]
    print(
        f"loss-network sanity check: {len(NAMES) - len(failing)}/{len(NAMES)} prints pass"
        + (f" (not: {', '.join(failing)})" if failing else "")
    )

    # 2. the print network
    tiles = tiles_tensor(print_tiles)
    pipeline = PrintPipeline(cfg.network, tiles)
    net = pipeline.network
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=max(cfg.steps, 2), pct_start=0.1)
    start = 0
    if "network" in state:
        net.load_state_dict(state["network"])
        opt.load_state_dict(state["optimizer"])
        start = state["network_step"]
        if state["scheduler"]["total_steps"] == max(cfg.steps, 2):
            sched.load_state_dict(state["scheduler"])
        else:  # the run was shortened or extended: a fresh one-cycle schedule over the steps left
            sched = torch.optim.lr_scheduler.OneCycleLR(
                opt, cfg.lr, total_steps=max(cfg.steps - start, 2), pct_start=0.1
            )
    gen = torch.Generator().manual_seed(cfg.seed + start)
    train_designs = load_designs("train", 512 if cfg.steps > 50 else 16, 64, data_dir)
    P, S = len(NAMES), cfg.window
    eye = torch.eye(P)
    history = state.setdefault("history", [])
    steps = bar(range(start, cfg.steps), "print network")
    for step in steps:
        size = cfg.render_sizes[int(torch.randint(len(cfg.render_sizes), (1,), generator=gen))]
        y0, x0 = (int(torch.randint(size - S + 1, (1,), generator=gen)) for _ in range(2))
        u, v = tile_coordinates(size, size)
        u, v = u[x0 : x0 + S], v[y0 : y0 + S]
        pick = torch.randint(len(train_designs), (P,), generator=gen)
        design = F.interpolate(train_designs[pick], size=(size, size), mode="bilinear", align_corners=False)[
            ..., y0 : y0 + S, x0 : x0 + S
        ]
        with torch.no_grad():
            target = pipeline.baseline(u, v, eye)  # (P, 3, S, S): every print's swatch here
            target_grams = [style.gram(f) for f in lossnet.features(target)]
        painted = net(design, u, v, eye)  # (P, 3, S, S)
        pixel = (painted - target).abs().mean()
        texture = style.style_distance(lossnet, painted, target_grams).mean()
        loss = cfg.pixel_weight * pixel + cfg.style_weight * texture
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 50 == 0 or step == cfg.steps - 1:
            history.append({"step": step, "pixel": round(pixel.item(), 5), "style": round(texture.item(), 5)})
            if hasattr(steps, "set_postfix"):
                steps.set_postfix(pixel=f"{pixel.item():.4f}", style=f"{texture.item():.4f}")
        if (step + 1) % cfg.checkpoint_every == 0 or step == cfg.steps - 1:
            state.update(
                network=net.state_dict(),
                optimizer=opt.state_dict(),
                scheduler=sched.state_dict(),
                network_step=step + 1,
            )
            _save(ckpt_path, state)
    state["network_done"] = True
    net.eval()

    # 3. the recognizer and the evidence
    recognizer = Recognizer(P, cfg.recognizer.width)
    if "recognizer" in state:
        recognizer.load_state_dict(state["recognizer"])
    else:
        recognizer = train_recognizer(cfg.recognizer, print_tiles, other_tiles, bar)
        state["recognizer"] = recognizer.state_dict()
        _save(ckpt_path, state)
    recognizer.eval()
    if "recognition" not in state:
        designs = load_designs("test", cfg.recognizer.designs, 256, data_dir)
        with torch.no_grad():
            state["recognition"] = {
                m: dict(
                    zip(
                        NAMES,
                        (
                            round(s, 4)
                            for s in score(recognizer, pipeline, designs, P, m, cfg.recognizer.patches_per_design)
                        ),
                    )
                )
                for m in ("network", "tile-and-shade")
            }
        _save(ckpt_path, state)
    rec = state["recognition"]
    methods = {n: ("network" if rec["network"][n] >= RECOGNITION_TARGET else "tile-and-shade") for n in NAMES}
    evidence = {
        "sanity": state["sanity"],
        "recognition": rec,
        "methods": methods,
        "recognition_target": RECOGNITION_TARGET,
        "history_tail": history[-3:],
        "seconds_this_session": round(time.time() - t_start, 1),
    }
    (run / "evidence.json").write_text(json.dumps(evidence, indent=2))
    print("recognition (network / tile-and-shade):")
    for n in NAMES:
        print(f"  {n:14s} {rec['network'][n]:6.1%} / {rec['tile-and-shade'][n]:6.1%} -> {methods[n]}")
    return evidence
