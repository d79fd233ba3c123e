"""What the booth's QR codes say, and their modules: the capture's link and the hotspot's `WIFI:` code.

Drawn by segno (the kiosk screen: kiosk/ui/share_card.py; the receipt: printer.py). QUIET_ZONE
modules of light border are part of every matrix here: a reader needs them to find the code.
"""

from __future__ import annotations

import numpy as np

QUIET_ZONE = 4
"""Light modules around the code, as the QR standard asks."""


def link(base_url: str, token: str) -> str:
    """The capture's page on the share server."""
    return f"{base_url}/s/{token}"


def _escape(text: str) -> str:
    # The WIFI: format's special characters are escaped with a backslash.
    return "".join("\\" + c if c in '\\;,:"' else c for c in text)


def wifi(ssid: str, passphrase: str) -> str:
    """A `WIFI:` payload phones' cameras offer to join (WPA2)."""
    return f"WIFI:T:WPA;S:{_escape(ssid)};P:{_escape(passphrase)};;"


def modules(payload: str) -> np.ndarray:
    """The code's modules as a (n, n) bool array, True = dark, quiet zone included. Error
    correction M (15 %): a screen's glare or a smudged receipt still reads."""
    import segno  # noqa: PLC0415 - the kiosk imports this only with sharing on

    code = segno.make(payload, error="m", micro=False, boost_error=False)
    return np.array(list(code.matrix_iter(scale=1, border=QUIET_ZONE)), dtype=bool)
