"""Find, verify and merge `fse-export` bundles from one or many booths.

A path may be a bundle directory (it holds manifest.json), a bundle tar (.tar, .tar.gz, .tgz), or
a directory holding any number of those (a USB stick's fse-export/ folder). Bundles overlap when
the same log is pulled twice; captures are deduplicated by (log id, capture id), trail points by
(log id, trail row id), sessions by id (the latest snapshot's end time wins). The log id
(contract.capture_schema.log_identity) tells apart the logs of one booth (a damaged log set aside,
a new one begun: both number from 1) and two booths given the same booth id, which are named in a
warning; no row is dropped for sharing a number. A row inside a whole bundle that cannot be decoded is
left out, counted and named (MergedLog.bad_rows). Every capture and trail point keeps the name of the
latent map its slider positions are in (a restored log, or logs from before and after a model
update, hold several): the analysis reads each in its own map (contract.latent.PositionSpaces).
"""

from __future__ import annotations

import sqlite3
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from contract.bundle import BUNDLE_FORMAT, MANIFEST, MANIFEST_LIMIT, PARTIAL_SUFFIX, parse_manifest
from contract.capture_schema import (
    DB_NAME,
    SCHEMA_VERSION,
    BadRow,
    Capture,
    SchemaTooNewError,
    log_identity,
    open_snapshot,
    parse_utc,
    read_captures,
    read_sessions,
    read_trail,
    schema_version,
    trail_points_per_session,
)
from contract.models import sha256_file
from contract.space import LATENT_DIM

TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz")


class BundleError(Exception):
    """A bundle that cannot be used; the message names the bundle, the problem and the fix."""


@dataclass(frozen=True)
class Bundle:
    path: Path
    label: str  # what messages call it: the directory, or the tar it came from
    error: str = ""  # why it cannot be used, known already (a tar that did not unpack)


@dataclass
class LoggedCapture:
    capture: Capture
    image_file: Path  # the 1024x1024 PNG inside its bundle


@dataclass
class Sessions:
    started: dict[str, float] = field(default_factory=dict)
    last: dict[str, float] = field(default_factory=dict)
    booth: dict[str, str] = field(default_factory=dict)
    trail_points: dict[str, int] = field(default_factory=dict)


@dataclass
class MergedLog:
    bundles: list[str]
    skipped: list[tuple[str, str]]  # (bundle, why)
    booths: list[str]
    captures: list[LoggedCapture]
    trail_t: np.ndarray  # (N,) unix seconds
    trail_z: np.ndarray  # (N, 8) float32
    sessions: Sessions
    trail_session: np.ndarray = field(
        default_factory=lambda: np.zeros(0, np.int32)
    )  # (N,) index into session_names, -1: none
    session_names: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # what the analyst should know, e.g. a booth id shared
    bad_rows: list[tuple[str, str]] = field(default_factory=list)  # (bundle, "captures row 7: why")
    # (N,) index into space_names, -1: a point that names no latent map (logged before schema 5)
    trail_space: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    space_names: list[str] = field(default_factory=list)  # the latent maps the trail's positions are in
    space_bundles: dict = field(default_factory=dict)  # map name (None: not named) -> the bundles holding such rows

    @property
    def empty(self) -> bool:
        return not self.captures and len(self.trail_z) == 0


def find_bundles(paths: list[Path], unpack_dir: Path) -> list[Bundle]:
    """Every bundle under the given paths (tars unpacked into unpack_dir). A tar that does not unpack
    is one bad bundle (its `error` says why; merge skips it), not the end of the run.

    BundleError for a path that is no bundle at all (a typo, a stray file): that is the command's mistake.
    """
    found: list[Bundle] = []

    def unpack(tar: Path) -> None:
        try:
            found.extend(_unpack(tar, unpack_dir))
        except BundleError as e:
            found.append(Bundle(tar, str(tar), error=str(e)))

    for path in map(Path, paths):
        if not path.exists():
            raise BundleError(f"{path} does not exist; give a bundle directory, a bundle .tar, or a folder of them")
        if path.is_file():
            if not path.name.endswith(TAR_SUFFIXES):
                raise BundleError(
                    f"{path} is not a bundle: expected a directory with {MANIFEST} or a .tar/.tar.gz from fse-export"
                )
            unpack(path)
        elif (path / MANIFEST).is_file():
            found.append(Bundle(path, str(path)))
        else:
            inside = sorted(
                {Bundle(p.parent, str(p.parent)) for p in path.rglob(MANIFEST)}
                | {Bundle(p, str(p)) for p in path.rglob("*" + PARTIAL_SUFFIX) if p.is_dir()},
                key=lambda b: str(b.path),
            )
            tars = sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(TAR_SUFFIXES))
            if not inside and not tars:
                raise BundleError(
                    f"{path} holds no bundles (no {MANIFEST} and no .tar files); "
                    f"point at what `fse-export --out` or `--tar` wrote"
                )
            found += inside
            for tar in tars:
                unpack(tar)
    return found


