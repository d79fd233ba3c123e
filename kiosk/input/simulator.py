"""A simulated joystick board: a pseudo-terminal that speaks the board's protocol.

For demos and tests: the kiosk opens it through its real serial backend (`--joystick sim` does
this in-process). As a command:

    fse-joystick-sim                      # interactive: type commands, see the pty path
    fse-joystick-sim --script demo.txt    # run a script, then keep the board up until Ctrl-C
    fse-joystick-sim --link /tmp/fse-joystick --script demo.txt --exit

Commands (one a line, in a script or typed; '#' starts a comment):
    axis K V          set axis K (0-7) to V in -1..1 (0 = centred)
    raw K N           set axis K to the raw reading N (0-1023)
    press NAME        press a button: capture, jump, next_print, random, next_landmark, spare
    release NAME      release it
    tap NAME          press, hold 50 ms, release
    wait S            wait S seconds
    unplug / replug   close the pty (the host sees the device vanish) / open a new one
    hang / reset      stop dead, the port still open (a stuck firmware) / boot again (the watchdog)
    garbage TEXT      send TEXT raw, newline added (fault injection)
    quit              stop
"""

from __future__ import annotations

import argparse
import os
import pty
import select
import sys
import tempfile
import threading
import time
import tty
from pathlib import Path

from kiosk.input.protocol import (
    AXES,
    AXIS_MAX,
    BUTTONS,
    FIRMWARE_VERSION,
    IDENTITY_REQUEST,
    PROTOCOL_VERSION,
    REPORT_HZ,
    SEQ_MODULO,
    Identity,
    encode_frame,
    encode_identity,
)
from kiosk.input.state import BUTTON_BITS, Button

CENTRE = (AXIS_MAX + 1) // 2
TAP_S = 0.05


def button_named(name: str | Button) -> Button:
    if isinstance(name, Button):
        return name
    try:
        return Button(name.strip().lower())
    except ValueError:
        raise ValueError(f"unknown button {name!r}; buttons are " + ", ".join(b.value for b in Button)) from None


