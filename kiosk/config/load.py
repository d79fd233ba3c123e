"""Reading the effective config: the embedded defaults, then kiosk.toml, then the environment, then
the command line; a file that is not a bounded, regular, UTF-8 TOML file is refused with the fix."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on 3.10
    import tomli as tomllib

from .checks import ConfigError, check_together, convert
from .keys import KEYS, SECTIONS, KioskConfig

DEFAULT_CONFIG_PATH = Path("/etc/fse/kiosk.toml")


def _suggest_section(name: str) -> str:
    f = KEYS.get(name)
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
            f = KEYS.get(name)
            if f is None:
                allowed = ", ".join(k for k, kf in KEYS.items() if kf.metadata["section"] == section)
                raise ConfigError(
                    f"{path}: unknown key [{section}] {name!r}; keys allowed in [{section}] are {allowed}"
                )
            if f.metadata["section"] != section:
                raise ConfigError(f"{path}: key {name!r} is in [{section}]{_suggest_section(name)}; move it there")
            values[name] = convert(f, value, from_text=False, where=str(path))
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

    for name, f in KEYS.items():
        env = f.metadata["env"]
        if env and os.environ.get(env):
            values[name] = convert(f, os.environ[env], from_text=True, where=f"environment {env}")
            sources.append(env)

    for name, value in (overrides or {}).items():
        if value is None:
            continue
        if name not in KEYS:
            raise ConfigError(f"unknown setting {name!r}; known settings are " + ", ".join(KEYS))
        values[name] = convert(KEYS[name], value, from_text=True, where="command line")
        if "command line" not in sources:
            sources.append("command line")

    config = KioskConfig(**values, source=" + ".join(["defaults", *sources]))
    check_together(config)
    return config
