"""`fse-export --usb` on real block devices: ext4 file systems on loop devices (this kernel has no
vfat), hostile sticks, two sticks at once, a SIGTERM mid-copy, a root exporter in a state directory
owned by another user.

An exporter is paused at an exact point, without timing, by a fanotify permission event: the kernel
holds its open() of one capture image until the test answers (OpenGate).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import select
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest

from analysis.bundles import find_bundles, merge
from contract.bundle import MANIFEST, PARTIAL_SUFFIX
from contract.capture_schema import DB_NAME, unexported_count
from contract.latent import models_space
from contract.models import sha256_file, shipped_models_dir
from kiosk.capture.log import CaptureLog
from kiosk.log_export.usb import USB_MOUNT_ROOT, USB_SUBDIR
from kiosk.usb_status import UsbStatusWatch, read_usb_status, status_file, usb_status_toast
from kiosk.usb_stick import ALLOWED_FILESYSTEMS

SPACE = models_space(shipped_models_dir())  # the latent map the shipped models' kiosk logs positions in

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("losetup") is None, reason="loop-device sticks need root and losetup (util-linux)"
)
NOBODY = 65534


def _fill(state: Path, captures: int, booth: str = "booth-u", px: int = 48) -> list[str]:
    """A real capture log; returns the image paths in capture order."""
    rng = np.random.default_rng(5)
    with CaptureLog(state, booth, position_space=SPACE, disk_floor_mb=0, trail_hz=1000) as log:
        for _ in range(captures):
            log.save_capture(
                rng.uniform(-1, 1, 8),
                rng.random((28, 28)),
                rng.integers(0, 256, (px, px, 3), dtype=np.uint8),
                "none",
                [],
                "joystick",
            )
            log.record_trail(rng.uniform(-1, 1, 8), "joystick")
    conn = sqlite3.connect(state / DB_NAME)
    paths = [row[0] for row in conn.execute("SELECT image_path FROM captures ORDER BY id")]
    conn.close()
    return paths


def _mounts(device: str) -> list[tuple[str, str, str]]:
    """(mount point, file system, options) for every mount of the device, from mountinfo."""
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        before, after = line.split(" - ")
        fields, tail = before.split(), after.split()
        if tail[1] == device:
            found.append((fields[4].replace("\\040", " "), tail[0], fields[5]))
    return found


@pytest.fixture
def sticks(tmp_path):
    """make(name, fs="ext4", contents=callable(root)) -> /dev/loopN, a stick labelled FSE-EXPORT.
    Every loop device is unmounted and detached afterwards, whatever happened."""
    made: list[str] = []

    def make(name: str, fs: str = "ext4", contents=None, options: tuple[str, ...] = ()) -> str:
        image = tmp_path / f"{name}.img"
        subprocess.run(["truncate", "-s", "64M", str(image)], check=True)
        command = [f"mkfs.{fs}", "-q", "-F", "-L", "FSE-EXPORT", *options]
        if contents:
            root = tmp_path / f"{name}-contents"
            root.mkdir()
            contents(root)
            command += ["-d", str(root)]
        subprocess.run(command + [str(image)], check=True, capture_output=True)
        device = subprocess.run(
            ["losetup", "-f", "--show", str(image)], check=True, capture_output=True, text=True
        ).stdout.strip()
        made.append(device)
        return device

    yield make
    for device in made:
        for point, _, _ in _mounts(device):
            subprocess.run(["umount", "-l", point], capture_output=True)
        subprocess.run(["losetup", "-d", device], capture_output=True)


@contextlib.contextmanager
def opened(device: str):
    """The stick, mounted read-only for a look."""
    point = Path(tempfile.mkdtemp(prefix="fse-stick-"))
    subprocess.run(["mount", "-o", "ro", device, str(point)], check=True)
    try:
        yield point
    finally:
        subprocess.run(["umount", str(point)], check=True)
        point.rmdir()


@pytest.fixture
def state_dir():
    """A state directory that another user can reach (pytest's tmp_path is root-only)."""
    path = Path(tempfile.mkdtemp(prefix="fse-state-"))
    path.chmod(0o755)
    yield path / "state"
    shutil.rmtree(path, ignore_errors=True)


UNIT_CAPABILITIES = "-all,+sys_admin,+setuid,+setgid,+chown"
"""systemd/fse-usb-export@.service's CapabilityBoundingSet= (a test checks they agree), as setpriv spells it."""


def export(device: str, state: Path, *extra: str, as_unit: bool = True) -> subprocess.Popen:
    """fse-export --usb as root with only the unit's capabilities, as systemd starts it (as_unit=False: all of root's)."""
    unit = ["setpriv", f"--bounding-set={UNIT_CAPABILITIES}", "--inh-caps=-all", "--"] if as_unit else []
    return subprocess.Popen(
        [*unit, sys.executable, "-m", "kiosk.log_export.cli", "--usb", device, "--state-dir", str(state), *extra],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen) -> tuple[int, str]:
    out, err = process.communicate(timeout=120)
    return process.returncode, err


def verify(bundle: Path) -> dict:
    manifest = json.loads((bundle / MANIFEST).read_text())
    on_disk = {p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file()} - {MANIFEST}
    assert on_disk == set(manifest["files"])
    for relative, digest in manifest["files"].items():
        assert sha256_file(bundle / relative) == digest, relative
    return manifest


class OpenGate:
    """Holds chosen processes' open() of chosen files (fanotify FAN_OPEN_PERM); lets every other open through."""

    FAN_CLASS_CONTENT, FAN_CLOEXEC, FAN_MARK_ADD, FAN_OPEN_PERM, FAN_ALLOW = 0x4, 0x1, 0x1, 0x10000, 0x1
    EVENT = struct.Struct("IBBHQii")

    def __init__(self, files: list[Path]):
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self.libc.fanotify_init(self.FAN_CLASS_CONTENT | self.FAN_CLOEXEC, os.O_RDONLY)
        assert self.fd >= 0, os.strerror(ctypes.get_errno())
        for path in files:
            assert (
                self.libc.fanotify_mark(
                    self.fd, self.FAN_MARK_ADD, ctypes.c_uint64(self.FAN_OPEN_PERM), -100, str(path).encode()
                )
                == 0
            ), os.strerror(ctypes.get_errno())
        self.holds: dict[int, str] = {}  # pid -> file name to hold it at
        self.held: dict[int, int] = {}  # pid -> the event's fd, awaiting an answer
        self.changed = threading.Condition()
        self.running = True
        self.thread = threading.Thread(target=self._answer, daemon=True)
        self.thread.start()

    def hold(self, pid: int, name: str) -> None:
        with self.changed:
            self.holds[pid] = name

    def _answer(self) -> None:
        while self.running:
            if not select.select([self.fd], [], [], 0.1)[0]:
                continue
            data = os.read(self.fd, 4096)
            for offset in range(0, len(data), self.EVENT.size):
                _, _, _, _, _, event_fd, pid = self.EVENT.unpack_from(data, offset)
                name = os.path.basename(os.readlink(f"/proc/self/fd/{event_fd}"))
                with self.changed:
                    if self.holds.get(pid) == name:
                        self.held[pid] = event_fd
                        self.changed.notify_all()
                        continue
                self._allow(event_fd)

    def _allow(self, event_fd: int) -> None:
        os.write(self.fd, struct.pack("iI", event_fd, self.FAN_ALLOW))
        os.close(event_fd)

    def wait_held(self, pid: int) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: pid in self.held, timeout=120), f"process {pid} never opened its file"

    def release(self, pid: int) -> None:
        with self.changed:
            self.holds.pop(pid, None)
            event_fd = self.held.pop(pid)
        self._allow(event_fd)

    def close(self) -> None:
        self.running = False
        self.thread.join()
        for event_fd in self.held.values():
            self._allow(event_fd)
        os.close(self.fd)


