"""One pull of the booth's logs into a folder (`--out`, a stick's fse-export/) or a tar (`--tar`).

A pull writes the log's bundle, then one bundle for each log the kiosk set aside (a damaged
database moved to quarantine/log-<utc>.sqlite: its captures and images leave the booth too). An
interrupted pull's `.partial` folder of the same log is resumed, not left to fill the stick. Once
the bundles are durable (for a stick: unmounted), record_export marks the log's captures exported
(retention may then prune them) and each set-aside log as exported (F12 stops counting it).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from contract.bundle import PARTIAL_SUFFIX
from contract.capture_schema import DB_NAME, CaptureLogError, image_paths, open_db, read_meta, utc_text

from ..capture.exported import mark_exported
from ..capture.files import EXPORTED_SUFFIX, QUARANTINE_DIR, set_aside_logs
from ..durable import fsync_dir, write_file_durably
from .bundle import check_log, earlier_images, give_back_sidecars, make_bundle
from .files import ExportError, StickFull


def bundle_name(state_dir: Path, label: str = "") -> str:
    """<booth>-<utc><label>: unique per export, sorts by time, safe on FAT."""
    return f"{_safe(_booth_id(state_dir))}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}{label}"


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in text)


def _booth_id(state_dir: Path) -> str:
    db = Path(state_dir) / DB_NAME
    if db.is_file():
        try:
            conn = open_db(db, read_only=True)
            booth = read_meta(conn).get("booth_id", "booth")
            conn.close()
            return booth
        except sqlite3.DatabaseError:
            pass
    return "booth"


def _image_paths(state_dir: Path) -> set[str]:
    """The images the log and the set-aside logs refer to (a set-aside log that cannot be read adds none)."""
    paths: set[str] = set()
    for db in [state_dir / DB_NAME, *set_aside_logs(state_dir)]:
        try:
            conn = open_db(db, read_only=True)
            try:
                paths.update(image_paths(conn))
            finally:
                conn.close()
        except sqlite3.DatabaseError:
            continue
    return paths


def _interrupted(out: Path, state_dir: Path, label: str) -> Path | None:
    """The newest `.partial` folder an earlier pull of this booth's log (same label) left in `out`;
    older ones are removed (resuming one is enough, and they only take room)."""
    pattern = re.compile(rf"{re.escape(_safe(_booth_id(state_dir)))}-\d{{8}}T\d{{6}}Z{re.escape(label)}(-\d+)?")
    found = sorted(
        (entry.stat(follow_symlinks=False).st_mtime, entry.name)
        for entry in os.scandir(out)
        if entry.name.endswith(PARTIAL_SUFFIX)
        and pattern.fullmatch(entry.name[: -len(PARTIAL_SUFFIX)])
        and entry.is_dir(follow_symlinks=False)
    )
    for _, name in found[:-1]:
        shutil.rmtree(out / name, ignore_errors=True)
    return out / found[-1][1] if found else None


def _new_bundle(out: Path, name: str) -> Path:
    bundle, n = out / name, 1
    while bundle.exists() or bundle.with_name(bundle.name + PARTIAL_SUFFIX).exists():  # two pulls within a second
        n += 1
        bundle = out / f"{name}-{n}"
    return bundle


def export_into(state_dir: Path, out: Path, full: bool) -> tuple[list[tuple[Path, dict]], list[str]]:
    """The log's bundle in `out`, then a bundle per set-aside log not yet exported.
    Returns ([(bundle, manifest)], the log's first) and the set-aside logs that could not be read
    (named, and left in quarantine/). Nothing is written when there is no log."""
    state_dir = Path(state_dir)
    check_log(state_dir / DB_NAME)
    out.mkdir(parents=True, exist_ok=True)
    held = {} if full else earlier_images(out, _booth_id(state_dir), _image_paths(state_dir))
    made, unreadable = [_bundle_into(out, state_dir, state_dir / DB_NAME, "", held)], []
    for log in set_aside_logs(state_dir):
        try:
            made.append(_bundle_into(out, state_dir, log, f"-set-aside-{log.stem}", held))
        except StickFull:
            raise
        except (ExportError, sqlite3.DatabaseError) as e:  # too damaged to read: it stays in quarantine/
            print(f"fse-export: the set-aside log {log} cannot be exported ({e})", file=sys.stderr)
            unreadable.append(f"{QUARANTINE_DIR}/{log.name}")
    return made, unreadable


def _bundle_into(out: Path, state_dir: Path, db_path: Path, label: str, held: dict) -> tuple[Path, dict]:
    extra = {"set_aside_log": f"{QUARANTINE_DIR}/{db_path.name}"} if label else None
    resume = _interrupted(out, state_dir, label)
    bundle = _new_bundle(out, bundle_name(state_dir, label))
    try:
        return bundle, make_bundle(state_dir, bundle, held, db_path=db_path, resume=resume, extra=extra)
    except StickFull:
        raise  # what was copied stays for the next pull to resume
    except (ExportError, sqlite3.DatabaseError):
        if label:  # a set-aside log that does not read leaves nothing behind
            shutil.rmtree(bundle.with_name(bundle.name + PARTIAL_SUFFIX), ignore_errors=True)
        raise


def record_export(state_dir: Path, manifest: dict) -> None:
    """Tell the booth what a durable bundle now holds: the log's captures (retention may prune only
    those) or a whole set-aside log. The export stands if this fails (they stay "not exported")."""
    state_dir = Path(state_dir)
    try:
        if manifest.get("set_aside_log"):
            marker = state_dir / (manifest["set_aside_log"] + EXPORTED_SUFFIX)
            record = {"log_id": manifest["log_id"], "exported_utc": utc_text(time.time())}
            write_file_durably(marker, (json.dumps(record) + "\n").encode())
            return
        mark_exported(state_dir, manifest["log_id"], manifest["exported_capture_ids"])
    except (CaptureLogError, OSError) as e:
        print(f"fse-export: {e}", file=sys.stderr)
    finally:
        give_back_sidecars(state_dir / DB_NAME)


def export_to_dir(state_dir: Path, out: Path, full: bool = False) -> Path:
    """Bundles into a folder; returns the log's bundle."""
    made, _ = export_into(Path(state_dir), Path(out), full)
    for _, manifest in made:
        record_export(state_dir, manifest)
    return made[0][0]


def export_to_tar(state_dir: Path, tar_path: Path) -> Path:
    """Self-contained bundles (always full: the log's and any set-aside log's) as one tar."""
    state_dir = Path(state_dir)
    check_log(state_dir / DB_NAME)
    mode = "w:gz" if tar_path.name.endswith((".tar.gz", ".tgz")) else "w"
    tar_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fse-export-") as temp:
        made, _ = export_into(state_dir, Path(temp), full=True)
        partial = tar_path.with_name(tar_path.name + ".part")
        with tarfile.open(partial, mode) as tar:
            for bundle, _ in made:
                tar.add(bundle, arcname=bundle.name)
        with open(partial, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(partial, tar_path)
        fsync_dir(tar_path.parent)
    for _, manifest in made:
        record_export(state_dir, manifest)
    return tar_path
