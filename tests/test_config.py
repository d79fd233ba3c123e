"""kiosk.config: defaults, the TOML file, the environment and overrides, and the errors a booth
technician sees for a bad file (each names the key, the value and what is allowed)."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import kiosk
from kiosk.config import ConfigError, KioskConfig, load_config
from kiosk.config import load as config_load
from kiosk.config.__main__ import main
from kiosk.config.keys import keys
from kiosk.config.load import CONFIG_LIMIT
from kiosk.config.writer import to_toml

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "systemd" / "kiosk.toml.example"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, tmp_path):
    """No stray FSE_* variable or /etc/fse/kiosk.toml from the machine leaks into a test."""
    for name in ("FSE_CONFIG", "FSE_MODELS_DIR", "FSE_STATE_DIR", "FSE_CACHE_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(config_load, "DEFAULT_CONFIG_PATH", tmp_path / "absent" / "kiosk.toml")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "kiosk.toml"
    path.write_text(text)
    return path


def test_defaults_need_no_file():
    config = load_config()
    assert config.provider == "auto" and config.joystick == "auto" and config.fullscreen is True
    assert config.display_wh == (1920, 1080)
    assert (config.attract_after_s, config.session_idle_s, config.disk_floor_mb, config.keep_free_mb) == (
        60.0,
        90.0,
        200,
        1000,
    )
    assert (config.deadzone, config.expo, config.steer_rate, config.glide_s) == (0.08, 0.3, 1.5, 1.0)
    assert (config.trail_hz, config.default_print, config.intra_op_threads, config.log_level) == (
        2.0,
        "none",
        1,
        "info",
    )
    assert config.models_dir == Path(kiosk.__file__).resolve().parent.parent / "onnx_models"
    assert config.booth_id == socket.gethostname()
    assert config.source == "defaults"


def test_file_overrides_defaults_and_env_and_overrides_win(tmp_path, monkeypatch):
    path = write(
        tmp_path,
        '[inference]\nprovider = "cpu"\n[input]\ndeadzone = 0.1\n'
        '[paths]\nstate_dir = "/srv/a"\n[booth]\nbooth_id = "museum-2"\n',
    )
    monkeypatch.setenv("FSE_STATE_DIR", str(tmp_path / "state"))
    config = load_config(path, overrides={"deadzone": "0.2", "fullscreen": "false", "joystick": None})
    assert config.provider == "cpu" and config.booth_id == "museum-2"
    assert config.state_dir == tmp_path / "state"  # environment beats the file
    assert config.deadzone == 0.2 and config.fullscreen is False  # command line beats both
    assert config.joystick == "auto"  # None overrides are skipped
    assert config.source == f"defaults + {path} + FSE_STATE_DIR + command line"


def test_fse_config_env_and_default_path(tmp_path, monkeypatch):
    path = write(tmp_path, "[display]\nfullscreen = false\n")
    monkeypatch.setattr(config_load, "DEFAULT_CONFIG_PATH", path)
    assert load_config().fullscreen is False
    other = tmp_path / "other.toml"
    other.write_text('[display]\ndisplay_size = "1280x720"\n')
    monkeypatch.setenv("FSE_CONFIG", str(other))
    assert load_config().display_wh == (1280, 720)


def test_example_file_lists_every_key_and_loads():
    text = EXAMPLE.read_text()
    for f in keys():
        assert f"{f.name} = " in text, f"{f.name} missing from {EXAMPLE}"
    assert text == to_toml(commented=True), (
        "regenerate with: python -m kiosk.config --example > systemd/kiosk.toml.example"
    )
    config = load_config(EXAMPLE)
    assert dataclasses.replace(config, source="") == dataclasses.replace(load_config(), source="")


def test_effective_config_round_trips(tmp_path):
    config = load_config(overrides={"provider": "cuda", "expo": 0.5, "booth_id": 'a "quoted" name'})
    again = load_config(write(tmp_path, to_toml(config)))
    assert dataclasses.replace(again, source="") == dataclasses.replace(config, source="")


@pytest.mark.parametrize(
    "text, words",
    [
        ('[inference]\nprovider = "gpu"\n', ["provider", "'gpu'", '"tensorrt"']),
        ("[input]\ndeadzon = 0.1\n", ["deadzon", "unknown", "deadzone"]),
        ('[input]\nprovider = "cpu"\n', ["provider", "[inference]"]),
        ("[screen]\nfullscreen = true\n", ["screen", "[display]"]),
        ("fullscreen = true\n", ["fullscreen", "[display]"]),
        ('[display]\nfullscreen = "yes"\n', ["fullscreen", "'yes'", "true or false"]),
        ('[display]\ndisplay_size = "big"\n', ["display_size", "'big'", "WIDTHxHEIGHT"]),
        ("[inference]\nintra_op_threads = true\n", ["intra_op_threads", "whole number"]),
        ("[inference]\nintra_op_threads = 0\n", ["intra_op_threads", "from 1 to 64"]),
        ("[input]\ndeadzone = 0.9\n", ["deadzone", "0.9", "from 0.0 to 0.5"]),
        ('[input]\njoystick = "COM3"\n', ["joystick", "'COM3'", "/dev/fse-joystick"]),
        ("[session]\nsession_idle_s = 30\n", ["session_idle_s", "attract_after_s"]),
        ('[log]\nlog_level = "loud"\n', ["log_level", "'loud'", '"debug"']),
        ("[log]\nkeep_free_mb = 100\n", ["keep_free_mb = 100", "disk_floor_mb = 200", "0 to turn retention off"]),
        ("[input\n", ["not valid TOML"]),
        ('[display]\ndisplay_size = "10x10"\n', ["display_size", "'10x10'", "from 320x320 to 7680x4320"]),
        ('[display]\ndisplay_size = "99999x99999"\n', ["display_size", "'99999x99999'", "7680x4320"]),
    ],
)
def test_bad_files_name_key_value_and_allowed(tmp_path, text, words):
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, text))
    for word in words:
        assert word in str(error.value), (word, str(error.value))


def test_a_latin1_file_and_a_directory_are_errors_that_say_what_to_do(tmp_path):
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes('[booth]\nbooth_id = "café"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match=r"not UTF-8 text \(byte 0xe9 on line 2\).*re-save it as UTF-8"):
        load_config(latin1)
    with pytest.raises(ConfigError, match="is a directory, not a file.*kiosk.toml"):
        load_config(tmp_path)


def test_bad_environment_and_overrides(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="unknown setting 'colour'"):
        load_config(overrides={"colour": "red"})
    with pytest.raises(ConfigError, match="command line.*steer_rate = 'fast'.*a number"):
        load_config(overrides={"steer_rate": "fast"})
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")


def test_cli_checks_a_file(tmp_path, capsys):
    assert main([str(write(tmp_path, '[log]\nlog_level = "debug"\n'))]) == 0
    assert 'log_level = "debug"' in capsys.readouterr().out
    assert main([str(write(tmp_path, "[log]\nlog_level = 3\n"))]) == 2
    assert "config error" in capsys.readouterr().err


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        KioskConfig().provider = "cpu"


def test_every_key_is_documented():
    docs = (REPO / "docs" / "appliance.md").read_text()
    for f in keys():
        assert f"| `[{f.metadata['section']}]` | `{f.name}` |" in docs, f"{f.name} missing from docs/appliance.md"


# ---------------------------------------------------------------------------------------------
# Issue 21 item 11: kiosk.toml attacks that escaped the error page


def _load_in_child(path: Path, seconds: float = 20) -> subprocess.CompletedProcess:
    """load_config(path) in its own interpreter, with 1 GB of address space and a time limit: a
    config that hangs or eats memory must show here as an error, not take the test run with it."""
    code = (
        "import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30)); "
        "from kiosk.config import load_config, ConfigError\n"
        "try:\n    load_config(sys.argv[1])\nexcept ConfigError as e:\n    print(e); sys.exit(2)"
    )
    return subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=seconds, cwd=REPO
    )


def test_only_a_regular_kiosk_toml_of_bounded_size_is_read(tmp_path):
    """/dev/zero used to be read until a MemoryError at 2.7 GB, a FIFO hung start-up for ever."""
    (tmp_path / "zero.toml").symlink_to("/dev/zero")
    os.mkfifo(tmp_path / "fifo.toml")
    (tmp_path / "huge.toml").write_text("# " + "x" * (CONFIG_LIMIT + 10) + "\n")
    for name in ("zero", "fifo"):
        result = _load_in_child(tmp_path / f"{name}.toml")
        assert result.returncode == 2 and "not a regular file" in result.stdout, (name, result.stderr[-500:])
    with pytest.raises(ConfigError, match="more than a kiosk.toml ever is"):
        load_config(tmp_path / "huge.toml")
    with pytest.raises(ConfigError, match="nested too deeply"):
        load_config(write(tmp_path, "[booth]\nbooth_id = " + "[" * 5000 + "]" * 5000 + "\n"))


@pytest.mark.parametrize(
    "text, words",
    [
        ('[paths]\nstate_dir = "~nosuchuser/x"\n', ["state_dir", "~nosuchuser names no user", "whole path"]),
        ('[paths]\nmodels_dir = "/tmp/a\\u0000b"\n', ["models_dir", "\\x00", "printable"]),
        ('[booth]\nbooth_id = "a\\u0007b"\n', ["booth_id", "printable"]),
    ],
)
def test_every_value_is_checked_before_use(tmp_path, text, words):
    """A "~nosuchuser" path was a traceback before the display opened; a NUL in a path crashed the
    error page itself (pygame refuses to draw a NUL)."""
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, text))
    assert all(w in str(error.value) for w in words), str(error.value)
    assert str(error.value).isprintable()


def test_the_error_page_draws_any_message(tmp_path):
    """Whatever reaches the error page (a NUL from a manifest's path) is drawn, never raised."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    import pygame

    from kiosk.ui.splash import draw_error

    pygame.font.init()
    surface = pygame.Surface((640, 360))
    draw_error(surface, "bad\x00title", "a path /tmp/a\x00b and a bell \x07 and tab \t")


def test_a_manifest_value_of_the_wrong_type_is_a_model_error(tmp_path):
    """`latent` as a list was an AttributeError at start-up, outside the error page."""
    from kiosk.models import ModelError, read_manifest

    manifest = json.loads((REPO / "onnx_models" / "manifest.json").read_text())
    for key, value, words in (
        ("latent", [1, 2], "latent is list"),
        ("latent", {"slider_range": [1, "x"]}, "slider_range"),
        ("classes", "Sandal", "classes"),
        ("coordinates", {"scale": -1}, "coordinates.scale"),
    ):
        (tmp_path / "manifest.json").write_text(json.dumps({**manifest, key: value}))
        with pytest.raises(ModelError, match=words):
            read_manifest(tmp_path)
