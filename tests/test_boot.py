"""Power on and it runs, proven: the appliance installed by its real installer and booted by systemd.

`make boot-test` (also part of `make test`). Needs root (CI has it): systemd 252 boots as PID 1 in a
PID/mount/UTS/IPC namespace chrooted on an overlay of this machine's root (tests/bootlab.py); the test
checks the booth from outside and prints the time of every step (and writes them to
$FSE_BOOT_REPORT, default /tmp/boot/report.json, with the screenshots beside it).

The three boots:
  1. install: scripts/install-appliance.sh runs inside the booted system (as `sudo make
     install-appliance` would; offline, from this checkout, trusting an update key made here), then a
     clean poweroff;
  2. boot -> READY=1 and a frame; kill -9 -> a frame again; kill -STOP -> the watchdog restarts it;
     kill -9 of the compositor -> the kiosk exits (kiosk/display_link.py), both are back, a frame;
     a capture (the `f` key, on the compositor's keyboard), then a power cut (SIGKILL to PID 1);
  3. boot again: the capture and its image are there and the log checks clean; a loop device
     labelled FSE-EXPORT -> the udev rule starts the export unit -> a whole bundle, the screen says
     so; no failed unit, no error in this boot's journal; then updates from sticks labelled
     FSE-UPDATE (bundles built and signed here with `fse-update build`): a tampered one, one signed by
     another key and one pulled mid-copy are refused with nothing changed; a good one runs (the
     version the kiosk reports); one whose kiosk crashes at start and one whose kiosk hangs before
     READY=1 are rolled back by the booth itself;
     the capture log is untouched; a clean poweroff.

The screen is the booth's own: fse-display.service runs sway as fse in a logind session on tty1, and
the kiosk draws on it through SDL's wayland driver. The test looks at the screen with grim (the
compositor's screenshot) and presses keys with wtype (a virtual keyboard), both run inside the booth.

What is not real here, and why: sway runs headless (a drop-in of this test sets WLR_BACKENDS=headless
and WLR_LIBINPUT_NO_DEVICES=1, nothing else: this machine has no GPU, no DRM device and no input
devices to give it), its virtual output gets the kiosk's 1920x1080 through the booth's local output
settings (/etc/fse/sway-kiosk.d/, as a booth with an odd panel would), and the "stick" is a
loop device (a drop-in adds block-loop to the export and update units' DeviceAllow=). A pulled stick:
this kernel detaches a mounted loop device only once it is unmounted, so the test detaches it and
synthesizes the "remove" uevent a pulled stick sends; the stick is made slow (1 MB/s, a drop-in's
BlockIOReadBandwidth=) so that the pull lands inside the copy. Host kernel messages in the journal (this machine's, not the booth's) are not counted.
"""

from __future__ import annotations

import fcntl
import functools
import json
import os
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from bootlab import BootError, Machine
from kiosk_screen import (
    OK_TOAST,
    SCREEN_MODE,
    WARN_TOAST,
    design_drawn,
    looks_like_the_kiosk,
    parse_ppm,
    toast_shown,
    wtype,
)
from waiting import wait_for

from kiosk.update import bundle as update_bundle
from kiosk.update import cli as update_cli
from kiosk.update.slots import snapshot
from kiosk.update.status import UPDATE_STATUS
from kiosk.update.trial import TRIAL_DROPIN
from kiosk.usb_status import status_file

REPO = Path(__file__).resolve().parent.parent
RUN_DIR = Path(os.environ.get("FSE_BOOT_DIR", "/tmp/boot/run"))
REPORT = Path(os.environ.get("FSE_BOOT_REPORT", "/tmp/boot/report.json"))
FIRST_FRAME_GOAL_S = 15.0
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
    *(
        pytest.mark.skipif(shutil.which(tool) is None, reason=f"{tool} is not installed (apt install {tool})")
        for tool in ("sway", "grim", "wtype")
    ),
]

