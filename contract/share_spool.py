"""The share spool: the designs the kiosk hands to the share server, defined once for both.

The kiosk (kiosk/share/publish.py) writes, after a capture is saved, one entry per capture into
`<state_dir>/share/`; the share server (kiosk/share/server.py, its own process and user) reads
them and nothing else of the state directory:

    share/<entry>.png    the capture's 1024 px PNG with its print (the same bytes as in the log)
    share/<entry>.json   its record (ShareRecord): the token, what the page shows, when it expires

<entry> is `<utc>-<hex8>`, never the token: a request's token is looked up in the records the
server has read (`scan`), never joined into a path. The PNG is written first and the record last,
each atomically (temp file, fsync, rename), so a record always names a whole image; an image
without a record (a crash between the two) is removed by the next `prune`. Entries expire
(`expires`, unix seconds) and the spool is bounded in count and bytes, oldest first; both sides
prune, so links expire while the kiosk is off and the spool stays bounded while the server is.

Standard library only: the share server needs neither numpy nor pygame.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

SPOOL_DIR = "share"
"""The spool's folder under the state directory."""

TOKEN_BYTES = 16
"""128 random bits per capture (secrets.token_urlsafe: 22 URL-safe characters)."""

TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{22}")
ENTRY_PATTERN = re.compile(r"\d{8}T\d{12}Z-[0-9a-f]{8}")
RECORD_VERSION = 1

ORPHAN_GRACE_S = 300.0
"""An image without its record (the kiosk stopped between the two writes) or a temp file is
removed once it is this old; younger ones may be a write in progress."""


class SpoolError(Exception):
    """A record that cannot be read; the message names the file."""


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def is_token(text: str) -> bool:
    """True for text shaped like a token (checked before any look-up)."""
    return TOKEN_PATTERN.fullmatch(text) is not None


@dataclass(frozen=True)
class ShareRecord:
    """One shared capture, as the page shows it. `entry` names its two files; `image` is <entry>.png."""

    token: str
    entry: str
    capture: int  # the capture's number in the log ("#0007")
    looks_like: str  # the classifier's name for the design ("Dress"); "" when unknown
    print_label: str  # "plain" or the print's name
    event: str  # [share] event_name, "" for none
    created: float  # unix seconds
    expires: float  # unix seconds; the server serves it until then and then removes it
    sha256: str  # of the PNG
    size: int  # bytes of the PNG
    version: int = RECORD_VERSION

    @property
    def image_name(self) -> str:
        return self.entry + ".png"

    @property
    def record_name(self) -> str:
        return self.entry + ".json"

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes, where: str) -> "ShareRecord":
        try:
            fields = json.loads(data)
            record = cls(**fields)
        except (ValueError, TypeError) as e:
            raise SpoolError(f"{where}: not a share record ({e})") from None
        if record.version != RECORD_VERSION or not is_token(record.token) or not ENTRY_PATTERN.fullmatch(record.entry):
            raise SpoolError(f"{where}: not a version-{RECORD_VERSION} share record with a valid token and entry")
        return record


def entry_name(now: float) -> str:
    """A new entry's name: its UTC time to the microsecond and 32 random bits."""
    import time

    seconds = int(now)
    micro = int((now - seconds) * 1e6)
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(seconds)) + f"{micro:06d}Z-{secrets.token_hex(4)}"


def scan(folder: Path) -> list[ShareRecord]:
    """Every readable record in the spool, oldest first (unreadable ones are skipped: a record is
    written atomically, so one that does not parse is not ours)."""
    records = []
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    for name in names:
        stem, dot, suffix = name.partition(".")
        if suffix != "json" or not ENTRY_PATTERN.fullmatch(stem):
            continue
        try:
            record = ShareRecord.from_json((folder / name).read_bytes(), str(folder / name))
        except (OSError, SpoolError):
            continue
        if record.entry == stem:
            records.append(record)
    return sorted(records, key=lambda r: (r.created, r.entry))


def remove(folder: Path, record: ShareRecord) -> None:
    """Remove an entry: its record first (the server stops serving it), then its image."""
    for name in (record.record_name, record.image_name):
        try:
            (folder / name).unlink()
        except FileNotFoundError:
            pass


def prune(folder: Path, now: float, max_count: int | None = None, max_bytes: int | None = None) -> list[ShareRecord]:
    """Remove expired entries, then the oldest until at most max_count entries and max_bytes of
    images remain, then stray files (images without a record, temp files) older than
    ORPHAN_GRACE_S. Returns the records removed."""
    records = scan(folder)
    gone = [r for r in records if r.expires <= now]
    kept = [r for r in records if r.expires > now]
    while kept and (
        (max_count is not None and len(kept) > max_count)
        or (max_bytes is not None and sum(r.size for r in kept) > max_bytes)
    ):
        gone.append(kept.pop(0))
    for record in gone:
        remove(folder, record)
    known = {name for r in kept for name in (r.image_name, r.record_name)}
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return gone
    for name in names:
        path = folder / name
        if name in known or not ENTRY_PATTERN.match(name):
            continue  # a file that is not the spool's own is left alone
        try:
            if now - path.stat().st_mtime > ORPHAN_GRACE_S:
                path.unlink()
        except OSError:
            pass
    return gone
