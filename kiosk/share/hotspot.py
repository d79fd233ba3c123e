"""The booth's own Wi-Fi for sharing: a NetworkManager hotspot and its DNS, written and checked offline.

    python -m kiosk.share.hotspot show [--config kiosk.toml]       # the connection file, to read
    python -m kiosk.share.hotspot install [--root DIR] [--config]   # what make install-appliance runs

With `[share] hotspot = true` (and sharing on) `install` writes, under --root (default /):

    etc/NetworkManager/system-connections/fse-hotspot.nmconnection   (0600, root: holds the passphrase)
        Wi-Fi access point, WPA2 (RSN/CCMP) with the event's passphrase, ipv4.method=shared at
        HOTSPOT_ADDRESS (NetworkManager runs DHCP and DNS for the phones), client isolation
        (wifi.ap-isolation, NetworkManager >= 1.28: phones cannot reach each other), no IPv6
    etc/NetworkManager/dnsmasq-shared.d/fse-share.conf
        every name resolves to the booth on the hotspot: BOOTH_NAME for people typing, and the
        phones' captive-portal probes (connectivitycheck.gstatic.com, captive.apple.com,
        www.msftconnecttest.com ...) reach fse-share, which answers them so phones stay joined

and otherwise removes both. It prints `sharing on` or `sharing off` (the installer enables
fse-share.socket by it). Every file is checked after it is made (`check`): what NetworkManager
needs is there and it parses as a key file. No radio is needed, and none was used to test this.
"""

from __future__ import annotations

import argparse
import configparser
import sys
import uuid
from pathlib import Path

CONNECTION = Path("etc/NetworkManager/system-connections/fse-hotspot.nmconnection")
DNS = Path("etc/NetworkManager/dnsmasq-shared.d/fse-share.conf")
HOTSPOT_ADDRESS = "10.42.0.1"
"""NetworkManager's own default for shared mode, set explicitly so the QR code's address is fixed."""
BOOTH_NAME = "fse.booth"
"""What people can type on the hotspot (the QR codes carry the address)."""
UUID_NAMESPACE = uuid.UUID("5f3e9a2c-4a43-4b4e-9d53-1f0d2c6b9a11")
"""The connection's uuid is derived from its name: reinstalling updates it in place."""


class HotspotError(ValueError):
    """A setting the hotspot cannot be made with; the message names it and the fix."""


def _keyfile_string(text: str) -> str:
    # GKeyFile string escapes: a backslash and a leading space would otherwise be read differently.
    text = text.replace("\\", "\\\\")
    return "\\s" + text[1:] if text.startswith(" ") else text


def connection_file(ssid: str, passphrase: str) -> str:
    """The NetworkManager key file for the booth's hotspot."""
    if not ssid or not all(c.isalnum() or c in " _.-" for c in ssid) or len(ssid.encode()) > 32:
        raise HotspotError(
            f"[share] wifi_ssid = {ssid!r}: for the hotspot use 1-32 letters, digits, spaces, '_', '.' or '-'"
        )
    if not (8 <= len(passphrase) <= 63 and all(" " <= c <= "~" for c in passphrase)):
        raise HotspotError("[share] wifi_passphrase: 8 to 63 printable ASCII characters (WPA2)")
    return f"""# Fashion Space Explorer: the booth's Wi-Fi for "take your design home" (kiosk/share/hotspot.py).
# Written by make install-appliance from /etc/fse/kiosk.toml [share]; edit that and reinstall.
[connection]
id=fse-hotspot
uuid={uuid.uuid5(UUID_NAMESPACE, "fse-hotspot")}
type=wifi
autoconnect=true
autoconnect-priority=100

[wifi]
mode=ap
ssid={_keyfile_string(ssid)}
band=bg
channel=6
ap-isolation=1

[wifi-security]
key-mgmt=wpa-psk
proto=rsn
pairwise=ccmp
group=ccmp
psk={_keyfile_string(passphrase)}
pmf=1

[ipv4]
method=shared
address1={HOTSPOT_ADDRESS}/24

[ipv6]
method=ignore
"""


def dns_file() -> str:
    return f"""# Fashion Space Explorer (kiosk/share/hotspot.py): on the hotspot every name is the booth, so
# {BOOTH_NAME} works and the phones' captive-portal probes reach fse-share (it answers them).
address=/{BOOTH_NAME}/{HOTSPOT_ADDRESS}
address=/#/{HOTSPOT_ADDRESS}
"""


REQUIRED = {
    "connection": {"id": "fse-hotspot", "type": "wifi"},
    "wifi": {"mode": "ap", "ap-isolation": "1"},
    "wifi-security": {"key-mgmt": "wpa-psk", "proto": "rsn"},
    "ipv4": {"method": "shared", "address1": f"{HOTSPOT_ADDRESS}/24"},
}


def check(text: str) -> None:
    """Parse a connection file as a key file and check what the hotspot needs; HotspotError if not."""
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # key files are case-sensitive
    try:
        parser.read_string(text)
    except configparser.Error as e:
        raise HotspotError(f"the hotspot's connection file does not parse as a key file: {e}") from None
    for section, keys in REQUIRED.items():
        for key, value in keys.items():
            if not parser.has_option(section, key) or parser.get(section, key) != value:
                raise HotspotError(f"the hotspot's connection file needs [{section}] {key}={value}")
    uuid.UUID(parser.get("connection", "uuid"))
    if not (8 <= len(parser.get("wifi-security", "psk")) <= 126):
        raise HotspotError("the hotspot's connection file has no usable psk")


def install(root: Path, config) -> bool:
    """Write (hotspot on) or remove (off) the connection and DNS files under root; True when sharing is on."""
    files = {root / CONNECTION: None, root / DNS: None}
    if config.sharing and config.hotspot:
        text = connection_file(config.wifi_ssid, config.wifi_passphrase)
        check(text)
        files = {root / CONNECTION: (text, 0o600), root / DNS: (dns_file(), 0o644)}
    for path, content in files.items():
        if content is None:
            path.unlink(missing_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(path.name + ".new")
        temp.unlink(missing_ok=True)
        temp.touch(mode=content[1])  # private before the passphrase is in it
        temp.chmod(content[1])
        temp.write_text(content[0])
        temp.replace(path)
    return config.sharing


def main(argv: list[str] | None = None) -> int:
    from ..config import ConfigError, KioskConfig, load_config

    p = argparse.ArgumentParser(prog="python -m kiosk.share.hotspot", description=__doc__.splitlines()[0])
    p.add_argument("action", choices=("show", "install"))
    p.add_argument("--config", type=Path, help="a kiosk.toml (default: $FSE_CONFIG, else /etc/fse/kiosk.toml)")
    p.add_argument("--root", type=Path, default=Path("/"), help="install under this root (default /)")
    args = p.parse_args(argv)
    try:
        # A booth without a kiosk.toml has the defaults (sharing off); never the host's file under --root.
        config = load_config(args.config) if args.config is None or args.config.exists() else KioskConfig()
        if args.action == "show":
            print(connection_file(config.wifi_ssid, config.wifi_passphrase), end="")
            return 0
        print("sharing on" if install(args.root, config) else "sharing off")
    except (ConfigError, HotspotError) as e:
        print(f"hotspot: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