# The booth's compositor without a GPU, a DRM device or input devices (this machine has none).
HEADLESS_DISPLAY = """\
# Written by tests/test_boot.py: no GPU, DRM device or input devices here; everything else is the unit's.
[Service]
Environment=WLR_BACKENDS=headless WLR_LIBINPUT_NO_DEVICES=1
"""
SCREEN_SETTINGS = "/etc/fse/sway-kiosk.d/test-screen.conf"
WAYLAND = ("env", "XDG_RUNTIME_DIR=/run/fse-display", "WAYLAND_DISPLAY=wayland-1")
"""How grim and wtype, run inside the booth, reach its compositor (as fse-kiosk.service does)."""

# The "stick" is a loop device; the export unit's device list has sticks (sd*) and SD cards (mmc*).
LOOP_STICK = """\
# Written by tests/test_boot.py: the test's stick is a loop device.
[Service]
DeviceAllow=block-loop {access}
"""
# A slow stick, so that pulling it lands inside the copy (cgroup v1 here: BlockIO*, not IO*).
SLOW_STICK = """\
# Written by tests/test_boot.py: this stick reads at 1 MB/s.
[Service]
BlockIOReadBandwidth=/dev/{device} 1M
"""
KIOSK_TOML = '[log]\nlog_level = "info"\n'
"""The operator's settings (the default, written out): an update must leave the file as it is."""


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
            journal = machine.run("journalctl", f"--since=@{int(machine.boot_wall)}", "--no-pager", check=False).stdout
            (REPORT.parent / f"journal-boot{machine.boots}.txt").write_text(journal)
        machine.close()
        for log in RUN_DIR.glob("console-*.log"):
            shutil.copy(log, REPORT.parent / log.name)
        shutil.rmtree(RUN_DIR, ignore_errors=True)
        lock.close()


# -- the screen ---------------------------------------------------------------------------------------


def frame(machine: Machine) -> np.ndarray:
    """The booth's screen as (H, W, 3) uint8: grim's screenshot of the compositor's output."""
    return parse_ppm(machine.run(*WAYLAND, "grim", "-t", "ppm", "-", input=b"").stdout)


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


def journal_errors(machine: Machine, since: float | None = None) -> list[str]:
    """This boot's journal lines (or those since `since`, wall time) at priority err or worse, less the host kernel's.

    By time, not `-b`: the boot id is the host kernel's, the same for every boot of the namespace. In
    whole seconds rounded down: rounded to the nearest second, a boot's first lines (journald's own,
    within half a second of it) were missed on a quiet machine."""
    since = machine.boot_wall if since is None else since
    out = machine.run("journalctl", f"--since=@{int(since)}", "-p", "err", "-o", "json", "--no-pager").stdout
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    return [
        f"{e.get('SYSLOG_IDENTIFIER', e.get('_COMM', '?'))}: {e.get('MESSAGE')}"
        for e in lines
        if e.get("_TRANSPORT") != "kernel"
    ]


# -- the steps ----------------------------------------------------------------------------------------


