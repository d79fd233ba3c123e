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
    """u, v (1,1,H,W) in tile units: contract.space.coordinates' x, y in [-1, 1] times REPEATS/2."""
    xs = torch.arange(width, dtype=torch.float32) * (2.0 / (width - 1)) - 1.0
    ys = torch.arange(height, dtype=torch.float32) * (2.0 / (height - 1)) - 1.0
    u = (xs * (REPEATS / 2)).reshape(1, 1, 1, -1).expand(1, 1, height, width)
    v = (ys * (REPEATS / 2)).reshape(1, 1, -1, 1).expand(1, 1, height, width)
    return u, v


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

    def forward(self, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """u, v (1,1,H,W) tile units -> (P, 3, H, W) every print's albedo."""
        P, _, Tp, _ = self.tiles.shape
        T = Tp - 2
        fu, fv = u - torch.floor(u), v - torch.floor(v)
        # align_corners=True: -1 is the padded tile's first pixel centre, +1 its last
        gx = (fu * T + 0.5) * (2.0 / (Tp - 1)) - 1.0
        gy = (fv * T + 0.5) * (2.0 / (Tp - 1)) - 1.0
        grid = torch.cat([gx, gy], dim=1).permute(0, 2, 3, 1).expand(P, -1, -1, -1)  # (P, H, W, 2)
        return F.grid_sample(self.tiles, grid, mode="bilinear", padding_mode="border", align_corners=True)


class PrintPipeline(nn.Module):
    def __init__(self, net_cfg: NetworkConfig, tiles: torch.Tensor):
        super().__init__()
        self.network = PrintNetwork(net_cfg, tiles.shape[0])
        self.baseline = TileAndShade(tiles)
        self.register_buffer("background", torch.tensor(BACKGROUND).reshape(1, 3, 1, 1))

    def albedo(self, design, u, v, net_weights, tile_weights) -> torch.Tensor:
        rest = 1.0 - net_weights.sum(1) - tile_weights.sum(1)  # (B,)
        tiled = torch.einsum("bp,pchw->bchw", tile_weights, self.baseline(u, v))  # (B,3,H,W)
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
        albedo = torch.einsum("bp,pchw->bchw", tile_weights, self.baseline(u, v)) + rest * UNPRINTED_GREY
        colour = albedo * shading(design, mask)
        return torch.clamp(mask * colour + (1.0 - mask) * self.background, 0.0, 1.0)
