"""The print recognizer: the evidence that a rendered print reads as that print.

A classifier separate from the loss network (different architecture: 5x5 stride-2 convs, batch
norm, max+mean pooling; different seed) says which print a 64x64 patch comes from, or "other". It
is trained only on real swatch crops (at the render scale of a 256x256 design, shaded by random
smooth fields as a garment's folds would) against an "other" class of every other GIMP pattern,
flat colours and heavily blurred prints -- so colour mush is not forced onto the nearest print.

`score()` renders 50 designs in every print, takes up to 4 patches per design from inside the
garment, and reports per print how often the patch is recognised as the intended print.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..blur import gaussian_blur
from . import crops

PATCH = 64


class Recognizer(nn.Module):
    def __init__(self, n_prints: int, width: int = 24):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, width, 5, stride=2, padding=2),
            nn.BatchNorm2d(width),
            nn.ReLU(),  # 32x32
            nn.Conv2d(width, 2 * width, 5, stride=2, padding=2),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(),  # 16
            nn.Conv2d(2 * width, 4 * width, 3, stride=2, padding=1),
            nn.BatchNorm2d(4 * width),
            nn.ReLU(),  # 8
        )
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(8 * width, n_prints + 1))  # + "other"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.body(x - 0.5)
        return self.head(torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], dim=1))


@dataclass
class RecognizerConfig:
    width: int = 24
    steps: int = 500
    batch: int = 64
    lr: float = 2e-3
    seed: int = 2024  # not the loss network's seed
    designs: int = 50  # designs rendered per print for the score
    patches_per_design: int = 4


def _batch(print_pad, other_pad, n_prints, batch, gen):
    y = torch.randint(n_prints + 1, (batch,), generator=gen)
    x = torch.empty(batch, 3, PATCH, PATCH)
    is_print = y < n_prints
    if is_print.any():
        x[is_print] = crops.sample(print_pad, y[is_print], PATCH, (0.85, 1.2), gen)
    n_other = int((~is_print).sum())
    if n_other:
        # "other": a third other textures, a third flat colour of a print, a third blurred prints
        which = torch.randint(n_prints, (n_other,), generator=gen)
        blurred = gaussian_blur(crops.sample(print_pad, which, PATCH, (0.85, 1.2), gen), crops.BLUR_STRONG)
        flat = crops.flat(crops.sample(print_pad, which, PATCH, (0.85, 1.2), gen))
        others = crops.sample(
            other_pad, torch.randint(len(other_pad), (n_other,), generator=gen), PATCH, (0.7, 1.4), gen
        )
        pick = torch.randint(3, (n_other, 1, 1, 1), generator=gen)
        x[~is_print] = torch.where(pick == 0, others, torch.where(pick == 1, flat, blurred))
    shade = crops.smooth_field(batch, PATCH, 0.45, 1.25, gen)
    return (x * shade).clamp(0, 1), y


def train_recognizer(cfg: RecognizerConfig, print_tiles, other_tiles, progress) -> Recognizer:
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    print_pad, other_pad = crops.to_tensor(print_tiles), crops.to_tensor(other_tiles)
    net = Recognizer(len(print_tiles), cfg.width)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=cfg.steps)
    net.train()
    for _ in progress(range(cfg.steps), "recognizer"):
        x, y = _batch(print_pad, other_pad, len(print_tiles), cfg.batch, gen)
        loss = F.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return net.eval()


def garment_patches(rgb: torch.Tensor, mask: torch.Tensor, k: int, gen: torch.Generator) -> torch.Tensor:
    """Up to k 64x64 patches lying wholly on the garment (mask >= 0.99 everywhere in the patch)."""
    inside = -F.max_pool2d(-mask, PATCH, stride=8)  # min of the mask over each candidate patch
    ys, xs = torch.nonzero(inside[0, 0] >= 0.99, as_tuple=True)
    if len(ys) == 0:
        return rgb.new_zeros(0, 3, PATCH, PATCH)
    pick = torch.randperm(len(ys), generator=gen)[:k]
    return torch.stack([rgb[0, :, 8 * y : 8 * y + PATCH, 8 * x : 8 * x + PATCH] for y, x in zip(ys[pick], xs[pick])])


@torch.no_grad()
def score(
    recognizer: Recognizer,
    pipeline,
    designs: torch.Tensor,
    n_prints: int,
    method: str,
    patches_per_design: int = 4,
    seed: int = 3,
) -> list[float]:
    """Per print, the fraction of garment patches recognised as that print.

    designs: (N,1,256,256); method "network" or "tile-and-shade".
    """
    from .pipeline import garment_mask

    gen = torch.Generator().manual_seed(seed)
    eye = torch.eye(n_prints)
    hits, totals = [0] * n_prints, [0] * n_prints
    for design in designs:
        d = design[None]
        mask = garment_mask(d)
        for p in range(n_prints):
            one = eye[p : p + 1]
            rgb = pipeline(d, one, one * 0) if method == "network" else pipeline(d, one * 0, one)
            patches = garment_patches(rgb, mask, patches_per_design, gen)
            if len(patches):
                hits[p] += int((recognizer(patches).argmax(1) == p).sum())
                totals[p] += len(patches)
    return [h / max(t, 1) for h, t in zip(hits, totals)]
