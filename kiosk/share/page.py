"""The phone's pages: one capture's page, the booth's help page and the not-found page.

No script, no external resource, no form: the stylesheet is inline and allowed by its hash in the
Content-Security-Policy (server.py), the image comes from the booth itself.
"""

from __future__ import annotations

import base64
import hashlib
import time
from html import escape

from contract.share_spool import ShareRecord

STYLE = """
:root { color-scheme: dark; }
* { box-sizing: border-box; }
body { margin: 0; background: #0c0d13; color: #ececf2; font: 18px/1.4 system-ui, sans-serif; }
main { max-width: 36rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1rem; letter-spacing: .08em; color: #ffc440; margin: .2rem 0 .8rem; }
img { display: block; width: 100%; height: auto; border-radius: .8rem; background: #fff; }
.name { font-size: 1.5rem; font-weight: 700; margin: .8rem 0 .1rem; }
.meta { color: #969aac; margin: 0; }
.button { display: block; margin: 1.2rem 0 .6rem; padding: 1rem; border-radius: .8rem; text-align: center;
  background: #ffc440; color: #0c0d13; font-size: 1.2rem; font-weight: 700; text-decoration: none; }
.small { color: #969aac; font-size: .85rem; }
"""
STYLE_HASH = "sha256-" + base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
"""The Content-Security-Policy allows this one inline stylesheet and nothing else."""

TITLE = "Fashion Space Explorer"


def _document(title: str, body: str) -> str:
    return (
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        '<meta name=referrer content="no-referrer">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>\n"
        f"<body><main>{body}</main></body></html>\n"
    )


def download_name(record: ShareRecord) -> str:
    return f"fashion-space-explorer-{record.capture:04d}.png"


def capture_page(record: ShareRecord) -> str:
    """The design large, what it looks like, its print, the capture number and event, and a download."""
    number = f"#{record.capture:04d}"
    name = f"looks like: {record.looks_like}" if record.looks_like else "your design"
    details = [f"print: {record.print_label}", f"capture {number}"] + ([record.event] if record.event else [])
    until = time.strftime("%H:%M", time.localtime(record.expires))
    body = (
        f"<h1>{escape(TITLE.upper())}</h1>"
        f'<img src="/s/{record.token}/design.png" width=1024 height=1024 alt="{escape(name)}, {escape(details[0])}">'
        f"<p class=name>{escape(name)}</p><p class=meta>{' · '.join(escape(d) for d in details)}</p>"
        f'<a class=button href="/s/{record.token}/download" download="{download_name(record)}">'
        "Download the picture</a>"
        f"<p class=small>A 1024 x 1024 PNG. This link works until {until}, on the booth's Wi-Fi only; then the booth deletes the "
        "picture. The booth keeps nothing about you.</p>"
    )
    return _document(f"{TITLE} {number}", body)


def help_page() -> str:
    body = (
        f"<h1>{escape(TITLE.upper())}</h1><p class=name>Take your design home</p>"
        "<p class=meta>Capture a design at the booth, then scan the QR code that appears beside it with your "
        "phone's camera.</p>"
    )
    return _document(TITLE, body)


def not_found_page() -> str:
    body = (
        f"<h1>{escape(TITLE.upper())}</h1><p class=name>This link does not work (any more)</p>"
        "<p class=meta>Links work for a while after the capture. Capture your design again at the booth and "
        "scan the new QR code.</p>"
    )
    return _document(TITLE, body)
