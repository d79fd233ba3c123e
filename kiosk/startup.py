"""fse-kiosk's start-up: the command line, the config, the display, the models, and the error page.

    fse-kiosk                         # the booth: shipped models, fullscreen, joystick if present
    fse-kiosk --windowed              # a desktop window; Escape or closing the window quits
    fse-kiosk --joystick sim          # an in-process simulated joystick board
    fse-kiosk --z 0.1,0,0,0,0,0,0,-0.5 --print leopard     # start at a given design
    fse-kiosk --show2d                # start in map mode
    fse-kiosk --screenshot out.png [--frames N] [--size 1920x1080]   # headless screenshot
    python -m kiosk.startup ...       # the same without the installed script

Everything up to the first frame happens here; the running kiosk is `kiosk.app.App`. Whatever stops
the kiosk from starting once a screen exists (a bad kiosk.toml, a missing or corrupt model, a
manifest without a key) is shown full-screen, naming the problem and the fix, held for
ERROR_HOLD_S, then the process exits non-zero and systemd restarts it. Only a bad command line and
a missing display are one line on stderr (there is nothing to draw on).

    exit 2  command line or config error     exit 3  no display (or it went away: kiosk/display_link.py)     exit 4  models
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np

from contract.space import LATENT_DIM

from . import sdnotify, stop_signal
from .app import App
from .headless import screenshot

log = logging.getLogger("kiosk")

ERROR_HOLD_S = 30.0
"""How long a start-up error stays on screen before the process exits (systemd then restarts it).
Without the hold a booth would show a black screen flickering every 2 s (systemd's restart delay)."""


START_STEP_S = 600.0
"""Each start-up step (a model loaded, its TensorRT engines built) tells systemd to wait this much
more (sd_notify EXTEND_TIMEOUT_USEC) before ending the start: the first start after new models
builds engines for minutes, longer than an update trial's TimeoutStartSec (one watchdog window,
30 s), which would otherwise roll back a good update. A kiosk that hangs before its first step,
or stays in one step longer than this, is still ended and, in a trial, rolled back."""


class KioskStartError(Exception):
    """Start-up failed in a way the operator's screen explains; has a title and an exit code."""

    def __init__(self, title: str, message: str, code: int) -> None:
        super().__init__(message)
        self.title, self.code = title, code


# -- the command line ---------------------------------------------------------------------------


def _parse_z(text: str) -> np.ndarray:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--z {text!r}: give {LATENT_DIM} numbers separated by commas, e.g. --z 0,0.5,-1,0,0,0,0,0"
        ) from None
    if len(values) != LATENT_DIM or not np.isfinite(values).all():
        raise argparse.ArgumentTypeError(
            f"--z {text!r}: give exactly {LATENT_DIM} finite numbers separated by commas (got {len(values)})"
        )
    return np.asarray(values, np.float32)


def _parse_size(text: str) -> str:
    from .config.checks import display_size_problem

    problem = display_size_problem(text.lower())
    if problem:
        raise argparse.ArgumentTypeError(f"--size {text!r}: give {problem}")
    return text.lower()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="fse-kiosk",
        description="The Fashion Space Explorer kiosk.",
        epilog="Operator exit: Ctrl+Alt+Q, or hold capture + jump for 5 s.",
    )
    p.add_argument("--windowed", action="store_true", help="a window instead of fullscreen; Escape quits")
    p.add_argument("--joystick", help='"auto", "none", "sim" or a device path (default: config, else auto)')
    p.add_argument("--z", type=_parse_z, help="start at this design: 8 comma-separated numbers in [-1, 1]")
    p.add_argument("--print", dest="print_name", help='start with this print ("none" for plain)')
    p.add_argument("--show2d", action="store_true", help="start in map mode")
    p.add_argument(
        "--screenshot", type=Path, metavar="OUT.png", help="render headless and save a screenshot, then exit"
    )
    p.add_argument("--frames", type=int, default=2, help="frames to run before the screenshot (default 2)")
    p.add_argument("--size", type=_parse_size, help="screen size WxH (default: config display_size, 1920x1080)")
    p.add_argument("--provider", help="onnxruntime provider: auto, tensorrt, cuda or cpu")
    p.add_argument(
        "--config", type=Path, help="a kiosk.toml (default: $FSE_CONFIG, else /etc/fse/kiosk.toml if present)"
    )
    p.add_argument("--models", type=Path, help="the models directory (default: the shipped onnx_models/)")
    p.add_argument("--state-dir", type=Path, help="where captures and logs go")
    p.add_argument(
        "--attract-after",
        type=float,
        help="seconds of no input before attract mode (session_idle_s is raised to match if shorter)",
    )
    return p


