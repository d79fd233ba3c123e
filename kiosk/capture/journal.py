"""The image journal: how the capture log keeps its rows and its image files in step.

Runs on the writer thread (writer.py), through its transactions:

    save_capture(writer, row, png)   a capture: journal entry, durable PNG, then row + end of entry
    sweep(writer)                    at every open: clear what the journal names, quarantine strays
    prune(writer)                    retention: the oldest exported captures, until keep_free_mb is free

Durability: a capture's image path is entered in the image journal (committed, not yet fsynced)
before the file exists; the PNG is written to a temp file, fsynced, renamed and the directory
fsynced; then the capture's row and the end of its journal entry commit together (fsynced).
save_capture returns the id only after that commit, so a capture the visitor saw acknowledged
survives a power cut, and a row never points at a missing or half-written image. Start-up never
unlinks an image the log did not delete itself: it removes images whose rows retention deleted
('pruned') and the temp files of unfinished saves; the image of a save that did not commit here
(a restored older log's journal may name one its successor committed) and any other image no
capture refers to go to quarantine/, and images this log refers to come back from quarantine/ (a
restored log's) or are named missing. A log that never saved a capture (a brand-new one) moves no
image of another log. Retention (`[log]
keep_free_mb`) deletes the oldest captures an export has copied (exported.py), never one it has not.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from typing import TYPE_CHECKING

from contract.capture_schema import IMAGES_DIR, CaptureLogError, image_paths, utc_text
from contract.capture_writes import (
    CaptureRow,
    clear_journal,
    delete_captures,
    ever_saved_a_capture,
    exported_captures,
    holds_image,
    insert_capture,
    journal_images,
    journalled_images,
)

from ..durable import fsync_dir, write_file_durably
from . import faults
from .faults import DiskFullError, is_busy, is_disk_full
from .files import (
    QUARANTINE_DIR,
    free_mb,
    image_size,
    quarantine_images,
    remove_image,
    restore_images,
    stray_images,
)

if TYPE_CHECKING:
    from .writer import LogWriter

log = logging.getLogger(__name__)


def save_capture(writer: LogWriter, row: CaptureRow, png: bytes) -> int:
    """Store a capture's image and row durably; returns its id once both are on the disk."""
    relative = row.image_path
    path = writer.state_dir / relative
    give_up_at = time.monotonic() + faults.CAPTURE_BUSY_GIVE_UP_S
    stamp = utc_text(time.time())
    try:
        # Journalled before the file exists: if anything stops us, start-up knows the file is ours.
        # No fsync of its own: the capture's commit below syncs it; a power cut before that can
        # only leave an image without its journal entry, which start-up moves to quarantine.
        writer.retrying(
            lambda: writer.commit(lambda c: journal_images(c, [relative], "saving", stamp), fsync=False),
            give_up_at,
        )
        if not path.parent.is_dir():
            path.parent.mkdir(exist_ok=True)
            fsync_dir(path.parent.parent)
        write_file_durably(path, png)

        def insert(conn: sqlite3.Connection) -> int:
            capture_id = insert_capture(conn, row, writer.space_id)
            clear_journal(conn, [relative])
            return capture_id

        return writer.retrying(lambda: writer.commit(insert), give_up_at)
    except (OSError, sqlite3.Error) as e:
        _forget_unsaved(writer, relative)
        if is_disk_full(e):
            raise DiskFullError(
                f"the disk under {writer.state_dir} is full: the capture was not saved. "
                f"Pull the logs with `fse-export` and free space"
            ) from None
        if is_busy(e):
            raise CaptureLogError(
                "the capture was not saved: another program (an export?) has held the "
                f"capture log locked for over {faults.CAPTURE_BUSY_GIVE_UP_S:.0f} s; try again "
                "when it has finished"
            ) from None
        raise CaptureLogError(
            f"the capture could not be saved to {writer.state_dir} ({e}); check the "
            f"disk and the directory's permissions"
        ) from None


def _forget_unsaved(writer: LogWriter, relative: str) -> None:
    """Remove a capture's image that did not commit; only when the log says so, else start-up will."""
    try:
        if writer.conn is None or holds_image(writer.conn, relative):
            return
        remove_image(writer.state_dir, relative)
        writer.commit(lambda c: clear_journal(c, [relative]))
    except (sqlite3.Error, OSError) as e:
        log.info("left %s for start-up to clear (%s)", relative, e)


