"""`fse-train`: one CLI for every model.

    fse-train space      --run runs/space       [--epochs 8] [--gan-epochs 1] [--resume] [--quick]
    fse-train classifier --run runs/classifier  [--epochs 6] [--resume] [--quick]
    fse-train prints     --run runs/prints      [--resume] [--quick]
    fse-train prior      --space runs/space --run runs/prior
    fse-train export     --space runs/space --classifier runs/classifier --prior runs/prior --out onnx_models
    fse-train sheet      --out docs/model_sheet.png [--compare runs/vae_models]

`--set key=value` overrides any config field (see training/config.py). The data directory is
`--data`, else $FSE_FASHION_MNIST, else /usr/share/datasets/fashion-mnist.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import sys
from pathlib import Path

from contract.fashion_mnist import DatasetError

from .config import ClassifierConfig, SpaceConfig, quick
from .prints.cli import add_parser as add_prints

# Subcommands that parse their own options in their own module (`fse-train export --help`); they are
# imported only when run, so `fse-train space` does not load onnx and onnxruntime.
OWN_PARSERS = {
    "export": ("training.export", "the trained models -> ONNX files, landmarks and manifest in onnx_models/"),
    "sheet": ("training.sheet", "a PNG contact sheet of the exported models"),
    "recover": ("training.recover", "rebuild a fashion-space checkpoint from the shipped ONNX models"),
    "prior": ("training.prior", "fit the learned prior between the sliders and z (contract/latent.py)"),
}


def _apply_overrides(cfg, pairs: list[str]):
    types = {f.name: f.type for f in dataclasses.fields(cfg)}
    for pair in pairs:
        key, _, value = pair.partition("=")
        if key not in types:
            raise SystemExit(f"fse-train: unknown config field {key!r}; known: {', '.join(sorted(types))}")
        current = getattr(cfg, key)
        if value.lower() in ("none", "null"):
            setattr(cfg, key, None)
        elif isinstance(current, bool):
            setattr(cfg, key, value.lower() in ("1", "true", "yes"))
        elif isinstance(current, int) or "int" in str(types[key]):
            setattr(cfg, key, int(value))
        else:
            setattr(cfg, key, float(value))
    return cfg


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="fse-train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="model", required=True)
    for name, default_run in (("space", "runs/space"), ("classifier", "runs/classifier")):
        s = sub.add_parser(name, help=f"train the {name} model")
        s.add_argument("--run", type=Path, default=Path(default_run), help="run directory (checkpoint, metrics)")
        s.add_argument("--data", help="Fashion-MNIST directory (IDX .gz files)")
        s.add_argument("--epochs", type=int)
        s.add_argument("--resume", action="store_true", help="continue from the run's checkpoint")
        s.add_argument("--quick", action="store_true", help="seconds on a data slice (for tests)")
        s.add_argument("--no-progress", action="store_true")
        s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
        if name == "space":
            s.add_argument("--gan-epochs", type=int)
    add_prints(sub)  # the print graph's export (training/prints/cli.py)
    for name, (_, help_) in OWN_PARSERS.items():
        sub.add_parser(name, help=help_, add_help=False)  # listed here, parsed by its module
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in OWN_PARSERS:
        return importlib.import_module(OWN_PARSERS[argv[0]][0]).main(argv[1:])
    args = build_parser().parse_args(argv)
    if getattr(args, "handler", None):
        return args.handler(args)
    from . import train

    command = "fse-train " + " ".join(argv)
    try:
        if args.model == "space":
            cfg = quick(SpaceConfig()) if args.quick else SpaceConfig()
            cfg = _apply_overrides(cfg, args.set)
            if args.epochs is not None:
                cfg.epochs = args.epochs
            if args.gan_epochs is not None:
                cfg.gan_epochs = args.gan_epochs
            train.train_space(args.run, cfg, args.data, args.resume, not args.no_progress, command)
        else:
            cfg = quick(ClassifierConfig()) if args.quick else ClassifierConfig()
            cfg = _apply_overrides(cfg, args.set)
            if args.epochs is not None:
                cfg.epochs = args.epochs
            train.train_classifier(args.run, cfg, args.data, args.resume, not args.no_progress, command)
    except DatasetError as e:
        print(f"fse-train: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
