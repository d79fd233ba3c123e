"""The fashion space: a CPPN-VAE-GAN at latent size 8 (after hardmaru's cppn-gan-vae).

Encoder q(z|x): 28x28 image -> mean and log-variance of 8 numbers.
Generator G(z; x, y, r): a per-pixel network over coordinates and z, so one z renders at any
resolution. The first layer's z term is computed once per image and broadcast over pixels,
not tiled per pixel as the original did.
"""
from __future__ import annotations

import torch
from torch import nn

from kiosk.space import coordinates

from .config import SpaceConfig


class Encoder(nn.Module):
    def __init__(self, cfg: SpaceConfig):
        super().__init__()
        c = cfg.enc_channels
        self.conv = nn.Sequential(
            nn.Conv2d(1, c, 4, 2, 1), nn.LeakyReLU(0.2),           # (B, c, 14, 14)
            nn.Conv2d(c, 2 * c, 4, 2, 1), nn.BatchNorm2d(2 * c), nn.LeakyReLU(0.2),  # (B, 2c, 7, 7)
            nn.Conv2d(2 * c, 4 * c, 3, 1, 1), nn.BatchNorm2d(4 * c), nn.LeakyReLU(0.2),  # (B, 4c, 7, 7)
        )
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(4 * c * 49, 256), nn.LeakyReLU(0.2))
        self.mean = nn.Linear(256, cfg.latent_dim)
        self.logvar = nn.Linear(256, cfg.latent_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.fc(self.conv(x))             # (B, 256)
        return self.mean(h), self.logvar(h)   # (B, 8) each


class Generator(nn.Module):
    """CPPN: pixel value = f(z, x, y, r)."""

    def __init__(self, cfg: SpaceConfig):
        super().__init__()
        w = cfg.gen_width
        self.width = w
        self.n_z_terms = 1 + (cfg.gen_layers if cfg.z_every_layer else 0)
        self.z_proj = nn.Linear(cfg.latent_dim, w * self.n_z_terms)  # once per image
        self.coord_proj = nn.Linear(3, w, bias=False)                # once per pixel (cacheable per resolution)
        self.hidden = nn.ModuleList(nn.Linear(w, w) for _ in range(cfg.gen_layers))
        self.out = nn.Linear(w, 1)

    def forward(self, z: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
        """z (B, 8), coords (H, W, 3) -> designs (B, H, W) in [0, 1]."""
        return torch.sigmoid(self.logits(z, coords))

    def logits(self, z: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
        """Pre-sigmoid output (B, H, W), for a numerically stable Bernoulli loss."""
        H, W, _ = coords.shape
        zt = self.z_proj(z).unsqueeze(1).split(self.width, dim=2)  # n_z_terms x (B, 1, w), once per image
        cp = self.coord_proj(coords.reshape(H * W, 3)).unsqueeze(0)  # (1, N, w)
        h = torch.tanh(zt[0] + cp)                                  # (B, N, w): broadcast, never tiled
        for i, layer in enumerate(self.hidden):
            pre = layer(h)
            h = torch.tanh(pre + zt[i + 1] if i + 1 < len(zt) else pre)  # (B, N, w)
        return self.out(h).reshape(-1, H, W)


class Discriminator(nn.Module):
    """A small conv net: real Fashion-MNIST image or generated design?"""

    def __init__(self, cfg: SpaceConfig):
        super().__init__()
        c = cfg.disc_channels
        self.net = nn.Sequential(
            nn.Conv2d(1, c, 4, 2, 1), nn.LeakyReLU(0.2),                # (B, c, 14, 14)
            nn.Conv2d(c, 2 * c, 4, 2, 1), nn.LeakyReLU(0.2),            # (B, 2c, 7, 7)
            nn.Flatten(), nn.Dropout(0.3), nn.Linear(2 * c * 49, 1),    # (B, 1) logit
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

    @staticmethod
    def sample_posterior(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        return mean + torch.randn_like(mean) * torch.exp(0.5 * logvar)