@pytest.fixture
def gate():
    gates = []

    def make(files):
        gates.append(OpenGate(files))
        return gates[-1]

    yield make
    for g in gates:
        g.close()


def test_export_onto_a_block_device_reports_done(sticks, state_dir):
    """Issue 12 item 6: the stick is mounted, written, unmounted, and the status says safe to remove."""
    _fill(state_dir, 3)
    device = sticks("plain")
    code, err = finish(export(device, state_dir))
    assert code == 0, err
    status = read_usb_status(state_dir)
    assert status["state"] == "done", status
    # The stick is named (issue 21 item 7: two sticks at once shared one "safe to remove").
    assert re.fullmatch(
        r"Export finished \(3 captures, 3 new images\): safe to remove the 67 MB stick loop\d+\.", status["message"]
    ), status["message"]
    assert usb_status_toast(status)[0] == f"USB export finished: safe to remove {status['stick']}"
    assert _mounts(device) == [] and not (USB_MOUNT_ROOT / Path(device).name).exists()
    with opened(device) as stick:
        manifest = verify(stick / status["bundle"])
    assert manifest["counts"]["images"] == 3


def test_a_second_export_copies_only_new_captures(sticks, state_dir):
    """Issue 12 item 12 on a stick: the second export copies what the first didn't; --full all."""
    _fill(state_dir, 3)
    device = sticks("incremental")
    assert finish(export(device, state_dir))[0] == 0
    _fill(state_dir, 2)
    assert finish(export(device, state_dir))[0] == 0
    assert "(5 captures, 2 new images)" in read_usb_status(state_dir)["message"]
    assert finish(export(device, state_dir, "--full"))[0] == 0
    assert "(5 captures, 5 new images)" in read_usb_status(state_dir)["message"]
    with opened(device) as stick:
        bundles = sorted((stick / USB_SUBDIR).iterdir())
        assert [verify(b)["counts"]["images_copied"] for b in bundles] == [3, 2, 5]
        merged = merge(find_bundles([stick / USB_SUBDIR], stick), warn=lambda _: None)
        assert len(merged.captures) == 5 and all(c.image_file.is_file() for c in merged.captures)


