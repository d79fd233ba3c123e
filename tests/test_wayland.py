"""The kiosk on a real Wayland compositor: sway with the booth's own config (systemd/sway-kiosk.conf),
as fse-display.service runs it, but headless (WLR_BACKENDS=headless: no GPU and no screen here).

- the kiosk's frame, read back with grim (the compositor's own screenshot), is the kiosk's and fills
  the screen, not a black one;
- a key pressed on the compositor's keyboard (wtype, a virtual keyboard) reaches the kiosk: a capture;
- the compositor killed under a running kiosk: the kiosk exits with DISPLAY_LOST and says why
  (kiosk/display_link.py), instead of drawing to a dead socket with its watchdog content.

sway refuses to run as root: as root (CI) it runs as nobody, and the kiosk, grim and wtype reach its
socket as root.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from kiosk_screen import SCREEN, SCREEN_MODE, design_drawn, looks_like_the_kiosk, parse_ppm, wtype
from waiting import wait_for

from kiosk.display_link import DISPLAY_LOST

REPO = Path(__file__).resolve().parent.parent
SWAY_CONFIG = REPO / "systemd" / "sway-kiosk.conf"
LOCAL_SETTINGS = "/etc/fse/sway-kiosk.d"
"""The folder of local output settings the booth's sway config includes; here a folder of the test's."""

pytestmark = [
    pytest.mark.slow,
    *(
        pytest.mark.skipif(shutil.which(tool) is None, reason=f"{tool} is not installed (apt install {package})")
        for tool, package in (("sway", "sway"), ("grim", "grim"), ("wtype", "wtype"))
    ),
]


class Sway:
    """sway, headless, with the booth's config; its socket in a runtime folder of its own."""

    def __init__(self) -> None:
        self.runtime = Path(tempfile.mkdtemp(prefix="fse-wayland-"))  # not under pytest's root-only tmp
        settings = self.runtime / "sway-kiosk.d"
        settings.mkdir()
        (settings / "screen.conf").write_text(SCREEN_MODE)
        config = SWAY_CONFIG.read_text()
        assert LOCAL_SETTINGS in config, "systemd/sway-kiosk.conf no longer includes the local settings"
        (self.runtime / "sway-kiosk.conf").write_text(config.replace(LOCAL_SETTINGS, str(settings)))
        user = {}
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            for path in (self.runtime, settings, *self.runtime.rglob("*")):
                os.chown(path, nobody.pw_uid, nobody.pw_gid)
            user = {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}
        self.runtime.chmod(0o700)
        self.log = open(self.runtime / "sway.log", "wb")
        self.process = subprocess.Popen(
            ["sway", "--config", str(self.runtime / "sway-kiosk.conf")],
            env={
                "PATH": "/usr/bin:/bin",
                "HOME": str(self.runtime),
                "XDG_RUNTIME_DIR": str(self.runtime),
                "WLR_BACKENDS": "headless",
                "WLR_LIBINPUT_NO_DEVICES": "1",
            },
            stdout=self.log,
            stderr=subprocess.STDOUT,
            **user,
        )
        self.env = {"XDG_RUNTIME_DIR": str(self.runtime), "WAYLAND_DISPLAY": "wayland-1"}
        wait_for(
            lambda: (self.runtime / "wayland-1").is_socket() or self.process.poll() is not None, 20, "sway's socket"
        )
        assert self.process.poll() is None, self.output()

    def output(self) -> str:
        return (self.runtime / "sway.log").read_text(errors="replace")[-3000:]

    def screenshot(self):
        """The compositor's output as (H, W, 3) uint8."""
        result = subprocess.run(
            ["grim", "-t", "ppm", "-"], env={**os.environ, **self.env}, capture_output=True, timeout=30
        )
        assert result.returncode == 0, result.stderr
        return parse_ppm(result.stdout)

    def press(self, key: str) -> None:
        subprocess.run(wtype(key), env={**os.environ, **self.env}, check=True, timeout=30)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def close(self) -> None:
        self.kill()
        self.log.close()
        shutil.rmtree(self.runtime, ignore_errors=True)


@pytest.fixture
def sway():
    compositor = Sway()
    try:
        yield compositor
    finally:
        compositor.close()


@pytest.fixture
def kiosk(sway, tmp_path):
    """The kiosk on sway as fse-kiosk.service starts it (fullscreen, SDL's wayland driver); returns
    (process, its output file) once it sent READY=1 (its first frame is up) to a notify socket of the test's."""
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify"))
    notify.settimeout(120)
    (tmp_path / "kiosk.toml").write_text("")
    output = tmp_path / "kiosk.log"
    env = {
        **os.environ,
        **sway.env,
        "SDL_VIDEODRIVER": "wayland",
        "NOTIFY_SOCKET": str(tmp_path / "notify"),
        "FSE_CONFIG": str(tmp_path / "kiosk.toml"),
        "FSE_CACHE_DIR": str(tmp_path / "cache"),
    }
    with open(output, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "kiosk.startup", "--joystick", "none", "--state-dir", str(tmp_path / "state")],
            env=env,
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        while b"READY=1" not in notify.recv(4096):
            pass
        yield process, output
    except TimeoutError:
        raise AssertionError(f"no READY=1 from the kiosk on sway: {output.read_text()[-3000:]}") from None
    finally:
        notify.close()
        if process.poll() is None:
            process.terminate()
            process.wait(30)


def test_kiosk_frame_and_keys_on_sway(sway, kiosk, tmp_path):
    process, output = kiosk

    def designed():
        image = sway.screenshot()
        return [image] if design_drawn(image) else None

    (image,) = wait_for(designed, 60, "the first design on the screen", interval=0.2)
    assert image.shape == (SCREEN[1], SCREEN[0], 3)
    assert looks_like_the_kiosk(image), "the kiosk's frame is not on the screen"

    sway.press("f")  # capture, as a keyboard at the booth would
    log = tmp_path / "state" / "log.sqlite"

    def captured():
        with sqlite3.connect(f"file:{log}?mode=ro", uri=True) as db:
            return db.execute("SELECT COUNT(*) FROM captures").fetchone()[0] == 1

    wait_for(lambda: log.exists() and captured(), 30, "the capture from the key press", interval=0.1)
    assert process.poll() is None, output.read_text()[-3000:]


def test_kiosk_exits_when_the_compositor_goes_away(sway, kiosk):
    process, output = kiosk
    sway.kill()
    code = process.wait(10)  # before kiosk/display_link.py it kept running on the dead socket
    text = output.read_text()
    assert code == DISPLAY_LOST, text[-3000:]
    assert "the Wayland compositor at" in text and "went away" in text, text[-3000:]
