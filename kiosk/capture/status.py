"""What F12 shows about the capture log: LogStatus, which the writer thread replaces whole.

The UI thread reads `StatusBoard.current` at any time without a lock: the writer builds a new
frozen LogStatus and publishes it with one assignment, so a reader never sees half an update.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

log = logging.getLogger(__name__)

NOTICES_SHOWN = 4
"""F12 shows the newest notices only."""


@dataclass(frozen=True)
class LogStatus:
    """What F12 shows about the log; the writer thread replaces it whenever something changes."""

    state: str = "opening"  # "open"; "busy": another program holds the log, retrying; "failed"
    captures: int = 0
    not_exported: int = 0
    pruned: int = 0  # exported captures retention deleted since the kiosk started
    set_aside: int = 0  # damaged logs set aside in quarantine/ that no export has taken yet
    notices: tuple[str, ...] = ()  # what the operator should know: a damaged log set aside, images moved

    def lines(self) -> list[str]:
        pruned = f"   pruned since start (exported) {self.pruned}" if self.pruned else ""
        aside = f", {self.set_aside} set-aside logs not yet exported" if self.set_aside else ""
        return [
            f"capture log {self.state}: {self.captures} captures, {self.not_exported} not yet exported{aside}{pruned}"
        ] + [f"capture log: {notice}" for notice in self.notices]


class StatusBoard:
    """The writer's LogStatus and its notices (the writer thread's alone to change)."""

    def __init__(self) -> None:
        self.current = LogStatus()
        self._notices: list[str] = []

    def update(self, **changes) -> None:
        self.current = replace(self.current, **changes)

    def notice(self, message: str, level: int, once: bool = False) -> None:
        """Tell the operator, in F12 and in the journal (once: unless it is already shown)."""
        if once and message in self._notices:
            return
        log.log(level, "capture log: %s", message)
        self._notices.append(message)
        self.update(notices=tuple(self._notices[-NOTICES_SHOWN:]))
