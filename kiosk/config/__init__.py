"""The kiosk's settings: every key, its default and why, in one place.

The booth reads `/etc/fse/kiosk.toml` (see `systemd/kiosk.toml.example`); a desktop needs no file
at all, the embedded defaults run the kiosk windowed-or-fullscreen on the shipped models.
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

Where things are: `keys.py` every key (`KioskConfig`, one field per key with its table, meaning,
default, check and environment variable); `checks.py` the checks with the messages an operator
reads (`ConfigError`); `load.py` reading the file, the environment and the command line
(`load_config`); `writer.py` the config as TOML (the example file, the effective config);
`__main__.py` the command below. To add a key: add one field to `KioskConfig` with
`_key(section, doc, ...)`; validation, the example file (`python -m kiosk.config --example`) and the
docs test all follow from it.

    python -m kiosk.config            # print the effective config as TOML (what the kiosk would use)
    python -m kiosk.config --example  # print a commented example with every key and its default
"""

from .checks import ConfigError
from .keys import KioskConfig
from .load import load_config

__all__ = ["ConfigError", "KioskConfig", "load_config"]
