"""fse-share: the booth's share server. Phones on the booth's Wi-Fi open a capture's page by its token.

    fse-share --spool /var/lib/fse/share   # the booth: systemd's socket on port 80 (fse-share.socket)
    fse-share --listen 127.0.0.1:8080      # a desktop: the spool of kiosk.toml's state_dir, sharing on;
                                           # the kiosk with FSE_SHARE_URL=http://127.0.0.1:8080

It serves only the share spool (contract/share_spool.py) that the kiosk writes, never the capture
log, and runs as its own user (systemd/fse-share.service). What it answers, and nothing else:

    GET|HEAD /s/<token>                the capture's page (page.py)
    GET|HEAD /s/<token>/design.png     its 1024 px PNG;  /s/<token>/download  the same, as a download
    GET|HEAD /                         a help page (no index, no listing)
    /generate_204 /gen_204             204: Android's captive-portal probe (the phone stays joined)
    /hotspot-detect.html ...           "Success": Apple's;  /connecttest.txt /ncsi.txt: Windows';  /success.txt: Firefox's

A token is looked up among the records read from the spool, never joined into a path; a record
past its expiry is not served and is removed at the next prune (every PRUNE_EVERY_S). Only GET and
HEAD, no request body, short request lines and headers; every answer carries `Cache-Control:
no-store` and a strict Content-Security-Policy; each client is rate limited (limits.py). Nothing
about a visitor is logged: no access log, only counts.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import sys
import time
from pathlib import Path

from aiohttp import web

from contract import share_spool
from contract.share_spool import ShareRecord

from . import page
from .limits import ClientLimits

log = logging.getLogger("fse-share")

PRUNE_EVERY_S = 30.0
"""Expired links are removed from the spool this often (and refused as soon as they expire)."""
MAX_LINE = 1024
MAX_FIELD = 2048
MAX_HEADERS = 32
"""A phone's request line and headers fit in these with room to spare; anything longer is refused."""
IMAGES_CACHED = 8
"""The newest images read are kept in memory (0.3-2 MB each): a capture's page, image and download,
and its visitor's friends' phones, all come within a minute or two."""
SOCKET_FD = 3
"""systemd's first passed socket (sd_listen_fds)."""

