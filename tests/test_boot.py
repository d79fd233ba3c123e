"""Power on and it runs, proven: the appliance installed by its real installer and booted by systemd.

`make boot-test` (also part of `make test`). Needs root (CI has it): systemd 252 boots as PID 1 in a
PID/mount/UTS/IPC namespace chrooted on an overlay of this machine's root (tests/bootlab.py); the test
checks the booth from outside and prints the time of every step (and writes them to
$FSE_BOOT_REPORT, default /tmp/boot/report.json, with the screenshots beside it).

The three boots:
  1. install: scripts/install-appliance.sh runs inside the booted system (as `sudo make
     install-appliance` would; offline, from this checkout), then a clean poweroff;
  2. boot -> READY=1 and a frame; kill -9 -> a frame again; kill -STOP -> the watchdog restarts it;
     a capture (the `f` key, through the X server), then a power cut (SIGKILL to PID 1);
  3. boot again: the capture and its image are there and the log checks clean; a loop device
     labelled FSE-EXPORT -> the udev rule starts the export unit -> a whole bundle, the screen says
     so; no failed unit, no error in this boot's journal, a clean poweroff.

What is not real here, and why: the screen is Xvfb (the booth's Xorg needs a GPU and a tty; a
drop-in written by this test swaps the X server's ExecStart, nothing else), and the "stick" is a
loop device (a drop-in adds block-loop to the export unit's DeviceAllow=). Host kernel messages in the journal (this machine's, not the booth's) are not counted.
"""

from __future__ import annotations

import fcntl
import functools
import json
import os
import shutil
import struct
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from bootlab import BootError, Machine
from waiting import wait_for

from kiosk.usb_status import status_file

REPO = Path(__file__).resolve().parent.parent
RUN_DIR = Path(os.environ.get("FSE_BOOT_DIR", "/tmp/boot/run"))
REPORT = Path(os.environ.get("FSE_BOOT_REPORT", "/tmp/boot/report.json"))
FIRST_FRAME_GOAL_S = 15.0
SCREEN = (1920, 1080)
poll = functools.partial(wait_for, interval=0.2)
"""wait_for at a pace for the booth: every look is an nsenter or a frame read (tens of ms each)."""
HOST_ONLY_UNITS = ("postgresql.service", "postgresql@.service", "NetworkManager.service")
"""This machine's services that the overlay would boot too; a booth has none of them, they cost a
core here, and a second postmaster on the host's port logs errors."""

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.geteuid() != 0,
        reason="the boot test needs root (mount, unshare, losetup): run make boot-test as root, as CI does",
    ),
    pytest.mark.skipif(
        not Path("/lib/systemd/systemd").exists(), reason="systemd is not installed (apt install systemd)"
    ),
    pytest.mark.skipif(shutil.which("Xvfb") is None, reason="Xvfb is not installed (apt install xvfb)"),
]

# The booth's X server, swapped for a virtual one with the same display number; the frame buffer is a
# file (XWD) the test reads. -nolisten local: no abstract socket in the host's network namespace.
VIRTUAL_DISPLAY = """\
# Written by tests/test_boot.py: Xvfb instead of Xorg (no GPU, no tty here); everything else is the unit's.
[Service]
ExecStart=
ExecStart=/usr/bin/Xvfb :0 -screen 0 {w}x{h}x24 -nolisten tcp -nolisten local -br -noreset -s 0 -dpms -fbdir /run/fse-display
RuntimeDirectory=fse-display
StandardInput=null
TTYPath=
TTYReset=no
TTYVHangup=no
""".format(w=SCREEN[0], h=SCREEN[1])

# The "stick" is a loop device; the export unit's device list has sticks (sd*) and SD cards (mmc*).
LOOP_STICK = """\
# Written by tests/test_boot.py: the test's stick is a loop device.
[Service]
DeviceAllow=block-loop rw
"""

