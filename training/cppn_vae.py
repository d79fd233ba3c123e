"""The fashion space: a CPPN-VAE-GAN at latent size 8 (after hardmaru's cppn-gan-vae).

Encoder q(z|x): 28x28 image -> mean and log-variance of 8 numbers.
Generator G(z; x, y, r): a per-pixel network over coordinates and z, so one z renders at any
resolution. The first layer's z term is computed once per image and broadcast over pixels,
not tiled per pixel as the original did.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from contract.space import coordinates

from .config import SpaceConfig


class Encoder(nn.Module):
    def __init__(self, cfg: SpaceConfig):
        super().__init__()
        c = cfg.enc_channels
        self.conv = nn.Sequential(
            nn.Conv2d(1, c, 4, 2, 1),
            nn.LeakyReLU(0.2),  # (B, c, 14, 14)
            nn.Conv2d(c, 2 * c, 4, 2, 1),
            nn.BatchNorm2d(2 * c),
            nn.LeakyReLU(0.2),  # (B, 2c, 7, 7)
            nn.Conv2d(2 * c, 4 * c, 3, 1, 1),
            nn.BatchNorm2d(4 * c),
            nn.LeakyReLU(0.2),  # (B, 4c, 7, 7)
        )
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(4 * c * 49, 256), nn.LeakyReLU(0.2))
        self.mean = nn.Linear(256, cfg.latent_dim)
        self.logvar = nn.Linear(256, cfg.latent_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.fc(self.conv(x))  # (B, 256)
        return self.mean(h), self.logvar(h)  # (B, 8) each


class FourierFeatures(nn.Module):
    """(x, y, r) -> (x, y, r, sin 2pi f.(x, y), cos 2pi f.(x, y)) for fixed random frequencies f.

    The frequencies are drawn once from an isotropic Gaussian (seeded) and stored with the weights,
    so every resolution and the ONNX export see the same ones."""

    def __init__(self, cfg: SpaceConfig):
        super().__init__()
        g = torch.Generator().manual_seed(cfg.fourier_seed)
        freqs = torch.randn(cfg.fourier_features, 2, generator=g) * cfg.fourier_sigma  # (F, 2) cycles per unit
        self.register_buffer("freqs", 2 * torch.pi * freqs)
        self.n = cfg.fourier_features
        # cos x = sin(x + pi/2): one Sin over both halves, one pass over the pixels instead of three.
        # Derived from `freqs` (saved) and the seed, so not saved themselves.
        self.register_buffer("phase_freqs", torch.cat([self.freqs, self.freqs]).T.contiguous(), persistent=False)
        offset = torch.cat([torch.zeros(self.n), torch.full((self.n,), torch.pi / 2)])
        self.register_buffer("phase_offset", offset, persistent=False)
        self.out_features = 3 + 2 * cfg.fourier_features

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        """coords (N, 3) -> (N, 3 + 2F)."""
        if self.n == 0:
            return coords
        phase = coords[:, :2] @ self.phase_freqs + self.phase_offset  # (N, 2F)
        return torch.cat([coords, torch.sin(phase)], dim=1)


class Generator(nn.Module):
    """CPPN: pixel value = f(z, x, y, r).

    Per image, a mapping network turns z into a FiLM scale and shift for every layer (`film`), or,
    in the v1 generator, a bias for every layer. Per pixel, the coordinates (with Fourier features)
    go through `gen_layers + 1` tanh layers that those terms modulate; nothing of z is tiled per pixel.
    """

    def __init__(self, cfg: SpaceConfig):
        super().__init__()
        w = cfg.gen_width
        self.width, self.film = w, cfg.film
        self.n_z_terms = 1 + (cfg.gen_layers if (cfg.z_every_layer or cfg.film) else 0)
        self.fourier = FourierFeatures(cfg)
        if cfg.film:
            m = cfg.mapping_width
            self.mapping = nn.Sequential(
                nn.Linear(cfg.latent_dim, m),
                nn.LeakyReLU(0.2),
                nn.Linear(m, m),
                nn.LeakyReLU(0.2),
                nn.Linear(m, 2 * w * self.n_z_terms),  # a scale and a shift per layer
            )
            nn.init.zeros_(self.mapping[-1].weight)  # start as a plain CPPN: scale 1, shift 0
            nn.init.zeros_(self.mapping[-1].bias)
        else:
            self.z_proj = nn.Linear(cfg.latent_dim, w * self.n_z_terms)
        self.coord_proj = nn.Linear(self.fourier.out_features, w, bias=False)  # per pixel (cacheable per resolution)
        self.hidden = nn.ModuleList(nn.Linear(w, w) for _ in range(cfg.gen_layers))
        self.out = nn.Linear(w, 1)

    def forward(self, z: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
        """z (B, 8), coords (H, W, 3) -> designs (B, H, W) in [0, 1]."""
        return torch.sigmoid(self.logits(z, coords))

    def styles(self, z: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per layer (scale, shift), each (B, 1, w): computed once per image."""
        if self.film:
            st = self.mapping(z).unsqueeze(1).split(self.width, dim=2)  # 2 * n_z_terms x (B, 1, w)
            return [(1 + st[2 * i], st[2 * i + 1]) for i in range(self.n_z_terms)]
        return [(None, b) for b in self.z_proj(z).unsqueeze(1).split(self.width, dim=2)]

    def logits(self, z: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
        """Pre-sigmoid output (B, H, W), for a numerically stable Bernoulli loss."""
        H, W, _ = coords.shape
        h = self.fourier(coords.reshape(H * W, 3)).unsqueeze(0)  # (1, N, 3 + 2F): the same for every image
        styles = self.styles(z)
        for i, layer in enumerate([self.coord_proj, *self.hidden]):
            scale, shift = styles[i] if i < len(styles) else (None, None)
            h = torch.tanh(modulated(layer, h, scale, shift))  # (B, N, w)
        return self.out(h).reshape(-1, H, W)


def modulated(
    layer: nn.Linear, h: torch.Tensor, scale: torch.Tensor | None, shift: torch.Tensor | None
) -> torch.Tensor:
    """FiLM after a linear layer, (h W^T + b) * scale + shift, computed as h (W^T * scale) + (b * scale + shift):
    the per-image weights cost nothing per pixel, and each pixel pays one matmul and one add instead of a
    matmul and three element-wise passes (what kept the FiLM generator 3x slower than v1 in the kiosk).
    h (B or 1, N, in), scale and shift (B, 1, w) -> (B, N, w)."""
    if scale is None:  # the v1 generator: a bias per image, or none
        return layer(h) if shift is None else layer(h) + shift
    weight = layer.weight.T * scale  # (B, in, w)
    bias = shift if layer.bias is None else layer.bias * scale + shift  # (B, 1, w)
    return h @ weight + bias


class Discriminator(nn.Module):
    """A small conv net: real Fashion-MNIST image or generated design?"""

    def __init__(self, cfg: SpaceConfig):
        super().__init__()
        c = cfg.disc_channels
        self.net = nn.Sequential(
            nn.Conv2d(1, c, 4, 2, 1),
            nn.LeakyReLU(0.2),  # (B, c, 14, 14)
            nn.Conv2d(c, 2 * c, 4, 2, 1),
            nn.LeakyReLU(0.2),  # (B, 2c, 7, 7)
            nn.Flatten(),
            nn.Dropout(0.3),
            nn.Linear(2 * c * 49, 1),  # (B, 1) logit
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)


class FashionSpace(nn.Module):
    """Encoder + generator (+ discriminator for the GAN term)."""

    def __init__(self, cfg: SpaceConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.generator = Generator(cfg)
        self.discriminator = Discriminator(cfg)
        self.register_buffer("grid28", torch.from_numpy(coordinates(28, 28, cfg.coord_scale)), persistent=False)

    def grid(self, width: int, height: int) -> torch.Tensor:
        return torch.from_numpy(coordinates(width, height, self.cfg.coord_scale))

    def supersampled_grid(self, factor: int, size: int = 28) -> torch.Tensor:
        """(size * factor, size * factor, 3): each pixel of the size x size grid split into factor x factor
        sub-pixels, so an average pool of `factor` gives the pixel's footprint average (the polish's
        super-resolution data terms). Not coordinates(size * factor): that one's corners sit on the outer
        pixel centres, so its blocks would not line up with the 28 px pixels."""
        pitch = 2 * self.cfg.coord_scale / (size - 1)  # between 28 px pixel centres
        centres = np.linspace(-self.cfg.coord_scale, self.cfg.coord_scale, size)
        offsets = ((np.arange(factor) + 0.5) / factor - 0.5) * pitch
        axis = (centres[:, None] + offsets[None, :]).reshape(-1).astype(np.float32)
        x, y = np.meshgrid(axis, axis)
        return torch.from_numpy(np.stack([x, y, np.sqrt(x * x + y * y)], axis=-1).astype(np.float32))

    @staticmethod
    def sample_posterior(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        return mean + torch.randn_like(mean) * torch.exp(0.5 * logvar)
