"""`fse-update`: the booth's updates, signed by the operator, from a USB stick.

On the operator's machine (a checkout with the exported models in onnx_models/):
    fse-update keygen ~/fse-update-key.pem             # once: the private key, and its .pub.pem for the booths
    fse-update build --key ~/fse-update-key.pem        # fse-update-<version>.fse-update from this checkout
    fse-update build --key K --version 0.2.0 --downgrade-from 0.3.0   # going back on purpose: replaces only 0.3.0
    fse-update verify fse-update-0.2.0.fse-update --keys DIR   # check a bundle against public keys

On the booth (root's units; by hand as root too):
    fse-update usb /dev/sdb1           # udev/systemd on a stick labelled FSE-UPDATE: check, install, switch
    fse-update status                  # the slots, their versions, which runs, a trial in progress
    fse-update confirm --from a --to b         # the kiosk's ExecStartPost while b is on trial
    fse-update rollback --to a                 # fse-update-rollback@a.service: back to slot a

Exit 0: done; 2: refused (the reason on stderr and on the booth's screen; nothing was changed).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from contract.models import MODELS_FOLDER

from . import bundle, slots

PACKAGES_FROM = "tool.setuptools.packages.find"


def _pyproject(source: Path) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    path = source / "pyproject.toml"
    if not path.is_file():
        raise bundle.BundleError(
            f"{source} has no pyproject.toml: run fse-update build in the checkout, or give --source"
        )
    with open(path, "rb") as f:
        return tomllib.load(f)


def build(source: Path, key: Path, version: str | None, out: Path | None, downgrade_from: str | None = None) -> Path:
    """A bundle of the checkout's packages (pyproject's [tool.setuptools.packages.find], as the
    installer puts them into the venv), its onnx_models/, docs/*.md and the kiosk's console scripts.
    `downgrade_from`: the one version the bundle may replace on a booth although it is not newer."""
    project = _pyproject(source)
    names = [p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]]
    packages = {name: source / name for name in names}
    missing = [str(p) for p in packages.values() if not (p / "__init__.py").is_file()]
    if missing:
        raise bundle.BundleError(f"no package at {', '.join(missing)}: is {source} the checkout?")
    models = source / MODELS_FOLDER
    if not (models / "manifest.json").is_file():
        raise bundle.BundleError(f"{models} has no manifest.json: export the models first (fse-train export)")
    docs = source / bundle.DOCS_FOLDER
    if not list(docs.glob("*.md")):
        raise bundle.BundleError(f"{docs} has no *.md: is {source} the checkout?")
    scripts = {k: v for k, v in project["project"]["scripts"].items() if v.startswith("kiosk.")}
    version = version or project["project"]["version"]
    for checked in (version, downgrade_from):  # a booth refuses what it cannot compare: refuse it here first
        if checked is not None:
            bundle.version_key(checked)
    out = out or Path(f"fse-update-{version}.fse-update")
    manifest = bundle.write_bundle(out, key, version, packages, models, docs, scripts, downgrade_from)
    going_back = f", may replace {downgrade_from} (going back)" if downgrade_from else ""
    print(
        f"{out}: version {manifest.version}{going_back}, payload {manifest.payload_size / 1e6:.1f} MB, signed with {key}"
    )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fse-update", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("keygen", help="make an ed25519 key pair (private key file, and .pub.pem beside it)")
    p.add_argument("key", type=Path)
    p = commands.add_parser("build", help="build and sign a bundle from a checkout")
    p.add_argument("--key", type=Path, required=True, help="the private key (PEM), from fse-update keygen or openssl")
    p.add_argument("--source", type=Path, default=Path("."), help="the checkout (default: here)")
    p.add_argument("--version", help="the version the booth will report (default: pyproject.toml's)")
    p.add_argument("--out", type=Path, help="the bundle file (default: fse-update-<version>.fse-update)")
    p.add_argument(
        "--downgrade-from",
        metavar="VERSION",
        help="go back on purpose: a booth running exactly VERSION installs this bundle although it is not newer",
    )
    p = commands.add_parser("verify", help="check a bundle's signature and contents")
    p.add_argument("bundle", type=Path)
    p.add_argument("--keys", type=Path, default=bundle.KEY_DIR, help="folder of trusted *.pem (default: the booth's)")
    p = commands.add_parser("usb", help="install the update on a stick (the udev unit's command)")
    p.add_argument("device")
    p.add_argument("--state-dir", type=Path, help="where the screen's status goes (default: the kiosk's)")
    p = commands.add_parser("mark-stopped", help="the udev unit's ExecStopPost")
    p.add_argument("device")
    p.add_argument("--state-dir", type=Path)
    p = commands.add_parser("confirm", help="the kiosk reached READY=1: the version on trial stays")
    p.add_argument("--from", dest="previous", choices=slots.SLOTS, required=True)
    p.add_argument("--to", dest="new", choices=slots.SLOTS, required=True)
    p.add_argument("--state-dir", type=Path)
    p = commands.add_parser("rollback", help="the version on trial failed: back to slot TO")
    p.add_argument("--to", choices=slots.SLOTS, required=True)
    p.add_argument("--state-dir", type=Path)
    commands.add_parser("status", help="the slots and which one runs")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)

    from ..usb_stick import StickError
    from . import trial, usb

    def state_dir() -> Path:
        if args.state_dir:
            return args.state_dir
        from ..config import load_config

        return Path(load_config().state_dir)

    try:
        if args.command == "keygen":
            public = bundle.generate_key(args.key)
            print(f"private key {args.key} (keep it off the booth), public key {public} (for FSE_UPDATE_KEYS)")
        elif args.command == "build":
            build(args.source, args.key, args.version, args.out, args.downgrade_from)
        elif args.command == "verify":
            manifest = bundle.verify_file(args.bundle, bundle.trusted_keys(args.keys))
            print(
                f"{args.bundle}: version {manifest.version}, built {manifest.created_utc}, signed by {manifest.signed_by}"
            )
        elif args.command == "usb":
            print(f"installed {usb.update_from_stick(args.device, state_dir())}")
        elif args.command == "mark-stopped":
            usb.mark_stopped(args.device, state_dir())
        elif args.command == "confirm":
            trial.confirm(args.previous, args.new, state_dir())
        elif args.command == "rollback":
            trial.rollback(args.to, state_dir())
        else:
            running = slots.current_slot()
            for slot in slots.SLOTS:
                mark = "running" if slot == running else ""
                print(f"{slot}: {slots.slot_version(slot)} {mark}".rstrip())
            if trial.on_trial():
                print(f"on trial: /{trial.TRIAL_DROPIN}")
    except (bundle.BundleError, slots.SlotError, StickError, usb.UpdateStopped) as e:
        print(f"fse-update: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"fse-update: {e.filename or ''}: {e.strerror}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