# A key press through XTEST, as a keyboard on the booth would send it (run by the booth's own python).
PRESS_KEY = """
import ctypes, sys
x11, xtst = ctypes.CDLL("libX11.so.6"), ctypes.CDLL("libXtst.so.6")
x11.XOpenDisplay.restype = ctypes.c_void_p
display = x11.XOpenDisplay(b":0")
assert display, "no X display :0"
code = x11.XKeysymToKeycode(ctypes.c_void_p(display), x11.XStringToKeysym(sys.argv[1].encode()))
for down in (1, 0):
    xtst.XTestFakeKeyEvent(ctypes.c_void_p(display), code, down, 0)
    x11.XFlush(ctypes.c_void_p(display))
x11.XCloseDisplay(ctypes.c_void_p(display))
"""


class Report:
    """The figures, in the order taken; printed as a table and written as JSON."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, float, str]] = []

    def add(self, step: str, seconds: float, note: str = "") -> None:
        self.rows.append((step, round(seconds, 2), note))
        print(f"boot-test: {step}: {seconds:.2f} s {note}", flush=True)

    @contextmanager
    def step(self, name: str, note: str = ""):
        start = time.monotonic()
        yield
        self.add(name, time.monotonic() - start, note)

    def write(self) -> None:
        REPORT.parent.mkdir(parents=True, exist_ok=True)
        REPORT.write_text(json.dumps([{"step": s, "seconds": t, "note": n} for s, t, n in self.rows], indent=2) + "\n")
        print("\n".join(["", f"{'step':<58} {'s':>7}"] + [f"{s:<58} {t:>7.2f}  {n}" for s, t, n in self.rows]))


@pytest.fixture
def machine():
    # One booted namespace at a time: every systemd here shares the machine's cgroup v1 tree.
    RUN_DIR.parent.mkdir(parents=True, exist_ok=True)
    lock = open(RUN_DIR.parent / "lock", "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    machine = Machine(RUN_DIR, shared=[REPO, Path(sys.prefix)])
    try:
        yield machine
    finally:
        if machine.pid is not None:  # a step failed with the booth up: keep its journal for the reader
            journal = machine.run("journalctl", f"--since=@{machine.boot_wall:.0f}", "--no-pager", check=False).stdout
            (REPORT.parent / f"journal-boot{machine.boots}.txt").write_text(journal)
        machine.close()
        for log in RUN_DIR.glob("console-*.log"):
            shutil.copy(log, REPORT.parent / log.name)
        shutil.rmtree(RUN_DIR, ignore_errors=True)
        lock.close()


# -- the screen ---------------------------------------------------------------------------------------


def frame(machine: Machine) -> np.ndarray:
    """The virtual screen as (H, W, 3) uint8, from Xvfb's XWD frame buffer file."""
    data = machine.read("/run/fse-display/Xvfb_screen0")
    fields = struct.unpack(">25I", data[:100])
    header_size, width, height, bits_per_pixel, bytes_per_line, ncolors = (
        fields[0],
        fields[4],
        fields[5],
        fields[11],
        fields[12],
        fields[19],
    )
    assert bits_per_pixel == 32, f"Xvfb wrote {bits_per_pixel} bits per pixel; the test reads 32"
    start = header_size + 12 * ncolors
    pixels = np.frombuffer(data, np.uint8, count=height * bytes_per_line, offset=start)
    pixels = pixels.reshape(height, bytes_per_line)[:, : width * 4].reshape(height, width, 4)
    little = fields[7] == 0  # byte_order: LSBFirst stores B, G, R, X
    return np.ascontiguousarray(pixels[..., [2, 1, 0]] if little else pixels[..., [1, 2, 3]])


def looks_like_the_kiosk(image: np.ndarray) -> bool:
    """Not black, not one colour: the kiosk's screen has panels, text and a design."""
    return image.std() > 10 and len(np.unique(image[::8, ::8].reshape(-1, 3), axis=0)) > 50


DESIGN_PANEL = (slice(140, 860), slice(690, 1380))
"""Where the kiosk draws the design at 1920x1080 (kiosk/ui/layout.py); "designing..." until the first render."""
OK_TOAST = (40, 140, 80)
"""The colour of a toast of kind "ok" (kiosk/ui/status.py), e.g. "USB export finished: safe to remove"."""


def design_drawn(image: np.ndarray) -> bool:
    """The design panel holds a rendered design, not the "designing..." placeholder."""
    return image[DESIGN_PANEL].std() > 25


