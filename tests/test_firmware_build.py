"""The firmware builds for both boards with Debian's arduino-mk, and refuses other boards."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIRMWARE = ROOT / "firmware"

pytestmark = pytest.mark.skipif(
    not (Path("/usr/share/arduino/Arduino.mk").exists() and shutil.which("avr-gcc")),
    reason="arduino-mk / gcc-avr not installed; run scripts/setup-system.sh",
)


def intel_hex_bytes(path: Path) -> int:
    total = 0
    for line in path.read_text().splitlines():
        assert line.startswith(":"), line
        record = bytes.fromhex(line[1:])
        assert sum(record) % 256 == 0, f"bad Intel HEX checksum in {path}: {line}"
        if record[3] == 0:
            total += record[0]
    return total


@pytest.mark.slow
def test_make_builds_both_boards():
    result = subprocess.run(["make", "-s", "-C", str(FIRMWARE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    nano = FIRMWARE / "build-nano" / "joystick_board.hex"
    mega = FIRMWARE / "build-mega" / "joystick_board.hex"
    # Both fit their flash (minus the bootloader) with room to spare.
    assert 1000 < intel_hex_bytes(nano) < 30720
    assert 1000 < intel_hex_bytes(mega) < 253952


@pytest.mark.slow
def test_unsupported_board_stops_with_a_message(tmp_path):
    result = subprocess.run(
        [
            "make",
            "-s",
            "-C",
            str(FIRMWARE / "joystick_board"),
            "-f",
            "/usr/share/arduino/Arduino.mk",
            "TARGET=joystick_board",
            "BOARD_TAG=leonardo",
            f"OBJDIR={tmp_path}",
        ],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "CXXFLAGS": "-DDECIMAL_DIG=__DECIMAL_DIG__"},
    )
    assert result.returncode != 0
    assert "supports the Arduino Nano (ATmega328P) and Mega 2560 only" in result.stderr