def test_a_hostile_stick_cannot_redirect_the_export(sticks, state_dir, tmp_path):
    """Issue 12 item 7: `fse-export` on the stick as a link to a folder outside the stick."""
    _fill(state_dir, 2)
    outside = tmp_path / "outside"
    outside.mkdir()
    device = sticks("hostile", contents=lambda root: (root / USB_SUBDIR).symlink_to(outside))
    code, err = finish(export(device, state_dir))
    assert code == 2
    assert list(outside.iterdir()) == []
    status = read_usb_status(state_dir)
    assert status["state"] == "failed" and "a link or a file, not a folder" in status["message"], status
    assert _mounts(device) == []


def test_only_allowed_file_systems_are_mounted(sticks, state_dir):
    """Issue 12 item 7: an ext2 stick labelled FSE-EXPORT is refused, not mounted; the udev rule
    starts the export only for the same file systems the exporter mounts."""
    _fill(state_dir, 1)
    device = sticks("ext2", fs="ext2")
    code, err = finish(export(device, state_dir))
    assert code == 2 and "holds a ext2 file system" in err and "vfat, exfat, ext4" in err
    assert _mounts(device) == []
    for rule in ("90-fse-usb-export.rules", "90-fse-usb-update.rules"):  # kiosk/usb_stick.py mounts for both
        (types,) = re.findall(r'ENV\{ID_FS_TYPE\}=="([^"]+)"', (REPO / "systemd" / rule).read_text())
        assert tuple(types.split("|")) == ALLOWED_FILESYSTEMS, rule


