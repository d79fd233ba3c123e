"""The feature network behind the perceptual term (DFC-VAE, Hou et al. 2017).

A small CNN trained here on Fashion-MNIST labels, first and for a couple of epochs, then frozen.
Its features say "sleeve", "strap", "sole" where pixel BCE only sees grey levels, so a
reconstruction that keeps the class costs less than one that averages it away. It is NOT the
shipped classifier: the recognition figures in the manifest are measured with that one, and a
model trained against its own judge would flatter itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class Features:
    """Named activations of one batch, finest first."""

    relu1: torch.Tensor  # (B, 16, 28, 28): edges
    relu2: torch.Tensor  # (B, 32, 14, 14): parts (cuffs, straps, soles)
    relu3: torch.Tensor  # (B, 64, 7, 7): shapes


class FeatureNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.conv3 = nn.Conv2d(32, 64, 3, padding=1)
        self.head = nn.Linear(64 * 49, 10)

    def features(self, x: torch.Tensor) -> Features:
        """x (B, 1, 28, 28) in [0, 1]."""
        r1 = F.relu(self.conv1(x))  # (B, 16, 28, 28)
        r2 = F.relu(self.conv2(F.max_pool2d(r1, 2)))  # (B, 32, 14, 14)
        r3 = F.relu(self.conv3(F.max_pool2d(r2, 2)))  # (B, 64, 7, 7)
        return Features(r1, r2, r3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).relu3.flatten(1))  # (B, 10) logits


def train_feature_net(
    images: torch.Tensor, labels: torch.Tensor, epochs: int, seed: int, batch_size: int = 128
) -> FeatureNet:
    """Classification training, then frozen (eval mode, no gradients to its weights)."""
    torch.manual_seed(seed)
    net = FeatureNet()
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for idx in torch.randperm(len(images), generator=gen).split(batch_size):
            loss = F.cross_entropy(net(images[idx].unsqueeze(1)), labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


def accuracy(net: FeatureNet, images: torch.Tensor, labels: torch.Tensor) -> float:
    with torch.no_grad():
        return float((net(images.unsqueeze(1)).argmax(1) == labels).float().mean())
