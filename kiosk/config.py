"""The kiosk's settings: every key, its default and why, in one place.

The booth reads `/etc/fse/kiosk.toml` (see `systemd/kiosk.toml.example`); a desktop needs no file
at all, the embedded defaults below run the kiosk windowed-or-fullscreen on the shipped models.
Precedence, lowest first: embedded default < config file < environment (FSE_MODELS_DIR,
FSE_STATE_DIR, FSE_CACHE_DIR, FSE_CONFIG picks the file) < `overrides` (the command line).

The file is grouped in TOML tables; each key lives in exactly one table:

    [booth]     booth_id
    [paths]     models_dir, state_dir, cache_dir
    [inference] provider, intra_op_threads
    [display]   fullscreen, display_size
    [session]   attract_after_s, session_idle_s, default_print
    [input]     joystick, deadzone, expo, steer_rate, glide_s, jump_temperature
    [log]       log_level, trail_hz, disk_floor_mb, keep_free_mb
    [share]     sharing, share_url, link_minutes, event_name, hotspot, wifi_ssid, wifi_passphrase,
                spool_max_count, spool_max_mb, printer

Unknown keys are errors, not ignored: a typo in a booth config should stop the kiosk with a
message that names it, not silently run with a default.

To add a key: add one field to `KioskConfig` with `_key(section, doc, ...)`; validation, the
example file (`python -m kiosk.config --example`) and the docs test all follow from it.

    python -m kiosk.config            # print the effective config as TOML (what the kiosk would use)
    python -m kiosk.config --example  # print a commented example with every key and its default
"""

from __future__ import annotations

import dataclasses
import os
import re
import socket
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from contract.models import shipped_models_dir

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on 3.10
    import tomli as tomllib

DEFAULT_CONFIG_PATH = Path("/etc/fse/kiosk.toml")

SECTIONS = ("booth", "paths", "inference", "display", "session", "input", "log", "share")

PROVIDERS = ("auto", "tensorrt", "cuda", "cpu")
JOYSTICK_MODES = ("auto", "none", "sim")
LOG_LEVELS = ("debug", "info", "warning", "error")


class ConfigError(ValueError):
    """A setting the kiosk cannot run with; the message names the key, the value and what's allowed."""


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
# Validators: each returns None when the value is fine, else the "allowed" half of the message.


def _choice(*allowed: str) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        return None if value in allowed else "one of " + ", ".join(f'"{a}"' for a in allowed)

    return check


def _range(low: float | None = None, high: float | None = None) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if (low is None or value >= low) and (high is None or value <= high):
            return None
        if high is None:
            return f"a number >= {low}"
        if low is None:
            return f"a number <= {high}"
        return f"a number from {low} to {high}"

    return check


def _joystick(value: str) -> str | None:
    if value in JOYSTICK_MODES or value.startswith(("/", "evdev:")):
        return None
    return '"auto", "none", "sim", a serial device path such as "/dev/fse-joystick" or "evdev:/dev/input/eventN"'


DEFAULT_DISPLAY_SIZE = "1920x1080"
DISPLAY_MIN = (320, 320)
"""Below this the layout's text no longer fits its panels."""
DISPLAY_MAX = (7680, 4320)
"""8K: the kiosk draws at this size in memory (pygame SCALED stretches it), so a typo such as
99999x99999 would ask for a 40 GB surface instead of a window."""
_SIZE = re.compile(r"^([0-9]{1,6})x([0-9]{1,6})$")


def display_size_problem(value: str) -> str | None:
    """None when `value` is a usable WIDTHxHEIGHT, else what is allowed (also --size's check)."""
    allowed = (
        f"WIDTHxHEIGHT in pixels from {DISPLAY_MIN[0]}x{DISPLAY_MIN[1]} to {DISPLAY_MAX[0]}x{DISPLAY_MAX[1]}, "
        f'such as "1920x1080"'
    )
    match = _SIZE.match(value)
    if not match:
        return allowed
    width, height = int(match[1]), int(match[2])
    if not (DISPLAY_MIN[0] <= width <= DISPLAY_MAX[0] and DISPLAY_MIN[1] <= height <= DISPLAY_MAX[1]):
        return allowed
    return None


