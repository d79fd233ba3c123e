"""Random texture crops for the recognizer (training/prints/recognizer.py) and evaluate.py, in torch.

Crops are sampled from tiled textures with bilinear wrapping at a random scale and offset, then
optionally shaded by a smooth random field (as a garment's folds would), so a classifier learns
the print's structure rather than one exact pixel grid or one brightness.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

BLUR_SOFT = 2.0
BLUR_STRONG = 3.7
"""Sigmas of the blurred impostors (training/blur.py's gaussian_blur): the spread of the two box
blurs of radius 2 and 4 they replace, sqrt(((2r + 1)^2 - 1) / 6)."""


def to_tensor(tiles) -> torch.Tensor:
    """(K, T, T, 3) uint8 numpy -> (K, 3, T+2, T+2) float, wrapped by one pixel for seamless sampling."""
    t = torch.as_tensor(tiles).permute(0, 3, 1, 2).float() / 255.0
    return F.pad(t, (1, 1, 1, 1), mode="circular")


def sample(
    padded: torch.Tensor, index: torch.Tensor, size: int, scale: tuple[float, float], gen: torch.Generator
) -> torch.Tensor:
    """Crops (len(index), 3, size, size); `scale` = output pixels per tile pixel (1.0 = native)."""
    n = len(index)
    T = padded.shape[-1] - 2
    s = torch.empty(n).uniform_(*scale, generator=gen)  # (n,)
    off_u, off_v = torch.rand(n, generator=gen), torch.rand(n, generator=gen)  # tile units
    step = torch.arange(size, dtype=torch.float32)
    u = off_u[:, None] + step[None, :] / (T * s[:, None])  # (n, size)
    v = off_v[:, None] + step[None, :] / (T * s[:, None])
    u, v = u - torch.floor(u), v - torch.floor(v)
    gx = ((u * T + 0.5) * (2.0 / (T + 1)) - 1.0)[:, None, :].expand(n, size, size)
    gy = ((v * T + 0.5) * (2.0 / (T + 1)) - 1.0)[:, :, None].expand(n, size, size)
    grid = torch.stack([gx, gy], dim=-1)
    return F.grid_sample(padded[index], grid, mode="bilinear", padding_mode="border", align_corners=True)


def smooth_field(n: int, size: int, low: float, high: float, gen: torch.Generator) -> torch.Tensor:
    """(n, 1, size, size) smooth random multipliers in [low, high]: fake folds and lighting."""
    coarse = torch.rand(n, 1, 4, 4, generator=gen)
    field = F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=False).clamp(0, 1)
    return low + (high - low) * field


def flat(x: torch.Tensor) -> torch.Tensor:
    return x.mean(dim=(2, 3), keepdim=True).expand_as(x).contiguous()
