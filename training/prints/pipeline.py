"""The print pipeline as one torch module, exported whole to `onnx_models/prints.onnx`.

    design (B,1,H,W) -> garment mask -> shading -> albedo (network and/or tile-and-shade)
                     -> shaded albedo on the garment, clean background elsewhere -> RGB (B,3,H,W)

* Garment mask: the background is the dark region *connected to the image border* (a flood fill
  run as repeated masked max-pooling on a 64x64 copy), so a dark garment -- or a dark patch inside
  a light one -- stays garment; a plain intensity threshold punches holes in it. The full-resolution
  intensity sharpens the soft low-resolution edge.
* Shading: the design's intensity relative to its mean over the garment, so folds, seams and the
  silhouette survive on any print and a dark garment isn't printed black.
* Albedo: `net_weights` (B,P) mixes the print network's prints, `tile_weights` (B,P) mixes the
  tile-and-shade baseline's (the swatch tiled, bilinear, wrapping); whatever weight is left of 1
  goes to a neutral grey, so all-zero weights give the unprinted design.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .network import NetworkConfig, PrintNetwork
from .textures import REPEATS

BACKGROUND = (0.96, 0.96, 0.95)  # the clean backdrop the kiosk shows designs on
UNPRINTED_GREY = 0.82  # albedo of an unprinted garment
MASK_SIZE = 64  # the flood fill runs at this resolution (cheap, size-independent)
FLOOD_STEPS = 48  # 3x3 dilations; reaches every background pocket of a 64x64 garment
DARK_LOW = 0.05  # below this a full-resolution pixel is background-dark
DARK_HIGH = 0.12  # above this it is garment, between is the soft edge
SHADE_FLOOR = 0.2  # the mean intensity below which a garment is not brightened further
SHADE_MAX = 1.3  # highlights may brighten the print this much


def tile_coordinates(height: int | torch.Tensor, width: int | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """u (W,) per column and v (H,) per row, in tile units: contract.space.coordinates' x, y in
    [-1, 1] times REPEATS/2. Pixel (y, x) is at (u[x], v[y]); the network and the tiling both
    work per row and per column on these, not per pixel."""
    xs = torch.arange(width, dtype=torch.float32) * (2.0 / (width - 1)) - 1.0
    ys = torch.arange(height, dtype=torch.float32) * (2.0 / (height - 1)) - 1.0
    return xs * (REPEATS / 2), ys * (REPEATS / 2)


def garment_mask(design: torch.Tensor) -> torch.Tensor:
    """(B,1,H,W) in [0,1] -> (B,1,H,W): 1 on the garment, 0 on the background, soft at the edge."""
    H, W = design.shape[-2:]
    small = F.interpolate(design, size=(MASK_SIZE, MASK_SIZE), mode="bilinear", align_corners=False)
    dark = (small < (DARK_LOW + DARK_HIGH) / 2).float()
    border = torch.ones(1, 1, MASK_SIZE, MASK_SIZE)
    border[..., 1:-1, 1:-1] = 0
    background = dark * border
    for _ in range(FLOOD_STEPS):
        background = F.max_pool2d(background, 3, stride=1, padding=1) * dark
    background = F.interpolate(background, size=(H, W), mode="bilinear", align_corners=False)
    # widen the low-res background a little, then let full-res intensity decide the edge pixels
    background = torch.clamp(background * 2.0, 0.0, 1.0)
    dark_here = torch.clamp((DARK_HIGH - design) / (DARK_HIGH - DARK_LOW), 0.0, 1.0)
    return 1.0 - background * dark_here


def shading(design: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    mean = (design * mask).sum(dim=(2, 3), keepdim=True) / (mask.sum(dim=(2, 3), keepdim=True) + 1e-6)
    return torch.clamp(design / torch.clamp(mean, min=SHADE_FLOOR), 0.0, SHADE_MAX)


class TileAndShade(nn.Module):
    """The baseline: each print's swatch tiled across the coordinate square (no learning)."""

    def __init__(self, tiles: torch.Tensor):  # (P, 3, T, T) float in [0, 1]
        super().__init__()
        # one wrapped pixel on each side, so bilinear sampling is seamless across tile edges
        self.register_buffer("tiles", F.pad(tiles, (1, 1, 1, 1), mode="circular"))

    def forward(self, u: torch.Tensor, v: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """u (W,), v (H,) tile units, weights (B,P) -> (B, 3, H, W): the prints' tiles mixed by weight.

        Bilinear sampling is linear in the image, so the tiles are mixed first and only the mix is
        sampled; and on a grid of rows and columns it is a 1-D interpolation down the columns, then
        one along the rows: two matrix products with the interpolation weights (`_hat`).
        """
        tiles = torch.einsum("bp,pchw->bchw", weights, self.tiles)  # (B, 3, T+2, T+2)
        return torch.matmul(torch.matmul(self._hat(v), tiles), self._hat(u).t())

    def _hat(self, c: torch.Tensor) -> torch.Tensor:
        """(n,) positions in tile units -> (n, T+2) linear-interpolation weights on the padded tile's
        pixels: max(0, 1 - distance), non-zero for the two pixels either side of the position."""
        Tp = self.tiles.shape[-1]
        # the wrapped position c - floor(c) in [0, 1); tile pixel i, the padded tile's i + 1, is centred at (i + 0.5) / T
        position = (c - torch.floor(c)) * (Tp - 2) + 0.5
        return torch.relu(1.0 - torch.abs(position[:, None] - torch.arange(Tp, dtype=torch.float32)))


class PrintPipeline(nn.Module):
    def __init__(self, net_cfg: NetworkConfig, tiles: torch.Tensor):
        super().__init__()
        self.network = PrintNetwork(net_cfg, tiles.shape[0])
        self.baseline = TileAndShade(tiles)
        self.register_buffer("background", torch.tensor(BACKGROUND).reshape(1, 3, 1, 1))

    def albedo(self, design, u, v, net_weights, tile_weights) -> torch.Tensor:
        rest = 1.0 - net_weights.sum(1) - tile_weights.sum(1)  # (B,)
        tiled = self.baseline(u, v, tile_weights)  # (B,3,H,W)
        painted = self.network(design, u, v, net_weights) * net_weights.sum(1).reshape(-1, 1, 1, 1)
        return painted + tiled + rest.reshape(-1, 1, 1, 1) * UNPRINTED_GREY

    def forward(self, design, net_weights, tile_weights) -> torch.Tensor:
        """design (B,1,H,W) [0,1]; net_weights, tile_weights (B,P) -> RGB (B,3,H,W) [0,1].

        A design batch of 1 with B weight rows renders one design in B prints.
        """
        B = net_weights.shape[0]
        design = design.expand(B, -1, -1, -1)
        H, W = design.shape[-2:]
        u, v = tile_coordinates(H, W)
        mask = garment_mask(design)
        colour = self.albedo(design, u, v, net_weights, tile_weights) * shading(design, mask)
        return torch.clamp(mask * colour + (1.0 - mask) * self.background, 0.0, 1.0)


class BaselinePipeline(PrintPipeline):
    """The same pipeline with the network left out: for weak devices (`Prints.load(mode="baseline")`)."""

    def forward(self, design, tile_weights):
        B = tile_weights.shape[0]
        design = design.expand(B, -1, -1, -1)
        H, W = design.shape[-2:]
        u, v = tile_coordinates(H, W)
        mask = garment_mask(design)
        rest = (1.0 - tile_weights.sum(1)).reshape(-1, 1, 1, 1)
        albedo = self.baseline(u, v, tile_weights) + rest * UNPRINTED_GREY
        colour = albedo * shading(design, mask)
        return torch.clamp(mask * colour + (1.0 - mask) * self.background, 0.0, 1.0)
