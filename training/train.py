"""Training loops: the fashion space (VAE, then a light GAN fine-tune) and the classifier.

Each run lives in a directory with `checkpoint.pt` (model, optimisers, config, epoch) and
`metrics.jsonl` (one line per epoch). Runs are seeded and resume from the last finished epoch.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from contract.fashion_mnist import load_split

from . import losses
from .blur import gaussian_blur
from .classifier import Classifier
from .config import ClassifierConfig, SpaceConfig, from_dict, to_dict
from .cppn_vae import FashionSpace
from .perceptual import FeatureNet, train_feature_net
from .perceptual import accuracy as feature_net_accuracy


def save_checkpoint(path: Path, payload: dict) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)  # a crash mid-save never leaves a half checkpoint


def load_checkpoint(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=False)


ARCH_FIELDS_SPACE = (
    "latent_dim",
    "gen_width",
    "gen_layers",
    "enc_channels",
    "disc_channels",
    "coord_scale",
    "film",
    "mapping_width",
    "fourier_features",
    "fourier_sigma",
    "fourier_seed",
)


def _resume_config(cls, cfg, state, arch_fields):
    """On resume the given config wins (so a run can be extended, e.g. with GAN epochs),
    but the architecture must match the checkpoint's; with no config given the saved one is used."""
    if state is None:
        return cfg or cls()
    saved = from_dict(cls, state["config"])
    if cfg is None:
        return saved
    for name in arch_fields:
        if getattr(cfg, name) != getattr(saved, name):
            raise SystemExit(
                f"cannot resume: {name}={getattr(cfg, name)} but the checkpoint has "
                f"{getattr(saved, name)}; pass the same architecture (or --quick if it was quick)"
            )
    return cfg


def _log(run: Path, record: dict) -> None:
    with open(run / "metrics.jsonl", "a") as f:
        f.write(json.dumps(record) + "\n")


def cosine_lr(lr: float, final_frac: float, progress: float, epochs: int) -> float:
    """Learning rate `progress` epochs into a phase of `epochs`: cosine from lr to lr * final_frac."""
    t = min(max(progress / max(epochs, 1), 0.0), 1.0)
    lo = lr * final_frac
    return lo + 0.5 * (lr - lo) * (1 + math.cos(math.pi * t))


def feature_net_for(run: Path, cfg: SpaceConfig, train: object, test: object) -> FeatureNet | None:
    """The frozen feature network of the perceptual term, trained once per run and kept in it."""
    if cfg.perceptual_weight <= 0:
        return None
    path = run / "feature_net.pt"
    net = FeatureNet()
    if path.exists():
        net.load_state_dict(torch.load(path, map_location="cpu"))
        net.eval().requires_grad_(False)
        return net
    t0 = time.time()
    net = train_feature_net(
        torch.from_numpy(train.images), torch.from_numpy(train.labels).long(), cfg.perceptual_epochs, cfg.seed
    )
    acc = feature_net_accuracy(net, torch.from_numpy(test.images), torch.from_numpy(test.labels).long())
    torch.save(net.state_dict(), path)
    _log(
        run, {"phase": "feature_net", "feature_net_test_accuracy": round(acc, 4), "seconds": round(time.time() - t0, 1)}
    )
    print(json.dumps({"feature_net_test_accuracy": acc}))
    return net


def _batches(n: int, size: int, gen: torch.Generator):
    perm = torch.randperm(n, generator=gen)
    for s in range(0, n, size):
        yield perm[s : s + size]


@torch.no_grad()
def evaluate_space(model: FashionSpace, images: torch.Tensor, batch: int = 500, supersample: int = 1) -> dict:
    """Test BCE (the design drawn at the 28 px pixel centres) and KL, nats per image; with `supersample`
    > 1 also the BCE of each pixel's sub-sample average, what the super-resolution polish trains."""
    model.eval()
    bce = kl = pooled = 0.0
    grid = model.supersampled_grid(supersample) if supersample > 1 else None
    for s in range(0, len(images), batch):
        x = images[s : s + batch]
        mean, logvar = model.encoder(x.unsqueeze(1))
        logits = model.generator.logits(mean, model.grid28)
        bce += losses.reconstruction_bce(logits, x).item() * len(x)
        kl += losses.kl_to_prior(mean, logvar).item() * len(x)
        if grid is not None:
            pooled += losses.pooled_bce(model.generator.logits(mean, grid), x, supersample).item() * len(x)
    record = {"test_bce": bce / len(images), "test_kl": kl / len(images)}
    if grid is not None:
        record["test_bce_pooled"] = pooled / len(images)
    return record


