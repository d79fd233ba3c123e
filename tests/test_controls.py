"""kiosk/controls.py is the one controls table: the docs carry its generated copy, every keyed or
board command exists in the app, the on-screen hints and F12 come from it, and no key is taken twice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pygame
import pytest

from kiosk import controls
from kiosk.input.state import Button

ROOT = Path(__file__).resolve().parent.parent


def test_docs_carry_the_generated_controls_table():
    docs = (ROOT / "docs" / "kiosk.md").read_text()
    assert controls.markdown_table() in docs, "regenerate with: python -m kiosk.controls (docs/kiosk.md, ### Controls)"


def test_every_key_is_a_pygame_key_and_is_taken_once():
    keys = [k for c in controls.CONTROLS for k in c.keys]
    assert len(keys) == len(set(keys)), keys
    for key in keys:
        assert isinstance(getattr(pygame, f"K_{key}"), int), key


def test_every_board_button_but_spare_does_something():
    assert set(controls.button_commands()) == set(Button) - {Button.SPARE}


def test_the_app_runs_every_command_and_shows_the_table(tmp_path):
    from kiosk.startup import build_app, parse_args

    app = build_app(parse_args(["--windowed", "--joystick", "none", "--state-dir", str(tmp_path), "--size", "960x540"]))
    try:
        named = {c.command for c in controls.CONTROLS if c.command}
        assert named == set(app.commands.by_name)
        app.step()
        help_area = app.ui.layout.r(20, 100, 636, 300)
        before = pygame.surfarray.array3d(app.screen.subsurface(help_area)).astype(float)
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_F12, mod=0, unicode="", scancode=0))
        app.step()
        shown = pygame.surfarray.array3d(app.screen.subsurface(help_area)).astype(float)
        assert app.state.diagnostics and np.abs(shown - before).mean() > 10, "F12 shows the controls box"
        assert controls.help_lines()[1].startswith("Space / J · the jump button")
        from kiosk.ui import canvas

        assert [controls.control(command).keys[0].upper() for command, _ in canvas.TOOLS] == ["R", "C", "W", "B"]
    finally:
        app.shutdown()


@pytest.mark.parametrize("command, hint", [("jump", "Space · jump button"), ("capture", "Enter · capture button")])
def test_button_hints_come_from_the_table(command, hint):
    assert controls.hint(command) == hint
