"""The booth's two app slots and the link that picks one.

    /opt/fse/a/venv          the kiosk's venv: its code (contract, kiosk, ...) and runtime dependencies
    /opt/fse/a/onnx_models   its models (found beside the venv: contract.models.shipped_models_dir)
    /opt/fse/a/docs          its docs (*.md), which the units' Documentation= lines name
    /opt/fse/b/...           the other slot: the previous version, or the next one being installed
    /opt/fse/current -> a    what the units run (/opt/fse/current/venv/bin/fse-kiosk); switched by
                             rename(2), so a reader sees the old link or the new one, never none
    /opt/fse/venv, /opt/fse/onnx_models, /opt/fse/docs -> current/...   the paths from before slots,
                             for people and units: they follow an update and a rollback

An update is built in /opt/fse/.<slot>.new beside the slots: the running slot's venv copied (the
runtime dependencies), the bundle's packages, models and docs put in, console scripts written for
the new slot's python, synced, then renamed over the inactive slot. The running slot is never written;
a full disk stops the copy at once (DiskFull) and the half-built slot is removed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
from pathlib import Path

from contract.models import MODELS_FOLDER
from kiosk.durable import fsync_dir

from .bundle import DOCS_FOLDER

PREFIX = Path("/opt/fse")
SLOTS = ("a", "b")
CURRENT = "current"
DIST = "fashion_space_explorer"
"""The distribution's name in the venv (pyproject.toml's name, as a dist-info folder spells it)."""


class SlotError(Exception):
    """The slots are not as an update needs them; the message says what to do."""


class DiskFull(SlotError):
    """No room left (ENOSPC) while a slot was built; not an OSError, so shutil.copytree, which collects
    OSErrors and goes on with the next file, stops at the first."""


def _copy_until_full(source: str, dest: str) -> str:
    try:
        return shutil.copy2(source, dest)
    except OSError as e:
        if e.errno == errno.ENOSPC:
            raise DiskFull(f"no room left on the device to write {dest}") from e
        raise


def current_slot(prefix: Path = PREFIX) -> str:
    link = prefix / CURRENT
    try:
        slot = os.readlink(link)
    except OSError:
        raise SlotError(
            f"{link} is not a link to a slot; run make install-appliance once to lay out the slots"
        ) from None
    if slot not in SLOTS:
        raise SlotError(f"{link} points at {slot!r}, not at one of {', '.join(SLOTS)}; run make install-appliance")
    return slot


def other_slot(slot: str) -> str:
    return SLOTS[1 - SLOTS.index(slot)]


def site_packages(venv: Path) -> Path:
    found = sorted(venv.glob("lib/python3*/site-packages"))
    if len(found) != 1:
        raise SlotError(f"{venv} has {len(found)} site-packages folders, not one; run make install-appliance")
    return found[0]


def slot_version(slot: str, prefix: Path = PREFIX) -> str:
    """The version installed in a slot (its dist-info, the one the kiosk reports); '?' if none."""
    for metadata in (prefix / slot / "venv").glob(f"lib/python3*/site-packages/{DIST}-*.dist-info/METADATA"):
        match = re.search(r"^Version: (.+)$", metadata.read_text(), re.MULTILINE)
        if match:
            return match.group(1).strip()
    return "?"


def write_scripts(bin_dir: Path, python: str, scripts: dict[str, str]) -> None:
    """The console scripts (name -> "module:function") as small files run by the slot's own python."""
    for name, target in scripts.items():
        module, _, function = target.partition(":")
        path = bin_dir / name
        path.write_text(f"#!{python}\nimport sys\nfrom {module} import {function}\nsys.exit({function}())\n")
        path.chmod(0o755)


def build_slot(prefix: Path, from_slot: str, to_slot: str, unpacked: Path, version: str, scripts: dict) -> None:
    """Make `to_slot` from the running slot's dependencies and an unpacked bundle (packages/, onnx_models/).
    Until the final rename the inactive slot is as it was; the running one is only read. `prefix` is
    where the slots are (a staged root's in tests); scripts name them where the booth runs them (PREFIX)."""
    staging = prefix / f".{to_slot}.new"
    shutil.rmtree(staging, ignore_errors=True)
    source_venv = prefix / from_slot / "venv"
    ours = {p.name for p in (unpacked / "packages").iterdir()}
    source_site = site_packages(source_venv)

    def leave_out(folder: str, names: list[str]) -> set[str]:
        if Path(folder) != source_site:
            return set()
        return {n for n in names if n in ours or (n.startswith(f"{DIST}-") and n.endswith(".dist-info"))}

    try:
        shutil.copytree(source_venv, staging / "venv", symlinks=True, ignore=leave_out, copy_function=_copy_until_full)
        site = site_packages(staging / "venv")
        for package in sorted(ours):
            os.rename(unpacked / "packages" / package, site / package)
        dist_info = site / f"{DIST}-{version}.dist-info"
        dist_info.mkdir()
        (dist_info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: fashion-space-explorer\nVersion: {version}\n"
        )
        (dist_info / "INSTALLER").write_text("fse-update\n")
        # Scripts of the dependencies still name the running slot's python: point them at the new one.
        bin_dir, old, new = (
            staging / "venv" / "bin",
            f"#!{PREFIX / from_slot}/venv/bin/python",
            f"#!{PREFIX / to_slot}/venv/bin/python",
        )
        for script in bin_dir.iterdir():
            if script.is_file() and not script.is_symlink():
                with contextlib.suppress(UnicodeDecodeError):
                    text = script.read_text()
                    if text.startswith(old):
                        script.write_text(new + text[len(old) :])
        write_scripts(bin_dir, new[2:], scripts)
        os.rename(unpacked / MODELS_FOLDER, staging / MODELS_FOLDER)
        os.rename(unpacked / DOCS_FOLDER, staging / DOCS_FOLDER)
        os.sync()  # the whole slot on disk before it can be switched to
        shutil.rmtree(prefix / to_slot, ignore_errors=True)
        os.rename(staging, prefix / to_slot)
        fsync_dir(prefix)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def switch(prefix: Path, slot: str) -> None:
    """Point /opt/fse/current at `slot` atomically (a new link renamed over the old) and durably."""
    if slot not in SLOTS or not (prefix / slot / "venv").is_dir():
        raise SlotError(f"slot {slot!r} has no venv in {prefix}; nothing to switch to")
    temp = prefix / f".{CURRENT}.new"
    with contextlib.suppress(FileNotFoundError):
        temp.unlink()
    os.symlink(slot, temp)
    os.replace(temp, prefix / CURRENT)
    fsync_dir(prefix)


def snapshot(prefix: Path = PREFIX) -> dict[str, tuple]:
    """Every path under the slots with its kind, size and mtime, and where `current` points: what
    "nothing was changed" compares (tests/test_update.py, tests/test_boot.py)."""
    seen: dict[str, tuple] = {CURRENT: (os.readlink(prefix / CURRENT),)}
    for slot in SLOTS:
        for path in sorted((prefix / slot).rglob("*")):
            info = path.lstat()
            seen[str(path.relative_to(prefix))] = (info.st_mode, info.st_size, info.st_mtime_ns)
    return seen
