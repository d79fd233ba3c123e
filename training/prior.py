"""`fse-train prior`: the learned prior between the sliders and z (contract/latent.py applies it).

    fse-train prior --space runs/space --run runs/prior        # ~5 min on a busy 2-core CPU

A uniform hyperspace jump through a per-dimension squashing lands in the holes between the classes
of the aggregate posterior (a third of v2.1's jumps were not garments). This fits an invertible
flow g ~ N(0, I) -> z to the encoder means of the 60k training images by maximum likelihood, so a
uniform jump (u -> g = Phi^-1((u + 1) / 2) -> z) samples where the data is. The flow is the torch
twin of contract.latent.LatentMap: same layers, same names; `prior.npz` in the run directory is
what `fse-train export` ships, and the test checks that both agree.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from contract.fashion_mnist import load_split
from contract.latent import LOG_SCALE_LIMIT, PRIOR_FILE, LatentMap
from contract.models import sha256_file

from .cli import _apply_overrides
from .config import SpaceConfig, from_dict, to_dict
from .cppn_vae import FashionSpace
from .train import load_checkpoint, save_checkpoint


@dataclass
class PriorConfig:
    couplings: int = 8  # affine coupling layers; each changes half of the 8 numbers
    hidden: int = 64  # units of each coupling's two tanh layers
    steps: int = 1500  # Adam steps of `batch` encoder means (~100 epochs of 60k)
    batch: int = 4096  # per step, 4096 costs 1.5x what 1024 does (the layers are tiny; overhead dominates)
    lr: float = 3e-3  # cosine to lr * 0.02
    weight_decay: float = 1e-5
    noise: float = 0.1  # std of Gaussian noise on each batch of means (z units, the means spread ~0.85): a
    # smoothed density; recall 0.649 -> 0.664 at the same precision (0.906 -> 0.903) against 0 (README)
    seed: int = 23


class Coupling(nn.Module):
    """Keep the numbers at `keep`; scale and shift those at `change` by a function of the kept ones."""

    def __init__(self, keep: np.ndarray, change: np.ndarray, hidden: int):
        super().__init__()
        self.register_buffer("keep", torch.from_numpy(keep))
        self.register_buffer("change", torch.from_numpy(change))
        self.net = nn.Sequential(
            nn.Linear(len(keep), hidden),
            nn.Tanh(),
            nn.Linear(hidden, hidden),
            nn.Tanh(),
            nn.Linear(hidden, 2 * len(change)),
        )
        nn.init.zeros_(self.net[-1].weight)  # start as the identity
        nn.init.zeros_(self.net[-1].bias)

    def scale_shift(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        log_scale, shift = self.net(h[:, self.keep]).chunk(2, dim=1)  # (B, 4) each
        return LOG_SCALE_LIMIT * torch.tanh(log_scale / LOG_SCALE_LIMIT), shift

    def inverse(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z side -> normal side, and log |det| of that step."""
        log_scale, shift = self.scale_shift(h)
        out = h.clone()
        out[:, self.change] = (h[:, self.change] - shift) * torch.exp(-log_scale)
        return out, -log_scale.sum(1)


