"""Take your design home (issue 20): the share spool, the real fse-share server on loopback, and the
kiosk's QR code read back from its screen.

The server runs as its own process (`python -m kiosk.share.server`) on a spool in tmp_path, as on
the booth; requests go over real sockets with http.client, each test from its own loopback address
(127.0.0.N) so the per-client rate limits of one test do not spill into another.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from contract import share_spool
from kiosk.share.publish import SharePublisher, clear

REPO = Path(__file__).resolve().parent.parent
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40  # the server serves bytes; it never decodes them


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """fse-share in a subprocess on a state directory; start(), kill(), and requests from a client address."""

    def __init__(self, state_dir: Path, socket_activated: bool = False) -> None:
        self.state_dir, self.port, self.process = state_dir, free_port(), None
        self.socket_activated = socket_activated  # as on the booth: systemd listens and passes the socket

    def start(self) -> "Server":
        env = {**os.environ, "FSE_STATE_DIR": str(self.state_dir), "FSE_SHARING": "1", "PYTHONPATH": str(REPO)}
        env.pop("FSE_CONFIG", None)
        no_settings = self.state_dir.with_name(self.state_dir.name + "-kiosk.toml")  # the defaults
        no_settings.write_text("")
        command = [sys.executable, "-m", "kiosk.share.server", "--config", str(no_settings)]
        if self.socket_activated:  # as the booth's unit runs it: the spool named, no kiosk.toml
            command = [sys.executable, "-m", "kiosk.share.server", "--spool", str(self.state_dir / "share")]
        if self.socket_activated:
            passed = [f"--setenv={name}" for name in ("FSE_STATE_DIR", "FSE_SHARING", "PYTHONPATH", "PATH")]
            command = ["systemd-socket-activate", "--listen", f"127.0.0.1:{self.port}", *passed, *command]
        else:
            command += ["--listen", f"127.0.0.1:{self.port}"]
        self.process = subprocess.Popen(
            command,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(self.process.stdout.read()) from None
                time.sleep(0.05)
        raise TimeoutError("fse-share did not listen within 30 s")

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def request(self, method: str, path: str, client: str = "127.0.0.2", headers=None, body=None):
        """(status, headers, body) of one request sent exactly as given (no normalising of the path)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10, source_address=(client, 0))
        try:
            headers = headers or {}
            conn.putrequest(method, path, skip_host="Host" in headers, skip_accept_encoding=True)
            for name, value in headers.items():
                conn.putheader(name, value)
            if body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()


@pytest.fixture
def server(tmp_path):
    server = Server(tmp_path / "state")
    (tmp_path / "state").mkdir()
    yield server.start()
    server.kill()


def publisher(state_dir: Path, **kw) -> SharePublisher:
    return SharePublisher(state_dir, "http://127.0.0.1", kw.pop("link_minutes", 120), "Test Week", **kw)


def token_of(link: str) -> str:
    return link.rsplit("/", 1)[1]


# -- the spool -------------------------------------------------------------------------------------


def test_the_spool_is_written_atomically_bounded_and_survives_a_new_publisher(tmp_path):
    first = publisher(tmp_path, max_count=3)
    links = [first.publish(PNG + bytes([n]), n + 1, "Dress", "tartan").link for n in range(5)]
    records = share_spool.scan(tmp_path / "share")
    assert [r.capture for r in records] == [3, 4, 5]  # the oldest links went first
    assert {r.token for r in records} == {token_of(link) for link in links[2:]}
    assert sorted(p.name for p in (tmp_path / "share").iterdir()) == sorted(
        n for r in records for n in (r.image_name, r.record_name)
    )
    # A restarted kiosk (a new publisher) keeps the links; the bound in bytes holds too.
    second = publisher(tmp_path, max_mb=len(PNG) * 2.5 / 1e6)
    second.publish(PNG, 6, "Bag", "plain")
    assert [r.capture for r in share_spool.scan(tmp_path / "share")] == [5, 6]
    record = share_spool.scan(tmp_path / "share")[-1]
    assert record.sha256 == hashlib.sha256(PNG).hexdigest() and record.event == "Test Week"
    assert clear(tmp_path / "share") == 2 and not list((tmp_path / "share").iterdir())


def test_sharing_off_empties_the_spool_and_shows_no_code(tmp_path):
    from kiosk.config import load_config

    publisher(tmp_path).publish(PNG, 1, "Dress", "plain")
    (tmp_path / "kiosk.toml").write_text("[share]\nsharing = false\n")
    config = load_config(tmp_path / "kiosk.toml", {"state_dir": str(tmp_path)})
    assert SharePublisher.from_config(config) is None
    assert share_spool.scan(tmp_path / "share") == []


