"""The checks on kiosk.toml's values, with the messages an operator reads: each names the key, the bad
value and what is allowed. Per key (a validator returns None when the value is fine, else the
"allowed" half of the message), the type and its conversion from text, and the rules between keys."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any, Callable

PROVIDERS = ("auto", "tensorrt", "cuda", "cpu")
JOYSTICK_MODES = ("auto", "none", "sim")
LOG_LEVELS = ("debug", "info", "warning", "error")


class ConfigError(ValueError):
    """A setting the kiosk cannot run with; the message names the key, the value and what's allowed."""


# ---------------------------------------------------------------------------------------------
# Validators: each returns None when the value is fine, else the "allowed" half of the message.


def one_of(*allowed: str) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        return None if value in allowed else "one of " + ", ".join(f'"{a}"' for a in allowed)

    return check


def in_range(low: float | None = None, high: float | None = None) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if (low is None or value >= low) and (high is None or value <= high):
            return None
        if high is None:
            return f"a number >= {low}"
        if low is None:
            return f"a number <= {high}"
        return f"a number from {low} to {high}"

    return check


def joystick_problem(value: str) -> str | None:
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


def print_name_problem(value: str) -> str | None:
    # The print catalogue is the prints module's business (start-up checks the name against it,
    # ignoring case); here only the name's shape is checked.
    return None if re.fullmatch(r"[A-Za-z0-9_-]+", value) else 'a print name such as "none" (letters, digits, - and _)'


_SHARE_URL = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~-]+)*")


def share_url_problem(value: str) -> str | None:
    # Phones open it from the QR code: a plain http(s) address of the booth, no query, no trailing slash.
    return (
        None if _SHARE_URL.fullmatch(value) else 'an http address without a trailing slash, such as "http://10.42.0.1"'
    )


def short_text(limit: int) -> Callable[[Any], str | None]:
    def check(value: str) -> str | None:
        ok = len(value) <= limit and value.isprintable()
        return None if ok else f"printable text of at most {limit} characters"

    return check


def ssid_problem(value: str) -> str | None:
    ok = 1 <= len(value.encode()) <= 32 and value.isprintable()
    return None if ok else "a Wi-Fi name of 1 to 32 bytes, printable"


def passphrase_problem(value: str) -> str | None:
    # WPA2-PSK: 8 to 63 printable ASCII characters ("" only while the hotspot is off).
    ok = value == "" or (8 <= len(value) <= 63 and all(" " <= c <= "~" for c in value))
    return None if ok else "8 to 63 printable ASCII characters (WPA2), or empty while hotspot = false"


def printer_problem(value: str) -> str | None:
    return (
        None if value == "" or value.startswith("/") else 'empty (no printer) or a device path such as "/dev/usb/lp0"'
    )


# ---------------------------------------------------------------------------------------------
# Type checking and conversion


def _type_name(kind: type) -> str:
    return {bool: "true or false", int: "a whole number", float: "a number", str: "a string", Path: "a path string"}[
        kind
    ]


def _field_type(f: dataclasses.Field) -> type:
    return {"str": str, "int": int, "float": float, "bool": bool, "Path": Path}[str(f.type)]


def convert(f: dataclasses.Field, value: Any, from_text: bool, where: str) -> Any:
    """value as the type of the key `f` (kiosk.config.keys), or a ConfigError that says what was wrong
    and what is allowed; from_text: value is text to convert ("false", "2.5"), from the environment
    or the command line."""
    kind = _field_type(f)
    label = f"[{f.metadata['section']}] {f.name}"

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


# ---------------------------------------------------------------------------------------------
# Rules between keys


def check_together(config) -> None:
    """A ConfigError for keys that are each allowed but do not work together (config: a KioskConfig)."""
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