def _print_name(value: str) -> str | None:
    # The print catalogue is the prints module's business (start-up checks the name against it,
    # ignoring case); here only the name's shape is checked.
    return None if re.fullmatch(r"[A-Za-z0-9_-]+", value) else 'a print name such as "none" (letters, digits, - and _)'


_SHARE_URL = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~-]+)*")


def _share_url(value: str) -> str | None:
    # Phones open it from the QR code: a plain http(s) address of the booth, no query, no trailing slash.
    return (
        None if _SHARE_URL.fullmatch(value) else 'an http address without a trailing slash, such as "http://10.42.0.1"'
    )


def _short_text(limit: int) -> Callable[[Any], str | None]:
    def check(value: str) -> str | None:
        ok = len(value) <= limit and value.isprintable()
        return None if ok else f"printable text of at most {limit} characters"

    return check


def _ssid(value: str) -> str | None:
    ok = 1 <= len(value.encode()) <= 32 and value.isprintable()
    return None if ok else "a Wi-Fi name of 1 to 32 bytes, printable"


def _passphrase(value: str) -> str | None:
    # WPA2-PSK: 8 to 63 printable ASCII characters ("" only while the hotspot is off).
    ok = value == "" or (8 <= len(value) <= 63 and all(" " <= c <= "~" for c in value))
    return None if ok else "8 to 63 printable ASCII characters (WPA2), or empty while hotspot = false"