class SimulatedBoard:
    """Behaves like the firmware: identity on start and on '?', frames at 100 Hz and on change.

    Like the firmware, frames keep a fixed 100 Hz grid and a button change adds one frame at once
    without moving it. hang() stops the board dead (it still counts the host's '?' requests in
    identity_requests, to show what the host tried); reset() boots it again.

    link: a symlink kept pointing at the current pty (like udev's /dev/fse-joystick), so a host
    that opened the link finds the board again after unplug()/replug(). Writes that the host
    does not read are dropped, as a USB serial adapter drops them.
    """

    def __init__(self, link: Path | str | None = None, rate_hz: float = REPORT_HZ, board: str = "sim") -> None:
        self._own_dir = None
        if link is None:
            self._own_dir = tempfile.mkdtemp(prefix="fse-sim-")
            link = Path(self._own_dir) / "fse-joystick"
        self.link = Path(link)
        self.interval = 1.0 / rate_hz
        self.identity = Identity(PROTOCOL_VERSION, FIRMWARE_VERSION, board, AXES, BUTTONS)
        self.raw = [CENTRE] * AXES
        self.buttons = 0
        self.seq = 0
        self.frames_sent = 0
        self.identity_requests = 0
        self.hung = False
        self._lock = threading.Lock()
        self._changed = threading.Event()
        self._stopping = threading.Event()
        self._master: int | None = None
        self._slave: int | None = None
        self._thread: threading.Thread | None = None

    @property
    def path(self) -> str:
        return str(self.link)

    @property
    def plugged(self) -> bool:
        return self._master is not None

    # -- what a test or script does to the board ----------------------------------------------
    def set_axis(self, axis: int, value: float) -> None:
        """value in -1..1 as a raw reading, the way a pot centred at mid-scale would read."""
        value = max(-1.0, min(1.0, float(value)))
        self.set_raw(axis, round(CENTRE + value * (AXIS_MAX - CENTRE if value > 0 else CENTRE)))

    def set_raw(self, axis: int, raw: int) -> None:
        if not 0 <= axis < AXES:
            raise ValueError(f"axis {axis} does not exist; axes are 0-{AXES - 1}")
        with self._lock:
            self.raw[axis] = max(0, min(AXIS_MAX, int(raw)))

    def press(self, button: str | Button) -> None:
        self._set_button(button_named(button), True)

    def release(self, button: str | Button) -> None:
        self._set_button(button_named(button), False)

    def tap(self, button: str | Button) -> None:
        self.press(button)
        time.sleep(TAP_S)
        self.release(button)

    def _set_button(self, button: Button, pressed: bool) -> None:
        bit = 1 << BUTTON_BITS.index(button)
        with self._lock:
            self.buttons = self.buttons | bit if pressed else self.buttons & ~bit
        self._changed.set()  # the firmware reports a button change at once

    def hang(self) -> None:
        """Stop sending and answering, the port left open: a firmware stuck in a loop."""
        self.hung = True

    def reset(self) -> None:
        """Boot again, as the watchdog or the DTR of a reopened port does: identity, seq from 0."""
        with self._lock:
            self.seq = 0
            self.hung = False
        self._write(b"\n" + encode_identity(self.identity))

    def send_raw(self, data: bytes) -> None:
        """Bytes straight onto the line (fault injection: garbage, partial frames, floods)."""
        self._write(data)

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> "SimulatedBoard":
        self.replug()
        self._thread = threading.Thread(target=self._run, name="fse-joystick-sim", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._changed.set()
        if self._thread is not None:
            self._thread.join(2)
        self.unplug()
        if self._own_dir is not None:
            try:
                os.rmdir(self._own_dir)
            except OSError:
                pass

    def unplug(self) -> None:
        with self._lock:
            for fd in (self._master, self._slave):
                if fd is not None:
                    os.close(fd)
            self._master = self._slave = None
        try:
            self.link.unlink()
        except FileNotFoundError:
            pass

    def replug(self) -> None:
        master, slave = pty.openpty()
        # Raw from the start, so nothing the host writes before it opens the port is echoed back.
        tty.setraw(slave)
        os.set_blocking(master, False)
        temporary = self.link.with_name(self.link.name + ".new")
        try:
            temporary.unlink()
        except FileNotFoundError:
            pass
        temporary.symlink_to(os.ttyname(slave))
        with self._lock:
            self._master, self._slave = master, slave
            self.seq = 0  # a plugged-in board has just booted
        os.replace(temporary, self.link)
        self._write(encode_identity(self.identity))

    # -- the board's loop ---------------------------------------------------------------------
    def _write(self, data: bytes) -> None:
        with self._lock:
            master = self._master
            if master is None:
                return
            try:
                written = os.write(master, data)
            except (BlockingIOError, OSError):
                return  # nobody reading: dropped whole, like a real adapter's full buffer
            # A partial write must not leave half a line for the next frame to run into: give the
            # reader a moment to drain, then finish the frame, or at least end the line.
            rest = data[written:]
            while rest:
                try:
                    _, writable, _ = select.select([], [master], [], 0.05)
                    if not writable:
                        os.write(master, b"\n")
                        return
                    rest = rest[os.write(master, rest) :]
                except (BlockingIOError, OSError):
                    return

    def _frame(self) -> bytes:
        with self._lock:
            line = encode_frame(self.seq, tuple(self.raw), self.buttons)
            self.seq = (self.seq + 1) % SEQ_MODULO
            self.frames_sent += 1
        return line

    def _run(self) -> None:
        next_frame = time.monotonic()
        while not self._stopping.is_set():
            master = self._master
            timeout = 0.005 if self.hung else max(0.0, next_frame - time.monotonic())
            if master is not None:
                try:
                    readable, _, _ = select.select([master], [], [], min(timeout, 0.005))
                except (OSError, ValueError):
                    readable = []  # unplugged under us
                if readable:
                    try:
                        request = os.read(master, 256)
                    except OSError:
                        request = b""
                    if IDENTITY_REQUEST in request:
                        self.identity_requests += 1
                        if not self.hung:
                            self._write(encode_identity(self.identity))
            else:
                self._stopping.wait(min(timeout, 0.005))
            if self.hung:
                continue
            if self._changed.is_set():
                self._changed.clear()
                self._write(self._frame())
            if time.monotonic() >= next_frame:
                self._write(self._frame())
                next_frame += self.interval
                if next_frame < time.monotonic():
                    next_frame = time.monotonic() + self.interval  # fell behind: don't burst


def run_command(board: SimulatedBoard, line: str) -> bool:
    """Runs one script line; False on quit. Raises ValueError with a message for a bad line."""
    words = line.split("#", 1)[0].split()
    if not words:
        return True
    verb, args = words[0].lower(), words[1:]
    try:
        if verb == "axis" and len(args) == 2:
            board.set_axis(int(args[0]), float(args[1]))
        elif verb == "raw" and len(args) == 2:
            board.set_raw(int(args[0]), int(args[1]))
        elif verb in ("press", "release", "tap") and len(args) == 1:
            getattr(board, verb)(args[0])
        elif verb == "wait" and len(args) == 1:
            time.sleep(max(0.0, float(args[0])))
        elif verb in ("hang", "reset") and not args:
            getattr(board, verb)()
        elif verb == "unplug" and not args:
            board.unplug()
        elif verb == "replug" and not args:
            board.replug()
        elif verb == "garbage":
            board.send_raw(line.split(None, 1)[1].encode() + b"\n" if args else b"\n")
        elif verb == "quit":
            return False
        else:
            raise ValueError(f"cannot understand {line.strip()!r}")
    except ValueError as error:
        if "cannot understand" in str(error) or "unknown button" in str(error) or "does not exist" in str(error):
            raise
        raise ValueError(f"cannot understand {line.strip()!r}: {error}") from None
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="fse-joystick-sim",
        description="A simulated joystick board on a pseudo-terminal.",
        epilog="Commands: "
        + " | ".join(line.strip() for line in __doc__.split("Commands")[1].splitlines()[1:] if line.strip()),
    )
    parser.add_argument("--script", type=Path, help="a file of commands to run (see below)")
    parser.add_argument("--link", type=Path, help="a symlink to keep pointing at the pty (default: a temp path)")
    parser.add_argument("--rate", type=float, default=REPORT_HZ, help="frames per second (default 100)")
    parser.add_argument("--exit", action="store_true", help="exit when the script ends instead of staying up")
    args = parser.parse_args(argv)

    script: list[str] = []
    if args.script is not None:
        try:
            script = args.script.read_text().splitlines()
        except OSError as error:
            print(f"fse-joystick-sim: cannot read script {args.script}: {error.strerror}", file=sys.stderr)
            return 2
    if not 1 <= args.rate <= 1000:
        print("fse-joystick-sim: --rate must be 1-1000 frames per second", file=sys.stderr)
        return 2

    board = SimulatedBoard(args.link, rate_hz=args.rate).start()
    print(f"simulated joystick board on {board.path}  (kiosk: fse-kiosk --joystick {board.path})", flush=True)
    try:
        for number, line in enumerate(script, 1):
            try:
                if not run_command(board, line):
                    return 0
            except ValueError as error:
                print(f"fse-joystick-sim: {args.script}:{number}: {error}", file=sys.stderr)
                return 2
        if args.exit:
            return 0
        interactive = sys.stdin.isatty()
        if interactive:
            print(
                "commands: axis K V | raw K N | press/release/tap NAME | wait S | unplug | replug | hang | reset | quit"
            )
        for line in sys.stdin:
            try:
                if not run_command(board, line):
                    break
            except ValueError as error:
                print(f"fse-joystick-sim: {error}", file=sys.stderr)
        else:
            if not interactive:
                # stdin closed (a service, a pipe): stay up until Ctrl-C or SIGTERM.
                threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        board.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