def save(image: np.ndarray, name: str) -> Path:
    import pygame

    path = REPORT.parent / name
    pygame.image.save(pygame.surfarray.make_surface(image.swapaxes(0, 1)), str(path))
    return path


# -- the kiosk ----------------------------------------------------------------------------------------


def kiosk(machine: Machine) -> dict[str, str]:
    return machine.show(
        "fse-kiosk.service", "MainPID", "ActiveState", "SubState", "ActiveEnterTimestampMonotonic", "NRestarts"
    )


def wait_ready(machine: Machine, after_pid: str | None, timeout: float, what: str) -> dict[str, str]:
    """Until fse-kiosk is active (READY=1) with a main PID other than after_pid, and the screen shows it."""

    def ready():
        state = kiosk(machine)
        if state["ActiveState"] == "active" and state["MainPID"] not in ("0", after_pid):
            return state
        if state["ActiveState"] == "failed":
            raise BootError(
                f"fse-kiosk failed: {machine.run('journalctl', '-u', 'fse-kiosk', '-n', '30', '--no-pager').stdout}"
            )
        return None

    state = poll(ready, timeout, what)
    poll(lambda: looks_like_the_kiosk(frame(machine)), 10, f"the kiosk's frame on screen ({what})")
    return state


def query(machine: Machine, sql: str) -> list:
    """A read-only query on the booth's capture log, by the booth's own python."""
    code = (
        "import json, sqlite3, sys; c = sqlite3.connect('file:/var/lib/fse/log.sqlite?mode=ro', uri=True); "
        "print(json.dumps(c.execute(sys.argv[1]).fetchall()))"
    )
    return json.loads(machine.run("/opt/fse/venv/bin/python", "-c", code, sql).stdout)


def export_state(machine: Machine, device: str) -> str | None:
    """The state (running, done, failed) in the stick's own status file (kiosk.usb_status.status_file),
    None before its first export."""
    status = machine.run("cat", f"/var/lib/fse/{status_file(device)}", check=False)
    state = json.loads(status.stdout)["state"] if status.returncode == 0 else None
    if state == "failed":
        raise BootError(f"the export failed: {status.stdout}")
    return state


def journal_errors(machine: Machine) -> list[str]:
    """This boot's journal lines at priority err or worse, less the host kernel's.

    By time, not `-b`: the boot id is the host kernel's, the same for every boot of the namespace."""
    out = machine.run("journalctl", f"--since=@{machine.boot_wall:.0f}", "-p", "err", "-o", "json", "--no-pager").stdout
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    return [
        f"{e.get('SYSLOG_IDENTIFIER', e.get('_COMM', '?'))}: {e.get('MESSAGE')}"
        for e in lines
        if e.get("_TRANSPORT") != "kernel"
    ]


# -- the steps ----------------------------------------------------------------------------------------


def install(machine: Machine, report: Report) -> None:
    """Boot 1: the real installer inside the booted system, then a clean poweroff."""
    for unit in HOST_ONLY_UNITS:  # masked as `systemctl mask` would, before they start
        (machine.root / "etc/systemd/system" / unit).symlink_to("/dev/null")
    with report.step("boot 1 (fresh system) -> running"):
        machine.boot()
    with report.step("install-appliance (offline, inside the booted system)"):
        result = machine.run(
            "bash",
            str(REPO / "scripts/install-appliance.sh"),
            env={"FSE_INSTALL_OFFLINE": "1", "FSE_PYTHON": sys.executable},
            timeout=300,
        )
    assert "done: reboot to start the kiosk" in result.stdout, result.stdout + result.stderr
    for unit, name, text in (
        ("fse-display.service", "virtual.conf", VIRTUAL_DISPLAY),
        ("fse-usb-export@.service", "loop-stick.conf", LOOP_STICK),
    ):
        dropin = f"/etc/systemd/system/{unit}.d"
        machine.run("mkdir", "-p", dropin)
        machine.run("sh", "-c", f"cat > {dropin}/{name}", input=text)
    with report.step("poweroff after the install"):
        machine.poweroff()
    return written(machine)


