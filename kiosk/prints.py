"""Prints on designs, kiosk side: numpy + onnxruntime (+ pygame for PNG files), never torch.

`Prints.load(models_dir)` reads `prints.json`, checks the model's and swatches' sha256, and opens
`prints.onnx` (or `prints_baseline.onnx` with mode="baseline", for weak devices). Each print is
drawn by the method `prints.json` names for it: "network" where the print network's output is
recognised as that print at least 90% of the time, else "tile-and-shade".

    fse-stylize --list
    fse-stylize --print leopard IN.png OUT.png
    fse-stylize --print "leopard=0.5,tartan=0.5" IN.png OUT.png   # a blend: both prints, half strength each
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from contract.models import sha256_file

from .png import read_png, write_png

NONE = "none"
MIN_SIDE = 8  # smaller designs are edge-padded to this and cropped back
FIX = "restore onnx_models/ from the repository or re-export with `python -m training.prints.export`"


class PrintError(Exception):
    """An unknown print, bad weights or a broken prints model; the message says what and how to fix."""


@dataclass(frozen=True)
class PrintInfo:
    name: str
    label: str
    swatch: np.ndarray  # (h, w, 3) uint8
    method: str  # "network" | "tile-and-shade" | "none"


def _read_png(path: Path) -> np.ndarray:
    import pygame

    try:
        return read_png(path)
    except (pygame.error, FileNotFoundError) as e:
        raise PrintError(f"{path}: cannot read the image ({e}); give a PNG file") from None


def _open_session(path: Path, provider: str):
    try:
        from .providers import create_session
    except ImportError:  # kiosk/providers.py is the one place sessions should come from
        import onnxruntime as ort

        return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]), "cpu"
    # no memory arena: it would keep the print network's ~1 KB-per-pixel intermediates for good
    return create_session(path, provider, intra_op_threads=1, cpu_mem_arena=False)


class Prints:
    def __init__(
        self, manifest: dict, session, baseline_session, provider: str, mode: str, swatches: dict[str, np.ndarray]
    ):
        self._manifest = manifest
        self._session = session  # None in baseline mode
        self._baseline_session = baseline_session  # renders whenever no print uses the network
        self.provider = provider
        self.mode = mode
        entries = manifest["prints"]
        self._prints = [e["name"] for e in entries]
        self.names: list[str] = [NONE] + self._prints
        grey = np.full((8, 8, 3), 200, np.uint8)
        self._info = {NONE: PrintInfo(NONE, "No print", grey, "none")}
        for e in entries:
            method = "tile-and-shade" if mode == "baseline" else e["method"]
            self._info[e["name"]] = PrintInfo(e["name"], e["label"], swatches[e["name"]], method)
        self._uses_network = np.array([self._info[n].method == "network" for n in self._prints])

    @classmethod
    def load(cls, models_dir: Path, provider: str = "cpu", mode: str = "auto") -> "Prints":
        if mode not in ("auto", "baseline"):
            raise PrintError(f"print mode {mode!r} is not known; use 'auto' or 'baseline'")
        models_dir = Path(models_dir)
        path = models_dir / "prints.json"
        try:
            manifest = json.loads(path.read_text())
            for key in ("model", "baseline_model", "prints"):  # what the kiosk needs from the file
                manifest[key]
            for key in ("model", "baseline_model"):
                manifest[key]["file"], manifest[key]["sha256"]
            for i, e in enumerate(manifest["prints"]):
                missing = [k for k in ("name", "label", "method", "swatch", "swatch_sha256") if k not in e]
                if missing:
                    raise KeyError(f"prints[{i}] has no {missing[0]!r}")
        except FileNotFoundError:
            raise PrintError(f"{path} is missing: {FIX}") from None
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise PrintError(f"{path} is not a valid prints manifest ({e}): {FIX}") from None
        swatches = {}
        for e in manifest["prints"]:
            file = models_dir / e["swatch"]
            if not file.is_file() or sha256_file(file) != e["swatch_sha256"]:
                raise PrintError(f"swatch {file} is missing or does not match prints.json: {FIX}")
            swatches[e["name"]] = _read_png(file)
        sessions = {}
        for key in ("baseline_model",) + (("model",) if mode == "auto" else ()):
            onnx_path = models_dir / manifest[key]["file"]
            if not onnx_path.is_file() or sha256_file(onnx_path) != manifest[key]["sha256"]:
                raise PrintError(f"{onnx_path} is missing or does not match prints.json: {FIX}")
            sessions[key] = _open_session(onnx_path, provider)
        active = sessions.get("model", sessions["baseline_model"])[1]
        return cls(manifest, sessions.get("model", (None,))[0], sessions["baseline_model"][0], active, mode, swatches)

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

    def apply(self, design: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """design (H, W) float [0, 1], weights (P,) -> (H, W, 3) uint8 RGB on the clean background.

        A blend (more than one non-zero weight) renders each of its prints on its own and mixes the
        pictures by weight. The output is albedo x shading on the garment and a fixed background off
        it, so mixing pictures is mixing the prints' colours: a 50/50 polka dot + tartan shows both
        at half strength. Mixing inside the network's weights instead painted a muddy beige that
        read as neither. Cost: one render per print in the blend (a visitor mixes 2 or 3).
        """
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
        ph, pw = max(0, MIN_SIDE - H), max(0, MIN_SIDE - W)
        padded = np.pad(np.clip(np.nan_to_num(design), 0, 1), ((0, ph), (0, pw)), mode="edge")
        used = np.flatnonzero(w)
        # one row of weights per picture: each print of a blend one-hot, else the weights as they are
        rows = np.eye(len(w), dtype=np.float32)[used] if len(used) > 1 else w[None]  # (B, P)
        rgb = self._render(padded, rows)[:, :, :H, :W]  # (B, 3, H, W)
        if len(used) > 1:
            rgb = np.einsum("b,bchw->chw", w[used], rgb)[None]
        return np.round(rgb[0].transpose(1, 2, 0) * 255).astype(np.uint8)

    def _render(self, design: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """One (H, W) design in each row of print weights (B, P) -> (B, 3, H, W) float [0, 1]."""
        feeds = {"design": design[None, None]}
        net_rows = np.where(self._uses_network, rows, 0).astype(np.float32)
        if self.mode == "baseline" or not net_rows.any():
            # the baseline graph skips the network entirely: tile-and-shade prints cost ~nothing
            feeds["tile_weights"] = rows
            return self._baseline_session.run(None, feeds)[0]
        feeds["net_weights"] = net_rows
        feeds["tile_weights"] = np.where(self._uses_network, 0, rows).astype(np.float32)
        return self._session.run(None, feeds)[0]


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
    ap.add_argument("--list", action="store_true", help="list the prints and how each is drawn")
    ap.add_argument("--models", type=Path, default=Path("onnx_models"), help="the models directory")
    ap.add_argument("--mode", choices=("auto", "baseline"), default="auto")
    ap.add_argument("--provider", default="cpu")
    ap.add_argument("input", nargs="?", type=Path, help="the design, a grey or RGB PNG (dark background)")
    ap.add_argument("output", nargs="?", type=Path, help="where to write the printed design (PNG)")
    args = ap.parse_args(argv)
    try:
        prints = Prints.load(args.models, args.provider, args.mode)
        if args.list:
            for name in prints.names:
                info = prints.info(name)
                print(f"{name:14s} {info.label:14s} {info.method}")
            return 0
        if not (args.print_name and args.input and args.output):
            ap.error("give --print NAME IN.png OUT.png (or --list)")
        weights = prints.weights(_parse_print(args.print_name))
        design = _read_png(args.input).astype(np.float32).mean(axis=2) / 255.0
        write_png(args.output, prints.apply(design, weights))
    except PrintError as e:
        print(f"fse-stylize: {e}", file=sys.stderr)
        return 2
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
