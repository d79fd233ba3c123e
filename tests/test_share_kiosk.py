"""Take your design home, end to end (issue 20): the kiosk headless captures a design, its screen's
QR codes are read with zbar, the link is fetched from the running fse-share, and the page is opened
in headless Chromium with a phone's viewport. Everything on loopback; no radio here, so the Wi-Fi
code is checked for what it says, not joined.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import urllib.request

import numpy as np
import pygame
import pytest
from PIL import Image
from pyzbar import pyzbar  # and Debian's libzbar0 (scripts/setup-system.sh)
from test_share import Server

from contract.capture_schema import open_db, read_captures
from kiosk.headless import wait_for
from kiosk.startup import build_app, parse_args
from kiosk.ui.share_card import MIN_MODULE_PX, SHOW_S

PASSPHRASE = "tartan;leopard:42"  # special characters the WIFI: format escapes


@pytest.fixture
def booth(tmp_path, monkeypatch):
    """A state directory, a kiosk.toml with sharing and the hotspot on, and fse-share serving it."""
    state = tmp_path / "state"
    state.mkdir()
    server = Server(state).start()
    config = tmp_path / "kiosk.toml"
    config.write_text(
        "[share]\nsharing = true\n"
        f'share_url = "http://127.0.0.1:{server.port}"\nevent_name = "Test Week"\n'
        f'hotspot = true\nwifi_ssid = "FSE-Test"\nwifi_passphrase = "{PASSPHRASE}"\n'
    )
    monkeypatch.delenv("FSE_SHARING", raising=False)
    monkeypatch.delenv("FSE_SHARE_URL", raising=False)
    yield state, config, server
    server.kill()


def kiosk(config, state, size: str):
    argv = ["--windowed", "--joystick", "none", "--config", str(config), "--state-dir", str(state), "--size", size]
    return build_app(parse_args(argv))


def capture(app) -> None:
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_RETURN, mod=0, unicode="", scancode=0))
    pygame.event.post(pygame.event.Event(pygame.KEYUP, key=pygame.K_RETURN, mod=0, unicode="", scancode=0))


def saved(app) -> bool:
    return any(t.text.startswith("Saved #") for t in app.ui.status.toasts)


def test_the_screen_s_qr_code_opens_the_capture_s_png_on_a_phone(booth, tmp_path):
    state, config, server = booth
    app = kiosk(config, state, "1920x1080")
    try:
        app.step()
        capture(app)
        wait_for(app, saved, 120)  # a deadline, not a target
        # The codes come in the frame that says "Saved #N", beside the design, never over it.
        assert app.ui.share_card.visible and app.ui.share_card in app.ui.widgets(False)
        assert not app.ui.share_card.rect.colliderect(app.ui.layout.design)
        assert app.ui.share_card.module_px >= MIN_MODULE_PX
        app.step(0.0)
        shot = tmp_path / "screen.png"
        pygame.image.save(app.screen, str(shot))
        # A tap on the card gives the canvas back; otherwise the card goes after SHOW_S.
        card, shared = app.ui.share_card, app.ui.share_card.shared
        if app.explorer.state.attract:  # a first touch in attract mode only wakes the kiosk (issue 22, item 8)
            pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=(1, 1), button=1))
            app.step()
        pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=card.rect.center, button=1))
        app.step()
        assert not card.visible and app.ui.canvas in app.ui.widgets(False)
        card.show(shared, app.now)
        app.step(SHOW_S - 1)
        assert card.visible
        app.step(1.0)
        assert not card.visible
    finally:
        app.shutdown()

    codes = {c.data.decode() for c in pyzbar.decode(Image.open(shot))}
    assert len(codes) == 2, codes
    (link,) = [c for c in codes if c.startswith("http://")]
    (wifi,) = [c for c in codes if c.startswith("WIFI:")]
    assert wifi == r"WIFI:T:WPA;S:FSE-Test;P:tartan\;leopard\:42;;"
    assert re.fullmatch(rf"http://127\.0\.0\.1:{server.port}/s/[A-Za-z0-9_-]{{22}}", link)

    (row,) = read_captures(open_db(state / "log.sqlite", read_only=True))
    logged = hashlib.sha256((state / row.image_path).read_bytes()).hexdigest()
    with urllib.request.urlopen(link + "/design.png", timeout=10) as response:
        assert hashlib.sha256(response.read()).hexdigest() == logged

    # The page on a phone: headless Chromium, 390x844 (an iPhone 12-15's viewport in CSS pixels).
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "chromium is not installed (scripts/setup-system.sh)"
    browser = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=390,844", "--hide-scrollbars"]
    page_shot = tmp_path / "phone.png"
    subprocess.run([*browser, f"--screenshot={page_shot}", link], check=True, capture_output=True, timeout=60)
    dom = subprocess.run([*browser, "--dump-dom", link], check=True, capture_output=True, text=True, timeout=60).stdout
    assert "looks like: " in dom and f"capture #{row.id:04d}" in dom and "Test Week" in dom
    (download,) = re.findall(r'<a class="button" href="([^"]+)" download="([^"]+)"', dom)
    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}{download[0]}", timeout=10) as response:
        assert response.headers["Content-Disposition"] == f'attachment; filename="{download[1]}"'
        assert hashlib.sha256(response.read()).hexdigest() == logged
    pixels = np.asarray(Image.open(page_shot).convert("RGB")).astype(int)
    design = pixels[60:400, 16:374]  # the image, full width under the heading
    assert design.std() > 20, "the design did not load on the page"
    button = np.all(np.abs(pixels - (255, 196, 64)) < 8, axis=2)  # the download button's colour
    assert button.sum() > 5000, "the page's stylesheet was not applied (CSP?)"


def test_a_spool_that_cannot_be_written_costs_the_link_never_the_capture(booth, tmp_path):
    state, config, server = booth
    app = kiosk(config, state, "1280x720")
    try:
        app.step()
        (state / "share").rename(tmp_path / "spool-moved")  # the spool is now a file: every write fails
        (state / "share").write_text("not a folder")
        capture(app)
        wait_for(app, saved, 120)
        texts = [t.text for t in app.ui.status.toasts]
        assert any("cannot be shared" in t for t in texts), texts
        assert not app.ui.share_card.visible
    finally:
        app.shutdown()
    assert len(read_captures(open_db(state / "log.sqlite", read_only=True))) == 1
