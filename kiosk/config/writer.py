"""kiosk.toml as text: the commented example file (systemd/kiosk.toml.example) and the effective
config that `python -m kiosk.config` prints."""

from __future__ import annotations

from typing import Any

from .keys import SECTIONS, KioskConfig, keys


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