CSP = (
    f"default-src 'none'; img-src 'self'; style-src '{page.STYLE_HASH}'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}
ALLOWED = "GET, HEAD"

PROBES = {
    "/generate_204": (204, None, None),
    "/gen_204": (204, None, None),
    "/hotspot-detect.html": (200, "text/html", "<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>"),
    "/library/test/success.html": (
        200,
        "text/html",
        "<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>",
    ),
    "/connecttest.txt": (200, "text/plain", "Microsoft Connect Test"),
    "/ncsi.txt": (200, "text/plain", "Microsoft NCSI"),
    "/success.txt": (200, "text/plain", "success\n"),
    "/favicon.ico": (204, None, None),
}
"""Phones test a new Wi-Fi by fetching these (the booth's DNS sends every name here, hotspot.py);
the expected answer keeps them joined without the captive-portal pop-up, which cannot save files."""


class ShareIndex:
    """The spool's records by token, re-read when the spool folder changes (a stat per look-up)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._records: dict[str, ShareRecord] = {}
        self._seen: int | None = None
        self._images: dict[str, bytes] = {}  # entry -> PNG: the newest IMAGES_CACHED read

    def refresh(self) -> None:
        try:
            changed = self.folder.stat().st_mtime_ns
        except FileNotFoundError:
            changed = None
        if changed != self._seen:
            self._seen = changed
            self._records = {r.token: r for r in share_spool.scan(self.folder)}

    def lookup(self, token: str, now: float) -> ShareRecord | None:
        if not share_spool.is_token(token):
            return None
        self.refresh()
        record = self._records.get(token)
        if record is not None and now >= record.expires:
            share_spool.remove(self.folder, record)  # expired: gone now, not at the next prune
            return None
        return record

    def read_image(self, record: ShareRecord) -> bytes | None:
        """The record's PNG, opened without following a link; None when it is gone or not whole."""
        try:
            fd = os.open(self.folder / record.image_name, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            return None
        with os.fdopen(fd, "rb") as f:
            data = f.read(record.size + 1)
        if len(data) != record.size:
            return None
        live = {r.entry for r in self._records.values()}
        kept = [(entry, png) for entry, png in self._images.items() if entry in live]
        self._images = dict(kept[-(IMAGES_CACHED - 1) :] + [(record.entry, data)])
        return data

    def cached_image(self, record: ShareRecord) -> bytes | None:
        return self._images.get(record.entry)


def make_app(folder: Path, limits: ClientLimits | None = None, clock=time.time) -> web.Application:
    """The share server's application on a spool folder (the tests run it on loopback)."""
    index = ShareIndex(folder)
    limits = limits or ClientLimits()
    counts = {"pages": 0, "images": 0, "refused": 0, "missed": 0}

    @web.middleware
    async def guard(request: web.Request, handler):
        now = time.monotonic()
        wait = limits.admit(request.remote or "?", now)
        if wait > 0:
            counts["refused"] += 1
            return web.Response(status=429, text="Too many requests\n", headers={"Retry-After": str(int(wait) + 1)})
        if request.method not in ("GET", "HEAD"):
            return web.Response(status=405, text="Method not allowed\n", headers={"Allow": ALLOWED})
        if request.body_exists:
            return web.Response(status=413, text="No request body is accepted\n")
        return await handler(request)

    def missed(request: web.Request) -> web.Response:
        counts["missed"] += 1
        limits.missed(request.remote or "?", time.monotonic())
        return web.Response(status=404, text=page.not_found_page(), content_type="text/html")

    async def capture_page(request: web.Request) -> web.Response:
        record = index.lookup(request.match_info["token"], clock())
        if record is None:
            return missed(request)
        counts["pages"] += 1
        return web.Response(text=page.capture_page(record), content_type="text/html")

    async def image(request: web.Request) -> web.Response:
        record = index.lookup(request.match_info["token"], clock())
        data = None if record is None else index.cached_image(record)
        if record is not None and data is None:
            data = await asyncio.get_running_loop().run_in_executor(None, index.read_image, record)
        if data is None:
            return missed(request)
        counts["images"] += 1
        headers = {}
        if request.match_info["kind"] == "download":
            headers["Content-Disposition"] = f'attachment; filename="{page.download_name(record)}"'
        return web.Response(body=data, content_type="image/png", headers=headers)

    async def home(request: web.Request) -> web.Response:
        return web.Response(text=page.help_page(), content_type="text/html")

    async def probe(request: web.Request) -> web.Response:
        status, kind, text = PROBES[request.path]
        return web.Response(status=status, text=text, content_type=kind) if text else web.Response(status=status)

    async def not_found(request: web.Request) -> web.Response:
        return web.Response(status=404, text=page.not_found_page(), content_type="text/html")

    async def secure(request: web.Request, response: web.StreamResponse) -> None:
        response.headers.update(SECURITY_HEADERS)
        response.headers["Server"] = "fse-share"  # not aiohttp's name and version

    async def prune_now() -> None:
        gone = await asyncio.get_running_loop().run_in_executor(None, share_spool.prune, folder, clock())
        if gone:
            log.info("removed %d expired link(s) from the spool", len(gone))

    async def pruning(app: web.Application):
        async def loop() -> None:
            while True:
                try:
                    await prune_now()
                except OSError as e:
                    log.warning("could not prune the share spool %s: %s", folder, e)
                await asyncio.sleep(PRUNE_EVERY_S)

        task = asyncio.create_task(loop())
        yield
        task.cancel()

    app = web.Application(middlewares=[guard], client_max_size=1024)
    app.router.add_get("/s/{token}", capture_page)
    app.router.add_get("/s/{token}/{kind:design.png|download}", image)
    app.router.add_get("/", home)
    for path in PROBES:
        app.router.add_get(path, probe)
    app.router.add_get("/{tail:.*}", not_found)
    app.on_response_prepare.append(secure)
    app.cleanup_ctx.append(pruning)
    app["counts"] = counts
    return app


def _systemd_socket() -> socket.socket | None:
    """The socket systemd passed (fse-share.socket), if it did."""
    if os.environ.get("LISTEN_PID") != str(os.getpid()) or int(os.environ.get("LISTEN_FDS", "0")) < 1:
        return None
    return socket.socket(fileno=SOCKET_FD)


async def serve(folder: Path, listen: str | None = None, sock: socket.socket | None = None, ready=None) -> None:
    """Serve on sock (systemd's), else on listen (HOST:PORT) until cancelled; ready(address) once it listens."""
    runner = web.AppRunner(
        make_app(folder),
        access_log=None,  # nothing about a visitor is kept
        max_line_size=MAX_LINE,
        max_field_size=MAX_FIELD,
        max_headers=MAX_HEADERS,
        keepalive_timeout=15,
    )
    await runner.setup()
    if sock is not None:
        site: web.BaseSite = web.SockSite(runner, sock)
    else:
        host, _, port = (listen or "127.0.0.1:8080").rpartition(":")
        site = web.TCPSite(runner, host or "0.0.0.0", int(port))
    await site.start()
    address = site.name
    log.info("serving the share spool %s on %s", folder, address)
    if ready is not None:
        ready(address)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    from ..config import ConfigError, load_config
    from ..sdnotify import ready

    p = argparse.ArgumentParser(prog="fse-share", description=__doc__.splitlines()[0])
    p.add_argument("--config", type=Path, help="a kiosk.toml (default: $FSE_CONFIG, else /etc/fse/kiosk.toml)")
    p.add_argument("--listen", metavar="HOST:PORT", help="listen here instead of on systemd's socket")
    p.add_argument(
        "--spool",
        type=Path,
        help="serve this spool and read no kiosk.toml (the booth's unit: the installer enables it only "
        "with sharing on, and the config, which holds the Wi-Fi passphrase, stays out of its reach)",
    )
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    folder = args.spool
    if folder is None:
        try:
            config = load_config(args.config)
        except ConfigError as e:
            print(f"fse-share: config error: {e}", file=sys.stderr)
            return 2
        if not config.sharing:
            print(
                f"fse-share: sharing is off ([share] sharing = false in {config.source}); set it to true and "
                f"restart fse-kiosk and fse-share",
                file=sys.stderr,
            )
            return 2
        folder = Path(config.state_dir) / share_spool.SPOOL_DIR
        folder.mkdir(mode=0o770, parents=True, exist_ok=True)  # a desktop may start this before the kiosk
    if not folder.is_dir():
        print(
            f"fse-share: the share spool {folder} does not exist; the kiosk (or the installer) makes it",
            file=sys.stderr,
        )
        return 2
    sock = _systemd_socket() if args.listen is None else None
    if sock is None and args.listen is None:
        args.listen = "127.0.0.1:8080"
    try:
        asyncio.run(serve(folder, args.listen, sock, lambda address: ready(f"serving on {address}")))
    except OSError as e:
        print(f"fse-share: cannot listen on {args.listen}: {e.strerror}; pick a free port", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
