"""The optional receipt printer: each shared capture on paper, dithered, with its QR code.

    [share] printer = "/dev/usb/lp0"     # an ESC/POS printer (58 or 80 mm) on the usblp driver

`ReceiptPrinter.submit` never waits: the capture worker hands a job over and goes on. The printer's
own thread (`receipt-printer`) writes it with python-escpos; a printer that is missing, fails, or
stops taking data (paper out, jammed: the write blocks) is said in `notices()`, which the kiosk
shows to the operator as a toast, and captures go on regardless. At most QUEUE_MAX receipts wait.
"""

from __future__ import annotations

import io
import logging
import os
import queue
import threading
import time

log = logging.getLogger(__name__)

PAPER_PX = 384
"""Printable dots across a 58 mm receipt (80 mm printers centre it)."""
QUEUE_MAX = 3
STUCK_S = 20.0
"""A receipt still printing after this long means the printer is not taking data (paper, jam)."""


class ReceiptPrinter:
    def __init__(self, device: str) -> None:
        self.device = device
        self._jobs: queue.Queue = queue.Queue(QUEUE_MAX)
        self._notices: queue.Queue = queue.Queue()
        self._busy_since: float | None = None
        self._stuck_told = False
        self.printed = 0
        self._thread = threading.Thread(target=self._run, name="receipt-printer", daemon=True)
        self._thread.start()

    def submit(self, shared, png: bytes) -> None:
        """A receipt for this shared capture (kiosk.share.publish.SharedCapture); never blocks."""
        try:
            self._jobs.put_nowait((shared, png))
        except queue.Full:
            self._tell(
                f"receipt printer {self.device}: not printing (paper out or jammed?); "
                f"#{shared.capture:04d} was not printed, captures go on"
            )

    def notices(self) -> list[str]:
        """What the operator should see, each once (the UI thread calls this every frame)."""
        busy = self._busy_since
        if busy is not None and time.monotonic() - busy > STUCK_S and not self._stuck_told:
            self._stuck_told = True
            self._tell(f"receipt printer {self.device}: stuck for {STUCK_S:.0f} s (paper out or jammed?)")
        out = []
        while True:
            try:
                out.append(self._notices.get_nowait())
            except queue.Empty:
                return out

    def _tell(self, text: str) -> None:
        log.warning("%s", text)
        self._notices.put(text)

    def _run(self) -> None:
        while True:
            shared, png = self._jobs.get()
            self._busy_since, self._stuck_told = time.monotonic(), False
            try:
                self._print(shared, png)
                self.printed += 1
            except FileNotFoundError:
                self._tell(f"receipt printer {self.device} not found: check its cable and power; captures go on")
            except Exception as e:  # escpos raises its own kinds; none may reach the kiosk
                self._tell(f"receipt printer {self.device} failed ({e}); captures go on")
            finally:
                self._busy_since = None

    def _print(self, shared, png: bytes) -> None:
        from escpos.printer import File  # noqa: PLC0415 - python-escpos only with a printer set
        from PIL import Image  # noqa: PLC0415 - python-escpos brings Pillow

        if not os.path.exists(self.device):
            raise FileNotFoundError(self.device)
        design = Image.open(io.BytesIO(png)).convert("L").resize((PAPER_PX, PAPER_PX), Image.LANCZOS)
        receipt = File(self.device, auto_flush=False)
        receipt.open()
        try:
            receipt.set(align="center", bold=True, double_height=True)
            receipt.textln("FASHION SPACE EXPLORER")
            receipt.set(align="center", bold=False, normal_textsize=True)
            receipt.image(design.convert("1"))  # Floyd-Steinberg dithering; the whole paper width
            receipt.textln(f"capture #{shared.capture:04d}")
            receipt.textln("Scan for the picture (on the booth's Wi-Fi):")
            receipt.qr(shared.link, size=6)  # centred by align="center" above
            receipt.cut()
            receipt.flush()
        finally:
            receipt.close()
