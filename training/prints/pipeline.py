"""The print graph, exported whole to `onnx_models/prints.onnx` (contract.models.PRINTS).

    design (1,1,H,W) + tile (B,3,T,T) -> garment mask, shading, draped texture coordinates
        -> the tile sampled there, times the shading, on a clean background -> rgb (B,3,H,W), uv (1,2,H,W)

No learned weights: the print is its swatch tile (the kiosk passes it in, mixed by weight and
filtered to the render's scale), draped over the garment. Everything that needs the whole
garment (mask, edges, shading field) runs on a MASK x MASK copy of the design, so its cost does
not grow with H x W; per output pixel the graph upsamples two smooth fields and samples the tile.

* Garment mask: background is the dark region connected to the image border (a flood fill as
  repeated masked max-pooling), plus enclosed regions as dark as that background (the gap between
  trouser legs, a neckline), so those stay background; a merely dark part of a garment (above
  HOLE_DARK) stays garment. The full-resolution intensity sharpens the soft low-resolution edge.
* Drape: each row's garment runs (left to right edge) are read as the front of a cylinder, so the
  print's u is the arc length around it (stripes crowd towards a sleeve's or leg's edge) and its v
  bows as a tube seen from slightly above; then the coordinates move down the gradient of the
  design's smoothed intensity (Photoshop's Displace, Textureshop): the print crowds where the
  shading darkens, as a surface turning away foreshortens it, so it follows folds.
* Shading: the design's intensity over its garment mean multiplies the print (folds and seams
  show through); a dark garment is not printed black.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from contract.models import PRINT_BACKGROUND as BACKGROUND
from contract.models import PRINT_TILE_REPEATS as REPEATS

MASK = 64  # mask, edges and shading field are computed at MASK x MASK (cheap, size-independent)
FLOOD_STEPS = 48  # 3x3 dilations: reaches every background pocket of a 64x64 garment
DARK = 0.085  # at MASK resolution, below this a pixel may be background
HOLE_DARK = 0.03  # an enclosed region this dark is a hole (between legs, a neckline), not garment
DARK_LOW, DARK_HIGH = 0.05, 0.12  # the full-resolution soft edge: background below, garment above
SHADE_FLOOR = 0.2  # the mean intensity below which a garment is not brightened further
SHADE_MAX = 1.3  # highlights may brighten the print this much


@dataclass(frozen=True)
class Drape:
    """How strongly the print follows the garment; 0 everywhere is the flat tiling."""

    wrap: float = 0.55  # share of the cylinder's arc length in u (1 = a full half-cylinder)
    bow: float = 0.35  # how far stripes bow at a run's edge, in its half-widths
    edge_clip: float = 0.94  # |t| beyond this is treated as this: arcsin's slope stays finite
    displace: float = 4.0  # MASK pixels of shift (downhill) per unit of intensity gradient per MASK pixel
    blur: float = 2.0  # sigma in MASK pixels of the intensity whose gradient displaces the print


def tile_coordinates(height, width) -> tuple[torch.Tensor, torch.Tensor]:
    """u (W,) per column and v (H,) per row, in tile units: contract.space.coordinates' x, y in
    [-1, 1] times REPEATS/2 (the first and last pixel centres are the square's edges)."""
    xs = torch.arange(width, dtype=torch.float32) * (2.0 / (width - 1)) - 1.0
    ys = torch.arange(height, dtype=torch.float32) * (2.0 / (height - 1)) - 1.0
    return xs * (REPEATS / 2), ys * (REPEATS / 2)


def background_small(small: torch.Tensor, border: torch.Tensor) -> torch.Tensor:
    """(1,1,M,M) design at MASK size, (M,M) 1 on the border ring -> (1,1,M,M) 1 on background: the
    dark region connected to the border, and every enclosed region as dark as a hole."""
    dark = (small < DARK).float()
    background = torch.maximum(dark * border, (small < HOLE_DARK).float())
    for _ in range(FLOOD_STEPS):
        background = F.max_pool2d(background, 3, stride=1, padding=1) * dark
    return background


def garment_mask(design: torch.Tensor, background: torch.Tensor) -> torch.Tensor:
    """(1,1,H,W) design and its MASK-size background -> (1,1,H,W) 1 on the garment, soft at the edge."""
    H, W = design.shape[-2:]
    up = F.interpolate(background, size=(H, W), mode="bilinear", align_corners=False)
    # widen the low-res background a little, then let full-res intensity decide the edge pixels
    up = torch.clamp(up * 2.0, 0.0, 1.0)
    dark_here = torch.clamp((DARK_HIGH - design) / (DARK_HIGH - DARK_LOW), 0.0, 1.0)
    return 1.0 - up * dark_here


def shading(design: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    mean = (design * mask).sum(dim=(2, 3), keepdim=True) / (mask.sum(dim=(2, 3), keepdim=True) + 1e-6)
    return torch.clamp(design / torch.clamp(mean, min=SHADE_FLOOR), 0.0, SHADE_MAX)


def gaussian_matrix(n: int, sigma: float) -> torch.Tensor:
    """(n, n) G with G @ x blurring x's rows by a Gaussian, edges replicated: a blur of a small image
    as two matrix products (onnxruntime's 1-channel Conv cost more than the whole graph's maths)."""
    r = int(math.ceil(3 * sigma))
    i = torch.arange(n, dtype=torch.float32)
    g = torch.zeros(n, n)
    for k in range(-r, r + 1):  # tap k of pixel i reads pixel clamp(i + k)
        g[i.long(), torch.clamp(i + k, 0, n - 1).long()] += math.exp(-0.5 * (k / sigma) ** 2)
    return g / g.sum(dim=1, keepdim=True)


def run_edges(garment: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(1,1,M,M) 0/1 garment -> left, right (1,1,M,M): for each garment pixel, the first column of
    its row's run and one past its last. Running max/min along the rows by doubling (log2 M steps)."""
    M = garment.shape[-1]
    col = torch.arange(M, dtype=torch.float32)
    gap = 1.0 - garment
    left = gap * (col + 1)  # a gap column x marks "a run starts after x"
    right = gap * (M - col)  # a gap column x marks "a run ends at x" (as M - x, so a max finds it)
    step = 1
    while step < M:
        left = torch.maximum(left, F.pad(left[..., : M - step], (step, 0)))
        right = torch.maximum(right, F.pad(right[..., step:], (0, step)))
        step *= 2
    return left, M - right


def drape_field(small: torch.Tensor, garment: torch.Tensor, blur: torch.Tensor, drape: Drape) -> torch.Tensor:
    """(1,1,M,M) design and garment at MASK size, blur (M,M) (`gaussian_matrix`) -> (1,2,M,M)
    displacement (du, dv) in MASK pixels."""
    M = small.shape[-1]
    x = torch.arange(M, dtype=torch.float32).reshape(1, 1, 1, M)
    left, right = run_edges(garment)
    half = torch.clamp((right - left) / 2, min=0.5)  # the run's half-width
    t = torch.clamp((x - (left + right - 1) / 2) / half, -drape.edge_clip, drape.edge_clip)
    # arc length from the run's centre on a cylinder of radius `half`, minus the flat distance
    du = drape.wrap * half * (torch.asin(t) - t)
    dv = drape.bow * half * (1.0 - torch.sqrt(1.0 - t * t))
    smooth = blur @ small @ blur.t()
    gx = F.pad(smooth[..., :, 2:] - smooth[..., :, :-2], (1, 1, 0, 0), mode="replicate") / 2
    gy = F.pad(smooth[..., 2:, :] - smooth[..., :-2, :], (0, 0, 1, 1), mode="replicate") / 2
    # downhill: where the shading darkens the surface turns away, and the print crowds (foreshortens)
    # there, as it does towards a cylinder's edge: the two terms agree at the silhouette
    field = torch.cat([du - drape.displace * gx, dv - drape.displace * gy], dim=1) * garment
    # Rows whose runs split or merge (a coat's opening, the crotch) jump from one cylinder to
    # another: smoothing over the garment (a blur weighted by it) turns that tear into a bend.
    return (blur @ field @ blur.t()) / (blur @ garment @ blur.t() + 1e-3) * garment


def sample_tile(tile: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """tile (B,3,T,T), u, v (1,H,W) tile units -> (B,3,H,W): the tile wrapped, bilinear.

    Four gathers from the flattened, padded tile, not GridSample: onnxruntime's GridSample took ~0.5 us a
    pixel on the 2-core CPU (270 ms at 720 px). The kiosk passes the tile at the render's scale
    (one tile pixel ~ one output pixel, `kiosk.prints`), so no mip level is chosen here."""
    B, C, T = tile.shape[0], tile.shape[1], tile.shape[-1]
    H, W = u.shape[-2:]
    # one wrapped texel on each side, then one row per texel: a gather copies all its channels, and
    # the four neighbours of texel i are i, i + 1, i + T + 2, i + T + 3 (no wrapping per pixel)
    padded = F.pad(tile, (1, 1, 1, 1), mode="circular")
    texels = padded.permute(2, 3, 0, 1).reshape((T + 2) * (T + 2), B * C)
    x = (u - torch.floor(u)) * T + 0.5  # tile pixel i (padded i + 1) is centred at (i + 0.5) / T
    y = (v - torch.floor(v)) * T + 0.5
    x0, y0 = torch.floor(x), torch.floor(y)
    fx, fy = (x - x0).reshape(-1, 1), (y - y0).reshape(-1, 1)
    i00 = (y0 * (T + 2) + x0).reshape(-1).long()
    g00, g01 = texels[i00], texels[i00 + 1]
    g10, g11 = texels[i00 + (T + 2)], texels[i00 + (T + 3)]
    top = g00 + (g01 - g00) * fx
    bottom = g10 + (g11 - g10) * fx
    return (top + (bottom - top) * fy).t().reshape(B, C, H, W)


class PrintGraph(nn.Module):
    def __init__(self, drape: Drape = Drape()):
        super().__init__()
        self.drape = drape
        self.register_buffer("background", torch.tensor(BACKGROUND).reshape(1, 3, 1, 1))
        border = torch.ones(MASK, MASK)
        border[1:-1, 1:-1] = 0
        self.register_buffer("border", border)
        self.register_buffer("blur", gaussian_matrix(MASK, drape.blur))

    def forward(self, design: torch.Tensor, tile: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """design (1,1,H,W) in [0,1], tile (B,3,T,T) in [0,1] -> rgb (B,3,H,W) in [0,1], uv (1,2,H,W)."""
        H, W = design.shape[-2:]
        small = F.interpolate(design, size=(MASK, MASK), mode="bilinear", align_corners=False)
        background = background_small(small, self.border)  # (1,1,M,M)
        mask = garment_mask(design, background)  # (1,1,H,W)
        field = drape_field(small, (background < 0.5).float(), self.blur, self.drape)  # (1,2,M,M) MASK pixels
        # MASK pixels -> tile units (REPEATS tiles over MASK - 1 pixel steps), at every output pixel
        field = F.interpolate(field, size=(H, W), mode="bilinear", align_corners=True) * (REPEATS / (MASK - 1))
        u, v = tile_coordinates(H, W)
        uv = torch.stack([u[None, :].expand(H, W), v[:, None].expand(H, W)])[None] + field  # (1,2,H,W)
        colour = sample_tile(tile, uv[:, 0], uv[:, 1]) * shading(design, mask)
        rgb = torch.clamp(mask * colour + (1.0 - mask) * self.background, 0.0, 1.0)
        return rgb, uv
