"""The joystick firmware's timing and self-recovery, measured on the real compiled firmware in simavr.

Every time here is simulated time from the harness's trace (tests/simavr_board.py), so a busy host
can slow the test down but not change what it measures. The kiosk's own serial backend (InputHub)
reads the board meanwhile, as on the booth.
"""

from __future__ import annotations

import statistics

import pytest
from simavr_board import ELF, SUPPLY_MV, Board, Sent, build_or_skip, build_without_watchdog
from waiting import wait_for

from kiosk.input import InputHub
from kiosk.input.protocol import (
    AXES,
    AXIS_MAX,
    BAUD,
    BUTTONS,
    IDENTITY_REQUEST,
    REPORT_HZ,
    SEQ_MODULO,
    Frame,
    Identity,
    frame_bytes_max,
)

pytestmark = pytest.mark.slow

INTERVAL_US = 1_000_000 // REPORT_HZ


@pytest.fixture(scope="module")
def built():
    build_or_skip()


def run_until(board: Board, us: int) -> None:
    """Waits (in wall time, generously) until the simulation has reached us microseconds."""
    wait_for(lambda: board.sim_us() >= us, timeout=10 + 10 * us / 1e6, what=f"simulated time {us} us")


def start(tmp_path, elf=ELF) -> tuple[Board, InputHub]:
    board = Board(trace=tmp_path / "trace.txt", elf=elf)
    hub = InputHub(board.pty, state_dir=tmp_path)
    hub.start()
    # Hold the CPU until the port is open: pyserial flushes input on open.
    wait_for(lambda: hub.poll().sources[0].connected, what="the hub to open the pty")
    assert board.command("go") == "running"
    wait_for(lambda: hub.poll().sources[0].frames > 0, timeout=10, what="the first frames")
    return board, hub


@pytest.fixture
def running(built, tmp_path):
    board, hub = start(tmp_path)
    yield board, hub
    hub.stop()
    board.close()


def line_us(line: bytes) -> float:
    """How long the UART takes to send line and its newline (10 bits a byte, 10 % for simavr's timing)."""
    return (len(line) + 1) * 11 * 1e6 / BAUD


def frames(sent: list[Sent]) -> list[tuple[int, Frame]]:
    return [(s.us, s.message) for s in sent if isinstance(s.message, Frame)]


def test_frames_stay_on_a_fixed_100hz_grid_through_button_changes(running):
    board, hub = running
    for channel in range(AXES):
        assert board.command(f"adc {channel} {SUPPLY_MV}") == "ok"  # every axis reads 1023
    run_until(board, 1_000_000)
    for bit in range(BUTTONS):
        assert board.command(f"button {bit} 1") == "ok"
    run_until(board, 3_000_000)
    for bit in range(3):
        assert board.command(f"button {bit} 0") == "ok"
    run_until(board, 5_500_000)

    lines = board.sent()
    sent = frames(lines)
    grid, changes = [], []
    for (_, before), (us, frame) in zip(sent, sent[1:]):
        (changes if frame.buttons != before.buttons else grid).append(us)
    assert changes, "the button changes were not reported"
    assert len(grid) > 450
    # The grid frames tick at 100 Hz of simulated time: the slope of time over frame number.
    n = range(len(grid))
    rate = 1e6 / statistics.linear_regression(n, grid).slope
    assert rate == pytest.approx(REPORT_HZ, abs=0.05), f"frame rate {rate:.3f} Hz"
    # ...and each stays in its slot: no drift, and a change frame does not move the grid. A frame
    # that had to wait for the UART to finish the line before it is late by the line, not by the
    # schedule: it is left out.
    queued = {b.us for a, b in zip(lines, lines[1:]) if b.us - a.us <= line_us(a.line) + 300}
    phase = statistics.median(us - k * INTERVAL_US for k, us in zip(n, grid))
    offsets = [us - k * INTERVAL_US - phase for k, us in zip(n, grid) if us not in queued]
    assert len(offsets) > 400
    worst = max(offsets, key=abs)
    assert abs(worst) < 1500, f"a grid frame is {worst:.0f} us off its slot (rate {rate:.3f} Hz)"

    # The longest frame the firmware sent is the worst case the protocol computes (and documents).
    longest = max(len(s.line) + 1 for s in lines if isinstance(s.message, Frame))
    assert longest == frame_bytes_max()
    assert any(
        f.seq == SEQ_MODULO - 1 and f.buttons == (1 << BUTTONS) - 1 and f.axes == (AXIS_MAX,) * AXES for _, f in sent
    )
    assert hub.poll().sources[0].lost == 0


def test_a_flood_of_identity_requests_does_not_stop_the_frames(running):
    board, hub = running
    run_until(board, 500_000)
    flood_from = board.sim_us()
    hub.sources[0].write(IDENTITY_REQUEST * 12_000)  # about a second of '?' at 115200 baud
    run_until(board, board.sim_us() + 1_000_000)

    sent = [s for s in board.sent() if s.us >= flood_from]
    answers = [s.us for s in sent if isinstance(s.message, Identity)]
    assert len(answers) > 10 and answers[-1] - answers[0] > 500_000, "the flood did not reach the board"
    during = [answers[0]] + [us for us, _ in frames(sent) if answers[0] < us < answers[-1]] + [answers[-1]]
    gap = max(b - a for a, b in zip(during, during[1:]))
    assert gap <= 2 * INTERVAL_US, f"frames stopped for {gap / 1000:.1f} ms during the flood"


@pytest.mark.parametrize("watchdog", [True, False], ids=["watchdog", "built-without-watchdog"])
def test_a_hung_board_is_reset_by_its_watchdog_and_streams_again(built, tmp_path, watchdog):
    board, hub = start(tmp_path, ELF if watchdog else build_without_watchdog())
    try:
        run_until(board, 500_000)
        assert board.command("hang") == "ok"
        run_until(board, board.sim_us() + 2_000_000)
        sent = board.sent()
        hung = next(i for i, s in enumerate(sent) if s.line == b"# hang")
        after = sent[hung + 1 :]
        if after and after[0].message is None:
            after = after[1:]  # the line the hang cut off (the parser drops it)
        if not watchdog:
            # The escape hatch for old bootloaders really leaves the watchdog off (the host's reopen
            # on silence, a DTR reset, is then what restarts the board).
            assert after == []
            return
        assert after, "the hung board stayed silent: no watchdog reset"
        assert isinstance(after[0].message, Identity), "a rebooted board first says who it is"
        assert after[0].us - sent[hung].us < 500_000
        rebooted = frames(after)
        assert [f.seq for _, f in rebooted] == [k % SEQ_MODULO for k in range(len(rebooted))], (
            "the board reset again after booting (a watchdog reset loop?)"
        )
        assert rebooted[-1][0] - rebooted[0][0] > 1_400_000
        # The kiosk took the reboot in its stride: nothing counted lost for the restarted seq.
        frames_now = hub.poll().sources[0].frames
        wait_for(lambda: hub.poll().sources[0].frames > frames_now + 10, what="frames at the kiosk again")
        assert hub.poll().sources[0].lost == 0
    finally:
        hub.stop()
        board.close()
