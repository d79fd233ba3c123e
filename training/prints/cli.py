"""`fse-train prints`: export the print graph and swatches (registered by training/cli.py).

The print graph has no learned weights (training/prints/pipeline.py), so this is an export.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .gimp_pat import PatternError


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("prints", help="export the print graph, the swatch tiles and prints.json")
    p.add_argument("--out", type=Path, default=Path("onnx_models"), help="the models directory")
    p.add_argument("--evaluation", type=Path, help="python -m training.prints.evaluate's JSON (recognition per print)")
    p.set_defaults(handler=run)
    return p


def run(args) -> int:
    from .export import export

    try:
        m = export(args.out, args.evaluation)
    except PatternError as e:
        print(f"fse-train prints: {e}", file=sys.stderr)
        return 2
    print(f"wrote {args.out / m['model']['file']} and {len(m['prints'])} swatches")
    return 0
