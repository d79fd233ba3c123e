"""The one Gaussian blur of training: the classifier's augmentation (train.py), the print networks'
blurred impostors (prints/recognizer.py, prints/loss.py) and the interior-ripple figure (metrics.py).

    blurred = gaussian_blur(images, sigma=1.5)      # (..., H, W) tensor, same shape
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of (..., H, W) images by multiplying their spectrum, so any sigma costs the
    same (the ripple figure blurs 1024 px renders by sigma 73). The edges are mirrored, 3 sigma deep,
    not wrapped around: a garment touching the top must not bleed into the bottom. Differentiable."""
    h, w = x.shape[-2:]
    pad = min(math.ceil(3 * sigma), h - 1, w - 1)
    images = x.reshape(-1, 1, h, w)
    if pad > 0:
        images = F.pad(images, (pad, pad, pad, pad), mode="reflect")
    ph, pw = images.shape[-2:]
    fy = torch.fft.fftfreq(ph, device=x.device)[:, None]
    fx = torch.fft.rfftfreq(pw, device=x.device)[None, :]
    transfer = torch.exp(-2 * math.pi**2 * sigma**2 * (fx**2 + fy**2))
    blurred = torch.fft.irfft2(torch.fft.rfft2(images) * transfer, s=(ph, pw))
    return blurred[..., pad : pad + h, pad : pad + w].reshape(x.shape).to(x.dtype)