def install(machine: Machine, report: Report, keys: dict) -> None:
    """Boot 1: the real installer inside the booted system, then a clean poweroff."""
    for unit in HOST_ONLY_UNITS:  # masked as `systemctl mask` would, before they start
        (machine.root / "etc/systemd/system" / unit).symlink_to("/dev/null")
    with report.step("boot 1 (fresh system) -> running"):
        machine.boot()
    # The operator's public key, as the technician would bring it (the private one stays with the test).
    machine.run("sh", "-c", "mkdir -p /run/keys && cat > /run/keys/operator.pub.pem", input=keys["public"].read_text())
    with report.step("install-appliance (offline, inside the booted system)"):
        result = machine.run(
            "bash",
            str(REPO / "scripts/install-appliance.sh"),
            env={
                "FSE_INSTALL_OFFLINE": "1",
                "FSE_PYTHON": sys.executable,
                "FSE_UPDATE_KEYS": "/run/keys/operator.pub.pem",
            },
            timeout=300,
        )
    assert "done: reboot to start the kiosk" in result.stdout, result.stdout + result.stderr
    assert "update key: /run/keys/operator.pub.pem" in result.stdout, result.stdout
    machine.run("sh", "-c", "cat > /etc/fse/kiosk.toml", input=KIOSK_TOML)
    machine.run("sh", "-c", f"cat > {SCREEN_SETTINGS}", input=SCREEN_MODE)
    for unit, name, text in (
        ("fse-display.service", "headless.conf", HEADLESS_DISPLAY),
        ("fse-usb-export@.service", "loop-stick.conf", LOOP_STICK.format(access="rw")),
        ("fse-usb-update@.service", "loop-stick.conf", LOOP_STICK.format(access="r")),  # the update only reads
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
    """Boot 2: READY=1 and a frame; kill -9; kill -STOP; the compositor killed; a capture; a power cut."""
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
    log = machine.run("journalctl", f"--since=@{int(machine.boot_wall)}", "-u", "fse-kiosk", "--no-pager").stdout
    assert "Watchdog timeout" in log, log[-2000:]

    compositor_restart(machine, report, state["MainPID"])

    poll(lambda: design_drawn(frame(machine)), 60, "a design to capture")  # a visitor captures what they see
    with report.step("capture (key f) -> row committed"):
        machine.run(*WAYLAND, *wtype("f"))  # a keyboard at the booth, through the compositor
        poll(lambda: query(machine, "SELECT COUNT(*) FROM captures")[0][0] == 1, 60, "the capture's row")
    save(frame(machine), "boot-after-capture.png")
    machine.power_cut()


def display_session(machine: Machine) -> str:
    """The compositor runs as fse, in a logind session on seat0's tty1 (not as root); its main PID."""
    pid = machine.show("fse-display.service", "MainPID")["MainPID"]
    assert machine.run("ps", "-o", "user=", "-p", pid).stdout.strip() == "fse"
    sessions = [line.split() for line in machine.run("loginctl", "list-sessions", "--no-legend").stdout.splitlines()]
    assert any(fields[2:5] == ["fse", "seat0", "tty1"] for fields in sessions), sessions
    return pid


def compositor_restart(machine: Machine, report: Report, kiosk_pid: str) -> None:
    """kill -9 of the compositor: the kiosk notices and exits (kiosk/display_link.py), systemd starts
    both again, the compositor first, and the kiosk's frame is back."""
    cursor = journal_cursor(machine)
    killed = time.monotonic()
    machine.run("kill", "-9", display_session(machine))
    state = wait_ready(machine, kiosk_pid, 60, "the kiosk back after its compositor was killed")
    report.add(
        "kill -9 of the compositor -> both back, READY=1 and a frame",
        machine.monotonic(state["ActiveEnterTimestampMonotonic"]) + machine.boot_started - killed,
    )
    log = machine.run("journalctl", "-u", "fse-kiosk", f"--after-cursor={cursor}", "--no-pager").stdout
    assert "the Wayland compositor at /run/fse-display/wayland-1 went away" in log, log[-3000:]
    assert "status=3" in log, log[-3000:]
    display_session(machine)
    # One PAM session per start, sway's: the socket check (ExecStartPost=+) opens none that logind could
    # give the session to, which then ended with the check.
    log = machine.run("journalctl", "-u", "fse-display", f"--after-cursor={cursor}", "-o", "cat", "--no-pager").stdout
    assert log.count("session opened for user fse") == 1, log[-3000:]


def after_power_cut(machine: Machine, report: Report, stick: Path, bundles: dict) -> None:
    """Boot 3: the capture survived; the USB export; nothing failed; updates; a clean poweroff."""
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
        # This machine's other jobs use loop devices too: one labelled FSE-EXPORT when the booth boots is
        # exported to by its coldplug, and may leave its unit failed and its status file on the name this
        # stick now has. Both are cleared, so what follows is this stick's.
        machine.run("systemctl", "reset-failed", unit, check=False)
        machine.run("rm", "-f", f"/var/lib/fse/{status_file(loop)}")

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
        def export_toast():
            image = frame(machine)
            return [image] if toast_shown(image, OK_TOAST) else None

        (toast,) = poll(export_toast, 10, "the kiosk's green toast that the export finished")
        save(toast, "boot-export-done.png")
    finally:
        subprocess.run(["losetup", "-d", loop])
    # The journal's cap (systemd/journald-fse.conf) is in force: journald says so when it opens the file.
    journald = machine.run(
        "journalctl", f"--since=@{int(machine.boot_wall)}", "-t", "systemd-journald", "--no-pager"
    ).stdout
    assert "max 256.0M" in journald, journald
    failed = machine.run("systemctl", "--failed", "--plain", "--no-legend").stdout.strip()
    assert failed == "", failed
    errors = journal_errors(machine)
    assert errors == [], "\n".join(errors)
    updates(machine, report, bundles)
    with report.step("systemctl poweroff -> PID 1 gone"):
        machine.poweroff()
    check_bundle(stick, status)


# -- updates (issue 24 item 3) -------------------------------------------------------------------------

GOOD, CRASHING, HANGING = "0.9.0", "0.9.1", "0.9.2"
BROKEN = {"crashing": CRASHING, "hanging": HANGING}
BROKEN_STARTS = {
    "crashing": '    raise SystemExit("this build crashes at start (tests/test_boot.py)")\n',
    # Sleeps before the kiosk installs its SIGTERM handler: systemd's stop ends it at once.
    "hanging": '    print("this build hangs at start (tests/test_boot.py)", flush=True)\n    __import__("time").sleep(1e9)\n',
}
"""The line each broken build's kiosk starts main() with."""


def build_bundles(out: Path) -> dict:
    """The operator's key and the bundles the booth is given, built and signed by `fse-update build`."""
    shutil.rmtree(out, ignore_errors=True)
    for folder in ("stranger", "tampered"):
        (out / folder).mkdir(parents=True)
    keys = {"private": out / "operator.pem", "stranger": out / "stranger.pem", "public": out / "operator.pub.pem"}
    update_bundle.generate_key(keys["private"])
    update_bundle.generate_key(keys["stranger"])
    name = f"fse-update-{GOOD}.fse-update"
    good = update_cli.build(REPO, keys["private"], GOOD, out / name)
    stranger = update_cli.build(REPO, keys["stranger"], GOOD, out / "stranger" / name)
    data = bytearray(good.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit of the payload (the models)
    tampered = out / "tampered" / name
    tampered.write_bytes(bytes(data))
    broken = {name: broken_build(out, name, version, keys["private"]) for name, version in BROKEN.items()}
    return {"keys": keys, "good": good, "stranger": stranger, "tampered": tampered, **broken}


def broken_build(out: Path, name: str, version: str, key: Path) -> Path:
    """A build whose kiosk never reaches READY=1 (a mistake the operator did not catch): its main()
    starts with BROKEN_STARTS[name]."""
    source = out / f"{name}-source"
    source.mkdir(parents=True)
    shutil.copy(REPO / "pyproject.toml", source)
    for folder in ("contract", "kiosk", "training", "analysis", "onnx_models", "docs"):
        shutil.copytree(REPO / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    startup = source / "kiosk" / "startup.py"
    text = startup.read_text()
    marker = "    args = parse_args(argv)\n    try:\n        app = build_app(args)"
    assert marker in text, "kiosk/startup.py's main() changed: update the broken builds"
    startup.write_text(text.replace(marker, BROKEN_STARTS[name] + marker))
    (out / name).mkdir()
    return update_cli.build(source, key, version, out / name / f"fse-update-{version}.fse-update")


@contextmanager
def update_stick(machine: Machine, image: Path, bundle: Path | None, slow: bool = False):
    """A loop device with an ext4 labelled FSE-UPDATE holding `bundle`, plugged into the booth; yields
    (device, unit, when it was plugged: time.monotonic(), the journal's cursor just before). Plugged
    as the export step found it: the booth's udevd gets an "add" uevent."""
    image.unlink(missing_ok=True)
    subprocess.run(["truncate", "-s", "64M", image], check=True)
    subprocess.run(["mkfs.ext4", "-q", "-L", "FSE-UPDATE", image], check=True)
    if bundle is not None:
        mount = image.with_suffix(".mnt")
        mount.mkdir(exist_ok=True)
        subprocess.run(["mount", image, mount], check=True)
        try:
            shutil.copy(bundle, mount / bundle.name)
        finally:
            subprocess.run(["umount", mount], check=True)
    loop = subprocess.run(["losetup", "-f", "--show", image], capture_output=True, text=True, check=True).stdout.strip()
    unit = f"fse-usb-update@{Path(loop).name}.service"
    dropin = f"/etc/systemd/system/{unit}.d"
    try:
        if slow:
            machine.run("mkdir", "-p", dropin)
            machine.run("sh", "-c", f"cat > {dropin}/slow.conf", input=SLOW_STICK.format(device=Path(loop).name))
            machine.run("systemctl", "daemon-reload")
        cursor = journal_cursor(machine)
        plugged = time.monotonic()
        machine.run("udevadm", "trigger", "--action=add", loop)
        yield loop, unit, plugged, cursor
    finally:
        subprocess.run(["losetup", "-d", loop], capture_output=True)
        if slow:  # the next stick may get the same loop device
            machine.run("rm", "-rf", dropin)
            machine.run("systemctl", "daemon-reload")


def update_status(machine: Machine) -> dict:
    result = machine.run("cat", f"/var/lib/fse/{UPDATE_STATUS}", check=False)
    return json.loads(result.stdout) if result.returncode == 0 else {}


def journal_cursor(machine: Machine) -> str:
    out = machine.run("journalctl", "-n", "0", "--show-cursor", "--no-pager").stdout
    return out.strip().rsplit("-- cursor: ", 1)[1]


def unit_finished(machine: Machine, unit: str, cursor: str) -> str:
    """Until the update unit has run and ended after `cursor`; "success" or "failed". From the journal:
    systemd unloads an instance that ended well (its properties read as never run), and a stick
    before it may have had the same loop device, so the same unit."""

    def finished():
        log = machine.run("journalctl", "-u", unit, f"--after-cursor={cursor}", "-o", "cat", "--no-pager").stdout
        return "failed" if "Failed with result" in log else "success" if "Deactivated successfully" in log else None

    return poll(finished, 120, f"{unit} to finish")


def toast_on_screen(machine: Machine, colour: tuple, what: str) -> np.ndarray:
    def shown():
        image = frame(machine)
        return [image] if toast_shown(image, colour) else None

    (image,) = poll(shown, 20, what)
    return image


def booth_unchanged(machine: Machine, before: dict, kiosk_before: dict, what: str) -> None:
    """Nothing the booth runs has changed: the slots, the current link, the same kiosk process."""
    assert snapshot(machine.root / "opt/fse") == before, f"{what}: /opt/fse changed"
    assert not (machine.root / TRIAL_DROPIN).exists(), what
    now = kiosk(machine)
    assert (now["MainPID"], now["NRestarts"]) == (kiosk_before["MainPID"], kiosk_before["NRestarts"]), what


def reported_version(machine: Machine) -> str:
    """The version the running kiosk reports (its READY=1 status, `systemctl status fse-kiosk`)."""
    return machine.show("fse-kiosk.service", "StatusText")["StatusText"]


def updates(machine: Machine, report: Report, bundles: dict) -> None:
    """Refused updates change nothing; a good one runs; one that crashes and one that hangs at start are
    rolled back by the booth."""
    since = time.time()
    captures = query(machine, "SELECT COUNT(*), MAX(id) FROM captures")
    settings = (machine.root / "etc/fse/kiosk.toml").read_bytes()
    assert "0.1.0" in reported_version(machine), reported_version(machine)
    refused = []
    for name, problem in (
        ("tampered", "do not match its signature"),
        ("stranger", "not signed by a key this booth trusts"),
    ):
        before, kiosk_before = snapshot(machine.root / "opt/fse"), kiosk(machine)
        with update_stick(machine, RUN_DIR / f"update-{name}.img", bundles[name]) as (loop, unit, plugged, cursor):
            with report.step(f"FSE-UPDATE stick, {name} bundle -> refused"):
                result = unit_finished(machine, unit, cursor)
            refused.append(unit)
            status = update_status(machine)
            assert result == "failed" and status["state"] == "failed", (result, status)
            assert problem in status["detail"] and status["message"].endswith("Nothing was changed."), status
            image = toast_on_screen(machine, WARN_TOAST, f"the refused {name} update on screen")
            booth_unchanged(machine, before, kiosk_before, name)
        save(image, f"boot-update-{name}.png")

    before, kiosk_before = snapshot(machine.root / "opt/fse"), kiosk(machine)
    with update_stick(machine, RUN_DIR / "update-pulled.img", bundles["good"], slow=True) as (
        loop,
        unit,
        plugged,
        cursor,
    ):
        poll(lambda: "Copying update" in update_status(machine).get("message", ""), 30, "the slow stick's copy")
        with report.step("FSE-UPDATE stick pulled mid-copy -> refused"):
            subprocess.run(["losetup", "-d", loop], check=True)  # detached once the booth unmounts it
            machine.run("udevadm", "trigger", "--action=remove", loop)
            assert unit_finished(machine, unit, cursor) == "failed"
        refused.append(unit)
        status = update_status(machine)
        assert status["state"] == "failed" and "the stick was removed" in status["message"], status
        assert status["message"].endswith("Nothing was changed.")
        assert not (machine.root / "opt/fse/.incoming").exists()
        booth_unchanged(machine, before, kiosk_before, "pulled")

    with update_stick(machine, RUN_DIR / "update-good.img", bundles["good"]) as (loop, unit, plugged, cursor):
        state = wait_ready(machine, kiosk_before["MainPID"], 120, "the updated kiosk")
        report.add(
            f"FSE-UPDATE stick (good, {GOOD}) -> new version READY=1",
            machine.monotonic(state["ActiveEnterTimestampMonotonic"]) + machine.boot_started - plugged,
        )
        assert GOOD in reported_version(machine), reported_version(machine)
        poll(lambda: update_status(machine).get("state") == "updated", 30, "the update confirmed at READY=1")
        assert update_status(machine)["message"] == f"Updated to {GOOD} (was 0.1.0)"
        assert os.readlink(machine.root / "opt/fse/current") == "b"
        assert (machine.root / "opt/fse/docs").resolve() == machine.root / "opt/fse/b/docs"  # Documentation=
        assert not (machine.root / TRIAL_DROPIN).exists()
        save(toast_on_screen(machine, OK_TOAST, "Updated to ... on screen"), "boot-update-good.png")
        assert unit_finished(machine, unit, cursor) == "success"

    # The same signed stick again (a replay): not newer than what runs, refused.
    before, kiosk_before = snapshot(machine.root / "opt/fse"), kiosk(machine)
    with update_stick(machine, RUN_DIR / "update-replayed.img", bundles["good"]) as (loop, unit, plugged, cursor):
        with report.step(f"FSE-UPDATE stick, {GOOD} again (not newer) -> refused"):
            assert unit_finished(machine, unit, cursor) == "failed"
        refused.append(unit)
        status = update_status(machine)
        assert f"runs {GOOD}, offered {GOOD}: not newer" in status["message"], status
        save(toast_on_screen(machine, WARN_TOAST, "the replayed update refused on screen"), "boot-update-replayed.png")
        booth_unchanged(machine, before, kiosk_before, "replayed")

    kiosk_before = kiosk(machine)
    with update_stick(machine, RUN_DIR / "update-crashing.img", bundles["crashing"]) as (loop, unit, plugged, cursor):
        poll(lambda: update_status(machine).get("state") == "rolled-back", 180, "the booth to roll back by itself")
        state = wait_ready(machine, kiosk_before["MainPID"], 120, "the previous version back")
        report.add(
            f"FSE-UPDATE stick (crashes at start, {CRASHING}) -> rolled back, {GOOD} READY=1",
            machine.monotonic(state["ActiveEnterTimestampMonotonic"]) + machine.boot_started - plugged,
        )
        assert GOOD in reported_version(machine) and os.readlink(machine.root / "opt/fse/current") == "b"
        assert update_status(machine)["message"] == f"Update to {CRASHING} failed to start; back on {GOOD}"
        save(toast_on_screen(machine, WARN_TOAST, "back on ... on screen"), "boot-update-rolled-back.png")
    log = machine.run("journalctl", f"--since=@{int(since)}", "-u", "fse-kiosk", "--no-pager").stdout
    assert log.count("this build crashes at start") == 3, log[-3000:]  # three starts, then the rollback
    assert not (machine.root / TRIAL_DROPIN).exists()

    # A kiosk that hangs before READY=1 (never notifies, never exits): each start ends when the trial's
    # start timeout (one watchdog window) runs out, and after three the booth goes back by itself.
    kiosk_before, hung_since = kiosk(machine), time.time()
    rolled_back = f"Update to {HANGING} failed to start; back on {GOOD}"
    with update_stick(machine, RUN_DIR / "update-hanging.img", bundles["hanging"]) as (loop, unit, plugged, cursor):
        poll(lambda: update_status(machine).get("message") == rolled_back, 300, "the booth to roll a hang back")
        state = wait_ready(machine, kiosk_before["MainPID"], 120, "the previous version back after a hang")
        log = machine.run("journalctl", f"--since=@{int(hung_since)}", "-u", "fse-kiosk", "--no-pager").stdout
        ended_by = {what: log.count(what) for what in ("start operation timed out", "Watchdog timeout")}
        report.add(
            f"FSE-UPDATE stick (hangs before READY=1, {HANGING}) -> rolled back, {GOOD} READY=1",
            machine.monotonic(state["ActiveEnterTimestampMonotonic"]) + machine.boot_started - plugged,
            ", ".join(f"{what}: {n}" for what, n in ended_by.items()),
        )
        assert GOOD in reported_version(machine) and os.readlink(machine.root / "opt/fse/current") == "b"
    assert log.count("this build hangs at start") == 3, log[-3000:]
    assert ended_by["start operation timed out"] == 3, ended_by
    assert not (machine.root / TRIAL_DROPIN).exists()

    # What an update and a rollback leave alone: the capture log, its images, the operator's settings.
    assert query(machine, "SELECT COUNT(*), MAX(id) FROM captures") == captures
    assert query(machine, "PRAGMA integrity_check") == [["ok"]]
    assert (machine.root / "etc/fse/kiosk.toml").read_bytes() == settings
    failed = machine.run("systemctl", "--failed", "--plain", "--no-legend").stdout.split()
    assert {u for u in failed if u.endswith(".service")} <= set(refused), failed  # a stick's unit, by loop device
    expected = ("fse-usb-update@", "fse-kiosk", "this build crashes at start", "Failed to start")
    unexpected = [e for e in journal_errors(machine, since) if not any(x in e for x in expected)]
    assert unexpected == [], "\n".join(unexpected)


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


BOOTH_STATE = (
    "/var/lib/fse/",
    "/var/cache/fse/",
    "/opt/fse/",
    "/etc/systemd/system/fse-kiosk.service.d/update-trial.conf",
)
"""The only places the booth's own programs write (issue 24 item 4): state, cache, and an update's
slots and trial drop-in (kiosk/update/); everything else is systemd's."""
TEST_FILES = ("/etc/systemd/system/fse-usb-update@",)
"""What this test writes itself into the booth after the install (the slow stick's drop-in)."""
SYSTEM_STATE = ("/var/log/journal/", "/var/log/wtmp", "/var/log/btmp", "/var/log/lastlog", "/var/lib/systemd/")
STATE_FILES = ("log.sqlite", "images/", "quarantine/", "usb-export-", "update-status.json", "joystick_calibration.json")
"""What /var/lib/fse holds: the capture log and its images (kiosk/capture/), the export and update
statuses, the joystick calibration; never a library's cache."""


def check_where_the_booth_writes(changed: set[str]) -> None:
    """After the install, three boots, a power cut and an export: what the overlay's upper directory
    gained (the booth's whole disk footprint) lies in its state and cache directories and systemd's."""
    elsewhere = sorted(p for p in changed if not p.startswith(BOOTH_STATE + SYSTEM_STATE + TEST_FILES))
    assert elsewhere == [], f"the booth wrote outside its state: {elsewhere}"
    state = sorted(p for p in changed if p.startswith("/var/lib/fse/"))
    strays = [p for p in state if not p.removeprefix("/var/lib/fse/").startswith(STATE_FILES)]
    assert strays == [], f"not the kiosk's state, in its state directory: {strays}"
    assert any(p.startswith("/var/lib/fse/images/") for p in state) and "/var/lib/fse/log.sqlite" in state


def test_power_on_and_it_runs(machine):
    report = Report()
    try:
        bundles = build_bundles(RUN_DIR.parent / "updates")
        installed = install(machine, report, bundles["keys"])
        first_boot(machine, report)
        after_power_cut(machine, report, RUN_DIR / "stick.img", bundles)
        check_where_the_booth_writes({p for p, t in written(machine).items() if installed.get(p) != t})
    finally:
        report.write()
