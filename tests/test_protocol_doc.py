"""firmware/PROTOCOL.md and the firmware header agree with the host parser (the doc can't drift)."""

from __future__ import annotations

import re
from pathlib import Path

from kiosk.input import protocol, serial_backend
from kiosk.input.protocol import Frame, Identity, ProtocolParser, frame_bytes_max

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "firmware" / "PROTOCOL.md"
HEADER = ROOT / "firmware" / "joystick_board" / "fse_protocol.h"


def wire_examples() -> list[bytes]:
    blocks = re.findall(r"```wire\n(.*?)```", DOC.read_text(), flags=re.S)
    return [line.encode() + b"\n" for block in blocks for line in block.splitlines() if line.strip()]


def test_every_example_in_the_doc_parses():
    examples = wire_examples()
    assert len(examples) >= 5
    parser = ProtocolParser()
    messages = parser.feed(b"".join(examples))
    assert parser.stats.dropped == 0, parser.stats.as_dict()
    assert len(messages) == len(examples)
    assert isinstance(messages[0], Identity) and messages[0].compatible
    frames = [m for m in messages if isinstance(m, Frame)]
    # The doc's prose describes these frames; check the values it names.
    assert frames[1].axes[:4] == (1023, 0, 204, 767) and frames[1].buttons == 0b1
    assert frames[2].buttons == 0b100001
    assert frames[3].seq == 255


def test_host_constants_match_the_firmware_header():
    defines = dict(re.findall(r"#define[ \t]+(FSE_\w+)[ \t]+(\S+)", HEADER.read_text()))
    assert int(defines["FSE_PROTOCOL_VERSION"]) == protocol.PROTOCOL_VERSION
    assert defines["FSE_FIRMWARE_VERSION"].strip('"') == protocol.FIRMWARE_VERSION
    assert int(defines["FSE_BAUD"].rstrip("UL")) == protocol.BAUD
    assert int(defines["FSE_AXES"]) == protocol.AXES
    assert int(defines["FSE_AXIS_MAX"]) == protocol.AXIS_MAX
    assert int(defines["FSE_BUTTONS"]) == protocol.BUTTONS
    assert int(defines["FSE_SEQ_MODULO"]) == protocol.SEQ_MODULO
    assert 1000 // int(defines["FSE_REPORT_INTERVAL_MS"]) == protocol.REPORT_HZ
    assert int(defines["FSE_LINE_MAX"]) == protocol.LINE_MAX
    assert defines["FSE_IDENTITY_REQUEST"] == "'?'" and protocol.IDENTITY_REQUEST == b"?"


def test_button_bits_in_header_match_the_button_enum():
    from kiosk.input.state import BUTTON_BITS

    bits = {
        name.lower(): int(v) for name, v in re.findall(r"#define[ \t]+FSE_BUTTON_(\w+)[ \t]+(\d+)", HEADER.read_text())
    }
    assert {b.value: i for i, b in enumerate(BUTTON_BITS)} == bits


def test_worst_case_frame_and_line_share_are_the_frame_formats():
    """The figures in the doc and the header follow from encode_frame at every field's widest."""
    worst = frame_bytes_max()
    assert worst == len(b"D,255,1023,1023,1023,1023,1023,1023,1023,1023,63*CC\n")
    share = round(100 * worst * 10 * protocol.REPORT_HZ / protocol.BAUD)  # 8N1: 10 bits a byte
    doc = re.search(r"A worst-case frame is (\d+) bytes: 100 frames/s use (\d+) % of 115200 baud", DOC.read_text())
    header = re.search(r"(\d+)-byte frames at 100 Hz use (\d+) % of the line", HEADER.read_text())
    assert doc and header
    assert (int(doc[1]), int(doc[2])) == (worst, share) == (int(header[1]), int(header[2]))
    assert worst < protocol.LINE_MAX


def test_watchdog_and_silence_times_in_the_doc_are_the_codes():
    text = " ".join(DOC.read_text().split())
    watchdog_ms = re.search(r"#define FSE_WATCHDOG_TIMEOUT WDTO_(\d+)MS", HEADER.read_text())
    assert watchdog_ms and f"a loop pass that stalls for {watchdog_ms[1]} ms resets the board" in text
    assert (
        f"no frame for {serial_backend.FRAME_SILENCE_S:g} s ({serial_backend.BOOT_WAIT_S:g} s right after "
        f"opening" in text
    )