def written(machine: Machine) -> dict[str, float]:
    """Every file in the overlay's upper directory (what the booth has written) and its mtime."""
    files = {}
    for path in machine.upper.rglob("*"):
        if not path.is_dir():
            files["/" + str(path.relative_to(machine.upper))] = path.lstat().st_mtime
    return files


def first_boot(machine: Machine, report: Report) -> None:
    """Boot 2: READY=1 and a frame; kill -9; kill -STOP; a capture; a power cut."""
    machine.boot()
    state = wait_ready(machine, None, 60, "READY=1 after boot")
    ready_s = machine.monotonic(state["ActiveEnterTimestampMonotonic"])
    report.add("boot -> kiosk READY=1 (first frame drawn)", ready_s, f"goal <= {FIRST_FRAME_GOAL_S:g} s")
    save(frame(machine), "boot-first-frame.png")
    poll(lambda: design_drawn(frame(machine)), 60, "the first design drawn")
    report.add("boot -> first design drawn (screen polled)", time.monotonic() - machine.boot_started)
    assert ready_s <= FIRST_FRAME_GOAL_S * 2, f"first frame after {ready_s:.1f} s"  # 2x: a shared CPU

    pid = state["MainPID"]
    killed = time.monotonic()
    machine.run("kill", "-9", pid)
    state = wait_ready(machine, pid, 60, "the kiosk back after kill -9")
    report.add(
        "kill -9 -> READY=1 again and a frame",
        machine.monotonic(state["ActiveEnterTimestampMonotonic"]) + machine.boot_started - killed,
    )

    pid = state["MainPID"]
    hung = time.monotonic()
    machine.run("kill", "-STOP", pid)
    state = wait_ready(machine, pid, 120, "the watchdog to restart a hung kiosk")
    report.add(
        "kill -STOP (hang) -> watchdog restart -> READY=1",
        machine.monotonic(state["ActiveEnterTimestampMonotonic"]) + machine.boot_started - hung,
    )
    log = machine.run("journalctl", f"--since=@{machine.boot_wall:.0f}", "-u", "fse-kiosk", "--no-pager").stdout
    assert "Watchdog timeout" in log, log[-2000:]

    poll(lambda: design_drawn(frame(machine)), 60, "a design to capture")  # a visitor captures what they see
    with report.step("capture (key f) -> row committed"):
        machine.run("/opt/fse/venv/bin/python", "-c", PRESS_KEY, "f", env={"DISPLAY": ":0"})
        poll(lambda: query(machine, "SELECT COUNT(*) FROM captures")[0][0] == 1, 60, "the capture's row")
    save(frame(machine), "boot-after-capture.png")
    machine.power_cut()