def _join_negative_z(argv: list[str]) -> list[str]:
    """`--z -0.5,0,...` as `--z=-0.5,0,...`: argparse would take the leading minus for an option."""
    out = []
    i = 0
    while i < len(argv):
        if (
            argv[i] == "--z"
            and i + 1 < len(argv)
            and argv[i + 1][:1] == "-"
            and argv[i + 1][1:2].isdigit() | (argv[i + 1][1:2] == ".")
        ):
            out.append("--z=" + argv[i + 1])
            i += 2
            continue
        out.append(argv[i])
        i += 1
    return out


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("fashion-space-explorer")
    except Exception:
        return "dev"


def load_kiosk_config(args: argparse.Namespace):
    """The config with the command line's overrides.

    `--attract-after` longer than the configured session_idle_s raises session_idle_s to match (a
    session must outlast the attract delay, kiosk/config/checks.py's rule); a shorter one leaves it alone.
    """
    from .config import load_config

    overrides = {
        "models_dir": args.models,
        "state_dir": args.state_dir,
        "provider": args.provider,
        "joystick": args.joystick,
        "display_size": args.size,
        "fullscreen": False if (args.windowed or args.screenshot) else None,
    }
    config = load_config(args.config, overrides)
    if args.attract_after is not None:
        overrides["attract_after_s"] = args.attract_after
        overrides["session_idle_s"] = max(config.session_idle_s, args.attract_after)
        config = load_config(args.config, overrides)
    return config


# -- the display -------------------------------------------------------------------


def open_display(size: tuple[int, int], fullscreen: bool):
    """The pygame screen; raises KioskStartError(code 3) with a one-line reason when there is no display."""
    import pygame

    try:
        pygame.display.init()
        pygame.font.init()
        # SCALED: the screen is laid out once at `size` and SDL scales it to whatever the window or
        # display is, so a resized window or a display plugged in later shows the whole picture.
        # The dummy driver (headless, tests) has no renderer to scale with and no window to resize.
        headless = os.environ.get("SDL_VIDEODRIVER") in ("dummy", "offscreen")
        flags = 0 if headless and not fullscreen else pygame.SCALED
        flags |= pygame.FULLSCREEN if fullscreen else 0 if headless else pygame.RESIZABLE
        screen = pygame.display.set_mode(size, flags)
    except pygame.error as e:
        raise KioskStartError(
            "no display",
            f"no display to draw on ({e}); run it on the booth's screen "
            f"(DISPLAY or WAYLAND_DISPLAY set) or use --screenshot OUT.png for a headless render",
            3,
        ) from None
    pygame.display.set_caption("Fashion Space Explorer")
    stop_signal.install()
    return screen


def show_error(screen, args, title: str, message: str) -> None:
    """The full-screen error page (and the screenshot of it, with --screenshot)."""
    import pygame

    from .ui.splash import draw_error

    draw_error(screen, title, message)
    pygame.display.flip()
    if args.screenshot:
        pygame.image.save(screen, str(args.screenshot))


# -- start-up ----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (sys.argv's when argv is None); a bad one exits through argparse (one line, code 2)."""
    return parser().parse_args(_join_negative_z(sys.argv[1:] if argv is None else list(argv)))


