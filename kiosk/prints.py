"""Prints on designs, kiosk side: numpy + onnxruntime (+ pygame for PNG files), never torch.

`Prints.load(models_dir)` reads `prints.json`, checks the graph's and the swatch tiles' sha256 and
opens `prints.onnx` (contract.models.PRINTS, built by training/prints/pipeline.py): the design and
a print's tile in, the tile draped over the garment and shaded out. The print is its tile: this
module filters the tile to the render's scale (a mip pyramid, then a periodic resample), so a
1024 px capture samples it pixel for pixel and an 80 px draft does not alias; a blend mixes the
tiles by weight.

    fse-stylize --list
    fse-stylize --print leopard IN.png OUT.png
    fse-stylize --print "leopard=0.5,tartan=0.5" IN.png OUT.png   # a blend: both prints, half strength each
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from contract.models import PRINT_BACKGROUND, PRINT_TILE_REPEATS, PRINTS, sha256_file

from .png import read_png, write_png

NONE = "none"
MIN_SIDE = 8  # smaller designs are edge-padded to this and cropped back
MIN_TILE = 4  # the smallest tile side passed to the graph (a tile below this is a flat colour anyway)
SWATCH_SIDE = 96  # the selector's swatch: a tile and a half at a 256 px render's scale
TILE_CACHE = 48  # filtered tiles kept (print mix x side): drafts change side as the machine's speed does
FORMAT = 2
UNPRINTED_GREY = 0.82  # the tile of all-zero weights: an unprinted garment, still shaded
FIX = "restore onnx_models/ from the repository or re-export with `fse-train prints --out onnx_models`"


class PrintError(Exception):
    """An unknown print, bad weights or a broken prints graph; the message says what and how to fix."""


@dataclass(frozen=True)
class PrintInfo:
    name: str
    label: str
    swatch: np.ndarray  # (SWATCH_SIDE, SWATCH_SIDE, 3) uint8: what the print selector shows
    tile: np.ndarray  # (T, T, 3) uint8: one repeat at a 1024 px capture's scale


def _read_png(path: Path) -> np.ndarray:
    import pygame

    try:
        return read_png(path)
    except (pygame.error, FileNotFoundError) as e:
        raise PrintError(f"{path}: cannot read the image ({e}); give a PNG file") from None


def _open_session(path: Path, provider: str):
    from .providers import create_session  # the one place sessions are made

    return create_session(path, provider, intra_op_threads=1, cpu_mem_arena=False)


def resize_periodic(tile: np.ndarray, side: int) -> np.ndarray:
    """(T, T, C) float seamless tile -> (side, side, C), staying seamless. Shrinking averages each
    output pixel's exact footprint (a box filter: a 1-px checker becomes its mean grey, where
    bilinear's two taps would alias it); enlarging is bilinear."""
    T = tile.shape[0]
    if side > T:
        at = (np.arange(side) + 0.5) * (T / side) - 0.5
        lo = np.floor(at).astype(np.intp)
        f = (at - lo).astype(np.float32)
        weights = np.zeros((side, T), np.float32)
        np.add.at(weights, (np.arange(side), lo % T), 1 - f)
        np.add.at(weights, (np.arange(side), (lo + 1) % T), f)
    else:
        # overlap of output pixel i, [i, i+1) * T/side, with input pixel j, [j, j+1)
        edges = np.arange(side + 1) * (T / side)
        j = np.arange(T)
        weights = np.clip(np.minimum(edges[1:, None], j + 1) - np.maximum(edges[:-1, None], j), 0, None)
        weights = (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)
    C = tile.shape[2]
    rows = (weights @ tile.reshape(T, T * C)).reshape(side, T, C)  # rows filtered: (side, T, C)
    columns = weights @ rows.transpose(1, 0, 2).reshape(T, side * C)  # then columns: (side, side * C)
    return np.ascontiguousarray(columns.reshape(side, side, C).transpose(1, 0, 2))


