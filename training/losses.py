"""Loss terms of the CPPN-VAE-GAN, each on its own and in plain words."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def reconstruction_bce(logits: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """Bernoulli negative log-likelihood of the image under the decoded design, nats per image."""
    return F.binary_cross_entropy_with_logits(logits, images, reduction="none").flatten(1).sum(1).mean()


def kl_to_prior(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(q(z|x) || N(0, I)), nats per image: what it costs to say where in the space an image is."""
    return (-0.5 * (1 + logvar - mean.pow(2) - logvar.exp())).sum(1).mean()


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """D wants real -> 1 and fake -> 0."""
    return 0.5 * (
        F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
        + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    )


def generator_adversarial(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating GAN term: G wants D to call its designs real."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def perceptual(net, recon: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """Squared difference of the frozen feature network's activations (photo vs reconstruction),
    summed over positions and averaged over channels, per image: the class-bearing details that
    BCE averages away (training/perceptual.py)."""
    a, b = net.features(recon.unsqueeze(1)), net.features(images.unsqueeze(1))
    total = 0.0
    for name in ("relu1", "relu2", "relu3"):
        fa, fb = getattr(a, name), getattr(b, name)
        total = total + (fa - fb.detach()).pow(2).sum((2, 3)).mean(1)  # (B,)
    return total.mean()


def edge_magnitude(images: torch.Tensor) -> torch.Tensor:
    """|horizontal difference| + |vertical difference| at each pixel of (B, H, W) images -> (B, H-1, W-1)."""
    return images.diff(dim=2).abs()[:, :-1, :] + images.diff(dim=1).abs()[:, :, :-1]


def edge_shortfall(recon: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """How much weaker the design's edges are than the photo's, pixel by pixel, summed per image: a
    soft hem costs wherever the photo has a hard one, and nothing is asked where the photo is flat.
    Only the shortfall counts, and only the magnitude: an L1 between the signed differences (tried)
    is cheapest at zero where the model is unsure which way an edge goes, so it blurred the designs
    (edge energy 0.77 -> 0.67 of the photos' after one epoch); so did BCE alone without the GAN
    term (0.70 after 100 steps). This term, same 100 steps: 0.85 at recognition 0.824 (was 0.825)."""
    return (edge_magnitude(images) - edge_magnitude(recon)).clamp(min=0).flatten(1).sum(1).mean()


def pooled_bce(logits: torch.Tensor, images: torch.Tensor, factor: int) -> torch.Tensor:
    """Bernoulli negative log-likelihood, nats per image, of 28 px `images` under the average of each
    pixel's factor x factor sub-samples: logits (B, 28f, 28f), images (B, 28, 28). The log of the mean
    probability is taken as a log-mean-exp of log-sigmoids, so it stays exact where a design is sure."""
    B, H, W = images.shape
    blocks = (B, H, factor, W, factor)
    log_n = 2 * math.log(factor)
    log_p = torch.logsumexp(F.logsigmoid(logits).reshape(blocks), dim=(2, 4)) - log_n  # (B, H, W)
    log_q = torch.logsumexp(F.logsigmoid(-logits).reshape(blocks), dim=(2, 4)) - log_n  # log(1 - p)
    return -(images * log_p + (1 - images) * log_q).flatten(1).sum(1).mean()


def gradient_sparsity(designs: torch.Tensor, exponent: float, eps: float, factor: int) -> torch.Tensor:
    """Hyper-Laplacian prior sum (|grad|^2 + eps^2)^(q/2) - eps^q over (B, H, W) designs rendered at
    `factor` x 28 px, per image, divided by `factor` so an edge costs the same per unit of length at any
    factor. With q < 1 a step of height h spread over n pixels costs n^(1-q) h^q: one sharp step is
    the cheapest way to draw it (SpaceConfig.sharp_exponent)."""
    dx = designs.diff(dim=2)[:, :-1, :]
    dy = designs.diff(dim=1)[:, :, :-1]
    cost = (dx * dx + dy * dy + eps * eps).pow(exponent / 2) - eps**exponent
    return cost.flatten(1).sum(1).mean() / factor