def _printer(value: str) -> str | None:
    return (
        None if value == "" or value.startswith("/") else 'empty (no printer) or a device path such as "/dev/usb/lp0"'
    )


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
        check=_choice(*PROVIDERS),
    )
    intra_op_threads: int = _key(
        "inference",
        "Threads per model run; 1 leaves the other cores to the UI and input.",
        default=1,
        check=_range(1, 64),
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
        check=_range(5, 3600),
    )
    session_idle_s: float = _key(
        "session",
        "Seconds without input after which the visitor's session is closed and logged.",
        default=90.0,
        check=_range(5, 3600),
    )
    default_print: str = _key(
        "session", 'The print (texture) a new session starts with; "none" is plain.', default="none", check=_print_name
    )

    # [input]
    joystick: str = _key(
        "input",
        "auto finds the board (/dev/fse-joystick, then USB serial); none = keyboard only; sim = simulated board; or a device path.",
        default="auto",
        check=_joystick,
    )
    deadzone: float = _key(
        "input",
        "Stick deflection (0..1) ignored around centre, so a resting stick doesn't drift.",
        default=0.08,
        check=_range(0.0, 0.5),
    )
    expo: float = _key(
        "input",
        "Response curve: 0 is linear, 1 is cubic (fine control near centre).",
        default=0.3,
        check=_range(0.0, 1.0),
    )
    steer_rate: float = _key(
        "input",
        "Parameter units per second at full deflection; the space spans -1..1 per axis.",
        default=1.5,
        check=_range(0.05, 20.0),
    )
    glide_s: float = _key(
        "input",
        "Seconds a jump (landmark, hyperspace) takes to glide to its target.",
        default=1.0,
        check=_range(0.0, 10.0),
    )
    jump_temperature: float = _key(
        "input",
        "Hyperspace jumps: 1 lands anywhere the training garments are (sliders uniform in -1..1); below 1 "
        "stays nearer the middle of the learned prior (0.8: fewer odd shapes, a little less variety; docs/training.md).",
        default=1.0,
        check=_range(0.3, 1.0),
    )

    # [log]
    log_level: str = _key(
        "log", "How much the kiosk writes to the journal.", default="info", check=_choice(*LOG_LEVELS)
    )
    trail_hz: float = _key(
        "log",
        "How often the visitor's position is logged to the trail (per second).",
        default=2.0,
        check=_range(0.1, 60.0),
    )
    disk_floor_mb: int = _key(
        "log",
        "Stop writing captures and trails when free space under state_dir falls below this.",
        default=200,
        check=_range(0, 1_000_000),
    )
    keep_free_mb: int = _key(
        "log",
        "Retention: below this much free space under state_dir, delete the oldest captures an export has already copied (never one it has not); 0 turns it off.",
        default=1000,
        check=_range(0, 1_000_000),
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
        check=_share_url,
        env="FSE_SHARE_URL",
    )
    link_minutes: int = _key(
        "share",
        "Minutes a capture's link works; then its image is removed from the share spool.",
        default=120,
        check=_range(1, 10080),
    )
    event_name: str = _key(
        "share",
        "The event, shown on the phone's page under the design; empty for none.",
        default="",
        check=_short_text(60),
    )
    hotspot: bool = _key(
        "share",
        "The booth runs its own Wi-Fi (NetworkManager, WPA2, installed by make install-appliance); the screen shows a Wi-Fi QR code beside the design's.",
        default=False,
    )
    wifi_ssid: str = _key("share", "The hotspot's Wi-Fi name.", default="FSE-Booth", check=_ssid)
    wifi_passphrase: str = _key(
        "share",
        "The hotspot's WPA2 passphrase, new for every event (8-63 characters); shown on screen as a Wi-Fi QR code.",
        default="",
        check=_passphrase,
    )
    spool_max_count: int = _key(
        "share",
        "At most this many captures wait in the share spool; the oldest link goes first.",
        default=500,
        check=_range(1, 100_000),
    )
    spool_max_mb: int = _key(
        "share",
        "At most this many MB of images wait in the share spool; the oldest link goes first.",
        default=1000,
        check=_range(10, 1_000_000),
    )
    printer: str = _key(
        "share",
        'A receipt printer (ESC/POS) prints each capture with its QR code: its device, such as "/dev/usb/lp0"; empty for none.',
        default="",
        check=_printer,
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


_KEYS = {f.name: f for f in keys()}


# ---------------------------------------------------------------------------------------------
# Type checking and conversion


def _type_name(kind: type) -> str:
    return {bool: "true or false", int: "a whole number", float: "a number", str: "a string", Path: "a path string"}[
        kind
    ]


def _field_type(f: dataclasses.Field) -> type:
    return {"str": str, "int": int, "float": float, "bool": bool, "Path": Path}[str(f.type)]


def _convert(name: str, value: Any, from_text: bool, where: str) -> Any:
    """value as the key's type, or a ConfigError that says what was wrong and what is allowed."""
    f = _KEYS[name]
    kind = _field_type(f)
    section = f.metadata["section"]
    label = f"[{section}] {name}"

    def bad(allowed: str) -> ConfigError:
        return ConfigError(f"{where}: {label} = {value!r} is not allowed; expected {allowed}")

    if from_text and isinstance(value, str) and kind is not str and kind is not Path:
        text = value.strip().lower()
        try:
            if kind is bool:
                if text not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                    raise ValueError
                value = text in ("true", "1", "yes", "on")
            else:
                value = kind(text)
        except ValueError:
            raise bad(_type_name(kind)) from None

    # bool is an int in Python; a config that says `intra_op_threads = true` is a mistake.
    if kind is bool:
        ok = isinstance(value, bool)
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif kind is Path:
        ok = isinstance(value, (str, Path)) and str(value) != ""
    else:
        ok = isinstance(value, str)
    if not ok:
        raise bad(_type_name(kind))
    if kind in (str, Path) and not str(value).isprintable():  # a NUL or a control character
        raise bad(f"{_type_name(kind)} of printable characters")
    if kind is Path:
        try:
            value = Path(value).expanduser()
        except RuntimeError:  # "~nosuchuser/x": no such user (or no home) on this machine
            raise bad(f"a path; {str(value).split('/')[0]} names no user's home here, write the whole path") from None

    check = f.metadata["check"]
    problem = check(value) if check else None
    if problem:
        raise bad(problem)
    return value


def _suggest_section(name: str) -> str:
    f = _KEYS.get(name)
    return f" (it belongs in [{f.metadata['section']}])" if f else ""


CONFIG_LIMIT = 64 << 10
"""kiosk.toml is a few KB; a bigger "config" (a link to /dev/zero, a log file) is refused unread."""


def _read_bounded(path: Path) -> str:
    """A regular file's text, at most CONFIG_LIMIT bytes: a FIFO, a device or a huge file is refused
    without blocking or reading it whole."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(path)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(
                f"config file {path} is not a regular file (a device, a pipe or a socket); "
                f"point --config or FSE_CONFIG at the kiosk.toml itself"
            )
        if info.st_size > CONFIG_LIMIT:
            raise ConfigError(
                f"config file {path} is {info.st_size:,} bytes, more than a kiosk.toml ever is "
                f"({CONFIG_LIMIT >> 10} KB); point --config or FSE_CONFIG at the kiosk.toml itself"
            )
        return os.read(fd, CONFIG_LIMIT + 1).decode("utf-8")
    finally:
        os.close(fd)


def _read_file(path: Path) -> dict[str, Any]:
    """The file's keys as a flat {name: value}, checking each sits in its own table."""
    try:
        document = tomllib.loads(_read_bounded(path))
    except RecursionError:
        raise ConfigError(f"config file {path} is not valid TOML: nested too deeply; fix the file") from None
    except FileNotFoundError:
        raise ConfigError(
            f"config file {path} does not exist; create it (see systemd/kiosk.toml.example) "
            f"or leave out the path to use the defaults"
        ) from None
    except PermissionError:
        raise ConfigError(
            f"config file {path} cannot be read by this user; make it readable (chmod 644 {path})"
        ) from None
    except IsADirectoryError:
        raise ConfigError(
            f"config file {path} is a directory, not a file; give the path of the kiosk.toml "
            f"itself (e.g. {path / 'kiosk.toml'})"
        ) from None
    except UnicodeDecodeError as error:
        line = error.object[: error.start].count(b"\n") + 1
        raise ConfigError(
            f"config file {path} is not UTF-8 text (byte 0x{error.object[error.start]:02x} on line "
            f"{line}); TOML files must be UTF-8: re-save it as UTF-8 "
            f"(iconv -f latin1 -t utf-8 {path} > {path}.utf8 && mv {path}.utf8 {path})"
        ) from None
    except OSError as error:
        raise ConfigError(
            f"config file {path} cannot be read ({error.strerror}); check the path and the disk"
        ) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file {path} is not valid TOML: {error}; fix that line") from None

    values: dict[str, Any] = {}
    for section, table in document.items():
        if section not in SECTIONS:
            hint = _suggest_section(section)
            raise ConfigError(
                f"{path}: unknown key or table {section!r}{hint}; "
                f"allowed tables are " + ", ".join(f"[{s}]" for s in SECTIONS)
            )
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: {section!r} must be a table ([{section}]), not a value")
        for name, value in table.items():
            f = _KEYS.get(name)
            if f is None:
                allowed = ", ".join(k for k, kf in _KEYS.items() if kf.metadata["section"] == section)
                raise ConfigError(
                    f"{path}: unknown key [{section}] {name!r}; keys allowed in [{section}] are {allowed}"
                )
            if f.metadata["section"] != section:
                raise ConfigError(f"{path}: key {name!r} is in [{section}]{_suggest_section(name)}; move it there")
            values[name] = _convert(name, value, from_text=False, where=str(path))
    return values


def load_config(path: Path | None = None, overrides: dict | None = None) -> KioskConfig:
    """The effective config: defaults, then the file, then the environment, then overrides.

    path: a TOML file; None means $FSE_CONFIG if set, else /etc/fse/kiosk.toml if it exists, else
    no file. overrides: flat {key: value} from the command line; None values are skipped so argparse
    results can be passed straight in, and strings are converted ("false", "2.5") to the key's type.
    Raises ConfigError with the key, the bad value and what is allowed.
    """
    if path is None and os.environ.get("FSE_CONFIG"):
        path = Path(os.environ["FSE_CONFIG"])
    elif path is None and DEFAULT_CONFIG_PATH.is_file():
        path = DEFAULT_CONFIG_PATH

    values: dict[str, Any] = {}
    sources = []
    if path is not None:
        path = Path(path)
        values.update(_read_file(path))
        sources.append(str(path))

    for name, f in _KEYS.items():
        env = f.metadata["env"]
        if env and os.environ.get(env):
            values[name] = _convert(name, os.environ[env], from_text=True, where=f"environment {env}")
            sources.append(env)

    for name, value in (overrides or {}).items():
        if value is None:
            continue
        if name not in _KEYS:
            raise ConfigError(f"unknown setting {name!r}; known settings are " + ", ".join(_KEYS))
        values[name] = _convert(name, value, from_text=True, where="command line")
        if "command line" not in sources:
            sources.append("command line")

    config = KioskConfig(**values, source=" + ".join(["defaults", *sources]))
    if config.session_idle_s < config.attract_after_s:
        # The attract loop would start while a visitor's session is still open, wiping their design.
        raise ConfigError(
            f"[session] session_idle_s = {config.session_idle_s:g} is shorter than "
            f"attract_after_s = {config.attract_after_s:g}; expected session_idle_s >= attract_after_s"
        )
    if 0 < config.keep_free_mb < config.disk_floor_mb:
        # Retention would only start after captures had already been refused at the floor.
        raise ConfigError(
            f"[log] keep_free_mb = {config.keep_free_mb} is below disk_floor_mb = {config.disk_floor_mb}; "
            f"expected keep_free_mb >= disk_floor_mb, or 0 to turn retention off"
        )
    if config.hotspot and not config.wifi_passphrase:
        # The Wi-Fi QR code and the NetworkManager connection both need it; an open hotspot is not offered.
        raise ConfigError(
            "[share] hotspot = true needs wifi_passphrase: 8 to 63 characters (WPA2), a new one for each event"
        )
    return config


# ---------------------------------------------------------------------------------------------
# Writing TOML (the example file and the effective-config printout)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def to_toml(config: KioskConfig | None = None, *, commented: bool = False) -> str:
    """config (or the defaults) as a kiosk.toml.

    commented=True writes the example file instead: each key's doc, and the machine-dependent
    defaults (hostname, paths) commented out with the booth's usual value, so the example is the
    same on every machine that generates it.
    """
    config = config or KioskConfig()
    lines: list[str] = []
    if commented:
        lines += [
            "# Fashion Space Explorer kiosk settings: /etc/fse/kiosk.toml",
            "# Every key with its default. Delete what you don't change; unknown keys are errors.",
            "# Check a file with:  /opt/fse/venv/bin/python -m kiosk.config /etc/fse/kiosk.toml",
            "",
        ]
    for section in SECTIONS:
        lines.append(f"[{section}]")
        for f in keys():
            if f.metadata["section"] != section:
                continue
            value = getattr(config, f.name)
            if commented:
                lines.append(f"# {f.metadata['doc']}")
                if f.metadata["env"]:
                    lines.append(f"# (environment {f.metadata['env']} overrides this)")
            if commented and f.metadata["example"] is not None:
                lines.append(f"# {f.name} = {_toml_value(f.metadata['example'])}")
            else:
                lines.append(f"{f.name} = {_toml_value(value)}")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m kiosk.config", description=__doc__.splitlines()[0])
    parser.add_argument(
        "path", nargs="?", type=Path, help="a kiosk.toml to check (default: /etc/fse/kiosk.toml if present)"
    )
    parser.add_argument("--example", action="store_true", help="print a commented example with every key")
    args = parser.parse_args(argv)
    if args.example:
        print(to_toml(commented=True), end="")
        return 0
    try:
        config = load_config(args.path)
    except ConfigError as error:
        print(f"config error: {error}", file=sys.stderr)
        return 2
    print(f"# source: {config.source}")
    print(to_toml(config), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
