"""Every key of kiosk.toml: the table it lives in, why it exists, its default, its check and its
environment variable, as the fields of one frozen dataclass (`KioskConfig`)."""

from __future__ import annotations

import dataclasses
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from contract.models import shipped_models_dir

from .checks import (
    DEFAULT_DISPLAY_SIZE,
    LOG_LEVELS,
    PROVIDERS,
    display_size_problem,
    in_range,
    joystick_problem,
    one_of,
    passphrase_problem,
    print_name_problem,
    printer_problem,
    share_url_problem,
    short_text,
    ssid_problem,
)

SECTIONS = ("booth", "paths", "inference", "display", "session", "input", "log", "share")
"""kiosk.toml's tables, in the example file's order."""


# ---------------------------------------------------------------------------------------------
# Defaults that depend on the machine (computed when a config is built, not at import).


def _writable_dir(system: str, user: str) -> Path:
    """The system directory if this process may write there (the booth's service), else the user's.

    systemd creates /var/lib/fse and /var/cache/fse for the service (StateDirectory=,
    CacheDirectory=); on a desktop they don't exist or belong to root, so the kiosk uses XDG paths.
    """
    system_path = Path(system)
    if system_path.is_dir() and os.access(system_path, os.W_OK | os.X_OK):
        return system_path
    return Path(user).expanduser()


def _default_state_dir() -> Path:
    return _writable_dir("/var/lib/fse", os.environ.get("XDG_STATE_HOME", "~/.local/state") + "/fse")


def _default_cache_dir() -> Path:
    return _writable_dir("/var/cache/fse", os.environ.get("XDG_CACHE_HOME", "~/.cache") + "/fse")


def _default_booth_id() -> str:
    return socket.gethostname() or "booth"


# ---------------------------------------------------------------------------------------------
# The keys


