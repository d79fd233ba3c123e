"""kiosk.sdnotify against a real AF_UNIX datagram socket bound in the test, as systemd binds one."""

from __future__ import annotations

import os
import socket
import uuid

import pytest

from kiosk import sdnotify


@pytest.fixture
def path_socket(tmp_path, monkeypatch):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.settimeout(5)
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
    monkeypatch.setattr(sdnotify, "_last_watchdog", 0.0)
    yield sock
    sock.close()


def no_datagram(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        sock.recv(4096)
    except BlockingIOError:
        return True
    finally:
        sock.settimeout(5)
    return False


def test_ready_and_status_reach_a_path_socket(path_socket):
    assert sdnotify.ready("first frame up")
    assert path_socket.recv(4096) == b"READY=1\nSTATUS=first frame up"
    assert sdnotify.status("warming up\nTensorRT")
    assert path_socket.recv(4096) == b"STATUS=warming up TensorRT"
    assert sdnotify.stopping()
    assert path_socket.recv(4096) == b"STOPPING=1"


def test_abstract_socket(monkeypatch):
    name = f"fse-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(b"\0" + name.encode())
        sock.settimeout(5)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert sdnotify.notify("READY=1")
        assert sock.recv(4096) == b"READY=1"


def test_watchdog_interval_and_rate_limit(path_socket, monkeypatch):
    monkeypatch.setenv("WATCHDOG_USEC", "20000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert sdnotify.watchdog_interval() == 20.0
    assert sdnotify.watchdog(now=100.0)
    assert path_socket.recv(4096) == b"WATCHDOG=1"
    # Within a quarter of the interval nothing more is sent; after it, the next one goes out.
    assert not sdnotify.watchdog(now=104.9)
    assert no_datagram(path_socket)
    assert sdnotify.watchdog(now=105.0)
    assert path_socket.recv(4096) == b"WATCHDOG=1"


def test_watchdog_for_another_pid_or_none_set_is_silent(path_socket, monkeypatch):
    monkeypatch.setenv("WATCHDOG_USEC", "20000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))
    assert sdnotify.watchdog_interval() is None
    assert not sdnotify.watchdog(now=1000.0)
    monkeypatch.delenv("WATCHDOG_USEC")
    monkeypatch.delenv("WATCHDOG_PID")
    assert sdnotify.watchdog_interval() is None
    assert not sdnotify.watchdog(now=2000.0)
    assert no_datagram(path_socket)


def test_noop_without_systemd(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")
    assert not sdnotify.ready()
    assert not sdnotify.watchdog(now=50.0)


def test_vanished_socket_does_not_raise(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "gone"))
    assert not sdnotify.ready()
    assert "sd_notify" in caplog.text


def test_extend_start_asks_systemd_to_wait(path_socket):
    assert sdnotify.extend_start(600, "starting: loading\ngenerator")
    assert path_socket.recv(4096) == b"EXTEND_TIMEOUT_USEC=600000000\nSTATUS=starting: loading generator"


def test_every_start_up_step_extends_the_start(path_socket, tmp_path, monkeypatch):
    """An update trial gives a new kiosk one watchdog window (30 s) to start; the first start after new
    models builds TensorRT engines for minutes. Each step of the start (the splash's progress) asks
    systemd for START_STEP_S more, so a slow but moving start is not ended and rolled back."""
    from kiosk.startup import START_STEP_S, build_app, parse_args

    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    app = build_app(parse_args(["--windowed", "--joystick", "none", "--state-dir", str(tmp_path / "state")]))
    try:
        messages = []
        path_socket.settimeout(0.5)
        while True:
            try:
                messages.append(path_socket.recv(4096).decode())
            except TimeoutError:
                break
    finally:
        app.shutdown()
    steps = [m for m in messages if m.startswith("EXTEND_TIMEOUT_USEC=")]
    assert len(steps) >= 5, messages  # starting, each model, prints, joystick, capture log
    assert all(m.startswith(f"EXTEND_TIMEOUT_USEC={int(START_STEP_S * 1e6)}\nSTATUS=starting: ") for m in steps)
    assert any("loading generator" in m for m in steps), steps
    assert not any(m.startswith("READY=1") for m in messages)  # READY=1 only with the first frame
