"""Tell systemd how the kiosk is doing (the sd_notify protocol), without a dependency.

fse-kiosk.service is `Type=notify` with `WatchdogSec=`: systemd counts the kiosk as started only
once it sends READY=1 (after the first frame is on screen), and restarts it if WATCHDOG=1 stops
arriving (a hung main loop). The protocol is one datagram of `KEY=VALUE` lines to the AF_UNIX
socket named in $NOTIFY_SOCKET; a leading '@' means the Linux abstract namespace.

Outside systemd (a desktop, the tests) $NOTIFY_SOCKET is unset and every call does nothing, so
the kiosk calls these unconditionally:

    from kiosk import sdnotify
    sdnotify.ready()                 # once, when the first frame is up
    sdnotify.watchdog()              # every main-loop pass (rate-limited here)
    sdnotify.status("warming up TensorRT engines")
    sdnotify.extend_start(600, "loading generator")   # a start step under way: wait for it
"""

from __future__ import annotations

import logging
import os
import socket
import time

log = logging.getLogger(__name__)

_last_watchdog = 0.0


def _address() -> str | bytes | None:
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return None
    if path.startswith("@"):
        return b"\0" + path[1:].encode()  # abstract namespace: no file on disk
    return path


def notify(message: str) -> bool:
    """Send one sd_notify message ("READY=1", "STATUS=...", several joined by newlines).

    Returns True if it was sent, False outside systemd or if the socket is gone. Never raises: a
    status report must not take the kiosk down.
    """
    address = _address()
    if address is None:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto(message.encode(), address)
        return True
    except OSError as error:
        log.warning("sd_notify to %s failed: %s", os.environ.get("NOTIFY_SOCKET"), error)
        return False


def ready(status_text: str | None = None) -> bool:
    """The kiosk is up (first frame drawn); systemd marks the unit started."""
    message = "READY=1"
    if status_text:
        message += "\nSTATUS=" + status_text
    return notify(message)


def status(text: str) -> bool:
    """A one-line status shown by `systemctl status fse-kiosk`."""
    return notify("STATUS=" + text.replace("\n", " "))


def extend_start(seconds: float, status_text: str | None = None) -> bool:
    """The start is still making progress: systemd waits up to `seconds` more for the next message
    (EXTEND_TIMEOUT_USEC) instead of ending the start at TimeoutStartSec=."""
    message = f"EXTEND_TIMEOUT_USEC={int(seconds * 1e6)}"
    if status_text:
        message += "\nSTATUS=" + status_text.replace("\n", " ")
    return notify(message)


def stopping() -> bool:
    """The kiosk is shutting down on purpose."""
    return notify("STOPPING=1")


def watchdog_interval() -> float | None:
    """Seconds within which systemd expects WATCHDOG=1, or None if no watchdog is set for us.

    From $WATCHDOG_USEC; $WATCHDOG_PID, when set, must be this process (a child the kiosk started
    must not answer for it).
    """
    usec = os.environ.get("WATCHDOG_USEC")
    if not usec:
        return None
    pid = os.environ.get("WATCHDOG_PID")
    if pid and pid.strip() != str(os.getpid()):
        return None
    try:
        value = int(usec)
    except ValueError:
        return None
    return value / 1e6 if value > 0 else None


def watchdog(now: float | None = None) -> bool:
    """Pet the watchdog; safe to call every frame.

    Sends at most every quarter of the interval (systemd's advice is under half), so a 60 Hz loop
    costs a few datagrams a minute. Returns True when a datagram was sent.
    """
    global _last_watchdog
    interval = watchdog_interval()
    if interval is None or _address() is None:
        return False
    now = time.monotonic() if now is None else now
    if now - _last_watchdog < interval / 4:
        return False
    sent = notify("WATCHDOG=1")
    if sent:
        _last_watchdog = now
    return sent