def _key(
    section: str,
    doc: str,
    *,
    default: Any = dataclasses.MISSING,
    factory: Callable[[], Any] | None = None,
    check: Callable[[Any], str | None] | None = None,
    env: str | None = None,
    example: str | None = None,
) -> Any:
    """One config key: the table it lives in, why it exists, its default and its validator.

    example: what the example file shows for a default computed on the machine (a hostname, a path).
    """
    assert section in SECTIONS, section
    assert (factory is None) == (example is None), "a machine-dependent default needs an example"
    metadata = {"section": section, "doc": doc, "check": check, "env": env, "example": example}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class KioskConfig:
    """Everything the kiosk can be told; the field order is the order of the example file."""

    # [booth]
    booth_id: str = _key(
        "booth",
        "Names this booth in logs and exported captures; the hostname by default.",
        factory=_default_booth_id,
        example="booth-01",
        check=lambda v: None if v.strip() else "a non-empty name",
    )

    # [paths]
    models_dir: Path = _key(
        "paths",
        "The ONNX models and their manifest (the only thing the kiosk takes from training).",
        factory=shipped_models_dir,
        env="FSE_MODELS_DIR",
        example="/opt/fse/onnx_models",
    )
    state_dir: Path = _key(
        "paths",
        "Logs, the session database and captures; /var/lib/fse under systemd, else ~/.local/state/fse.",
        factory=_default_state_dir,
        env="FSE_STATE_DIR",
        example="/var/lib/fse",
    )
    cache_dir: Path = _key(
        "paths",
        "TensorRT engine and timing caches (rebuilt if deleted, minutes on first boot); /var/cache/fse or ~/.cache/fse.",
        factory=_default_cache_dir,
        env="FSE_CACHE_DIR",
        example="/var/cache/fse",
    )

    # [inference]
    provider: str = _key(
        "inference",
        "onnxruntime provider: auto tries TensorRT, then CUDA, then CPU.",
        default="auto",
        check=one_of(*PROVIDERS),
    )
    intra_op_threads: int = _key(
        "inference",
        "Threads per model run; 1 leaves the other cores to the UI and input.",
        default=1,
        check=in_range(1, 64),
    )

    # [display]
    fullscreen: bool = _key(
        "display", "Take the whole screen (the booth); false opens a window (a desktop).", default=True
    )
    display_size: str = _key(
        "display",
        "The size the kiosk draws at; pygame SCALED stretches it to the real screen.",
        default=DEFAULT_DISPLAY_SIZE,
        check=display_size_problem,
    )

    # [session]
    attract_after_s: float = _key(
        "session",
        "Seconds without input before the attract loop starts wandering the space.",
        default=60.0,
        check=in_range(5, 3600),
    )
    session_idle_s: float = _key(
        "session",
        "Seconds without input after which the visitor's session is closed and logged.",
        default=90.0,
        check=in_range(5, 3600),
    )
    default_print: str = _key(
        "session",
        'The print (texture) a new session starts with; "none" is plain.',
        default="none",
        check=print_name_problem,
    )

    # [input]
    joystick: str = _key(
        "input",
        "auto finds the board (/dev/fse-joystick, then USB serial); none = keyboard only; sim = simulated board; or a device path.",
        default="auto",
        check=joystick_problem,
    )
    deadzone: float = _key(
        "input",
        "Stick deflection (0..1) ignored around centre, so a resting stick doesn't drift.",
        default=0.08,
        check=in_range(0.0, 0.5),
    )
    expo: float = _key(
        "input",
        "Response curve: 0 is linear, 1 is cubic (fine control near centre).",
        default=0.3,
        check=in_range(0.0, 1.0),
    )
    steer_rate: float = _key(
        "input",
        "Parameter units per second at full deflection; the space spans -1..1 per axis.",
        default=1.5,
        check=in_range(0.05, 20.0),
    )
    glide_s: float = _key(
        "input",
        "Seconds a jump (landmark, hyperspace) takes to glide to its target.",
        default=1.0,
        check=in_range(0.0, 10.0),
    )
    jump_temperature: float = _key(
        "input",
        "Hyperspace jumps: 1 lands anywhere the training garments are (sliders uniform in -1..1); below 1 "
        "stays nearer the middle of the learned prior (0.8: fewer odd shapes, a little less variety; docs/training.md).",
        default=1.0,
        check=in_range(0.3, 1.0),
    )

    # [log]
    log_level: str = _key("log", "How much the kiosk writes to the journal.", default="info", check=one_of(*LOG_LEVELS))
    trail_hz: float = _key(
        "log",
        "How often the visitor's position is logged to the trail (per second).",
        default=2.0,
        check=in_range(0.1, 60.0),
    )
    disk_floor_mb: int = _key(
        "log",
        "Stop writing captures and trails when free space under state_dir falls below this.",
        default=200,
        check=in_range(0, 1_000_000),
    )
    keep_free_mb: int = _key(
        "log",
        "Retention: below this much free space under state_dir, delete the oldest captures an export has already copied (never one it has not); 0 turns it off.",
        default=1000,
        check=in_range(0, 1_000_000),
    )

    # [share]
    sharing: bool = _key(
        "share",
        "Take your design home: after a capture the screen shows a QR code for it, served to phones by fse-share.",
        default=False,
        env="FSE_SHARING",
    )
    share_url: str = _key(
        "share",
        "The address phones reach fse-share at (the QR code's links start with it); the hotspot's is http://10.42.0.1.",
        default="http://10.42.0.1",
        check=share_url_problem,
        env="FSE_SHARE_URL",
    )
    link_minutes: int = _key(
        "share",
        "Minutes a capture's link works; then its image is removed from the share spool.",
        default=120,
        check=in_range(1, 10080),
    )
    event_name: str = _key(
        "share",
        "The event, shown on the phone's page under the design; empty for none.",
        default="",
        check=short_text(60),
    )
    hotspot: bool = _key(
        "share",
        "The booth runs its own Wi-Fi (NetworkManager, WPA2, installed by make install-appliance); the screen shows a Wi-Fi QR code beside the design's.",
        default=False,
    )
    wifi_ssid: str = _key("share", "The hotspot's Wi-Fi name.", default="FSE-Booth", check=ssid_problem)
    wifi_passphrase: str = _key(
        "share",
        "The hotspot's WPA2 passphrase, new for every event (8-63 characters); shown on screen as a Wi-Fi QR code.",
        default="",
        check=passphrase_problem,
    )
    spool_max_count: int = _key(
        "share",
        "At most this many captures wait in the share spool; the oldest link goes first.",
        default=500,
        check=in_range(1, 100_000),
    )
    spool_max_mb: int = _key(
        "share",
        "At most this many MB of images wait in the share spool; the oldest link goes first.",
        default=1000,
        check=in_range(10, 1_000_000),
    )
    printer: str = _key(
        "share",
        'A receipt printer (ESC/POS) prints each capture with its QR code: its device, such as "/dev/usb/lp0"; empty for none.',
        default="",
        check=printer_problem,
    )

    # Where the values came from, for the diagnostics overlay; not a key.
    source: str = field(default="embedded defaults", compare=False, metadata={"section": None})

    @property
    def display_wh(self) -> tuple[int, int]:
        """display_size as (width, height)."""
        width, height = self.display_size.split("x")
        return int(width), int(height)


def keys() -> list[dataclasses.Field]:
    """The config keys in file order (every field but `source`)."""
    return [f for f in dataclasses.fields(KioskConfig) if f.metadata.get("section")]


KEYS = {f.name: f for f in keys()}
"""The config keys by name."""
