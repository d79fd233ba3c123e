"""Take your design home on the appliance (issue 20): fse-share's unit and sandbox, the hotspot's
NetworkManager files, and the installer writing them from kiosk.toml [share].

No radio here: the connection file is checked as a key file and, where NetworkManager's nmcli is
installed, read back by NetworkManager itself offline (`nmcli --offline`, NetworkManager >= 1.42).
"""

from __future__ import annotations

import configparser
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kiosk.share import hotspot

REPO = Path(__file__).resolve().parent.parent
UNIT = REPO / "systemd" / "fse-share.service"
PASSPHRASE = "polka dot\\42;x"  # a space, a backslash and a semicolon: each must survive the key file


def test_share_unit_security_exposure():
    assert shutil.which("systemd-analyze"), "systemd-analyze is needed (scripts/setup-system.sh)"
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--no-pager", str(UNIT)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    match = re.search(r"Overall exposure level for fse-share\.service: (\d+\.\d+)", result.stdout)
    assert match, result.stdout + result.stderr
    print(f"fse-share.service exposure {match.group(1)}")
    assert float(match.group(1)) <= 2.0, result.stdout


def test_share_unit_sees_the_spool_only_and_has_no_network_of_its_own():
    text = UNIT.read_text()
    for line in (
        "User=fse-share",
        "ExecStart=/opt/fse/current/venv/bin/fse-share --spool /var/lib/fse/share",
        "InaccessiblePaths=/etc/fse",  # kiosk.toml holds the Wi-Fi passphrase
        "Requires=fse-share.socket",
        "TemporaryFileSystem=/var/lib/fse:ro",  # the capture log and images are not even visible
        "BindPaths=/var/lib/fse/share",
        "PrivateNetwork=yes",
        "RestrictAddressFamilies=AF_UNIX",
        "CapabilityBoundingSet=",
        "RestartPreventExitStatus=2",
    ):
        assert re.search(rf"^{re.escape(line)}$", text, re.MULTILINE), line
    socket_unit = (REPO / "systemd" / "fse-share.socket").read_text()
    assert re.search(r"^ListenStream=80$", socket_unit, re.MULTILINE)
    assert re.search(r"^IPAddressDeny=any$", socket_unit, re.MULTILINE)