def test_sigterm_mid_copy_marks_the_bundle_partial_and_the_status_failed(sticks, state_dir, gate):
    """Issue 12 item 10: systemd's SIGTERM (stick pulled, or the 15-minute timeout) while images are
    copied. Also checks the mount the exporter made (item 7: options and type; item 9: its own point)."""
    images = _fill(state_dir, 8)
    device = sticks("pulled")
    g = gate([state_dir / images[4]])
    process = export(device, state_dir)
    g.hold(process.pid, Path(images[4]).name)
    g.wait_held(process.pid)  # four images are on the stick, the fifth is being opened

    ((point, fstype, options),) = _mounts(device)
    assert point == str(USB_MOUNT_ROOT / Path(device).name) and fstype == "ext4"
    assert {"nosuid", "nodev", "noexec", "nosymfollow"} <= set(options.split(","))
    (partial,) = (Path(point) / USB_SUBDIR).iterdir()
    assert partial.name.endswith(PARTIAL_SUFFIX) and len(list(partial.rglob("*.png"))) == 4
    assert read_usb_status(state_dir)["state"] == "running"

    process.send_signal(signal.SIGTERM)
    g.release(process.pid)
    code, err = finish(process)
    assert code == 2 and "stopped before it finished" in err
    status = read_usb_status(state_dir)
    assert status["state"] == "failed" and "plug the stick in again" in status["message"]
    text, level, _ = usb_status_toast(status)
    assert level == "warn" and "stopped before it finished" in text
    assert _mounts(device) == []

    with opened(device) as stick:
        (left,) = (stick / USB_SUBDIR).iterdir()
        assert left.name.endswith(PARTIAL_SUFFIX) and not (left / MANIFEST).exists()
        assert len(list(left.rglob("*.png"))) == 4
        # fse-analyze names a partial bundle it skips.
        warnings = []
        merged = merge(find_bundles([stick / USB_SUBDIR], stick), warn=warnings.append)
        assert not merged.captures and "did not finish" in merged.skipped[0][1]
    # The next export resumes it (issue 21 item 5): the four copies read back right and are kept.
    assert finish(export(device, state_dir))[0] == 0
    with opened(device) as stick:
        (whole,) = (stick / USB_SUBDIR).iterdir()
        manifest = verify(whole)
        assert manifest["counts"]["images_resumed"] == 4 and manifest["counts"]["images_copied"] == 8
        merged = merge(find_bundles([stick / USB_SUBDIR], stick), warn=warnings.append)
        assert len(merged.captures) == 8 and not merged.skipped


def test_two_sticks_at_once_each_get_their_own_whole_bundle(sticks, state_dir, gate):
    """Issue 12 item 9: A pauses mid-copy, B starts and pauses mid-copy, A finishes, B finishes.
    With one shared mount point A's rest would land on B's stick and B's rest on A's. Issue 21 item 7:
    with one status file A's "done: safe to remove" replaced B's "running" while B still copied."""
    images = _fill(state_dir, 8)
    a, b = sticks("a"), sticks("b")
    watch = UsbStatusWatch(state_dir)
    g = gate([state_dir / images[2], state_dir / images[5]])
    first = export(a, state_dir)
    g.hold(first.pid, Path(images[2]).name)
    g.wait_held(first.pid)
    second = export(b, state_dir)
    g.hold(second.pid, Path(images[5]).name)
    g.wait_held(second.pid)
    assert len({point for device in (a, b) for point, _, _ in _mounts(device)}) == 2
    g.release(first.pid)
    assert finish(first)[0] == 0
    assert read_usb_status(state_dir, a)["state"] == "done" and read_usb_status(state_dir, b)["state"] == "running"
    toasts = [usb_status_toast(watch.poll()) for _ in range(4)]
    assert [t[0] for t in toasts if t] == [
        f"USB export finished: safe to remove {read_usb_status(state_dir, a)['stick']}",
        f"USB export running: don't remove {read_usb_status(state_dir, b)['stick']}",
    ]
    g.release(second.pid)
    assert finish(second)[0] == 0
    for device in (a, b):
        with opened(device) as stick:
            (bundle,) = (stick / USB_SUBDIR).iterdir()
            assert verify(bundle)["counts"]["images_copied"] == 8