def train_space(
    run: Path,
    cfg: SpaceConfig | None = None,
    data: str | None = None,
    resume: bool = False,
    progress: bool = True,
    command: str = "",
) -> FashionSpace:
    run.mkdir(parents=True, exist_ok=True)
    ckpt_path = run / "checkpoint.pt"
    state = load_checkpoint(ckpt_path) if resume and ckpt_path.exists() else None
    cfg = _resume_config(SpaceConfig, cfg, state, ARCH_FIELDS_SPACE)
    torch.manual_seed(cfg.seed)
    model = FashionSpace(cfg)
    vae_params = list(model.encoder.parameters()) + list(model.generator.parameters())
    optimisers = {
        "opt_vae": torch.optim.Adam(vae_params, lr=cfg.lr),
        "opt_gan": torch.optim.Adam(vae_params, lr=cfg.gan_lr, betas=(0.5, 0.999)),
        "opt_d": torch.optim.Adam(model.discriminator.parameters(), lr=cfg.gan_lr, betas=(0.5, 0.999)),
        "opt_polish": torch.optim.Adam(model.generator.parameters(), lr=cfg.polish_lr),
    }
    opt_vae, opt_gan, opt_d, opt_polish = optimisers.values()
    start, elapsed, carried, recovered_at = 0, 0.0, {}, None
    if state is not None:
        model.load_state_dict(state["model"])
        for key, opt in optimisers.items():
            if key in state:  # a recovered run (fse-train recover) has none; older runs have no opt_polish
                opt.load_state_dict(state[key])
        # The config given on resume wins: a run can be continued at another learning rate.
        for opt, lr in ((opt_vae, cfg.lr), (opt_gan, cfg.gan_lr), (opt_d, cfg.gan_lr), (opt_polish, cfg.polish_lr)):
            for group in opt.param_groups:
                group["lr"] = lr
        start, elapsed = state["epoch"], state.get("train_seconds", 0.0)
        carried = {k: state[k] for k in ("recovered_from", "encoder_test_kl", "history") if k in state}
        recovered_at = carried.get("recovered_from", {}).get("epoch")  # a run rebuilt by fse-train recover
        if recovered_at is not None and cfg.epochs + cfg.gan_epochs > recovered_at:
            raise SystemExit(
                f"cannot resume {run}: it was rebuilt from ONNX files (no log-variance head, no discriminator), "
                f"so only polish epochs can follow its {recovered_at}; pass --epochs and --gan-epochs that add "
                f"up to {recovered_at} or less, and --set polish_epochs=N"
            )
        print(f"resuming {run} after epoch {start}")

    train_split, test_split = load_split("train", data, cfg.train_limit), load_split("test", data, cfg.test_limit)
    train, test = torch.from_numpy(train_split.images), torch.from_numpy(test_split.images)
    feature_net = feature_net_for(run, cfg, train_split, test_split)
    gen = torch.Generator().manual_seed(cfg.seed + start)
    steps_per_epoch = (len(train) + cfg.batch_size - 1) // cfg.batch_size
    polish_from = recovered_at or cfg.epochs + cfg.gan_epochs
    total = polish_from + cfg.polish_epochs
    for epoch in range(start, total):
        if epoch >= polish_from:
            record = polish_epoch(model, cfg, opt_polish, train, gen, feature_net, epoch - polish_from)
            scores = evaluate_space(model, test, supersample=cfg.polish_supersample)
            scores.pop("test_kl")  # the frozen encoder's; the recovered one has no log-variance head
            record.update(epoch=epoch + 1, **scores)
            elapsed += record["seconds"]
            _log(run, record)
            print(json.dumps(record))
            _save_space(ckpt_path, model, cfg, optimisers, epoch + 1, elapsed, command, carried)
            continue
        gan_phase = epoch >= cfg.epochs
        model.train()
        t0 = time.time()
        sums = {"bce": 0.0, "kl": 0.0, "perceptual": 0.0, "adv": 0.0, "d": 0.0, "d_updates": 0, "g_adv_steps": 0}
        bar = tqdm(
            list(_batches(len(train), cfg.batch_size, gen)),
            disable=not progress,
            desc=f"{'gan' if gan_phase else 'vae'} epoch {epoch + 1}/{total}",
            leave=False,
        )
        for step, idx in enumerate(bar):
            if not gan_phase:
                for group in opt_vae.param_groups:
                    group["lr"] = cosine_lr(cfg.lr, cfg.lr_final_frac, epoch + step / steps_per_epoch, cfg.epochs)
            x = train[idx]  # (B, 28, 28)
            mean, logvar = model.encoder(x.unsqueeze(1))  # (B, 8) each
            z = model.sample_posterior(mean, logvar)
            logits = model.generator.logits(z, model.grid28)  # (B, 28, 28)
            bce = losses.reconstruction_bce(logits, x)
            kl = losses.kl_to_prior(mean, logvar)
            progress_frac = (epoch + step / steps_per_epoch) / max(cfg.kl_warmup_epochs, 1e-9)
            beta = cfg.beta * min(1.0, progress_frac) if cfg.kl_warmup_epochs > 0 else cfg.beta
            loss = bce + beta * kl
            if feature_net is not None:
                perc = losses.perceptual(feature_net, torch.sigmoid(logits), x)
                loss = loss + cfg.perceptual_weight * perc
                sums["perceptual"] += perc.item()
            if gan_phase:
                # Fakes: reconstructions and designs from prior samples, so jumps sharpen too.
                n_prior = int(len(x) * cfg.prior_fakes)
                fake = torch.sigmoid(logits)
                if n_prior:
                    zp = torch.randn(n_prior, cfg.latent_dim)
                    fake = torch.cat([fake[n_prior:], model.generator(zp, model.grid28)])
                d_loss = losses.discriminator_loss(
                    model.discriminator(x.unsqueeze(1)), model.discriminator(fake.detach().unsqueeze(1))
                )
                if d_loss.item() > cfg.d_skip_below:
                    opt_d.zero_grad()
                    d_loss.backward()
                    opt_d.step()
                    sums["d_updates"] += 1
                sums["d"] += d_loss.item()
                if d_loss.item() < cfg.g_adv_skip_above:
                    adv = losses.generator_adversarial(model.discriminator(fake.unsqueeze(1)))
                    loss = loss + cfg.gan_weight * 784 * adv
                    sums["adv"] += adv.item()
                    sums["g_adv_steps"] += 1
            opt = opt_gan if gan_phase else opt_vae
            opt.zero_grad()
            loss.backward()
            opt.step()
            sums["bce"] += bce.item()
            sums["kl"] += kl.item()
            bar.set_postfix(bce=f"{bce.item():.1f}", kl=f"{kl.item():.1f}")
        seconds = time.time() - t0
        elapsed += seconds
        n = steps_per_epoch
        record = {
            "epoch": epoch + 1,
            "phase": "gan" if gan_phase else "vae",
            "seconds": round(seconds, 1),
            "train_bce": sums["bce"] / n,
            "train_kl": sums["kl"] / n,
            "train_perceptual": sums["perceptual"] / n,
            "lr": opt_vae.param_groups[0]["lr"],
            **evaluate_space(model, test),
        }
        if gan_phase:
            record.update(
                d_loss=sums["d"] / n,
                g_adv=sums["adv"] / max(sums["g_adv_steps"], 1),
                d_updates=sums["d_updates"],
                g_adv_steps=sums["g_adv_steps"],
            )
        _log(run, record)
        print(json.dumps(record))
        _save_space(ckpt_path, model, cfg, optimisers, epoch + 1, elapsed, command, carried)
    return model


