"""The kiosk's stop signal: SIGTERM (systemd's stop) or SIGINT (Ctrl+C) asks the loop to end.

Its own module because both start-up (which installs the handlers once the display exists) and the
loop (which polls `stop_requested()` every frame) need it, and neither should import the other for it.
"""

from __future__ import annotations

import logging
import signal

log = logging.getLogger("kiosk")

_stop_signal: int | None = None


def stop_requested() -> bool:
    """True once SIGTERM or SIGINT arrived."""
    return _stop_signal is not None


def _on_stop_signal(signum, frame) -> None:
    global _stop_signal
    log.info("signal %d: stopping", signum)
    _stop_signal = signum


def install() -> None:
    """Take SIGTERM and SIGINT for the kiosk. Call it after SDL's display is up: SDL installs its own
    handlers then and turns the signals into a QUIT event, which kiosk mode ignores (it is also Alt+F4)."""
    signal.signal(signal.SIGTERM, _on_stop_signal)
    signal.signal(signal.SIGINT, _on_stop_signal)