def build_app(args: argparse.Namespace):
    """Everything up to the first frame: config, display, splash, models, prints, input, log.

    Tests: `build_app(parse_args(["--windowed", "--joystick", "none", ...]))`. Raises KioskStartError
    after showing it full-screen (config and models) or before any screen exists (no display).
    """
    from .config.checks import DEFAULT_DISPLAY_SIZE, ConfigError
    from .ui.splash import draw_splash

    if args.screenshot:
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    try:
        config, config_error = load_kiosk_config(args), None
    except ConfigError as e:
        config, config_error = None, e
    if config_error is not None:
        # The page needs a screen, and the config that would size it is what's broken: use the
        # command line's size and mode, else the defaults (the booth: fullscreen, SCALED to the panel).
        size = tuple(int(v) for v in (args.size or DEFAULT_DISPLAY_SIZE).split("x"))
        screen = open_display(size, fullscreen=not (args.windowed or args.screenshot))
        show_error(screen, args, "The kiosk settings have a problem", str(config_error))
        raise KioskStartError("config error", str(config_error), 2)
    logging.basicConfig(level=config.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    screen = open_display(config.display_wh, config.fullscreen)
    import pygame

    def progress(fraction: float, message: str) -> None:
        sdnotify.extend_start(START_STEP_S, f"starting: {message}")
        draw_splash(screen, fraction, message)
        pygame.display.flip()
        pygame.event.pump()

    progress(0.0, "starting")
    from .models import FashionModels, ModelError

    try:
        models = FashionModels.load(
            config.models_dir,
            config.provider,
            config.cache_dir,
            config.intra_op_threads,
            progress=lambda f, m: progress(0.1 + 0.6 * f, m),
        )
    except ModelError as e:
        show_error(screen, args, "The design models could not be loaded", str(e))
        raise KioskStartError("models", str(e), 4) from None

    progress(0.75, "loading prints")
    prints, prints_message = None, None
    try:
        from .prints import PrintError, Prints

        try:
            prints = Prints.load(config.models_dir, provider="cpu" if config.provider == "auto" else config.provider)
        except (PrintError, OSError) as e:
            prints_message = f"prints unavailable: {e}"
    except ImportError as e:
        prints_message = f"prints unavailable ({e})"
    if prints_message:
        log.warning(prints_message)
    try:
        start_print = start_print_name(args, config, prints)
    except KioskStartError as e:
        show_error(screen, args, "The kiosk settings have a problem", str(e))
        raise

    progress(0.85, "joystick")
    hub = None
    try:
        from .input import InputHub

        hub = InputHub(config.joystick, state_dir=config.state_dir, deadzone=config.deadzone, expo=config.expo)
        hub.start()
    except Exception as e:  # the joystick is optional; keyboard and mouse always work
        log.warning("joystick input unavailable: %s", e)
        hub = None

    progress(0.92, "capture log")
    capture_log = None
    try:
        from .capture.log import CaptureLog

        capture_log = CaptureLog.from_config(config, models.latent.space)
    except Exception as e:
        log.error("capture log unavailable, captures are off: %s", e)

    app = App(
        screen,
        config,
        models,
        prints,
        prints_message,
        hub,
        capture_log,
        windowed=not config.fullscreen or bool(args.screenshot),
        start_z=args.z,
        start_print=start_print,
        show2d=args.show2d,
        version=_version(),
    )
    return app


def start_print_name(args, config, prints) -> str:
    """The print to start with (--print, else kiosk.toml's default_print), as the catalogue spells
    it: a wrong case is accepted, an unknown name is a config error listing the prints. With the
    prints unavailable the name is kept as given (the kiosk says so in a toast and shows it plain)."""
    from .prints import PrintError

    name = args.print_name or config.default_print
    if prints is None:
        return name
    try:
        return prints.resolve(name)
    except PrintError as e:
        where = "--print" if args.print_name else f"[session] default_print ({config.source})"
        raise KioskStartError("config error", f"{where}: {e}", 2) from None


def _hold_error_screen(seconds: float) -> None:
    """Keep a start-up error readable for a while (skipped headless); any key ends it early."""
    import pygame

    if os.environ.get("SDL_VIDEODRIVER") in ("dummy", "offscreen"):
        return
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not stop_signal.stop_requested():
        for event in pygame.event.get():
            if event.type == pygame.KEYDOWN:
                return
        time.sleep(0.1)


def main(argv: list[str] | None = None) -> int:
    """fse-kiosk (pyproject.toml's entry point); the exit codes are in this module's docstring."""
    args = parse_args(argv)
    try:
        app = build_app(args)
    except KioskStartError as e:
        print(f"fse-kiosk: {e.title}: {e}" if e.code == 2 else f"fse-kiosk: {e}", file=sys.stderr)
        if e.code != 3:
            _hold_error_screen(ERROR_HOLD_S)
        return e.code
    if args.screenshot:
        try:
            screenshot(app, args.screenshot, args.frames)
        except TimeoutError as e:
            print(f"fse-kiosk: screenshot: {e}", file=sys.stderr)
            return 1
        finally:
            app.shutdown()
        print(f"wrote {args.screenshot}")
        return 0
    return app.run()


if __name__ == "__main__":
    sys.exit(main())