def _save_space(path: Path, model, cfg, optimisers: dict, epoch: int, elapsed: float, command: str, carried: dict):
    save_checkpoint(
        path,
        {
            "kind": "space",
            "config": to_dict(cfg),
            "model": model.state_dict(),
            **{key: opt.state_dict() for key, opt in optimisers.items()},
            "epoch": epoch,
            "train_seconds": elapsed,
            "command": command,
            **carried,
        },
    )


def polish_epoch(model: FashionSpace, cfg: SpaceConfig, opt, train, gen, feature_net, i: int) -> dict:
    """Polish epoch `i` (from 0): the generator alone learns to redraw the frozen encoder's posterior
    means (BCE + perceptual + edge terms); returns the epoch's record."""
    model.encoder.eval().requires_grad_(False)
    model.generator.train()
    t0 = time.time()
    n = len(train) if cfg.polish_subset is None else min(cfg.polish_subset, len(train))
    steps = (n + cfg.batch_size - 1) // cfg.batch_size
    f = cfg.polish_supersample
    grid = model.grid28 if f == 1 else model.supersampled_grid(f)
    sums = {"bce": 0.0, "perceptual": 0.0, "edge": 0.0, "sharp": 0.0}
    order = torch.randperm(len(train), generator=gen)[:n]  # a fresh subset each epoch
    for step, s in enumerate(range(0, n, cfg.batch_size)):
        for group in opt.param_groups:
            group["lr"] = cosine_lr(cfg.polish_lr, cfg.lr_final_frac, i + step / steps, cfg.polish_epochs)
        x = train[order[s : s + cfg.batch_size]]  # (B, 28, 28)
        with torch.no_grad():
            z, _ = model.encoder(x.unsqueeze(1))  # (B, 8) posterior means
        logits = model.generator.logits(z, grid)  # (B, 28f, 28f)
        if f == 1:
            recon = torch.sigmoid(logits)
            bce = losses.reconstruction_bce(logits, x)
        else:
            fine = torch.sigmoid(logits)
            recon = torch.nn.functional.avg_pool2d(fine.unsqueeze(1), f).squeeze(1)  # (B, 28, 28)
            bce = losses.pooled_bce(logits, x, f)
        edge = losses.edge_shortfall(recon, x)
        loss = bce + cfg.edge_weight * edge
        if cfg.sharp_weight > 0:
            sharp = losses.gradient_sparsity(torch.sigmoid(logits), cfg.sharp_exponent, cfg.sharp_eps, f)
            loss = loss + cfg.sharp_weight * sharp
            sums["sharp"] += sharp.item()
        if feature_net is not None:
            perc = losses.perceptual(feature_net, recon, x)
            loss = loss + cfg.perceptual_weight * perc
            sums["perceptual"] += perc.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sums["bce"] += bce.item()
        sums["edge"] += edge.item()
    return {
        "phase": "polish",
        "polish_epoch": i + 1,
        "seconds": round(time.time() - t0, 1),
        **{f"train_{k}": v / steps for k, v in sums.items()},
        "lr": opt.param_groups[0]["lr"],
    }


