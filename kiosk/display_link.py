"""The kiosk's link to its Wayland compositor: noticing that the compositor went away.

When the compositor dies (a crash, `systemctl restart fse-display`), SDL logs one line and posts a
quit event, which the booth's kiosk ignores (in kiosk mode quit is also Alt+F4). Its frames then go
to a dead socket while its loop keeps petting the watchdog, so systemd would never restart it: the
booth would stay black. So the kiosk holds a connection of its own to the compositor's socket,
never sends on it (a client that sends nothing is sent nothing), and asks each frame, with a poll
that does not wait, whether the compositor closed it. Once it has, the loop ends with
DISPLAY_LOST and one journal line; fse-kiosk.service's Restart=always starts it again, ordered
after the compositor's own restart (After=fse-display.service).

Only Wayland: an X server that goes away ends the kiosk already (Xlib exits on a lost
connection), and KMS/DRM has no server to lose.
"""

from __future__ import annotations

import logging
import os
import select
import socket

log = logging.getLogger("kiosk")

DISPLAY_LOST = 3
"""The exit code: the same as "no display" at start (kiosk/startup.py), which is what a restart
finds until the compositor is back."""


class DisplayLink:
    """A silent connection to the compositor's socket; `lost()` is True once the compositor closed it."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._socket.connect(path)
        self._poll = select.poll()
        self._poll.register(self._socket, select.POLLIN | select.POLLHUP | select.POLLERR)
        self._lost = False

    @classmethod
    def for_driver(cls, driver: str) -> DisplayLink | None:
        """The link to the compositor SDL's `driver` draws on; None when it has none to watch."""
        if driver != "wayland":
            return None
        name = os.environ.get("WAYLAND_DISPLAY", "wayland-0")
        path = name if os.path.isabs(name) else os.path.join(os.environ.get("XDG_RUNTIME_DIR", ""), name)
        try:
            return cls(path)
        except OSError as e:  # SDL has just connected there, so this is unexpected: say so, draw on
            log.warning(
                "cannot watch the Wayland compositor at %s (%s): a compositor restart will need a kiosk restart",
                path,
                e,
            )
            return None

    def lost(self) -> bool:
        """Whether the compositor has closed its end (it never sends this connection anything else)."""
        if not self._lost and self._poll.poll(0):
            try:
                self._lost = self._socket.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
            except BlockingIOError:
                pass
            except OSError:  # ECONNRESET and the like: gone as well
                self._lost = True
            if self._lost:
                log.error(
                    "the Wayland compositor at %s went away: exiting with code %d so that systemd starts the kiosk "
                    "again once fse-display.service is back (journalctl -u fse-display says why it went)",
                    self.path,
                    DISPLAY_LOST,
                )
        return self._lost

    def close(self) -> None:
        self._socket.close()
