"""The joystick board's wire protocol on the host: a pure parser (bytes in, frozen frames out).

The board side is `firmware/joystick_board/fse_protocol.h`; the format, with examples, is
`firmware/PROTOCOL.md`. The constants below mirror the header (tests/test_protocol_doc.py checks
they agree, and parses the document's examples with this parser).

    parser = ProtocolParser()
    for message in parser.feed(chunk, t=time.monotonic()):
        ...  # Frame or Identity; everything else is dropped and counted in parser.stats

No I/O here: the serial backend moves bytes, this module only frames and checks them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

PROTOCOL_VERSION = 1
FIRMWARE_VERSION = "1.1"
BAUD = 115200
AXES = 8
AXIS_MAX = 1023
BUTTONS = 6
SEQ_MODULO = 256
REPORT_HZ = 100
LINE_MAX = 80
IDENTITY_REQUEST = b"?"

_DIGITS = frozenset(b"0123456789")
_HEX = frozenset(b"0123456789ABCDEF")
_TEXT = frozenset(range(0x21, 0x7F)) - {ord(","), ord("*")}


def _crc8_table() -> tuple[int, ...]:
    # CRC-8/MAXIM (reflected polynomial 0x8C), byte-for-byte avr-libc's _crc_ibutton_update.
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8C if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_CRC8 = _crc8_table()


def crc8(data: bytes) -> int:
    """CRC-8/MAXIM of data, as the board computes it over each line before the '*'."""
    crc = 0
    for byte in data:
        crc = _CRC8[crc ^ byte]
    return crc


@dataclass(frozen=True)
class Identity:
    """The board's identity line: sent on boot and when the host writes '?'."""

    protocol: int
    firmware: str
    board: str
    axes: int
    buttons: int

    @property
    def compatible(self) -> bool:
        return self.protocol == PROTOCOL_VERSION


@dataclass(frozen=True)
class Frame:
    """One data frame: raw 10-bit axis readings and the button mask (bit k = button k pressed)."""

    seq: int
    axes: tuple[int, ...]
    buttons: int
    t: float


@dataclass
class ParserStats:
    """What the parser kept and what it dropped, by reason (shown in the diagnostics overlay)."""

    frames: int = 0  # data frames accepted
    identities: int = 0
    lost: int = 0  # frames missing from the sequence (the board sent them, we never saw them)
    garbage: int = 0  # lines that are not protocol lines at all (noise, a partial line)
    checksum: int = 0  # well-formed lines whose CRC does not match: corrupted in transit
    malformed: int = 0  # correct CRC but wrong fields: a different or broken sender
    range: int = 0  # a number outside what the board can send
    version: int = 0  # lines from a board speaking another protocol version
    overlong: int = 0  # lines longer than LINE_MAX (a flood, or no newlines)

    @property
    def dropped(self) -> int:
        return self.garbage + self.checksum + self.malformed + self.range + self.version + self.overlong

    def as_dict(self) -> dict[str, int]:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["dropped"] = self.dropped
        return values


def encode_frame(seq: int, axes: tuple[int, ...] | list[int], buttons: int) -> bytes:
    """A data frame line exactly as the firmware writes it."""
    body = "D," + ",".join(str(v) for v in (seq, *axes, buttons))
    return _seal(body.encode("ascii"))


def encode_identity(identity: Identity) -> bytes:
    """An identity line exactly as the firmware writes it."""
    body = f"I,{identity.protocol},{identity.firmware},{identity.board},{identity.axes},{identity.buttons}"
    return _seal(body.encode("ascii"))


def frame_bytes_max() -> int:
    """The longest data frame, newline included: every field at its widest (PROTOCOL.md's figure)."""
    return len(encode_frame(SEQ_MODULO - 1, (AXIS_MAX,) * AXES, (1 << BUTTONS) - 1))


def _seal(body: bytes) -> bytes:
    return body + b"*%02X\n" % crc8(body)


def _number(field: bytes) -> int | None:
    # Decimal, no sign, at most 5 digits: anything else is not a number the board would send.
    if 0 < len(field) <= 5 and all(c in _DIGITS for c in field):
        return int(field)
    return None


