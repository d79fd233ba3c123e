"""Input benchmark: the parser's cost per frame, and how long a frame takes to reach the UI's state.

    python -m benchmarks.bench_input [--quick]

parse: ProtocolParser.feed on 100 Hz-sized reads (one frame per call, as the reader sees them).
latency: a frame written by the simulated board on a real pty until InputHub.poll() shows it
(pty, pyserial reader thread, parser, calibration, the hub's lock): targets < 1 ms parse and well
under one UI frame (16.7 ms at 60 Hz).
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time

from kiosk.input.hub import InputHub
from kiosk.input.protocol import ProtocolParser, encode_frame


def _parse_us(frames: int) -> float:
    lines = [encode_frame(s % 256, (s % 1024, 512, 100, 900, 0, 1023, 511, 512), s % 64) for s in range(frames)]
    parser = ProtocolParser()
    start = time.perf_counter()
    for line in lines:
        parser.feed(line, 0.0)
    elapsed = time.perf_counter() - start
    assert parser.stats.frames == frames and parser.stats.dropped == 0
    return elapsed / frames * 1e6


def _latency_ms(samples: int) -> list[float]:
    with tempfile.TemporaryDirectory() as state_dir:
        hub = InputHub("sim", state_dir=state_dir, deadzone=0.0, expo=0.0)
        hub.start()
        try:
            sim = hub.simulator
            deadline = time.monotonic() + 5
            while not hub.poll().sources[0].connected or hub.poll().t == 0.0:
                if time.monotonic() > deadline:
                    raise RuntimeError("the simulated board never connected")
                time.sleep(0.005)
            latencies = []
            for i in range(samples):
                raw = 100 if i % 2 else 900  # alternate, so each sample is a visible change
                target = hub.poll().axes[7]
                # The board's own 100 Hz frames carry the new value too, so it stays once seen.
                sim.set_raw(7, raw)
                sent = time.perf_counter()
                sim.send_raw(encode_frame(0, (512,) * 7 + (raw,), 0))
                while hub.poll().axes[7] == target:
                    if time.perf_counter() - sent > 1.0:
                        raise RuntimeError(f"frame {i} did not arrive within 1 s: {hub.poll()}")
                    time.sleep(0.0001)  # yield the GIL to the reader thread, as a UI frame would
                latencies.append((time.perf_counter() - sent) * 1e3)
                time.sleep(0.005)
            return latencies
        finally:
            hub.stop()


def run(quick: bool) -> dict:
    parse_us = min(_parse_us(2_000 if quick else 20_000) for _ in range(3))
    latencies = sorted(_latency_ms(20 if quick else 200))
    return {
        "parse_us_per_frame": round(parse_us, 2),
        "frame_to_state_ms_median": round(statistics.median(latencies), 3),
        "frame_to_state_ms_p95": round(latencies[int(0.95 * (len(latencies) - 1))], 3),
        "frame_to_state_ms_max": round(latencies[-1], 3),
        "latency_samples": len(latencies),
    }


if __name__ == "__main__":
    print(json.dumps(run("--quick" in sys.argv), indent=1))