def after_power_cut(machine: Machine, report: Report, stick: Path) -> None:
    """Boot 3: the capture survived; the USB export; nothing failed; a clean poweroff."""
    machine.boot()
    wait_ready(machine, None, 60, "READY=1 after the power cut")
    ((image_path,),) = query(machine, "SELECT image_path FROM captures")
    assert query(machine, "PRAGMA integrity_check") == [["ok"]]
    png = machine.read(f"/var/lib/fse/{image_path}")
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and png.endswith(b"IEND\xaeB`\x82"), image_path
    assert machine.run("ls", "-A", "/var/lib/fse/quarantine", check=False).stdout.strip() == ""

    subprocess.run(["truncate", "-s", "64M", stick], check=True)
    subprocess.run(["mkfs.ext4", "-q", "-L", "FSE-EXPORT", stick], check=True)
    loop = subprocess.run(["losetup", "-f", "--show", stick], capture_output=True, text=True, check=True).stdout.strip()
    try:
        unit = f"fse-usb-export@{Path(loop).name}.service"

        # A stick's partition arrives as an "add" uevent, which the rule matches; attaching a loop
        # device is a "change" (and this kernel makes no loop partitions). If the booth's udevd and
        # systemd have not started the unit from that within a few seconds, the kernel is asked for
        # the device's add event (its uevent file): the booth's own udevd, rule and systemd do the rest.
        def started():
            return machine.show(unit, "ActiveState")["ActiveState"] != "inactive" or export_state(machine, loop)

        try:
            poll(started, 5, f"{unit} started by the attach")
            how = "started by the attach uevent"
        except AssertionError:
            machine.run("udevadm", "trigger", "--action=add", loop)
            how = "started by a synthesized add uevent"
        with report.step("loop device FSE-EXPORT -> export unit done", how):
            poll(
                lambda: export_state(machine, loop) == "done",
                60,
                f"{unit} to finish ({status_file(loop)} state done)",
            )
        status = json.loads(machine.read(f"/var/lib/fse/{status_file(loop)}"))
        assert machine.show(unit, "Result")["Result"] == "success"

        # The kiosk polls the status file about once a second, then shows it as a green toast.
        def toast_shown():
            image = frame(machine)
            return [image] if (image[DESIGN_PANEL] == OK_TOAST).all(axis=2).sum() > 5000 else None

        (toast,) = poll(toast_shown, 10, "the kiosk's green toast that the export finished")
        save(toast, "boot-export-done.png")
    finally:
        subprocess.run(["losetup", "-d", loop])
    # The journal's cap (systemd/journald-fse.conf) is in force: journald says so when it opens the file.
    journald = machine.run(
        "journalctl", f"--since=@{machine.boot_wall:.0f}", "-t", "systemd-journald", "--no-pager"
    ).stdout
    assert "max 256.0M" in journald, journald
    failed = machine.run("systemctl", "--failed", "--plain", "--no-legend").stdout.strip()
    assert failed == "", failed
    errors = journal_errors(machine)
    assert errors == [], "\n".join(errors)
    with report.step("systemctl poweroff -> PID 1 gone"):
        machine.poweroff()
    check_bundle(stick, status)


def check_bundle(stick: Path, status: dict) -> None:
    mount = stick.with_suffix(".mnt")
    mount.mkdir(exist_ok=True)
    subprocess.run(["mount", "-o", "ro", stick, mount], check=True)
    try:
        bundle = mount / status["bundle"]
        manifest = json.loads((bundle / "manifest.json").read_text())
        assert manifest["counts"]["captures"] == 1 and manifest["counts"]["images_copied"] == 1, manifest
        assert not list(mount.rglob("*.partial"))
        for name in manifest["files"]:
            assert (bundle / name).is_file(), name
    finally:
        subprocess.run(["umount", mount], check=True)


BOOTH_STATE = ("/var/lib/fse/", "/var/cache/fse/")
"""The only places the booth's own programs write (issue 24 item 4); everything else is systemd's."""
SYSTEM_STATE = ("/var/log/journal/", "/var/log/wtmp", "/var/log/btmp", "/var/log/lastlog", "/var/lib/systemd/")
STATE_FILES = ("log.sqlite", "images/", "quarantine/", "usb-export-", "joystick_calibration.json")
"""What /var/lib/fse holds: the capture log and its images (kiosk/capture/), the export status, the
joystick calibration; never a library's cache."""


def check_where_the_booth_writes(changed: set[str]) -> None:
    """After the install, three boots, a power cut and an export: what the overlay's upper directory
    gained (the booth's whole disk footprint) lies in its state and cache directories and systemd's."""
    elsewhere = sorted(p for p in changed if not p.startswith(BOOTH_STATE + SYSTEM_STATE))
    assert elsewhere == [], f"the booth wrote outside its state: {elsewhere}"
    state = sorted(p for p in changed if p.startswith("/var/lib/fse/"))
    strays = [p for p in state if not p.removeprefix("/var/lib/fse/").startswith(STATE_FILES)]
    assert strays == [], f"not the kiosk's state, in its state directory: {strays}"
    assert any(p.startswith("/var/lib/fse/images/") for p in state) and "/var/lib/fse/log.sqlite" in state


def test_power_on_and_it_runs(machine):
    report = Report()
    try:
        installed = install(machine, report)
        first_boot(machine, report)
        after_power_cut(machine, report, RUN_DIR / "stick.img")
        check_where_the_booth_writes({p for p, t in written(machine).items() if installed.get(p) != t})
    finally:
        report.write()