class Prior(nn.Module):
    """g ~ N(0, I) -> z: couplings, then the data's fixed mean and spread."""

    def __init__(self, cfg: PriorConfig, dim: int, z_mean: np.ndarray, z_std: np.ndarray):
        super().__init__()
        rng = np.random.default_rng(cfg.seed)
        layers = []
        for _ in range(cfg.couplings):  # a fresh random half each time, so every pair of numbers meets
            order = rng.permutation(dim)
            layers.append(Coupling(np.sort(order[: dim // 2]), np.sort(order[dim // 2 :]), cfg.hidden))
        self.couplings = nn.ModuleList(layers)
        self.register_buffer("z_mean", torch.as_tensor(z_mean, dtype=torch.float32))
        self.register_buffer("z_std", torch.as_tensor(z_std, dtype=torch.float32))

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z) (B,), nats, by the change of variables through the inverse."""
        h = (z - self.z_mean) / self.z_std
        log_det = -torch.log(self.z_std).sum().expand(len(z))
        for layer in reversed(self.couplings):
            h, ld = layer.inverse(h)
            log_det = log_det + ld
        return -0.5 * (h**2).sum(1) - 0.5 * h.shape[1] * np.log(2 * np.pi) + log_det

    def weights(self) -> dict[str, np.ndarray]:
        """The arrays of prior.npz, as contract.latent.LatentMap reads them."""
        out = {"couplings": np.array(len(self.couplings))}
        for i, layer in enumerate(self.couplings):
            out[f"keep{i}"], out[f"change{i}"] = layer.keep.numpy(), layer.change.numpy()
            for j, lin in enumerate(layer.net[::2]):
                out[f"c{i}.w{j}"] = lin.weight.detach().numpy().T.astype(np.float32)  # (in, out): x @ w
                out[f"c{i}.b{j}"] = lin.bias.detach().numpy().astype(np.float32)
        out["z_mean"], out["z_std"] = self.z_mean.numpy(), self.z_std.numpy()
        return out


def encoder_means(space_run: Path, images: np.ndarray, batch: int = 2000) -> np.ndarray:
    """The space's posterior means (N, 8) of images (N, 28, 28): where the data sits in z."""
    ckpt = load_checkpoint(space_run / "checkpoint.pt")
    model = FashionSpace(from_dict(SpaceConfig, ckpt["config"]))
    model.load_state_dict(ckpt["model"])
    model.eval()
    with torch.no_grad():
        return np.concatenate(
            [
                model.encoder(torch.from_numpy(images[s : s + batch, None]))[0].numpy()
                for s in range(0, len(images), batch)
            ]
        )


def cached_means(space_run: Path, run: Path, data: str | None, limit: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Train and test encoder means, kept in the run as encoder_means.npz (minutes of CPU for 70k
    images) and reused while the space checkpoint is the same file."""
    key = sha256_file(space_run / "checkpoint.pt") + f":{limit}"
    path = run / "encoder_means.npz"
    if path.exists():
        with np.load(path, allow_pickle=False) as f:
            if str(f["key"]) == key:
                return f["train"], f["test"]
    z_train = encoder_means(space_run, load_split("train", data, limit).images)
    z_test = encoder_means(space_run, load_split("test", data, limit).images)
    run.mkdir(parents=True, exist_ok=True)
    np.savez(path, key=np.array(key), train=z_train, test=z_test)
    return z_train, z_test


def fit(cfg: PriorConfig, z_train: np.ndarray, z_test: np.ndarray, log=print) -> tuple[Prior, list[dict]]:
    torch.manual_seed(cfg.seed)
    prior = Prior(cfg, z_train.shape[1], z_train.mean(0), z_train.std(0))
    opt = torch.optim.Adam(prior.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.steps, eta_min=cfg.lr * 0.02)
    train, test = torch.from_numpy(z_train), torch.from_numpy(z_test)
    gen = torch.Generator().manual_seed(cfg.seed)
    history = []
    for step in range(1, cfg.steps + 1):
        batch = train[torch.randint(len(train), (cfg.batch,), generator=gen)]
        if cfg.noise:
            batch = batch + cfg.noise * torch.randn(batch.shape, generator=gen)
        loss = -prior.log_prob(batch).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 250 == 0 or step == cfg.steps:
            with torch.no_grad():
                test_nll = -prior.log_prob(test).mean().item()
            history.append({"step": step, "train_nll": round(loss.item(), 4), "test_nll": round(test_nll, 4)})
            log(json.dumps(history[-1]), flush=True)
    return prior, history


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="fse-train prior", description=__doc__.split("\n\n")[0])
    p.add_argument("--space", type=Path, default=Path("runs/space"), help="the fashion-space run (checkpoint.pt)")
    p.add_argument("--run", type=Path, default=Path("runs/prior"), help="where prior.npz and checkpoint.pt go")
    p.add_argument("--data", help="Fashion-MNIST directory")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="any PriorConfig field")
    p.add_argument("--quick", action="store_true", help="100 steps on 2k images (tests)")
    args = p.parse_args(argv)
    if not (args.space / "checkpoint.pt").exists():
        raise SystemExit(f"fse-train prior: {args.space}/checkpoint.pt not found; train or recover the space first")
    cfg = PriorConfig()
    limit = 2000 if args.quick else None
    if args.quick:
        cfg.steps = 100
    _apply_overrides(cfg, args.set)
    t0 = time.time()
    torch.set_num_threads(1)  # layers of 64 units: a second thread only adds waiting (2x slower on a busy CPU)
    z_train, z_test = cached_means(args.space, args.run, args.data, limit)
    prior, history = fit(cfg, z_train, z_test)
    args.run.mkdir(parents=True, exist_ok=True)
    np.savez(args.run / PRIOR_FILE, **prior.weights())
    check = LatentMap.load(args.run / PRIOR_FILE)  # the numpy twin must be the same map
    g = np.random.default_rng(0).standard_normal((64, z_train.shape[1]))
    with torch.no_grad():
        h = torch.from_numpy(((check.normal_to_z(g) - check.z_mean) / check.z_std).astype(np.float32))
        for layer in reversed(prior.couplings):
            h, _ = layer.inverse(h)
    parity = float(np.abs(h.numpy() - g).max())
    if parity > 1e-3:
        raise SystemExit(f"fse-train prior: numpy and torch flows disagree by {parity:.2g}; a bug, not a setting")
    save_checkpoint(
        args.run / "checkpoint.pt",
        {
            "kind": "prior",
            "config": to_dict(cfg),
            "model": prior.state_dict(),
            "history": history,
            "space": str(args.space),
            "train_images": len(z_train),
            "train_seconds": round(time.time() - t0, 1),
            "numpy_parity": parity,
            "command": "fse-train prior " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["prior"] else "fse-train prior",
        },
    )
    print(f"wrote {args.run / PRIOR_FILE}: test NLL {history[-1]['test_nll']} nats, {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