def test_strays_are_removed_only_once_old_and_foreign_files_are_left(tmp_path):
    folder = tmp_path / "share"
    publisher(tmp_path).publish(PNG, 1, "Dress", "plain")
    stray = folder / (share_spool.entry_name(time.time()) + ".png")  # an image whose record never came
    stray.write_bytes(PNG)
    foreign = folder / "README"
    foreign.write_text("not the spool's")
    share_spool.prune(folder, time.time())
    assert stray.exists()  # may be a write in progress
    share_spool.prune(folder, time.time() + share_spool.ORPHAN_GRACE_S + 1)
    assert not stray.exists() and foreign.exists() and len(share_spool.scan(folder)) == 1


# -- the server ------------------------------------------------------------------------------------


def test_a_link_serves_its_page_and_exactly_its_png_with_strict_headers(server):
    shared = publisher(server.state_dir).publish(PNG, 7, "Dress", "tartan")
    token = token_of(shared.link)
    status, headers, body = server.request("GET", f"/s/{token}")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    text = body.decode()
    assert "looks like: Dress" in text and "print: tartan" in text and "#0007" in text and "Test Week" in text
    assert f'href="/s/{token}/download"' in text
    for path in (f"/s/{token}/design.png", f"/s/{token}/download"):
        status, headers, body = server.request("GET", path)
        assert status == 200 and hashlib.sha256(body).hexdigest() == hashlib.sha256(PNG).hexdigest()
        assert headers["Content-Type"] == "image/png"
        assert headers["Cache-Control"] == "no-store"
        assert "default-src 'none'" in headers["Content-Security-Policy"]
        assert headers["X-Content-Type-Options"] == "nosniff" and headers["Referrer-Policy"] == "no-referrer"
        assert headers["Server"] == "fse-share"
    assert 'filename="fashion-space-explorer-0007.png"' in headers["Content-Disposition"]


def test_methods_head_options_post_and_oversized_requests(server):
    token = token_of(publisher(server.state_dir).publish(PNG, 1, "Dress", "plain").link)
    status, headers, body = server.request("HEAD", f"/s/{token}/design.png", client="127.0.0.3")
    assert status == 200 and body == b"" and int(headers["Content-Length"]) == len(PNG)
    for method in ("OPTIONS", "POST", "PUT", "DELETE", "PATCH"):
        status, headers, _ = server.request(method, f"/s/{token}", client="127.0.0.3", body=b"x")
        assert status == 405 and headers["Allow"] == "GET, HEAD", method
        assert headers["Cache-Control"] == "no-store"
    status, _, _ = server.request("GET", f"/s/{token}", client="127.0.0.3", body=b"x" * 100_000)
    assert status == 413
    status, _, _ = server.request("GET", f"/s/{token}?" + "a" * 5000, client="127.0.0.3")
    assert status in (400, 414)
    status, _, _ = server.request("GET", f"/s/{token}", client="127.0.0.3", headers={"X-Big": "b" * 5000})
    assert status in (400, 431)
    many = {f"X-H{n}": "1" for n in range(100)}
    status, _, _ = server.request("GET", f"/s/{token}", client="127.0.0.3", headers=many)
    assert status in (400, 431)
    status, _, _ = server.request("GET", f"/s/{token}", client="127.0.0.3")
    assert status == 200  # the server is fine afterwards


def test_nothing_outside_the_spool_is_readable(server):
    state = server.state_dir
    (state / "log.sqlite").write_bytes(b"SQLite format 3\x00 the capture log")
    shared = publisher(state).publish(PNG, 1, "Dress", "plain")
    token = token_of(shared.link)
    (entry,) = share_spool.scan(state / "share")
    (state / "share" / ("0" * 8 + "T" + "0" * 12 + "Z-deadbeef.png")).symlink_to(state / "log.sqlite")
    paths = [
        "/log.sqlite",
        "/../log.sqlite",
        "/s/../../log.sqlite",
        "/s/%2e%2e/%2e%2e/log.sqlite",
        f"/s/{token}/../../log.sqlite",
        f"/s/{token}/%2e%2e%2f%2e%2e%2flog.sqlite",
        "/s/..%2f..%2flog.sqlite/design.png",
        "//etc/passwd",
        "/etc/passwd",
        f"/share/{entry.image_name}",
        f"/{entry.image_name}",
        f"/s/{entry.entry}/design.png",  # the file's name is not its token
        "/s/" + "0" * 8 + "T" + "0" * 12 + "Z-deadbeef/design.png",
        "/share/",
        "/s/",
        "/s",
    ]
    for path in paths:
        status, _, body = server.request("GET", path, client="127.0.0.4")
        assert status == 404, path
        assert b"SQLite" not in body and b"root:" not in body and PNG not in body, path


