"""The style loss for the print network, with a loss network trained here (no downloaded weights).

The probe behind this design found that a *random-weight* loss network cannot tell a print's
structure from its colour: a flat mean-colour image scored almost as well as a real crop. So the
loss network here is a small CNN trained to tell 62 textures apart (the 8 prints and every other
GIMP pattern) across crops, scales, shading and colour gains; its features then carry structure.
Before use it must pass `sanity_check`: for every print, a real crop's Gram matrices sit closer to
the print's than a flat-colour, a blurred and a patch-shuffled version of that crop do.

The print loss is that Gram (style) distance over four layers plus an L1 term that anchors the
network's painted tile to the swatch's layout (the network is periodic in tile coordinates, so the
swatch tiled at the same coordinates is a pixel-aligned target).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..blur import gaussian_blur
from . import crops


class Features(NamedTuple):
    relu1: torch.Tensor
    relu2: torch.Tensor
    relu3: torch.Tensor
    relu4: torch.Tensor


class TextureNet(nn.Module):
    """The loss network: 3x3 convs, two stride-2 steps, global pooling into a texture classifier."""

    def __init__(self, n_classes: int, width: int = 32):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, 2 * width, 3, stride=2, padding=1)
        self.conv3 = nn.Conv2d(2 * width, 2 * width, 3, stride=2, padding=1)
        self.conv4 = nn.Conv2d(2 * width, 3 * width, 3, padding=1)
        self.head = nn.Linear(3 * width, n_classes)

    def features(self, x: torch.Tensor) -> Features:
        r1 = F.relu(self.conv1(x - 0.5))  # (B, w, H, W)
        r2 = F.relu(self.conv2(r1))  # (B, 2w, H/2, W/2)
        r3 = F.relu(self.conv3(r2))  # (B, 2w, H/4, W/4)
        r4 = F.relu(self.conv4(r3))  # (B, 3w, H/4, W/4)
        return Features(r1, r2, r3, r4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).relu4.mean(dim=(2, 3)))


def gram(f: torch.Tensor) -> torch.Tensor:
    B, C, H, W = f.shape
    flat = f.reshape(B, C, H * W)
    return torch.bmm(flat, flat.transpose(1, 2)) / (H * W)  # (B, C, C)


def style_distance(net: TextureNet, x: torch.Tensor, target_grams: list[torch.Tensor]) -> torch.Tensor:
    """(B,) mean squared Gram difference over the four layers, each layer normalised by its size."""
    out = []
    for f, g in zip(net.features(x), target_grams):
        out.append(((gram(f) - g) ** 2).mean(dim=(1, 2)) / (g.pow(2).mean(dim=(1, 2)) + 1e-8))
    return torch.stack(out).mean(0)


@dataclass
class LossNetConfig:
    width: int = 32
    steps: int = 500
    batch: int = 64
    crop: int = 48
    lr: float = 2e-3
    seed: int = 11


def train_loss_net(cfg: LossNetConfig, tiles, progress) -> TextureNet:
    """tiles: (K, T, T, 3) uint8, the 8 prints first, then the other textures."""
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    padded = crops.to_tensor(tiles)
    net = TextureNet(len(tiles) + 1, cfg.width)  # + 1: the impostor class
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    for _ in progress(range(cfg.steps), "loss network"):
        y = torch.randint(len(tiles), (cfg.batch,), generator=gen)
        x = crops.sample(padded, y, cfg.crop, (0.7, 1.4), gen)
        gains = torch.empty(cfg.batch, 3, 1, 1).uniform_(0.8, 1.2, generator=gen)
        x = (x * gains * crops.smooth_field(cfg.batch, cfg.crop, 0.6, 1.2, gen)).clamp(0, 1)
        # the last quarter become impostors (flat, blurred, shuffled) with a class of their own, so
        # the features must notice exactly what the style loss has to punish
        q = cfg.batch // 4
        k = q // 3
        x[-q:] = torch.cat(
            [
                crops.flat(x[-q : -q + k]),
                gaussian_blur(x[-q + k : -q + 2 * k], crops.BLUR_SOFT),
                crops.shuffle_patches(x[-q + 2 * k :], 8, gen),
            ]
        )
        y[-q:] = len(tiles)
        loss = F.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval()


def sanity_check(net: TextureNet, print_tiles, names, seed: int = 5, n: int = 16) -> dict:
    """Per print: mean style distance to the print of real crops vs flat, blurred, shuffled ones.

    Passes when, for every print, real crops are closer than each of the three impostors.
    """
    gen = torch.Generator().manual_seed(seed)
    padded = crops.to_tensor(print_tiles)
    report = {}
    with torch.no_grad():
        for i, name in enumerate(names):
            idx = torch.full((n,), i)
            ref = crops.sample(padded, idx, 64, (1.0, 1.0), gen)
            target = [gram(f).mean(0, keepdim=True) for f in net.features(ref)]
            real = crops.sample(padded, idx, 64, (1.0, 1.0), gen)
            scores = {
                "real": style_distance(net, real, target).mean().item(),
                "flat": style_distance(net, crops.flat(real), target).mean().item(),
                "blurred": style_distance(net, gaussian_blur(real, crops.BLUR_SOFT), target).mean().item(),
                "shuffled": style_distance(net, crops.shuffle_patches(real, 8, gen), target).mean().item(),
            }
            scores["passes"] = all(scores["real"] < scores[k] for k in ("flat", "blurred", "shuffled"))
            report[name] = {k: (round(v, 6) if isinstance(v, float) else v) for k, v in scores.items()}
    return report