def test_root_exporter_acts_as_the_state_directory_owner(sticks, state_dir, tmp_path):
    """Issue 12 item 8: links planted by the kiosk's user in its state directory (an image -> a
    root-only file, the status file's temporary name -> a root-owned file) lead the root exporter
    nowhere that user could not go; the bundle on the stick belongs to that user."""
    images = _fill(state_dir, 3)
    secret = tmp_path / "secret"
    secret.write_bytes(b"root only")
    secret.chmod(0o600)
    victim = Path(tempfile.mkdtemp(prefix="fse-victim-")) / "victim"
    victim.parent.chmod(0o755)
    victim.write_bytes(b"untouched")
    victim.chmod(0o644)
    (state_dir / images[0]).unlink()
    (state_dir / images[0]).symlink_to(secret)
    for path in [state_dir, *state_dir.rglob("*")]:
        os.chown(path, NOBODY, NOBODY, follow_symlinks=False)
    device = sticks("owned")
    (state_dir / (status_file(device) + ".part")).symlink_to(victim)

    code, err = finish(export(device, state_dir))
    try:
        assert (
            victim.read_bytes() == b"untouched"
            and victim.stat().st_uid == 0
            and (victim.stat().st_mode & 0o777) == 0o644
        )
    finally:
        shutil.rmtree(victim.parent)
    assert code == 0, err
    with opened(device) as stick:
        (bundle,) = (stick / USB_SUBDIR).iterdir()
        manifest = verify(bundle)
        assert manifest["missing_images"] == [images[0]] and manifest["counts"]["images_copied"] == 2
        assert not any(b"root only" in p.read_bytes() for p in bundle.rglob("*") if p.is_file())
        assert {p.stat().st_uid for p in [bundle, *bundle.rglob("*")]} == {NOBODY}
    # The log records what the stick now holds (as its owner: no root-owned -wal/-shm left behind).
    conn = sqlite3.connect(f"file:{state_dir / DB_NAME}?mode=ro", uri=True)
    assert unexported_count(conn) == 1
    conn.close()
    assert {p.stat().st_uid for p in state_dir.glob(DB_NAME + "*")} == {NOBODY}