def mip_pyramid(tile: np.ndarray) -> list[np.ndarray]:
    """(T, T, 3) uint8 -> float32 levels T, T/2, ... down to MIN_TILE, each the 2x2 mean of the last."""
    levels = [tile.astype(np.float32) / 255.0]
    while levels[-1].shape[0] % 2 == 0 and levels[-1].shape[0] // 2 >= MIN_TILE:
        t = levels[-1]
        levels.append(t.reshape(t.shape[0] // 2, 2, t.shape[1] // 2, 2, 3).mean(axis=(1, 3)))
    return levels


def tile_side(width: int) -> int:
    """The tile's side in pixels of a render `width` wide: the tile repeats PRINT_TILE_REPEATS times
    between the first and last pixel centres (contract.space.coordinates)."""
    return max(MIN_TILE, int(round((width - 1) / PRINT_TILE_REPEATS)))


class Prints:
    def __init__(self, manifest: dict, session, provider: str, tiles: dict[str, np.ndarray]):
        self._manifest = manifest
        self._session = session
        self.provider = provider
        self.background = tuple(manifest.get("background", PRINT_BACKGROUND))
        entries = manifest["prints"]
        self._prints = [e["name"] for e in entries]
        self.names: list[str] = [NONE] + self._prints
        grey = np.full((8, 8, 3), 200, np.uint8)
        self._info = {NONE: PrintInfo(NONE, "No print", grey, grey)}
        self._mips = [mip_pyramid(tiles[n]) for n in self._prints]
        for e, mips in zip(entries, self._mips):
            small = np.round(self._filtered(mips, tile_side(256)) * 255).astype(np.uint8)
            reps = -(-SWATCH_SIDE // small.shape[0])
            swatch = np.tile(small, (reps, reps, 1))[:SWATCH_SIDE, :SWATCH_SIDE]
            self._info[e["name"]] = PrintInfo(e["name"], e["label"], swatch, tiles[e["name"]])
        self._tiles: OrderedDict = OrderedDict()  # (weights bytes, side) -> (1, 3, side, side) float32
        self._tiles_lock = threading.Lock()  # the live view, drafts and captures ask from their own threads

    @classmethod
    def load(cls, models_dir: Path, provider: str = "cpu") -> "Prints":
        models_dir = Path(models_dir)
        path = models_dir / "prints.json"
        try:
            manifest = json.loads(path.read_text())
            if manifest.get("format") != FORMAT:
                raise KeyError(f"format {manifest.get('format')!r}, this kiosk reads format {FORMAT}")
            manifest["model"]["file"], manifest["model"]["sha256"]
            for i, e in enumerate(manifest["prints"]):
                missing = [k for k in ("name", "label", "swatch", "swatch_sha256") if k not in e]
                if missing:
                    raise KeyError(f"prints[{i}] has no {missing[0]!r}")
        except FileNotFoundError:
            raise PrintError(f"{path} is missing: {FIX}") from None
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise PrintError(f"{path} is not a valid prints manifest ({e}): {FIX}") from None
        tiles = {}
        for e in manifest["prints"]:
            file = models_dir / e["swatch"]
            if not file.is_file() or sha256_file(file) != e["swatch_sha256"]:
                raise PrintError(f"swatch {file} is missing or does not match prints.json: {FIX}")
            tiles[e["name"]] = _read_png(file)
            if tiles[e["name"]].shape[0] != tiles[e["name"]].shape[1]:
                raise PrintError(f"swatch {file} is not square ({tiles[e['name']].shape[:2]}): {FIX}")
        onnx_path = models_dir / manifest["model"]["file"]
        if not onnx_path.is_file() or sha256_file(onnx_path) != manifest["model"]["sha256"]:
            raise PrintError(f"{onnx_path} is missing or does not match prints.json: {FIX}")
        session, active = _open_session(onnx_path, provider)
        names = ([i.name for i in session.get_inputs()], [o.name for o in session.get_outputs()])
        if names != (PRINTS.input_names, PRINTS.output_names):
            raise PrintError(
                f"{onnx_path} has inputs/outputs {names}, not {PRINTS.input_names}/{PRINTS.output_names}: {FIX}"
            )
        return cls(manifest, session, active, tiles)

    def resolve(self, name: str) -> str:
        """The catalogue's name for `name`, matched ignoring case ("Leopard" is "leopard"); a
        PrintError listing the available prints when there is no such print."""
        found = next((n for n in self.names if n.lower() == name.lower()), None)
        if found is None:
            raise PrintError(f"unknown print {name!r}; available prints: {', '.join(self.names)}")
        return found

    def info(self, name: str) -> PrintInfo:
        if name not in self._info:
            raise PrintError(f"unknown print {name!r}; available prints: {', '.join(self.names)}")
        return self._info[name]

    def weights(self, name_or_mix: str | dict[str, float]) -> np.ndarray:
        """(P,) float32 print weights summing to 1; all zero ("none") leaves the design unprinted."""
        mix = {name_or_mix: 1.0} if isinstance(name_or_mix, str) else dict(name_or_mix)
        w = np.zeros(len(self._prints), np.float32)
        for name, value in mix.items():
            self.info(name)  # unknown names raise, listing the available prints
            if not np.isfinite(value) or value < 0:
                raise PrintError(f"print weight for {name!r} is {value}; weights must be >= 0")
            if name != NONE:
                w[self._prints.index(name)] += value
        total = w.sum()
        return w / total if total > 0 else w

    @staticmethod
    def _filtered(mips: list[np.ndarray], side: int) -> np.ndarray:
        """The tile at `side` px from the mip level at or just above it (mip-mapping: a fine print
        drawn small is averaged, not aliased)."""
        level = next((m for m in reversed(mips) if m.shape[0] >= side), mips[0])
        return level if level.shape[0] == side else resize_periodic(level, side)

    def tile(self, weights: np.ndarray, side: int) -> np.ndarray:
        """The prints mixed by weight at `side` px per tile -> (1, 3, side, side) float32. Sampling is
        linear, so a mix of tiles is the mix of the printed pictures (a 50/50 blend shows both at half
        strength)."""
        key = (np.asarray(weights, np.float32).tobytes(), side)
        with self._tiles_lock:
            if key in self._tiles:
                self._tiles.move_to_end(key)
                return self._tiles[key]
        mixed = np.full((side, side, 3), UNPRINTED_GREY, np.float32)  # all-zero weights ("none")
        if np.sum(weights) > 0:
            mixed = sum(w * self._filtered(m, side) for w, m in zip(weights, self._mips) if w > 0)
        out = np.ascontiguousarray(np.asarray(mixed, np.float32).transpose(2, 0, 1)[None])
        with self._tiles_lock:
            self._tiles[key] = out
            while len(self._tiles) > TILE_CACHE:
                self._tiles.popitem(last=False)
        return out

    def _run(self, design: np.ndarray, weights: np.ndarray) -> list[np.ndarray]:
        design = np.asarray(design, np.float32)
        if design.ndim != 2:
            raise PrintError(f"a design is one (H, W) grey image; got shape {design.shape}")
        w = np.asarray(weights, np.float32).reshape(-1)
        if w.shape[0] != len(self._prints):
            raise PrintError(f"print weights need {len(self._prints)} numbers (one per print), got {w.shape[0]}")
        w = np.clip(np.nan_to_num(w), 0, None)
        if w.sum() > 0:
            w = w / w.sum()
        H, W = design.shape
        # the graph has no stride, any size works; tiny designs are padded so the mask has room
        padded = np.pad(
            np.clip(np.nan_to_num(design), 0, 1), ((0, max(0, MIN_SIDE - H)), (0, max(0, MIN_SIDE - W))), mode="edge"
        )
        feeds = {"design": padded[None, None], "tile": self.tile(w, tile_side(padded.shape[1]))}
        return [out[..., :H, :W] for out in self._session.run(None, feeds)]

    def apply(self, design: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """design (H, W) float [0, 1], weights (P,) -> (H, W, 3) uint8 RGB: the print draped over the
        garment and shaded, on the clean background (all-zero weights: the garment unprinted, grey)."""
        rgb = self._run(design, weights)[0]
        return np.round(rgb[0].transpose(1, 2, 0) * 255).astype(np.uint8)

    def coordinates(self, design: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The tile coordinates (2, H, W) of a flat print and the ones the graph sampled at (tile
        units): how far the print moved to follow the garment (training/prints/evaluate.py)."""
        H, W = np.asarray(design).shape
        uv = self._run(design, self.weights(self._prints[0]))[1][0]
        u = np.linspace(-1, 1, W, dtype=np.float32) * (PRINT_TILE_REPEATS / 2)
        v = np.linspace(-1, 1, H, dtype=np.float32) * (PRINT_TILE_REPEATS / 2)
        return np.stack([np.broadcast_to(u[None], (H, W)), np.broadcast_to(v[:, None], (H, W))]), uv


def _parse_print(spec: str) -> str | dict[str, float]:
    if "=" not in spec:
        return spec
    mix = {}
    for part in spec.split(","):
        name, _, value = part.partition("=")
        try:
            mix[name.strip()] = float(value)
        except ValueError:
            raise PrintError(f"cannot read the weight in {part!r}; write a mix as name=0.5,name=0.5") from None
    return mix


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="fse-stylize", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--print", dest="print_name", help="a print name, or a mix like leopard=0.5,tartan=0.5")
    ap.add_argument("--list", action="store_true", help="list the prints")
    ap.add_argument("--models", type=Path, default=Path("onnx_models"), help="the models directory")
    ap.add_argument("--provider", default="cpu")
    ap.add_argument("input", nargs="?", type=Path, help="the design, a grey or RGB PNG (dark background)")
    ap.add_argument("output", nargs="?", type=Path, help="where to write the printed design (PNG)")
    args = ap.parse_args(argv)
    try:
        prints = Prints.load(args.models, args.provider)
        if args.list:
            for name in prints.names:
                print(f"{name:14s} {prints.info(name).label}")
            return 0
        if not (args.print_name and args.input and args.output):
            ap.error("give --print NAME IN.png OUT.png (or --list)")
        weights = prints.weights(_parse_print(args.print_name))
        design = _read_png(args.input).astype(np.float32).mean(axis=2) / 255.0
        if weights.sum() > 0:
            write_png(args.output, prints.apply(design, weights))
        else:  # "none": the design as it came
            write_png(args.output, np.round(np.repeat(design[..., None], 3, axis=2) * 255).astype(np.uint8))
    except PrintError as e:
        print(f"fse-stylize: {e}", file=sys.stderr)
        return 2
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
