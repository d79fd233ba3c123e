"""The real compiled joystick firmware in simavr, for tests: build it, drive it, read its trace.

tests/simavr/fse_board_sim runs firmware/build-nano/joystick_board.elf on a simulated ATmega328P
and bridges its UART to a pty; its stdin sets ADC voltages and button pins, hangs the CPU, and
asks for the simulated time. Its trace file stamps every line the firmware sends with the
simulated time, so tests measure the board's timing in simulated time, not on a busy host's clock.
Needs Debian's arduino-mk, gcc-avr, avr-libc, simavr and libsimavr-dev (scripts/setup-system.sh).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from kiosk.input.protocol import Frame, Identity, ProtocolParser

ROOT = Path(__file__).resolve().parent.parent
ELF = ROOT / "firmware" / "build-nano" / "joystick_board.elf"
ELF_WITHOUT_WATCHDOG = ROOT / "firmware" / "build-nano-no-watchdog" / "joystick_board.elf"
HARNESS = ROOT / "tests" / "simavr" / "build" / "fse_board_sim"
SUPPLY_MV = 5000


def toolchain_missing() -> str | None:
    needs = {
        "avr-gcc": shutil.which("avr-gcc"),
        "/usr/share/arduino/Arduino.mk": Path("/usr/share/arduino/Arduino.mk").exists(),
        "simavr headers": Path("/usr/include/simavr/parts/uart_pty.h").exists(),
    }
    missing = [name for name, ok in needs.items() if not ok]
    return ", ".join(missing) if missing else None


def build_or_skip() -> None:
    """Builds the Nano firmware and the harness (make is a no-op when both are current)."""
    missing = toolchain_missing()
    if missing:
        pytest.skip(f"cannot build the firmware/harness: {missing} missing; run scripts/setup-system.sh")
    for target in (
        ["make", "-s", "-C", str(ROOT / "firmware"), "nano"],
        ["make", "-s", "-C", str(ROOT / "tests" / "simavr")],
    ):
        result = subprocess.run(target, capture_output=True, text=True)
        assert result.returncode == 0, f"{' '.join(target)} failed:\n{result.stderr[-2000:]}"
    assert ELF.exists() and HARNESS.exists()


def build_without_watchdog() -> Path:
    """The Nano firmware as built for boards with the old bootloader (make ... WATCHDOG=0)."""
    result = subprocess.run(
        ["make", "-s", "-C", str(ROOT / "firmware"), "nano", "WATCHDOG=0"], capture_output=True, text=True
    )
    assert result.returncode == 0, f"make -C firmware nano WATCHDOG=0 failed:\n{result.stderr[-2000:]}"
    return ELF_WITHOUT_WATCHDOG


@dataclass(frozen=True)
class Sent:
    """One line the firmware sent: simulated microseconds at its first byte, its bytes, parsed."""

    us: int
    line: bytes
    message: Frame | Identity | None  # None: a harness marker ("# hang") or a line the parser refused


class Board:
    """The harness process: stdin commands, stdout replies; trace=path records every line sent."""

    def __init__(self, trace: Path | None = None, elf: Path = ELF) -> None:
        self.process = subprocess.Popen(
            [str(HARNESS), str(elf)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            bufsize=1,
        )
        line = self.process.stdout.readline()
        assert line.startswith("pty "), f"harness said {line!r}"
        self.pty = line.split()[1]
        self.trace = trace
        if trace is not None:
            assert self.command(f"trace {trace}") == "ok"

    def command(self, text: str) -> str:
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()
        return self.process.stdout.readline().strip()

    def sim_us(self) -> int:
        reply = self.command("time")
        assert reply.startswith("time "), reply
        return int(reply.split()[1])

    def sent(self) -> list[Sent]:
        """Every line in the trace so far, in order, each checked by the kiosk's own parser."""
        parser = ProtocolParser()
        lines = []
        for row in self.trace.read_bytes().splitlines():
            stamp, _, line = row.partition(b" ")
            messages = [] if line.startswith(b"#") else parser.feed(line + b"\n")
            lines.append(Sent(int(stamp), line, messages[0] if messages else None))
        return lines

    def close(self) -> None:
        try:
            self.process.stdin.write("quit\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            pass
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
