"""The visitor's trail: where they went, recorded into the capture log (which keeps it to trail_hz
and commits off the UI thread). Only the visitor's own moves are recorded: the attract loop's
wandering is nobody's trail."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


class TrailRecorder:
    def __init__(self, capture_log) -> None:
        self.capture_log = capture_log
        self._version = -1

    def update(self, state) -> None:
        """Call once a frame; records when z changed since the last call."""
        if self.capture_log is None or state.version == self._version:
            return
        self._version = state.version
        if state.attract:
            return
        try:
            self.capture_log.record_trail(state.z, state.how)
        except Exception:  # the trail is for the analysis; never stop the kiosk over it
            log.exception("trail")