def keyfile(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read_string(text)
    return parser


def test_the_hotspot_connection_is_wpa2_shared_isolated_and_reads_back_in_networkmanager(tmp_path):
    text = hotspot.connection_file("FSE-Booth", PASSPHRASE)
    hotspot.check(text)
    parsed = keyfile(text)
    assert parsed["wifi-security"]["psk"] == PASSPHRASE.replace("\\", "\\\\")  # GKeyFile's escape
    assert parsed["ipv4"]["method"] == "shared" and parsed["wifi"]["ap-isolation"] == "1"
    nmcli = shutil.which("nmcli")
    if nmcli is None:
        print("nmcli not installed: the key file was checked by parsing only")
        return
    # NetworkManager parses the file, normalises it and writes it back: the values it understood.
    result = subprocess.run(
        [nmcli, "--offline", "connection", "modify", "connection.autoconnect", "yes"],
        input=text,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    back = keyfile(result.stdout)
    assert back["wifi"]["mode"] == "ap" and back["wifi"]["ssid"] == "FSE-Booth"
    assert back["wifi"]["ap-isolation"] == "1"
    assert back["wifi-security"]["key-mgmt"] == "wpa-psk" and back["wifi-security"]["proto"].rstrip(";") == "rsn"
    assert back["wifi-security"]["psk"] == parsed["wifi-security"]["psk"]
    assert back["ipv4"]["method"] == "shared" and back["ipv4"]["address1"] == "10.42.0.1/24"


def test_the_hotspot_refuses_what_it_cannot_make():
    with pytest.raises(hotspot.HotspotError, match="wifi_ssid"):
        hotspot.connection_file("booth;rm", PASSPHRASE)
    with pytest.raises(hotspot.HotspotError, match="wifi_passphrase"):
        hotspot.connection_file("FSE-Booth", "short")
    with pytest.raises(hotspot.HotspotError, match="ap-isolation"):
        hotspot.check(hotspot.connection_file("FSE-Booth", PASSPHRASE).replace("ap-isolation=1", "ap-isolation=0"))


def install(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "DESTDIR": str(root), "FSE_INSTALL_OFFLINE": "1", "FSE_PYTHON": sys.executable}
    env.pop("PYTHONPATH", None)
    return subprocess.run(
        ["bash", str(REPO / "scripts" / "install-appliance.sh")], env=env, capture_output=True, text=True, timeout=180
    )


def test_the_installer_writes_the_hotspot_from_kiosk_toml_and_removes_it_when_off(tmp_path):
    config = tmp_path / "etc/fse/kiosk.toml"
    config.parent.mkdir(parents=True)
    config.write_text(
        f'[share]\nsharing = true\nhotspot = true\nwifi_passphrase = "{PASSPHRASE.replace(chr(92), chr(92) * 2)}"\n'
    )
    result = install(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "sharing on" in result.stdout
    connection = tmp_path / hotspot.CONNECTION
    assert stat.S_IMODE(connection.stat().st_mode) == 0o600  # the passphrase is root's alone
    assert keyfile(connection.read_text())["wifi-security"]["psk"] == PASSPHRASE.replace("\\", "\\\\")
    dns = (tmp_path / hotspot.DNS).read_text()
    assert "address=/fse.booth/10.42.0.1" in dns and "address=/#/10.42.0.1" in dns
    spool = tmp_path / "var/lib/fse/share"
    assert stat.S_IMODE(spool.stat().st_mode) == 0o2770  # setgid: the kiosk's files are the server's group's
    assert (tmp_path / "opt/fse/venv/bin/fse-share").is_file()

    config.write_text("[share]\nsharing = false\n")
    result = install(tmp_path)
    assert result.returncode == 0 and "sharing off" in result.stdout, result.stderr
    assert not connection.exists() and not (tmp_path / hotspot.DNS).exists()

    config.write_text('[share]\nsharing = true\nhotspot = true\nwifi_ssid = "no;way"\nwifi_passphrase = "12345678"\n')
    result = install(tmp_path)
    assert result.returncode != 0 and "wifi_ssid" in result.stderr


def resolve(name: str, port: int) -> str | None:
    """The first A record dnsmasq on 127.0.0.1:port gives for name (a DNS query by hand)."""
    question = b"".join(bytes([len(part)]) + part.encode() for part in name.split(".")) + b"\0\0\1\0\1"
    query = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + question
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.sendto(query, ("127.0.0.1", port))
        answer = s.recv(512)
    if answer[3] & 0x0F or int.from_bytes(answer[6:8], "big") == 0:
        return None
    rdata = answer[12 + len(question) :]
    return ".".join(str(b) for b in rdata[-4:])  # the one answer's address, at the end


def test_on_the_hotspot_the_booth_s_name_and_the_phones_probes_resolve_to_the_booth(tmp_path):
    """dnsmasq, as NetworkManager's shared mode runs it, with the installed dnsmasq-shared.d file."""
    dnsmasq = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
    assert os.path.exists(dnsmasq), "dnsmasq is needed (Debian's dnsmasq-base, scripts/setup-system.sh)"
    conf = tmp_path / "fse-share.conf"
    conf.write_text(hotspot.dns_file())
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [
            dnsmasq,
            "--keep-in-foreground",
            "--no-resolv",
            "--no-hosts",
            "--bind-interfaces",
            "--listen-address=127.0.0.1",
            f"--port={port}",
            f"--conf-file={conf}",
            "--pid-file=",
            "--user=root",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        for name in ("fse.booth", "connectivitycheck.gstatic.com", "captive.apple.com", "www.msftconnecttest.com"):
            for _ in range(50):
                try:
                    address = resolve(name, port)
                    break
                except (TimeoutError, ConnectionRefusedError):
                    time.sleep(0.1)
            assert address == hotspot.HOTSPOT_ADDRESS, name
    finally:
        server.kill()
        server.wait(10)