def test_ten_thousand_guessed_tokens_are_rate_limited_and_none_is_served(server):
    shared = publisher(server.state_dir).publish(PNG, 1, "Dress", "plain")
    real = token_of(shared.link)
    guesses = [share_spool.new_token() for _ in range(9_999)] + [real]  # the last one is right: still refused
    t0 = time.perf_counter()
    statuses = pipelined(server.port, [f"/s/{guess}/design.png" for guess in guesses], "127.0.0.5")
    elapsed = time.perf_counter() - t0
    assert statuses.get(200, 0) == 0, statuses
    assert statuses[404] <= 12 and statuses[429] >= 9_980, statuses
    print(f"10,000 guesses in {elapsed:.1f} s: {statuses}")
    # Another phone is not held up by the guesser.
    status, _, body = server.request("GET", f"/s/{real}/design.png", client="127.0.0.6")
    assert status == 200 and body == PNG


def pipelined(port: int, paths: list[str], client: str, batch: int = 500) -> dict[int, int]:
    """GET every path on one keep-alive connection, a batch of requests at a time (HTTP/1.1
    pipelining: the server answers in order); how many answers had each status."""
    status_line = re.compile(rb"HTTP/1\.1 (\d{3}) ")
    statuses: dict[int, int] = {}
    with socket.create_connection(("127.0.0.1", port), timeout=30, source_address=(client, 0)) as sock:
        received = b""
        for start in range(0, len(paths), batch):
            chunk = paths[start : start + batch]
            sock.sendall(b"".join(f"GET {p} HTTP/1.1\r\nHost: booth\r\n\r\n".encode() for p in chunk))
            while len(status_line.findall(received)) < len(chunk):
                data = sock.recv(1 << 20)
                assert data, "the server closed the connection"
                received += data
            for code in status_line.findall(received):
                statuses[int(code)] = statuses.get(int(code), 0) + 1
            received = b""
    return statuses


def test_an_expired_link_is_refused_and_its_files_removed(server):
    old = publisher(server.state_dir, link_minutes=1).publish(PNG, 1, "Dress", "plain", now=time.time() - 120)
    (record,) = share_spool.scan(server.state_dir / "share")
    status, _, body = server.request("GET", f"/s/{token_of(old.link)}/design.png", client="127.0.0.7")
    assert status == 404 and body != PNG
    assert not (server.state_dir / "share" / record.image_name).exists()
    assert not (server.state_dir / "share" / record.record_name).exists()


def test_captive_portal_probes_and_the_help_page(server):
    status, _, body = server.request(
        "GET", "/generate_204", client="127.0.0.8", headers={"Host": "connectivitycheck.gstatic.com"}
    )
    assert status == 204 and body == b""
    status, _, body = server.request(
        "GET", "/hotspot-detect.html", client="127.0.0.8", headers={"Host": "captive.apple.com"}
    )
    assert status == 200 and b"<TITLE>Success</TITLE>" in body and b"<BODY>Success</BODY>" in body
    status, _, body = server.request(
        "GET", "/connecttest.txt", client="127.0.0.8", headers={"Host": "www.msftconnecttest.com"}
    )
    assert status == 200 and body == b"Microsoft Connect Test"
    status, _, body = server.request("GET", "/", client="127.0.0.8")
    assert status == 200 and b"scan the QR code" in body and b"/s/" not in body  # no index, no listing


def test_links_survive_a_killed_and_restarted_server(server):
    shared = publisher(server.state_dir).publish(PNG, 3, "Coat", "plain")
    path = f"/s/{token_of(shared.link)}/design.png"
    assert server.request("GET", path, client="127.0.0.9")[0] == 200
    server.kill()
    server.start()
    status, _, body = server.request("GET", path, client="127.0.0.9")
    assert status == 200 and body == PNG
    later = publisher(server.state_dir).publish(PNG + b"2", 4, "Coat", "plain")  # written while it runs
    assert server.request("GET", f"/s/{token_of(later.link)}/design.png", client="127.0.0.9")[2] == PNG + b"2"


def test_the_server_takes_systemd_s_socket(tmp_path):
    """fse-share.socket's way: the listening socket is passed in (LISTEN_FDS), as systemd-socket-activate does."""
    assert shutil.which("systemd-socket-activate"), "systemd-socket-activate is part of Debian's systemd"
    (tmp_path / "share").mkdir()  # the installer's
    server = Server(tmp_path, socket_activated=True).start()
    try:
        shared = publisher(tmp_path).publish(PNG, 1, "Dress", "plain")
        status, _, body = server.request("GET", f"/s/{token_of(shared.link)}/design.png", client="127.0.0.10")
        assert status == 200 and body == PNG
    finally:
        server.kill()
