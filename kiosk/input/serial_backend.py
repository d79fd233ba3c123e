"""The joystick board over USB serial, after pyserial's `serial.threaded`.

A supervisor thread finds and opens the port (a configured path, or auto: /dev/fse-joystick, then
USB serial devices with a known VID/PID that answer with an identity line), a `BoardReader` thread
moves bytes, and a `BoardProtocol` frames them with the pure `ProtocolParser`. A vanished port ends
in `connection_lost`; the supervisor reopens it as soon as it is back (checked every 0.2 s). A port
that stays open but goes silent (a hung board: no frame for 1 s) is closed and reopened too.

Opening the port asserts DTR, which resets an Arduino (auto-reset): the board is silent for about
a second in its bootloader and then sends its identity line. The host writes '?' on open (harmless
to the bootloader) and again every second until an identity arrives, so a board that does not
reset (a Mega with the reset jumper cut, the simulator) identifies itself too. The same reset is
what revives a hung board built without its watchdog.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Callable

import serial
import serial.threaded
from serial.tools import list_ports

from kiosk.input.calibration import AxisCalibration, nominal
from kiosk.input.protocol import AXIS_MAX, BAUD, IDENTITY_REQUEST, PROTOCOL_VERSION, Frame, Identity, ProtocolParser
from kiosk.input.state import SourceHealth

log = logging.getLogger(__name__)

STABLE_PATH = "/dev/fse-joystick"  # the udev rule's symlink (systemd/99-fse-joystick.rules)
RECONNECT_S = 0.2  # how often a missing port is looked for: well inside 2 s
IDENTITY_RETRY_S = 1.0  # re-send '?' this often until the board identifies
BOOT_WAIT_S = 2.5  # a board's first line comes this soon after the open's reset:
# auto-detect skips a port silent longer, a known one is reopened
FRAME_SILENCE_S = 1.0  # no frame this long from a streaming board (100 Hz): reopen it
# USB serial chips Arduino Nanos and Megas ship with: Arduino, Arduino.org, CH340, FTDI, CP210x.
KNOWN_USB_IDS = {(0x2341, None), (0x2A03, None), (0x1A86, 0x7523), (0x0403, 0x6001), (0x10C4, 0xEA60)}

Sink = Callable[["SerialSource", tuple[float, ...], int, float], None]


class RateMeter:
    """Frames per second over the last second (a partial first second after 0.2 s); 0 when frames stop."""

    def __init__(self) -> None:
        self.rate = 0.0
        self._start: float | None = None
        self._count = 0
        self._last: float | None = None

    def tick(self, t: float) -> None:
        if self._start is None:
            self._start = t
        else:
            self._count += 1
        self._last = t
        if t - self._start >= 1.0:
            self.rate = self._count / (t - self._start)
            self._start, self._count = t, 0

    def current(self, now: float) -> float:
        if self._last is None or now - self._last >= 1.0:
            return 0.0
        elapsed = self._last - self._start
        if self.rate == 0.0 and elapsed >= 0.2:
            return self._count / elapsed
        return self.rate


class BoardProtocol(serial.threaded.Protocol):
    """Frames the byte stream and hands each accepted frame to the source (on the reader thread)."""

    def __init__(self, source: "SerialSource") -> None:
        self.source = source
        self.parser = source.parser

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        for message in self.parser.feed(data, time.monotonic()):
            if isinstance(message, Frame):
                self.source.frame_received(message)
            elif isinstance(message, Identity):
                self.source.identity_received(message)

    def connection_lost(self, exc) -> None:
        self.source.port_lost(exc)


class BoardReader(serial.threaded.ReaderThread):
    """ReaderThread that also treats an OSError (a pty or USB device gone mid-ioctl) as lost.

    pyserial's own loop only catches SerialException; `in_waiting` on a vanished device raises a
    bare OSError, which would kill the thread without calling connection_lost.
    """

    def run(self) -> None:
        self.protocol = self.protocol_factory()
        self.protocol.connection_made(self)
        self._connection_made.set()
        error = None
        while self.alive and self.serial.is_open:
            try:
                data = self.serial.read(self.serial.in_waiting or 1)
            except (serial.SerialException, OSError, TypeError) as e:
                # TypeError: pyserial's read() after a concurrent close() touches a None fd.
                error = e
                break
            if data:
                self.protocol.data_received(data)
        self.alive = False
        self.protocol.connection_lost(error)


def short_name(port: str) -> str:
    """'ttyACM0' for /dev/ttyACM0, 'pts/3' for a pty, the file name for anything else."""
    return port[len("/dev/") :] if port.startswith("/dev/") else os.path.basename(port)


def candidate_ports() -> list[str]:
    """Auto-detect order: the udev symlink, then USB serial devices with a known VID/PID."""
    ports = [STABLE_PATH] if os.path.exists(STABLE_PATH) else []
    for info in sorted(list_ports.comports(), key=lambda p: p.device):
        if info.vid is None:
            continue
        if (info.vid, info.pid) in KNOWN_USB_IDS or (info.vid, None) in KNOWN_USB_IDS:
            ports.append(info.device)
    return ports


class SerialSource:
    """One board on one serial port, reopened whenever it comes back; never raises into the hub."""

    kind = "serial"
    calibration_key = "serial"

    def __init__(self, port: str | None, sink: Sink, name: str = "serial") -> None:
        self.port = port  # None: auto-detect
        self.name = name
        self.sink = sink
        self.parser = ProtocolParser()
        self.identity: Identity | None = None
        self.connected = False
        self.current_port: str | None = None
        self._rate = RateMeter()
        self._problem = ""
        self._stopping = threading.Event()
        self._lost = threading.Event()
        self._identified = threading.Event()
        self._thread: threading.Thread | None = None
        self._reader: BoardReader | None = None
        self._last_frame: float | None = None  # monotonic time of the newest frame on this opening

    @staticmethod
    def nominal_calibration() -> tuple[AxisCalibration, ...]:
        return nominal(0, AXIS_MAX)

    # -- called on the reader thread ----------------------------------------------------------
    def frame_received(self, frame: Frame) -> None:
        self._last_frame = frame.t
        self._rate.tick(frame.t)
        self.sink(self, frame.axes, frame.buttons, frame.t)

    def identity_received(self, identity: Identity) -> None:
        known = self.identity == identity
        self.identity = identity
        if identity.compatible:
            self._identified.set()
            if known:
                return  # the answer to another '?' or a reboot: nothing new to say
            log.info(
                "joystick board on %s: %s firmware %s, protocol %d",
                self.current_port,
                identity.board,
                identity.firmware,
                identity.protocol,
            )
        else:
            self._problem = (
                f"board speaks protocol {identity.protocol}, this kiosk {PROTOCOL_VERSION}: "
                f"flash firmware {identity.firmware!r} -> make -C firmware (see docs/joystick.md)"
            )
            log.error("joystick on %s: %s", self.current_port, self._problem)

    def port_lost(self, error) -> None:
        if error is not None and not self._stopping.is_set():
            log.warning("joystick on %s went away: %s", self.current_port, error)
        self.connected = False
        self._lost.set()

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._supervise, name=f"fse-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._lost.set()
        if self._thread is not None:
            self._thread.join(3)

    def write(self, data: bytes) -> None:
        reader = self._reader
        if reader is not None and reader.alive:
            try:
                reader.write(data)
            except (serial.SerialException, OSError, TypeError):
                pass  # the reader sees the same fault and reports connection_lost

    def health(self) -> SourceHealth:
        stats = self.parser.stats
        if self.connected:
            port = short_name(self.current_port or "")
            if self._problem:
                detail = f"{port}: {self._problem}"
            elif self.identity is not None:
                detail = f"{port} fw {self.identity.firmware}"
            else:
                detail = f"{port} (no identity yet)"
        else:
            detail = self._problem or (
                "disconnected" if self.port is None else f"disconnected: waiting for {self.port}"
            )
        return SourceHealth(
            self.name,
            self.kind,
            self.connected,
            self._rate.current(time.monotonic()),
            stats.frames,
            stats.dropped,
            stats.lost,
            detail,
        )

    # -- the supervisor thread ----------------------------------------------------------------
    def _supervise(self) -> None:
        while not self._stopping.is_set():
            ports = [self.port] if self.port is not None else candidate_ports()
            for port in ports:
                if self._stopping.is_set() or not os.path.exists(port):
                    continue
                self._run_port(port, must_identify=self.port is None)
            self._stopping.wait(RECONNECT_S)

    def _run_port(self, port: str, must_identify: bool) -> None:
        try:
            # No read timeout: the reader blocks in read() and stop() wakes it with cancel_read().
            link = serial.Serial(port, BAUD, timeout=None)
        except (serial.SerialException, OSError, ValueError) as error:
            self._problem = f"cannot open {port}: {error}"
            if "ermission" in str(error):
                self._problem += " (add the kiosk user to the dialout group, or install systemd/99-fse-joystick.rules)"
            return
        self._problem = ""
        self._lost.clear()
        self._identified.clear()
        self.identity = None
        self.parser.identity = None
        self.current_port = port
        self._last_frame = None
        self.connected = True
        self._reader = BoardReader(link, lambda: BoardProtocol(self))
        self._reader.start()
        opened = time.monotonic()
        while not self._stopping.is_set() and not self._lost.is_set():
            if not self._identified.is_set():
                if must_identify and time.monotonic() - opened > BOOT_WAIT_S:
                    log.info("%s did not identify as a joystick board; skipping it", port)
                    break
                self.write(IDENTITY_REQUEST)
            if self._silent(opened):
                log.warning(
                    "joystick on %s sent no frame for %.1f s; reopening the port (resets the board)",
                    port,
                    FRAME_SILENCE_S if self._last_frame is not None else BOOT_WAIT_S,
                )
                break
            self._lost.wait(IDENTITY_RETRY_S if not self._identified.is_set() else RECONNECT_S)
            if self.port is None and not os.path.exists(port):
                break
        self.connected = False
        self._reader.close()
        self._reader = None

    def _silent(self, opened: float) -> bool:
        """True when the board is overdue with a frame: hung (or still in a bootloader loop)."""
        if self.identity is not None and not self.identity.compatible:
            return False  # its frames arrive and are refused; reopening would not help, flashing does
        last = self._last_frame
        if last is None:
            return time.monotonic() - opened > BOOT_WAIT_S
        return time.monotonic() - last > FRAME_SILENCE_S
