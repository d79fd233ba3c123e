"""The print network: a periodic coordinate network that paints a print's colour (albedo).

After Zalando Research's periodic spatial GAN (PSGAN, Bergmann/Jetchev/Vollgraf 2017): the input
is not an image but a field of periodic features -- sin/cos of the pixel's position in tile units
at a fixed set of integer 2-D frequencies -- so the net can paint texture on a perfectly flat
garment, tiles seamlessly, and renders at any size. The print conditions every layer: each
layer's weights are the print-weighted sum of one weight set per print (a linear hyper-network
on the print embedding), so a one-hot print uses that print's weights and a 50/50 mix morphs
between two prints in weight space. The design's intensity is an input too, so the net can lay
the print out differently on light and dark parts of the garment if the loss asks for it.

Cost per pixel: (2F + 2) x W + (L - 1) x W x W + W x 3 multiply-adds (F frequencies, W width,
L hidden layers); ~1.36 GMAC at 256x256 with the default config. The features' sines and cosines
are not computed per pixel: a pixel's phase is a column's plus a row's, so the first layer works
from per-column and per-row terms (`first_layer`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn


@dataclass
class NetworkConfig:
    frequencies: int = 96  # integer 2-D frequencies of the periodic input features
    max_frequency: int = 16  # cycles per tile; 16 resolves 2-pixel detail in a 64-pixel tile
    width: int = 64  # hidden channels
    layers: int = 3  # hidden layers (the first reads the periodic features)
    seed: int = 7  # draws the frequency set; saved in the checkpoint, so export matches


def frequency_set(cfg: NetworkConfig) -> torch.Tensor:
    """(F, 2) integer frequencies, low ones always present, the rest drawn from a seed.

    The 24 lowest (|k| <= 2) give layout; the rest, drawn with a bias towards low frequencies, give
    detail. Both halves of the plane are covered (k and -k are the same feature, so only one kept).
    """
    low = [(kx, ky) for kx in range(-2, 3) for ky in range(0, 3) if (ky > 0 or kx > 0)]
    g = torch.Generator().manual_seed(cfg.seed)
    chosen = set(low)
    while len(chosen) < cfg.frequencies:
        r = cfg.max_frequency * torch.rand(1, generator=g).item() ** 1.5
        a = math.pi * torch.rand(1, generator=g).item()
        k = (round(r * math.cos(a)), round(r * math.sin(a)))
        if k[1] < 0 or (k[1] == 0 and k[0] <= 0):
            k = (-k[0], -k[1])
        if k != (0, 0):
            chosen.add(k)
    ordered = low + sorted(chosen - set(low))
    return torch.tensor(ordered[: cfg.frequencies], dtype=torch.float32)


class PrintNetwork(nn.Module):
    def __init__(self, cfg: NetworkConfig, n_prints: int):
        super().__init__()
        self.cfg = cfg
        self.register_buffer("freqs", frequency_set(cfg))  # (F, 2)
        sizes = [2 * cfg.frequencies + 1] + [cfg.width] * cfg.layers + [3]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            w = torch.randn(n_prints, fan_out, fan_in) * math.sqrt(2.0 / fan_in)
            self.weights.append(nn.Parameter(w))
            self.biases.append(nn.Parameter(torch.zeros(n_prints, fan_out, 1)))

    def phases(self, u: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """u (W,) per column, v (H,) per row, in tile units -> a = 2 pi kx u (F, W), b = 2 pi ky v (H, F).

        Pixel (y, x)'s phases 2 pi k . (u[x], v[y]) are a[:, x] + b[y]: the coordinates are separable.
        """
        a = 2 * math.pi * torch.matmul(self.freqs, torch.stack([u, torch.zeros_like(u)]))
        b = 2 * math.pi * torch.matmul(self.freqs, torch.stack([torch.zeros_like(v), v])).t()
        return a, b

    def features(self, design: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """The per-pixel input: [sin(a + b), cos(a + b), design - 0.5], (B, 2F+1, H*W)."""
        B, _, H, W = design.shape
        a, b = self.phases(u, v)
        phase = (a[:, None, :] + b.t()[:, :, None]).reshape(1, -1, H * W)  # (1, F, N)
        periodic = torch.cat([torch.sin(phase), torch.cos(phase)], 1)  # (1, 2F, N)
        return torch.cat([periodic.expand(B, -1, -1), design.flatten(2) - 0.5], dim=1)

    def first_layer(self, design, u, v, w, b) -> torch.Tensor:
        """The first layer's pre-activation, w . [sin(a + b), cos(a + b), design - 0.5] + b at every pixel.

        design (B,1,H,W), u (W,), v (H,), w (B, out, 2F+1), b (B, out, 1) -> (B, out, H, W).
        With w = [ws, wc, wd]:  ws sin(a + b) + wc cos(a + b)
                              = cos a (ws sin b + wc cos b) + sin a (ws cos b - wc sin b),
        so each row's coefficients of [cos a, sin a, 1] (the 1 takes the bias) meet the columns'
        [cos a, sin a, 1] in one matrix product: the same multiply-adds per pixel as the features
        times w, without a sin and a cos of every frequency at every pixel or the (2F + 1)-channel
        feature map; sin and cos are evaluated H + W times per frequency instead of H x W.
        """
        F = self.cfg.frequencies
        a, rows = self.phases(u, v)  # (F, W), (H, F)
        cos_b, sin_b = torch.cos(rows), torch.sin(rows)
        one, zero = torch.ones_like(rows[:, :1]), torch.zeros_like(rows[:, :1])  # (H, 1)
        ws, wc, wd = w[..., :F], w[..., F : 2 * F], w[..., 2 * F :]  # (B, out, F), (B, out, F), (B, out, 1)
        # [ws, ws, bias] x [sin b, cos b, 1] + [wc, -wc, 0] x [cos b, sin b, 0] (the bias takes the
        # design's -0.5 along): two products, not four and a concatenation, over the large result
        first = torch.cat([ws, ws, b - 0.5 * wd], 2)[:, :, None]  # (B, out, 1, 2F+1)
        second = torch.cat([wc, -wc, torch.zeros_like(wd)], 2)[:, :, None]
        per_row = first * torch.cat([sin_b, cos_b, one], 1) + second * torch.cat([cos_b, sin_b, zero], 1)
        columns = torch.cat([torch.cos(a), torch.sin(a), torch.ones_like(a[:1])], 0)  # (2F+1, W)
        return torch.matmul(per_row, columns) + wd[..., None] * design  # (B, out, H, W)

    def forward(self, design: torch.Tensor, u: torch.Tensor, v: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """design (B,1,H,W) in [0,1], u (W,) per column, v (H,) per row, weights (B,P) -> albedo (B,3,H,W) in [0,1]."""
        B, _, H, W = design.shape
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            mixed_w = torch.einsum("bp,poi->boi", weights, w)  # (B, out, in)
            mixed_b = torch.einsum("bp,poi->boi", weights, b)  # (B, out, 1)
            if i == 0 and not self.training:  # rendering: no sin/cos per pixel
                h = self.first_layer(design, u, v, mixed_w, mixed_b).flatten(2)  # (B, out, N)
            elif i == 0:  # training: the batch of prints shares the features, so the weights' gradient is one product
                h = torch.matmul(mixed_w, self.features(design, u, v)) + mixed_b  # (B, out, N)
            else:
                h = torch.matmul(mixed_w, h) + mixed_b  # (B, out, N)
            h = torch.relu(h) if i < last else torch.sigmoid(h)
        return h.reshape(B, 3, H, W)

    def macs_per_pixel(self) -> int:
        """The layers' multiply-adds per pixel (the first layer's bias rides in its product: + width);
        its rows' coefficients add (4F + 2) x width per row, under 1% of it at 256 px wide."""
        return sum(w.shape[1] * w.shape[2] for w in self.weights) + self.cfg.width
