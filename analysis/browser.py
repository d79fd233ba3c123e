"""Drive headless Chromium over the DevTools protocol (pipe transport, stdlib only).

Used by the report's browser test and to make the report screenshot for the docs:

    python -m analysis.browser report/index.html docs/img/report.png --click-capture 3 --hover-capture 0

No websocket library, no Playwright browser download: Chromium's `--remote-debugging-pipe` reads
JSON commands (NUL-terminated) on fd 3 and writes replies and events on fd 4.
"""

from __future__ import annotations

import argparse
import base64
import itertools
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
)


class BrowserError(Exception):
    """Chromium is missing, died, or a page never got where it was expected to."""


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Chromium:
    """One headless browser with one page; `with Chromium() as browser: browser.open(url) ...`."""

    def __init__(self, width: int = 1400, height: int = 1100, executable: str | None = None):
        self.executable = executable or find_chromium()
        if self.executable is None:
            raise BrowserError("chromium is not installed; install it with `apt-get install chromium`")
        self.width, self.height = width, height
        self._ids = itertools.count(1)
        self._buffer = b""
        self.session: str | None = None

    def __enter__(self) -> "Chromium":
        self._profile = tempfile.TemporaryDirectory(prefix="fse-chromium-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # bash moves the pipe ends to fds 3 and 4, where Chromium's pipe transport expects them; via
        # fds 100/101 because the pipe ends may themselves be 3 or 4.
        script = (
            f"exec 100<&{to_browser_r} 101>&{from_browser_w}; exec {to_browser_r}<&- {from_browser_w}>&-; "
            f'exec 3<&100 4>&101 100<&- 101>&-; exec "$@"'
        )
        self._process = subprocess.Popen(
            [
                "bash",
                "-c",
                script,
                "bash",
                self.executable,
                *FLAGS,
                f"--user-data-dir={self._profile.name}",
                f"--window-size={self.width},{self.height}",
                "about:blank",
            ],
            pass_fds=(to_browser_r, from_browser_w),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        try:
            target = self._page_target()
            self.session = self.send("Target.attachToTarget", targetId=target, flatten=True, session=False)["sessionId"]
            self.send("Page.enable")
            self.send("Runtime.enable")
            self.send(
                "Emulation.setDeviceMetricsOverride",
                width=self.width,
                height=self.height,
                deviceScaleFactor=1,
                mobile=False,
            )
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.send("Browser.close", session=False, timeout=5)
        except (BrowserError, OSError):
            pass
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        for fd in (self._to_browser, self._from_browser):
            try:
                os.close(fd)
            except OSError:
                pass
        self._profile.cleanup()

    # -- protocol ----------------------------------------------------------------------------
    def send(self, method: str, session: bool = True, timeout: float = 30, **params) -> dict:
        message_id = next(self._ids)
        message = {"id": message_id, "method": method, "params": params}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == message_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError("chromium did not answer in time")
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if ready:
                chunk = os.read(self._from_browser, 1 << 20)
                if not chunk:
                    stderr = (
                        self._process.stderr.read().decode(errors="replace")[-2000:] if self._process.stderr else ""
                    )
                    raise BrowserError(f"chromium exited: {stderr}")
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def _page_target(self) -> str:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for target in self.send("Target.getTargets", session=False)["targetInfos"]:
                if target["type"] == "page":
                    return target["targetId"]
            time.sleep(0.05)
        raise BrowserError("chromium opened no page")

    # -- page --------------------------------------------------------------------------------
    def open(self, url: str) -> None:
        self.send("Page.navigate", url=url)
        self.wait_for("document.readyState === 'complete'")

    def evaluate(self, expression: str):
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise BrowserError(
                f"{expression[:80]}...: {result['exceptionDetails'].get('exception', {}).get('description')}"
            )
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30):
        """Poll a JS expression until it is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise BrowserError(f"timed out waiting for: {expression}")
            time.sleep(0.1)

    def mouse_move(self, x: float, y: float) -> None:
        self.send("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)

    def click(self, x: float, y: float) -> None:
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def drag(self, points: list[tuple[float, float]]) -> None:
        """Press at the first point, move through the others with the button held, release at the last."""
        (x, y), *rest = points
        self.send("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)
        self.send("Input.dispatchMouseEvent", type="mousePressed", x=x, y=y, button="left", buttons=1, clickCount=1)
        for x, y in rest:
            self.send("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y, button="left", buttons=1)
        self.send("Input.dispatchMouseEvent", type="mouseReleased", x=x, y=y, button="left", buttons=0, clickCount=1)

    def allow_downloads(self, directory: Path) -> None:
        """Files the page downloads land in `directory` (headless Chromium drops them otherwise)."""
        self.send("Browser.setDownloadBehavior", session=False, behavior="allow", downloadPath=str(directory))

    def screenshot(self, path: Path) -> None:
        data = self.send("Page.captureScreenshot", format="png")["data"]
        Path(path).write_bytes(base64.b64decode(data))


# ---------------------------------------------------------------------------------------------
# The report page's Bokeh plot, seen from the browser

PLOT_READY = """(() => {
  if (!window.Bokeh || !Bokeh.documents || !Bokeh.documents.length || !(window.fse && window.fse.ready)) return false;
  const doc = Bokeh.documents[0];
  const view = Bokeh.index.find_one(doc.get_model_by_name('map'));
  return view != null && view.canvas_view.el.getBoundingClientRect().width > 0 && view.is_idle;
})()"""


def point_on_screen(browser: Chromium, renderer: str, index: int) -> tuple[float, float]:
    """Page coordinates of point `index` of the named renderer ('points' or 'captures')."""
    return tuple(
        browser.evaluate(f"""(() => {{
      const doc = Bokeh.documents[0];
      const renderer = doc.get_model_by_name('{renderer}');
      const view = Bokeh.index.find_one(renderer);
      const data = renderer.data_source.data;
      const sx = view.coordinates.x_scale.compute(data.x[{index}]);
      const sy = view.coordinates.y_scale.compute(data.y[{index}]);
      const box = Bokeh.index.find_one(doc.get_model_by_name('map')).canvas_view.el.getBoundingClientRect();
      return [box.left + sx, box.top + sy];
    }})()""")
    )


VISIBLE_HOVER_IMAGES = """(() => {
  const found = [];
  const walk = (root) => {
    for (const el of root.querySelectorAll('*')) {
      if (el.shadowRoot) walk(el.shadowRoot);
      if (el.tagName === 'IMG' && el.src.startsWith('data:image') && el.closest('.fse-hover')) {
        const r = el.getBoundingClientRect();
        if (r.width > 0 && r.height > 0 && el.complete && el.naturalWidth > 0) found.push(el.alt);
      }
    }
  };
  walk(document);
  return found;
})()"""


VISIBLE_TOOLTIPS = """(() => {
  const found = [];
  const walk = (root) => {
    for (const el of root.querySelectorAll('*')) {
      if (el.shadowRoot) walk(el.shadowRoot);
      if (el.classList && el.classList.contains('fse-hover') && el.getBoundingClientRect().width > 0)
        found.push(el.innerText.trim());
    }
  };
  walk(document);
  return found;
})()"""
"""The text of every report tooltip on screen (one per hovered point that shows a tooltip)."""


def zoom_map(browser: Chromium, factor: float) -> None:
    """Scale the map's view about its centre (factor > 1 zooms out) and wait for the redraw."""
    browser.evaluate(f"""(() => {{
      const plot = Bokeh.documents[0].get_model_by_name('map');
      for (const r of [plot.x_range, plot.y_range]) {{
        const mid = (r.start + r.end) / 2, half = (r.end - r.start) / 2 * {factor};
        r.setv({{start: mid - half, end: mid + half}});
      }}
    }})()""")
    browser.wait_for(PLOT_READY)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analysis.browser", description="Screenshot a report page.")
    parser.add_argument("page", type=Path)
    parser.add_argument("screenshot", type=Path)
    parser.add_argument("--hover-capture", type=int, help="hover this capture before the screenshot")
    parser.add_argument("--click-capture", type=int, help="click this capture first (its details show)")
    parser.add_argument("--size", default="1400x1100", help="window WIDTHxHEIGHT (%(default)s)")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    with Chromium(width=width, height=height) as browser:
        browser.open(args.page.resolve().as_uri())
        browser.wait_for(PLOT_READY)
        if args.click_capture is not None:
            browser.click(*point_on_screen(browser, "captures", args.click_capture))
            browser.wait_for(
                "document.getElementById('details-command') && "
                "[...document.querySelectorAll('#details-body img')].every(i => i.complete)"
            )
        if args.hover_capture is not None:
            browser.mouse_move(*point_on_screen(browser, "captures", args.hover_capture))
            browser.wait_for(VISIBLE_HOVER_IMAGES + ".length > 0")
        browser.screenshot(args.screenshot)
    print(args.screenshot)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
