"""The pure wire-protocol parser: good frames, every kind of bad input, and a hypothesis fuzz."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.input.protocol import (
    AXIS_MAX,
    LINE_MAX,
    Frame,
    Identity,
    ProtocolParser,
    crc8,
    encode_frame,
    encode_identity,
)

CENTRED = (512,) * 8
IDENTITY = encode_identity(Identity(1, "1.0", "nano", 8, 6))


def frames_of(messages):
    return [m for m in messages if isinstance(m, Frame)]


def test_crc8_is_maxim():
    # The CRC-8/MAXIM check value from the CRC catalogue: crc("123456789") = 0xA1.
    assert crc8(b"123456789") == 0xA1


def test_round_trip_identity_and_frames():
    parser = ProtocolParser()
    stream = IDENTITY + encode_frame(7, (0, 1, 2, 3, 1020, 1021, 1022, 1023), 0b100101)
    identity, frame = parser.feed(stream, t=5.0)
    assert identity == Identity(1, "1.0", "nano", 8, 6)
    assert frame == Frame(7, (0, 1, 2, 3, 1020, 1021, 1022, 1023), 0b100101, 5.0)
    assert parser.stats.dropped == 0


def test_frame_split_across_reads_byte_by_byte():
    parser = ProtocolParser()
    line = encode_frame(1, CENTRED, 3)
    out = []
    for i in range(len(line)):
        out += parser.feed(line[i : i + 1])
    assert frames_of(out) == [Frame(1, CENTRED, 3, 0.0)]


def test_crlf_accepted():
    assert frames_of(ProtocolParser().feed(encode_frame(0, CENTRED, 0)[:-1] + b"\r\n"))


@pytest.mark.parametrize(
    "line, reason",
    [
        (b"hello world\n", "garbage"),
        (b"\x00\xff\xfe\n", "garbage"),
        (encode_frame(3, CENTRED, 0)[12:], "checksum"),  # the tail of a frame
        (encode_frame(3, CENTRED, 0).replace(b",512,", b",513,", 1), "checksum"),
        (b"D,1,2,3*" + b"%02X" % crc8(b"D,1,2,3") + b"\n", "malformed"),  # too few fields
        (b"X,1*" + b"%02X" % crc8(b"X,1") + b"\n", "malformed"),  # unknown line type
        (
            b"D,1,-5,512,512,512,512,512,512,512,0*" + b"%02X" % crc8(b"D,1,-5,512,512,512,512,512,512,512,0") + b"\n",
            "malformed",
        ),
        (encode_frame(3, (1024,) + CENTRED[1:], 0), "range"),
        (encode_frame(256, CENTRED, 0), "range"),
        (encode_frame(3, CENTRED, 64), "range"),
        (b"x" * (LINE_MAX + 10) + b"\n", "overlong"),
    ],
)
def test_bad_lines_are_dropped_and_counted_by_reason(line, reason):
    parser = ProtocolParser()
    out = parser.feed(line + encode_frame(9, CENTRED, 0))
    # The bad line is dropped, and the good frame after it still comes through.
    assert frames_of(out) == [Frame(9, CENTRED, 0, 0.0)]
    stats = parser.stats.as_dict()
    assert stats[reason] == 1
    assert stats["dropped"] == 1


def test_wrong_protocol_version_refuses_frames_until_a_compatible_identity():
    parser = ProtocolParser()
    old = encode_identity(Identity(2, "9.0", "nano", 8, 6))
    out = parser.feed(old + encode_frame(0, CENTRED, 0) + encode_frame(1, CENTRED, 0))
    assert [m for m in out if isinstance(m, Identity)][0].compatible is False
    assert frames_of(out) == []
    assert parser.stats.version == 3
    out = parser.feed(IDENTITY + encode_frame(2, CENTRED, 0))
    assert len(frames_of(out)) == 1


def test_sequence_gaps_count_lost_frames_including_wrap():
    parser = ProtocolParser()
    seqs = [250, 251, 254, 255, 0, 3]
    parser.feed(b"".join(encode_frame(s, CENTRED, 0) for s in seqs))
    assert parser.stats.frames == 6
    assert parser.stats.lost == 2 + 2
    assert parser.stats.dropped == 0


def test_a_rebooted_board_is_not_counted_as_255_lost_frames():
    """After a reboot the seq starts again at 0: an identity, a repeat or a step back says so."""
    parser = ProtocolParser()
    stream = [IDENTITY] + [encode_frame(s, CENTRED, 0) for s in range(40)]
    stream += [IDENTITY] + [encode_frame(s, CENTRED, 0) for s in range(3)]  # rebooted, said so
    stream += [encode_frame(s, CENTRED, 0) for s in (0, 1, 2, 2, 3)]  # rebooted at 2, no identity
    stream += [encode_frame(s, CENTRED, 0) for s in (100, 101, 0, 1)]  # 96 lost, then a reboot
    # A reset cut the last frame short and the board's identity ran into it: the identity is lost.
    stream += [encode_frame(2, CENTRED, 0)[:20] + IDENTITY, encode_frame(0, CENTRED, 0)]
    parser.feed(b"".join(stream))
    assert parser.stats.frames == 40 + 3 + 5 + 4 + 1
    assert parser.stats.lost == 96
    assert parser.stats.checksum == 1


def test_flood_without_newlines_keeps_memory_bounded():
    parser = ProtocolParser()
    for _ in range(1000):
        parser.feed(b"A" * 4096)
        assert len(parser._buffer) < LINE_MAX
    # The flood is one long line; the first frame after its end is dropped with it, then all is well.
    out = parser.feed(b"\n" + encode_frame(0, CENTRED, 0))
    assert frames_of(out) == [Frame(0, CENTRED, 0, 0.0)]
    assert parser.stats.overlong == 1


def test_flood_of_valid_frames_all_parsed():
    parser = ProtocolParser()
    chunk = b"".join(encode_frame(s % 256, CENTRED, 0) for s in range(5000))
    assert len(frames_of(parser.feed(chunk))) == 5000
    assert parser.stats.lost == 0


def test_random_corruption_never_yields_a_wrong_frame():
    """Flip bytes in a long valid stream: every accepted frame must be one that was sent."""
    rng = random.Random(1)
    sent = [encode_frame(s % 256, tuple(rng.randrange(1024) for _ in range(8)), rng.randrange(64)) for s in range(2000)]
    stream = bytearray(b"".join(sent))
    for _ in range(300):
        stream[rng.randrange(len(stream))] = rng.randrange(256)
    parser = ProtocolParser()
    received = frames_of(parser.feed(bytes(stream)))
    sent_set = set(sent)
    assert all(encode_frame(f.seq, f.axes, f.buttons) in sent_set for f in received)
    assert len(received) + parser.stats.dropped >= 2000 - 300


VALID_STREAM = IDENTITY + b"".join(encode_frame(s, (s * 4 % 1024,) * 8, s % 64) for s in range(3))


@pytest.mark.slow  # ~13 s: `pytest -m "not slow"` for a quick pass; make test runs it
@settings(max_examples=10_000, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(
    noise=st.binary(max_size=160),
    cut=st.integers(0, len(VALID_STREAM)),
    flips=st.lists(st.tuples(st.integers(0, len(VALID_STREAM) - 1), st.integers(0, 255)), max_size=3),
)
def test_fuzz_parser_never_crashes_and_only_emits_valid_frames(noise, cut, flips):
    """Noise spliced into a valid stream at any point, with a few bytes overwritten."""
    stream = bytearray(VALID_STREAM)
    for index, value in flips:
        stream[index] = value
    stream[cut:cut] = noise
    parser = ProtocolParser()
    for message in parser.feed(bytes(stream[: cut + 7]), 1.0) + parser.feed(bytes(stream[cut + 7 :]), 1.0):
        if isinstance(message, Frame):
            assert 0 <= message.seq < 256
            assert len(message.axes) == 8 and all(0 <= a <= AXIS_MAX for a in message.axes)
            assert 0 <= message.buttons < 64
    assert len(parser._buffer) < LINE_MAX
    # Every line ends up either accepted or counted: nothing vanishes silently.
    lines = bytes(stream).count(b"\n")
    assert parser.stats.frames + parser.stats.identities + parser.stats.dropped <= lines + 1
