"""`fse-train prints`: the print network's subcommand (registered by training/cli.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from contract.fashion_mnist import DatasetError

from .gimp_pat import PatternError


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("prints", help="train the print network, its loss network and the recognizer")
    p.add_argument("--run", type=Path, default=Path("runs/prints"), help="run directory (checkpoint, evidence)")
    p.add_argument("--data", help="Fashion-MNIST directory (IDX .gz files)")
    p.add_argument("--steps", type=int, help="print-network steps (default from PrintsConfig)")
    p.add_argument("--resume", action="store_true", help="continue from the run's checkpoint")
    p.add_argument("--quick", action="store_true", help="seconds, tiny models (for tests)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(handler=run)
    return p


def run(args) -> int:
    from .train import PrintsConfig, quick_config, train_prints

    cfg = quick_config() if args.quick else PrintsConfig()
    try:
        train_prints(args.run, cfg, args.data, args.resume, not args.no_progress, args.steps)
    except (DatasetError, PatternError) as e:
        print(f"fse-train prints: {e}", file=sys.stderr)
        return 2
    return 0
