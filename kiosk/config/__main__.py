"""Check a kiosk.toml and print the effective config as TOML, or print the commented example file.

python -m kiosk.config [PATH]     # PATH, or /etc/fse/kiosk.toml if present; exit 2 on a config error
python -m kiosk.config --example  # systemd/kiosk.toml.example
"""

from __future__ import annotations

import sys
from pathlib import Path

from .checks import ConfigError
from .load import load_config
from .writer import to_toml


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m kiosk.config", description=__doc__.splitlines()[0])
    parser.add_argument(
        "path", nargs="?", type=Path, help="a kiosk.toml to check (default: /etc/fse/kiosk.toml if present)"
    )
    parser.add_argument("--example", action="store_true", help="print a commented example with every key")
    args = parser.parse_args(argv)
    if args.example:
        print(to_toml(commented=True), end="")
        return 0
    try:
        config = load_config(args.path)
    except ConfigError as error:
        print(f"config error: {error}", file=sys.stderr)
        return 2
    print(f"# source: {config.source}")
    print(to_toml(config), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