def _unpack(tar_path: Path, unpack_dir: Path) -> list[Bundle]:
    target = Path(tempfile.mkdtemp(prefix=tar_path.name.split(".")[0] + "-", dir=unpack_dir))
    try:
        with tarfile.open(tar_path) as tar:
            tar.extractall(target, filter="data")
    except (tarfile.TarError, OSError, EOFError) as e:
        raise BundleError(f"{tar_path} cannot be unpacked ({e}); copy it again from the booth") from None
    bundles = [Bundle(p.parent, str(tar_path)) for p in sorted(target.rglob(MANIFEST))]
    if not bundles:
        raise BundleError(
            f"{tar_path} holds no {MANIFEST}: it is not an fse-export bundle; copy it again from the booth"
        )
    return bundles


def verify_bundle(found: Bundle) -> dict:
    """The manifest, after checking the format and every file's sha256; BundleError if damaged."""
    bundle, name = found.path, found.label
    if bundle.name.endswith(PARTIAL_SUFFIX):
        raise BundleError(
            f"{name}: an export that did not finish (the stick was pulled or the export stopped); "
            f"the whole bundles beside it are used; export again for the rest"
        )
    try:
        with open(bundle / MANIFEST, "rb") as f:
            manifest = parse_manifest(f.read(MANIFEST_LIMIT + 1))
        files = dict(manifest["files"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise BundleError(f"{name}: {MANIFEST} is unreadable ({e}); export the bundle again") from None
    if manifest.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"{name}: {MANIFEST} is not an fse-export manifest (format {manifest.get('format')!r})")
    if int(manifest.get("schema_version", 0)) > SCHEMA_VERSION:
        raise SchemaTooNewError(
            f"{name} was exported from a capture log with schema version {manifest['schema_version']}, "
            f"newer than this fse understands ({SCHEMA_VERSION}); upgrade fse on this machine to analyse it"
        )
    bad = []
    for relative, digest in files.items():
        path = bundle / relative
        if not path.is_file():
            bad.append(f"{relative} is missing")
        elif sha256_file(path) != digest:
            bad.append(f"{relative} does not match its sha256")
    if bad:
        more = f" (and {len(bad) - 3} more)" if len(bad) > 3 else ""
        raise BundleError(f"{name}: {'; '.join(bad[:3])}{more}: the copy is damaged; export it from the booth again")
    if DB_NAME not in files:
        raise BundleError(f"{name}: the manifest lists no {DB_NAME}; export it from the booth again")
    return manifest


@dataclass
class _BundleLog:
    """One bundle, read whole before any of it is merged (a damaged log must not half-count)."""

    booth: str
    log_id: str
    captures: list[LoggedCapture]
    trail: object  # contract.capture_schema.Trail
    sessions: list[dict]
    trail_points: dict[str, int]
    bad_rows: list[BadRow]


def read_bundle(found: Bundle) -> _BundleLog:
    """Verify a bundle and read all of it; BundleError (or SchemaTooNewError) if any part is bad."""
    if found.error:
        raise BundleError(found.error)
    manifest = verify_bundle(found)
    bundle, label = found.path, found.label
    try:
        conn = open_snapshot(bundle / DB_NAME)
        try:
            version = schema_version(conn)
            if version > SCHEMA_VERSION:
                raise SchemaTooNewError(
                    f"{label}: capture-log schema version {version} is newer than "
                    f"this fse understands ({SCHEMA_VERSION}); upgrade fse to analyse it"
                )
            captures, bad = [], []
            for capture in read_captures(conn, bad):
                held = manifest.get("images_in_earlier_bundles", {}).get(capture.image_path)  # incremental export
                image = bundle.parent / held["bundle"] / capture.image_path if held else bundle / capture.image_path
                captures.append(LoggedCapture(capture, image))
            return _BundleLog(
                str(manifest.get("booth_id", "unknown")),
                log_identity(conn),
                captures,
                read_trail(conn, bad),
                read_sessions(conn, bad),
                trail_points_per_session(conn),
                bad,
            )
        finally:
            conn.close()
    except sqlite3.DatabaseError as e:
        raise BundleError(f"{label}: {DB_NAME} cannot be read ({e}); export it from the booth again") from None


def merge(bundles: list[Bundle], strict: bool = False, warn=print) -> MergedLog:
    """Read every good bundle and merge them; damaged ones are named and skipped (strict: the first
    one raises BundleError). A bundle counts only when all of it could be read."""
    captures: dict[str, LoggedCapture] = {}
    trail_keys, trail_t, trail_z, trail_session, trail_space = [], [], [], [], []
    session_names: dict[str, int] = {}
    space_names: dict[str, int] = {}
    space_bundles: dict[str | None, list[str]] = {}  # each row keeps its own map: a merge never mixes them
    sessions = Sessions()
    used, skipped, booths, logs = [], [], [], []
    spans: dict[str, tuple[float, float, str]] = {}  # log id -> (first, last unix time, booth)
    bad_seen: dict[tuple[str, str], str] = {}
    for found in bundles:
        try:
            part = read_bundle(found)
        except BundleError as e:
            if strict:
                raise
            warn(f"skipping {e}")
            skipped.append((found.label, str(e)))
            continue
        if part.booth not in booths:
            booths.append(part.booth)
        if part.log_id not in logs:
            logs.append(part.log_id)
        log_index = logs.index(part.log_id)
        used.append(found.label)
        if part.bad_rows:
            warn(f"{found.label}: left out {len(part.bad_rows)} row(s) that cannot be decoded, e.g. {part.bad_rows[0]}")
            for row in part.bad_rows:  # two pulls of one log hold the same bad row: name it once
                bad_seen.setdefault((part.log_id, str(row)), found.label)
        for logged in part.captures:
            captures.setdefault(logged.capture.uid, logged)
        trail = part.trail
        for space in {c.capture.space for c in part.captures} | set(trail.spaces):
            space_bundles.setdefault(space, [])
            if found.label not in space_bundles[space]:
                space_bundles[space].append(found.label)
        times = (
            [parse_utc(c.capture.utc) for c in part.captures]
            + [float(t) for t in trail.t[:1]]
            + [float(t) for t in trail.t[-1:]]
        )
        if times:
            first, last, _ = spans.get(part.log_id, (min(times), max(times), part.booth))
            spans[part.log_id] = (min(first, *times), max(last, *times), part.booth)
        if len(trail.t):
            trail_keys.append(trail.ids + (np.int64(log_index) << 40))
            trail_t.append(trail.t)
            trail_z.append(trail.z)
            trail_session.append(
                np.fromiter(
                    (-1 if s is None else session_names.setdefault(s, len(session_names)) for s in trail.session_ids),
                    np.int32,
                    len(trail.t),
                )
            )
            trail_space.append(
                np.fromiter(
                    (-1 if s is None else space_names.setdefault(s, len(space_names)) for s in trail.spaces),
                    np.int64,
                    len(trail.t),
                )
            )
        for row in part.sessions:
            sid = row["id"]
            sessions.started[sid] = min(sessions.started.get(sid, float("inf")), parse_utc(row["started_utc"]))
            sessions.last[sid] = max(sessions.last.get(sid, 0.0), parse_utc(row["last_utc"]))
            sessions.booth[sid] = row["booth_id"]
        for sid, count in part.trail_points.items():
            # Overlapping pulls are snapshots of one growing log: the largest count is the truth.
            sessions.trail_points[sid] = max(sessions.trail_points.get(sid, 0), count)

    if trail_keys:
        keys = np.concatenate(trail_keys)
        _, first = np.unique(keys, return_index=True)
        t = np.concatenate(trail_t)[first]
        z = np.concatenate(trail_z)[first]
        code = np.concatenate(trail_session)[first]
        space = np.concatenate(trail_space)[first]
        order = np.argsort(t, kind="stable")
        t, z, code, space = t[order], np.ascontiguousarray(z[order], np.float32), code[order], space[order]
    else:
        t, z, code = np.zeros(0), np.zeros((0, LATENT_DIM), np.float32), np.zeros(0, np.int32)
        space = np.zeros(0, np.int64)
    ordered = sorted(captures.values(), key=lambda c: (c.capture.utc, c.capture.booth_id, c.capture.uid))
    warnings = shared_booth_ids(spans)
    for line in warnings:
        warn(line)
    bad_rows = [(label, row) for (_, row), label in bad_seen.items()]
    return MergedLog(
        used,
        skipped,
        booths,
        ordered,
        t,
        z,
        sessions,
        code,
        list(session_names),
        warnings,
        bad_rows=bad_rows,
        trail_space=space,
        space_names=list(space_names),
        space_bundles=space_bundles,
    )


def shared_booth_ids(spans: dict[str, tuple[float, float, str]]) -> list[str]:
    """Warnings for booth ids that two logs used at the same time: two booths configured alike.

    One booth's logs follow each other (a damaged log set aside, a new one begun) and need no
    warning; logs of one booth id whose times overlap cannot be one booth. Both are kept apart.
    """
    by_booth: dict[str, list[tuple[float, float, str]]] = {}
    for log_id, (first, last, booth) in spans.items():
        by_booth.setdefault(booth, []).append((first, last, log_id))
    warnings = []
    for booth, runs in sorted(by_booth.items()):
        overlapping, reach, reacher = set(), float("-inf"), ""
        for start, end, log_id in sorted(runs):
            if start <= reach:
                overlapping |= {log_id, reacher}
            if end > reach:
                reach, reacher = end, log_id
        if overlapping:
            warnings.append(
                f"booth id {booth!r} was used by {len(overlapping)} logs at the same time: two booths have the "
                f"same booth_id in kiosk.toml. Their captures and trails are kept apart (by log id), but the "
                f"report colours them as one booth; give each booth its own booth_id"
            )
    return warnings
