"""Take your design home under load: 50 phones at once on loopback fetch a capture's 1024 px PNG from
fse-share while the kiosk's sticks sweep.

    python benchmarks/bench_share.py            # full run (~1 min), prints JSON
    python benchmarks/bench_share.py --quick    # ~30 s

Three processes, as on the booth: the kiosk (SDL dummy, 1920x1080, `--joystick sim`, sharing on),
fse-share (its own process, at its unit's Nice= and CPUSchedulingPolicy=), and the phones (a third process, niced 10:
on the booth their CPUs are their own, here they share the kiosk's two cores). The kiosk captures a
design (so the PNG is in the spool, as after a visitor's capture), then sweeps every stick for
SWEEP_S twice: alone (the reference, same run), then while the phones fetch in waves of 50 at
once, each phone from its own loopback address (127.0.1.N: the per-client limits see 50 phones)
loading the page and then the image. Reported: time to the image (page request to the image's last
byte) p50/p95/p99, images served and MB/s; the kiosk's frame time alone and under the downloads.
Targets: image p95 <= 300 ms, frame p95 under the downloads <= 16.7 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"image_p95_ms": 300.0, "frame_p95_under_load_ms": 16.7}
PHONES = 50
SWEEP_S = 12.0
QUICK_SWEEP_S = 5.0


def _percentiles(values) -> dict:
    from benchmarks.bench_kiosk import _percentiles as percentiles

    return percentiles(values)


# -- the kiosk (a child process) -------------------------------------------------------------------


def kiosk_child(state_dir: str, sweep_s: float) -> None:
    """Capture, say the link, sweep alone, say "load", sweep under the phones; then the frame times."""
    from kiosk.headless import settle
    from kiosk.startup import build_app, parse_args

    app = build_app(parse_args(["--windowed", "--joystick", "sim", "--state-dir", state_dir, "--size", "1920x1080"]))
    app.step()
    app.prioritise_ui()
    board = app.hub.simulator
    settle(app, 60)

    def loop(seconds: float, moving: bool) -> list:
        app.metrics.frame_ms.clear()
        end, t0, last = time.monotonic() + seconds, time.monotonic(), time.perf_counter()
        while time.monotonic() < end:
            t = time.monotonic() - t0
            for k in range(8):
                board.set_axis(k, 0.8 * math.sin(2 * math.pi * (0.25 * t + k / 8)) if moving else 0.0)
            now = time.perf_counter()
            app.input.last_input = app.now  # a visitor at the sticks: no attract mode
            app.step(min(now - last, 0.1), present=False)
            app.wait_for_frame()
            app.present()
            last = now
        return list(app.metrics.frame_ms)

    app.commands.run("capture")
    deadline = time.monotonic() + 120
    while not app.ui.share_card.visible and time.monotonic() < deadline:
        loop(0.1, moving=False)
    print("LINK", app.ui.share_card.shared.link, flush=True)
    alone = loop(sweep_s, moving=True)
    print("LOAD", flush=True)
    loaded = loop(sweep_s, moving=True)
    app.shutdown()
    print(json.dumps({"alone": _percentiles(alone), "under_load": _percentiles(loaded)}), flush=True)


# -- the phones (a child process) ------------------------------------------------------------------


async def phones(link: str, count: int, seconds: float) -> dict:
    """Waves of `count` phones at once, each from its own address: page, then image; for `seconds`."""
    import aiohttp

    times, sizes, failures = [], 0, 0

    async def phone(n: int) -> None:
        nonlocal sizes, failures
        connector = aiohttp.TCPConnector(local_addr=(f"127.0.1.{n + 1}", 0))  # page and image: one connection
        async with aiohttp.ClientSession(connector=connector) as session:
            t0 = time.perf_counter()
            async with session.get(link) as page:
                await page.read()
            async with session.get(link + "/design.png") as image:
                body = await image.read()
            if page.status == image.status == 200:
                times.append((time.perf_counter() - t0) * 1e3)
                sizes += len(body)
            else:
                failures += 1

    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        await asyncio.gather(*(phone(n) for n in range(count)))
    elapsed = time.perf_counter() - start
    return {"times_ms": times, "bytes": sizes, "failures": failures, "seconds": elapsed}


# -- the run ---------------------------------------------------------------------------------------


def run(quick: bool = False) -> dict:
    sweep_s = QUICK_SWEEP_S if quick else SWEEP_S
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy", "FSE_SHARING": "1"}
    env.pop("FSE_CONFIG", None)
    with tempfile.TemporaryDirectory() as state, socket.socket() as probe, tempfile.TemporaryFile("w+") as log:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        env.update(FSE_STATE_DIR=state, FSE_SHARE_URL=f"http://127.0.0.1:{port}")
        spool = Path(state) / "share"  # the installer's; the kiosk below writes into it
        spool.mkdir()
        server = subprocess.Popen(
            [sys.executable, "-m", "kiosk.share.server", "--spool", str(spool), "--listen", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=as_the_unit_schedules,
        )
        kiosk = subprocess.Popen(
            [sys.executable, __file__, "--kiosk", state, str(sweep_s)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,  # the kiosk's journal lines; a pipe nobody reads could fill and stall it
            text=True,
        )
        try:
            link = _expect(kiosk, "LINK", log).split()[1]
            _expect(kiosk, "LOAD", log)
            server_cpu = cpu_seconds(server.pid)
            load = subprocess.run(
                [sys.executable, __file__, "--phones", link, str(sweep_s)],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=sweep_s + 120,
                preexec_fn=lambda: os.nice(10),
            )
            if load.returncode != 0:
                raise RuntimeError(f"the phones failed:\n{load.stderr[-3000:]}")
            fetched = json.loads(load.stdout.strip().splitlines()[-1])
            server_cpu = cpu_seconds(server.pid) - server_cpu
            frames = json.loads(kiosk.stdout.readline())
            kiosk.wait(60)
        finally:
            for process in (kiosk, server):
                if process.poll() is None:
                    process.kill()
                    process.wait(10)
    images = _percentiles(fetched["times_ms"])
    measured = {"image_p95_ms": images.get("p95"), "frame_p95_under_load_ms": frames["under_load"].get("p95")}
    return {
        "phones": PHONES,
        "image_ms": images,
        "images_served": len(fetched["times_ms"]),
        "failures": fetched["failures"],
        "mb_per_s": round(fetched["bytes"] / 1e6 / fetched["seconds"], 1),
        # What the booth's CPU pays per phone, whatever else the machine is doing:
        "server_cpu_ms_per_image": round(1e3 * server_cpu / max(1, len(fetched["times_ms"])), 2),
        "image_kb": round(fetched["bytes"] / 1e3 / max(1, len(fetched["times_ms"])), 1),
        "frame_ms": frames,
        "sweep_s": sweep_s,
        "targets": {
            k: {"target": t, "measured": measured[k], "ok": None if measured[k] is None else measured[k] <= t}
            for k, t in TARGETS.items()
        },
        "quick": quick,
    }


def unit_setting(name: str) -> str | None:
    """A [Service] line of fse-share.service, so the server here runs as the booth schedules it."""
    match = re.search(rf"^{name}=(\S+)$", (ROOT / "systemd" / "fse-share.service").read_text(), re.MULTILINE)
    return match.group(1) if match else None


def as_the_unit_schedules() -> None:
    """In the server's child before exec: the unit's Nice= and CPUSchedulingPolicy=."""
    os.nice(int(unit_setting("Nice") or 0))
    policy = unit_setting("CPUSchedulingPolicy")
    if policy:
        os.sched_setscheduler(0, getattr(os, f"SCHED_{policy.upper()}"), os.sched_param(0))


def cpu_seconds(pid: int) -> float:
    """A process's user + system CPU time so far (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _expect(process: subprocess.Popen, word: str, log) -> str:
    """The kiosk child's next line starting with `word` (pygame may print a greeting first)."""
    while True:
        line = process.stdout.readline()
        if not line:
            log.seek(0)
            raise RuntimeError(f"the kiosk child ended before {word!r}:\n{log.read()[-3000:]}")
        if line.startswith(word):
            return line.strip()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--kiosk", nargs=2, metavar=("STATE_DIR", "SWEEP_S"), help=argparse.SUPPRESS)
    p.add_argument("--phones", nargs=2, metavar=("LINK", "SECONDS"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    if args.kiosk:
        kiosk_child(args.kiosk[0], float(args.kiosk[1]))
    elif args.phones:
        print(json.dumps(asyncio.run(phones(args.phones[0], PHONES, float(args.phones[1])))))
    else:
        print(json.dumps(run(args.quick), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
