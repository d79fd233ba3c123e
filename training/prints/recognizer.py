"""The print recognizer: the evidence that a rendered print reads as that print.

A classifier separate from the loss network (different architecture: 5x5 stride-2 convs, batch
norm, max+mean pooling; different seed) says which print a 64x64 patch comes from, or "other". It
is trained only on real swatch crops (at the render scale of a 256x256 design, shaded by random
smooth fields as a garment's folds would) against an "other" class of every other GIMP pattern,
flat colours and heavily blurred prints -- so colour mush is not forced onto the nearest print.

`training/prints/evaluate.py` prints 12 designs in every print, takes up to 4 patches per design
from inside the garment, and reports per print how often the patch is recognised as that print.
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