@torch.no_grad()
def classifier_accuracy(model: Classifier, images: np.ndarray, labels: np.ndarray) -> float:
    model.eval()
    preds = [
        model(torch.from_numpy(images[s : s + 1000]).unsqueeze(1)).argmax(1).numpy()
        for s in range(0, len(images), 1000)
    ]
    return float((np.concatenate(preds) == labels).mean())


def train_classifier(
    run: Path,
    cfg: ClassifierConfig | None = None,
    data: str | None = None,
    resume: bool = False,
    progress: bool = True,
    command: str = "",
) -> Classifier:
    run.mkdir(parents=True, exist_ok=True)
    ckpt_path = run / "checkpoint.pt"
    state = load_checkpoint(ckpt_path) if resume and ckpt_path.exists() else None
    cfg = _resume_config(ClassifierConfig, cfg, state, ("channels",))
    torch.manual_seed(cfg.seed)
    model = Classifier(cfg)
    train = load_split("train", data, cfg.train_limit)
    test = load_split("test", data, cfg.test_limit)
    steps_per_epoch = (len(train.images) + cfg.batch_size - 1) // cfg.batch_size
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.epochs * steps_per_epoch)
    start, elapsed = 0, 0.0
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        start, elapsed = state["epoch"], state.get("train_seconds", 0.0)
    x_all, y_all = torch.from_numpy(train.images), torch.from_numpy(train.labels)
    gen = torch.Generator().manual_seed(cfg.seed + start)
    for epoch in range(start, cfg.epochs):
        model.train()
        t0 = time.time()
        total_loss, steps = 0.0, 0
        for idx in tqdm(
            list(_batches(len(x_all), cfg.batch_size, gen)),
            disable=not progress,
            desc=f"classifier epoch {epoch + 1}/{cfg.epochs}",
            leave=False,
        ):
            x = x_all[idx].unsqueeze(1)
            # Small random shifts: designs from the generator are not pixel-aligned like the data.
            x = torch.roll(x, shifts=tuple(torch.randint(-2, 3, (2,)).tolist()), dims=(2, 3))
            if torch.rand(1).item() < cfg.blur_prob:
                x = gaussian_blur(x, float(torch.empty(1).uniform_(0.3, cfg.blur_sigma_max)))
            loss = torch.nn.functional.cross_entropy(model(x), y_all[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if sched.last_epoch < sched.total_steps - 1:
                sched.step()
            total_loss += loss.item()
            steps += 1
        seconds = time.time() - t0
        elapsed += seconds
        record = {
            "epoch": epoch + 1,
            "seconds": round(seconds, 1),
            "train_loss": total_loss / steps,
            "test_accuracy": classifier_accuracy(model, test.images, test.labels),
        }
        _log(run, record)
        print(json.dumps(record))
        save_checkpoint(
            ckpt_path,
            {
                "kind": "classifier",
                "config": to_dict(cfg),
                "model": model.state_dict(),
                "opt": opt.state_dict(),
                "sched": sched.state_dict(),
                "epoch": epoch + 1,
                "train_seconds": elapsed,
                "command": command,
            },
        )
    return model