def sweep(writer: LogWriter) -> None:
    """At every open: finish what the image journal names, quarantine any other image no capture
    refers to, and bring back from quarantine the images this log refers to (a restored log's)."""
    conn, state_dir = writer.conn, writer.state_dir
    referenced = set(image_paths(conn))
    journal = journalled_images(conn)
    unclaimed = [relative for relative in journal if relative not in referenced]
    # 'pruned': retention deleted the (exported) capture's row and had not yet removed its file.
    removed = sum(remove_image(state_dir, p) for p in unclaimed if journal[p] == "pruned")
    # 'saving': the capture did not commit in this log. Its temp files go; the image itself is kept
    # (quarantined): a restored older log's journal can name an image its successor committed.
    unfinished = [p for p in unclaimed if journal[p] != "pruned"]
    removed += sum(remove_image(state_dir, p, temp_only=True) for p in unfinished)
    if journal:
        writer.commit(lambda c: clear_journal(c, list(journal)))
    if removed:
        log.info("removed %d file(s) of pruned captures and unfinished saves", removed)
    _bring_back(writer, referenced)
    strays = [state_dir / p for p in unfinished if (state_dir / p).is_file()]
    if ever_saved_a_capture(conn):  # a log that never saved a capture (a brand-new one) claims no other file
        strays += stray_images(state_dir, referenced | set(journal))
    if strays:
        target = quarantine_images(state_dir, sorted(set(strays)))
        writer.status.notice(
            f"{len(strays)} image file(s) that no capture in this log refers to (an unfinished save, or an "
            f"older or restored log's) were moved to {target}; nothing was deleted.",
            logging.WARNING,
        )


def _bring_back(writer: LogWriter, referenced: set[str]) -> None:
    """Images this log refers to that are not in images/: back from quarantine, or named missing."""
    state_dir = writer.state_dir
    absent = sorted(p for p in referenced if not (state_dir / p).is_file())
    if not absent:
        return
    back = restore_images(state_dir, absent)
    if back:
        writer.status.notice(
            f"{len(back)} image(s) of this log's captures were brought back from {state_dir / QUARANTINE_DIR} "
            f"(moved there while another log was in use)",
            logging.WARNING,
        )
    missing = sorted(set(absent) - set(back))
    if missing:
        writer.status.notice(
            f"{len(missing)} image(s) of this log's captures are missing from {state_dir / IMAGES_DIR} and "
            f"quarantine/ (e.g. {missing[0]}); their captures are kept, exports list them as missing",
            logging.ERROR,
        )


def prune(writer: LogWriter) -> int:
    """Delete the oldest exported captures until keep_free_mb is free; never an unexported one.
    Returns how many captures went."""
    keep_free_mb, state_dir = writer.keep_free_mb, writer.state_dir
    short_bytes = (keep_free_mb - free_mb(state_dir)) * 1e6
    if keep_free_mb <= 0 or short_bytes <= 0:
        return 0
    chosen, freed = [], 0
    for capture_id, relative in exported_captures(writer.conn):
        chosen.append((capture_id, relative))
        freed += image_size(state_dir, relative)
        if freed >= short_bytes:
            break
    if freed < short_bytes:
        writer.status.notice(
            f"less than [log] keep_free_mb = {keep_free_mb:.0f} MB is free and every capture "
            f"left is unexported: pull the log with fse-export (a USB stick) so retention can make room",
            logging.WARNING,
            once=True,
        )
    if not chosen:
        return 0
    stamp = utc_text(time.time())
    images = [relative for _, relative in chosen]

    def drop(conn: sqlite3.Connection) -> None:
        # Journalled as the rows go: a crash before the unlinks leaves files start-up may remove.
        journal_images(conn, images, "pruned", stamp)
        delete_captures(conn, [capture_id for capture_id, _ in chosen])

    writer.commit(drop)
    for relative in images:
        remove_image(state_dir, relative)
    writer.commit(lambda c: clear_journal(c, images))
    log.info(
        "retention: deleted the %d oldest exported capture(s) (%.0f MB) to keep %.0f MB free",
        len(chosen),
        freed / 1e6,
        keep_free_mb,
    )
    return len(chosen)