class ProtocolParser:
    """Splits a byte stream into lines and turns each into a Frame or Identity, or a counted drop.

    Memory is bounded: at most LINE_MAX bytes wait for a newline; a longer run is counted as one
    overlong line and skipped up to the next newline. Before any identity, frames are accepted (a
    board that was already running when the port opened); after an identity with another protocol
    version, every line is refused until a compatible identity arrives. A seq gap counts as lost
    frames; an identity line, a repeated seq or a seq that went back is a rebooted board, and the
    count starts again.
    """

    def __init__(self) -> None:
        self.stats = ParserStats()
        self.identity: Identity | None = None
        self._buffer = bytearray()
        self._skipping = False  # inside an overlong line: discard up to its newline
        self._last_seq: int | None = None

    def feed(self, data: bytes, t: float = 0.0) -> list[Frame | Identity]:
        """Messages completed by data, in order; t stamps the frames (time.monotonic())."""
        messages: list[Frame | Identity] = []
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                break
            piece = data[start:end]
            start = end + 1
            if self._skipping:
                self._skipping = False
                self._buffer.clear()
                continue
            if self._buffer:
                self._buffer += piece
                line = bytes(self._buffer)
                self._buffer.clear()
            else:
                line = piece
            if len(line) >= LINE_MAX:
                self.stats.overlong += 1
                continue
            message = self._parse_line(line, t)
            if message is not None:
                messages.append(message)
        if not self._skipping and start < len(data):
            self._buffer += data[start:]
            if len(self._buffer) >= LINE_MAX:
                self.stats.overlong += 1
                self._skipping = True
                self._buffer.clear()
        return messages

    def _parse_line(self, line: bytes, t: float) -> Frame | Identity | None:
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line:
            return None
        star = line.rfind(b"*")
        if star < 1 or len(line) - star != 3 or not all(c in _HEX for c in line[star + 1 :]):
            self.stats.garbage += 1
            return None
        body = line[:star]
        if crc8(body) != int(line[star + 1 :], 16):
            self.stats.checksum += 1
            return None
        parts = body.split(b",")
        kind = parts[0]
        if kind == b"I":
            return self._identity(parts)
        if kind == b"D":
            if self.identity is not None and not self.identity.compatible:
                self.stats.version += 1
                return None
            return self._frame(parts, t)
        self.stats.malformed += 1
        return None

    def _identity(self, parts: list[bytes]) -> Identity | None:
        if len(parts) != 6 or not all(p and all(c in _TEXT for c in p) for p in parts[1:]):
            self.stats.malformed += 1
            return None
        protocol, axes, buttons = _number(parts[1]), _number(parts[4]), _number(parts[5])
        if protocol is None or axes is None or buttons is None:
            self.stats.malformed += 1
            return None
        identity = Identity(protocol, parts[2].decode("ascii"), parts[3].decode("ascii"), axes, buttons)
        self.identity = identity
        self._last_seq = None  # a (re)booted board starts counting again
        if not identity.compatible:
            self.stats.version += 1
            return identity
        if axes != AXES or buttons > 8:
            self.stats.range += 1
        self.stats.identities += 1
        return identity

    def _frame(self, parts: list[bytes], t: float) -> Frame | None:
        if len(parts) != 2 + AXES + 1:
            self.stats.malformed += 1
            return None
        numbers = [_number(p) for p in parts[1:]]
        if None in numbers:
            self.stats.malformed += 1
            return None
        seq, *axes, buttons = numbers
        if seq >= SEQ_MODULO or buttons >= 1 << BUTTONS or max(axes) > AXIS_MAX:
            self.stats.range += 1
            return None
        if self._last_seq is not None:
            ahead = (seq - self._last_seq) % SEQ_MODULO
            # A repeated seq, or one that went back, is a board that rebooted (its identity line
            # lost): counting restarts. Only a jump forward is frames lost in transit.
            if 0 < ahead <= SEQ_MODULO // 2:
                self.stats.lost += ahead - 1
        self._last_seq = seq
        self.stats.frames += 1
        return Frame(seq, tuple(axes), buttons, t)
