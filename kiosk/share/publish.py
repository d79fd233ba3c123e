"""The kiosk's side of sharing: a saved capture's PNG and record into the share spool, and its link.

    publisher = SharePublisher.from_config(config)      # None when [share] sharing is off
    shared = publisher.publish(png, capture_id, "Dress", "tartan")   # capture worker, after the save
    shared.link, shared.wifi                            # what the QR codes on screen say

Runs on the capture worker after the capture log acknowledged the capture: a spool that cannot be
written costs the visitor their QR code, never their capture (the worker reports it beside
"Saved #N"). The format is contract/share_spool.py's; the files are written like the log's images
(kiosk/durable.py). With sharing off, start-up empties the spool: turning sharing off ends every
link at once.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from contract import share_spool
from contract.share_spool import ShareRecord

from ..durable import write_file_durably
from . import qr

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SharedCapture:
    """A capture in the spool: what the screen (and the receipt) show for it."""

    capture: int
    link: str  # the page's address, the QR code's payload
    wifi: str | None  # the hotspot's WIFI: payload, None without the hotspot
    ssid: str | None
    expires: float  # unix seconds


class SharePublisher:
    def __init__(
        self,
        state_dir: Path,
        base_url: str,
        link_minutes: float,
        event_name: str = "",
        max_count: int = 500,
        max_mb: float = 1000,
        wifi: tuple[str, str] | None = None,
    ) -> None:
        self.folder = Path(state_dir) / share_spool.SPOOL_DIR
        self.base_url, self.lifetime_s, self.event_name = base_url, link_minutes * 60.0, event_name
        self.max_count, self.max_bytes = max_count, int(max_mb * 1e6)
        self.wifi = wifi  # (ssid, passphrase) of the hotspot
        # The installer makes it setgid to the share server's group (docs/appliance.md); here only
        # a desktop's first run creates it.
        self.folder.mkdir(mode=0o770, parents=True, exist_ok=True)

    @classmethod
    def from_config(cls, config) -> "SharePublisher | None":
        """The kiosk's publisher, or None with sharing off (then the spool is emptied)."""
        if not config.sharing:
            removed = clear(Path(config.state_dir) / share_spool.SPOOL_DIR)
            if removed:
                log.info("sharing is off: removed %d shared capture(s) from the spool", removed)
            return None
        return cls(
            config.state_dir,
            config.share_url,
            config.link_minutes,
            config.event_name,
            config.spool_max_count,
            config.spool_max_mb,
            (config.wifi_ssid, config.wifi_passphrase) if config.hotspot else None,
        )

    def publish(
        self, png: bytes, capture: int, looks_like: str, print_label: str, now: float | None = None
    ) -> SharedCapture:
        """Put a saved capture's PNG into the spool under a new token; raises OSError when it cannot."""
        now = time.time() if now is None else now
        share_spool.prune(self.folder, now, self.max_count - 1, max(0, self.max_bytes - len(png)))
        record = ShareRecord(
            token=share_spool.new_token(),
            entry=share_spool.entry_name(now),
            capture=int(capture),
            looks_like=looks_like,
            print_label=print_label,
            event=self.event_name,
            created=now,
            expires=now + self.lifetime_s,
            sha256=hashlib.sha256(png).hexdigest(),
            size=len(png),
        )
        write_file_durably(self.folder / record.image_name, png)
        write_file_durably(self.folder / record.record_name, record.to_json())  # last: the entry is whole
        ssid, passphrase = self.wifi if self.wifi else (None, None)
        return SharedCapture(
            capture=record.capture,
            link=qr.link(self.base_url, record.token),
            wifi=qr.wifi(ssid, passphrase) if ssid else None,
            ssid=ssid,
            expires=record.expires,
        )


def clear(folder: Path) -> int:
    """Remove every entry from the spool; how many there were."""
    records = share_spool.scan(folder)
    for record in records:
        share_spool.remove(folder, record)
    share_spool.prune(folder, float("inf"))  # strays too
    return len(records)


class CaptureSharing:
    """What the capture worker calls after a capture is saved: names the design, puts it in the
    spool (and on the receipt printer). Never raises: a failure is the (None, reason) it returns."""

    def __init__(self, publisher: SharePublisher, models, prints, printer=None) -> None:
        self.publisher, self.models, self.prints, self.printer = publisher, models, prints, printer

    @classmethod
    def from_config(cls, config, models, prints) -> "tuple[CaptureSharing | None, str | None]":
        """(sharing, None), (None, None) with sharing off, or (None, why sharing could not start)."""
        try:
            publisher = SharePublisher.from_config(config)
        except OSError as e:
            return None, (
                f"sharing is off: the share spool under {config.state_dir} cannot be written ({e.strerror}); "
                f"check the state directory's permissions"
            )
        if publisher is None:
            return None, None
        printer = None
        if config.printer:
            from .printer import ReceiptPrinter  # noqa: PLC0415 - python-escpos only with a printer set

            printer = ReceiptPrinter(config.printer)
        return cls(publisher, models, prints, printer), None

    def notices(self) -> list[str]:
        """What the operator should be told (the receipt printer's troubles), each once."""
        return self.printer.notices() if self.printer is not None else []

    def looks_like(self, design28) -> str:
        names = self.models.class_names
        return str(names[int(self.models.classify(design28[None])[0].argmax())]) if names else ""

    def __call__(self, capture_id: int, png: bytes, design28, print_name: str):
        from ..ui.print_selector import print_label  # noqa: PLC0415 - the one naming of prints

        try:
            shared = self.publisher.publish(
                png, capture_id, self.looks_like(design28), print_label(self.prints, print_name)
            )
        except Exception as e:  # the capture is saved; only its link is lost
            log.exception("capture #%d could not be shared", capture_id)
            return (
                None,
                f"Saved #{capture_id:04d}, but it cannot be shared: {e}; check the disk under the state directory",
            )
        if self.printer is not None:
            self.printer.submit(shared, png)
        return shared, None