def test_a_killed_export_is_marked_failed_after_the_unit_ends(sticks, state_dir, gate):
    """Issue 12 item 10, the hard case: SIGKILL (systemd's last resort for a hung export) leaves no
    chance to write the status; the unit's ExecStopPost (`--mark-stopped`) turns "running" into
    "failed" and frees the mount point, and leaves a finished export's "done" alone."""
    images = _fill(state_dir, 4)
    device = sticks("killed")
    g = gate([state_dir / images[1]])
    process = export(device, state_dir)
    g.hold(process.pid, Path(images[1]).name)
    g.wait_held(process.pid)
    process.kill()
    g.release(process.pid)
    process.wait(timeout=60)
    assert read_usb_status(state_dir)["state"] == "running" and _mounts(device)

    def mark_stopped():  # as ExecStopPost runs it: the unit's capabilities (issue 24: it read the status as root)
        unit = ["setpriv", f"--bounding-set={UNIT_CAPABILITIES}", "--inh-caps=-all", "--"]
        return subprocess.run(
            [
                *unit,
                sys.executable,
                "-m",
                "kiosk.log_export.cli",
                "--mark-stopped",
                device,
                "--state-dir",
                str(state_dir),
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )

    # The booth's state directory is fse's and 0750 (StateDirectoryMode=): root without CAP_DAC_OVERRIDE
    # reads the status only as its owner (it read it as root: "Permission denied", found by the boot test).
    owned = [state_dir, *state_dir.rglob("*")]
    for path in owned:
        os.chown(path, 65534, 65534, follow_symlinks=False)
    state_dir.chmod(0o750)
    stopped = mark_stopped()
    for path in owned:
        os.chown(path, 0, 0, follow_symlinks=False)
    state_dir.chmod(0o755)
    assert stopped.returncode == 0, stopped.stderr
    status = read_usb_status(state_dir)
    assert status["state"] == "failed" and "stopped before it finished" in status["message"]
    assert status["device"] == device and _mounts(device) == []
    assert finish(export(device, state_dir))[0] == 0
    assert mark_stopped().returncode == 0 and read_usb_status(state_dir)["state"] == "done"


def test_an_export_longer_than_one_visit_finishes_on_a_small_stick(sticks, state_dir, gate):
    """Issue 21 item 5: a 64 MB stick, a 37 MB log. The first pull is stopped at 24 of 36 images;
    its .partial used to stay and take the room, so every later pull ran out of space. Then a pull
    that cannot fit says how much room it needs and where it ran out (item 7)."""
    images = _fill(state_dir, 36, px=580)  # ~1 MB each: random pixels do not compress
    device = sticks("small")
    g = gate([state_dir / images[24]])
    process = export(device, state_dir)
    g.hold(process.pid, Path(images[24]).name)
    g.wait_held(process.pid)
    process.send_signal(signal.SIGTERM)
    g.release(process.pid)
    assert finish(process)[0] == 2

    code, err = finish(export(device, state_dir))
    assert code == 0, err
    assert read_usb_status(state_dir)["state"] == "done"
    with opened(device) as stick:
        (whole,) = (stick / USB_SUBDIR).iterdir()
        assert verify(whole)["counts"]["images_resumed"] == 24

    _fill(state_dir, 30, px=580)  # 30 MB more; about 18 MB were free
    code, err = finish(export(device, state_dir))
    status = read_usb_status(state_dir)
    assert code == 2 and status["state"] == "failed"
    need = re.search(
        r"the stick is full \((/\S+\.png): no space left\): the rest of this export needs about (\d+) MB more and (\d+) MB are free",
        status["message"],
    )
    assert need and USB_SUBDIR in need[1] and int(need[2]) > 0, status["message"]
    assert "the next export continues from it" in status["message"] and "Remove the stick" not in status["message"]
    assert unexported_count(sqlite3.connect(state_dir / DB_NAME)) == 30


def test_an_export_without_a_log_leaves_nothing_on_the_stick(sticks, state_dir):
    """Issue 21 item 7: no capture log yet (a fresh booth): the export fails and writes nothing."""
    state_dir.mkdir()
    device = sticks("fresh")
    code, err = finish(export(device, state_dir))
    assert code == 2 and "no capture log" in err
    with opened(device) as stick:
        assert not (stick / USB_SUBDIR).exists()


def test_a_user_owned_stick_works_under_the_units_capabilities(sticks, state_dir):
    """Issue 21 item 9: a stick whose root folder belongs to a user (uid 1000, as a desktop formats
    it) failed with "Permission denied": the unit has no CAP_DAC_OVERRIDE, so root cannot write there.
    Run with the unit's own capability set (root-run tests never saw it)."""
    _fill(state_dir, 3)
    for path in [state_dir, *state_dir.rglob("*")]:
        os.chown(path, NOBODY, NOBODY, follow_symlinks=False)
    unit = (REPO / "systemd" / "fse-usb-export@.service").read_text()
    bounding = re.search(r"^CapabilityBoundingSet=(.*)$", unit, re.M)[1].split()
    assert sorted(f"+{c.removeprefix('CAP_').lower()}" for c in bounding) == sorted(UNIT_CAPABILITIES.split(",")[1:])
    device = sticks("desktop", options=("-E", "root_owner=1000:1000"))
    code, err = finish(export(device, state_dir, as_unit=True))
    assert code == 0, err
    with opened(device) as stick:
        assert stick.stat().st_uid == 1000
        (bundle,) = (stick / USB_SUBDIR).iterdir()
        assert verify(bundle)["counts"]["images_copied"] == 3


def test_a_stick_that_asks_for_a_panic_on_errors_is_mounted_remount_ro(sticks, state_dir, gate):
    """Issue 21 item 8: an ext4 superblock saying "errors: panic" was mounted as is (a bad block on
    the stick could then stop the booth's kernel)."""
    images = _fill(state_dir, 2)
    device = sticks("panic", options=("-E", "root_owner=0:0"))
    subprocess.run(["tune2fs", "-e", "panic", device], check=True, capture_output=True)
    g = gate([state_dir / images[1]])
    process = export(device, state_dir)
    g.hold(process.pid, Path(images[1]).name)
    g.wait_held(process.pid)
    (options,) = [  # the file system's own options (mountinfo's last field)
        line.split(" - ")[1].split()[2]
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
        if line.split(" - ")[1].split()[1] == device
    ]
    g.release(process.pid)
    assert finish(process)[0] == 0
    assert "errors=remount-ro" in options.split(","), options
