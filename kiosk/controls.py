"""Every control of the kiosk in one table: keys, board buttons, mouse / touch, and what each does.

The kiosk's key and button mapping (kiosk/input_map.py), the hints on screen, the F12 help, and the controls table in
docs/kiosk.md all come from `CONTROLS` (tests/test_controls.py checks the docs against it). To add
or change a control, edit the table; then regenerate the docs table:

    python -m kiosk.controls          # the markdown table that docs/kiosk.md carries

No pygame here: keys are named by their pygame constant without the `K_` (`"SPACE"` is
pygame.K_SPACE), resolved by kiosk/input_map.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from .input.state import Button


@dataclass(frozen=True)
class Control:
    command: str  # what kiosk/commands.py runs (Commands.by_name); "" for controls handled by hand
    does: str  # what happens, in the visitor's (or the operator's) words
    keys: tuple[str, ...] = ()  # pygame key constants without K_, e.g. "SPACE", "RETURN", "p"
    button: Button | None = None  # the joystick board's button, if it has one
    pointer: str = ""  # mouse / touch
    key_text: str = ""  # how the keys read when they are not single keys ("1-8 / Shift+1-8")
    board_text: str = ""  # the board's part when it is not one button ("joystick k")
    operator: bool = False  # for the operator, not the visitor (F12's section, not the hints)


CONTROLS: tuple[Control, ...] = (
    Control(
        "",
        "change parameter k: up / down, faster the longer you hold (joystick k: proportional to the deflection)",
        key_text="hold 1-8 / Shift+1-8",
        board_text="joystick k",
        pointer="click a preview, drag along its slider",
    ),
    Control(
        "jump",
        "hyperspace jump: a random design anywhere in the space",
        keys=("SPACE", "j"),
        button=Button.JUMP,
        pointer="the HYPERSPACE JUMP button",
    ),
    Control(
        "random",
        "a random design near this one (a short glide)",
        keys=("r",),
        button=Button.RANDOM,
        pointer="the R tool",
    ),
    Control(
        "capture",
        'save the design at 1024x1024 with its print ("Saved #0042" once it is safe)',
        keys=("RETURN", "KP_ENTER", "f"),
        button=Button.CAPTURE,
        pointer="the CAPTURE button",
    ),
    Control("next_print", "next print", keys=("p", "TAB"), button=Button.NEXT_PRINT, pointer="a print swatch"),
    Control(
        "next_landmark", "glide to the next landmark", keys=("l",), button=Button.NEXT_LANDMARK, pointer="a landmark"
    ),
    Control("", "draw: the drawing becomes the design", pointer="draw on the canvas"),
    Control("clear", "clear the canvas and draw from scratch", keys=("c",), pointer="the C tool"),
    Control("brush_white", "draw with the white brush (the garment)", keys=("w",), pointer="the W tool"),
    Control("brush_black", "draw with the black brush (erase)", keys=("b",), pointer="the B tool"),
    Control("map", "map mode on / off: where the designs are", keys=("m",)),
    Control("diagnostics", "diagnostics and this help (operator)", keys=("F12",), operator=True),
    Control(
        "",
        "operator exit (also in kiosk mode; on the board a countdown shows, and the hold neither captures nor jumps)",
        key_text="Ctrl+Alt+Q",
        board_text="hold capture + jump for 5 s",
        operator=True,
    ),
    Control(
        "",
        "quit (windowed only; in kiosk mode Escape, Alt+F4 and the close button do nothing)",
        keys=("ESCAPE",),
        operator=True,
    ),
)

OPERATOR_HOLD = (Button.CAPTURE, Button.JUMP)
OPERATOR_HOLD_S = 5.0
"""Holding these board buttons together this long is the operator exit (a booth has no keyboard)."""
OPERATOR_EXIT = f"Ctrl+Alt+Q, or hold capture + jump on the board for {OPERATOR_HOLD_S:g} s"
assert f"{OPERATOR_HOLD_S:g} s" in "hold capture + jump for 5 s", "the table's operator row says the hold time"

SLIDER_HINT = ("move a stick, or hold 1-8", "Shift+1-8 goes back")
"""The parameters panel's hint, two lines in its title bar: the table's first row in plain words
(it read "joystick k · hold k / Shift+k", which visitors could not decode)."""

_KEY_NAMES = {"SPACE": "Space", "RETURN": "Enter", "KP_ENTER": "keypad Enter", "TAB": "Tab", "ESCAPE": "Escape"}
_BUTTON_NAMES = {
    Button.CAPTURE: "capture",
    Button.JUMP: "jump",
    Button.NEXT_PRINT: "print",
    Button.RANDOM: "random",
    Button.NEXT_LANDMARK: "landmark",
    Button.SPARE: "spare",
}


def key_label(name: str) -> str:
    """How a key reads on screen and in the docs: "SPACE" -> "Space", "p" -> "P"."""
    return _KEY_NAMES.get(name, name.upper())


def button_label(button: Button) -> str:
    return f"the {_BUTTON_NAMES[button]} button"


def control(command: str) -> Control:
    return next(c for c in CONTROLS if c.command == command)


def keys_text(c: Control, sep: str = " or ", *, main_only: bool = False) -> str:
    """The control's keys as a visitor reads them; main_only leaves out duplicates such as keypad Enter."""
    if c.key_text:
        return c.key_text
    names = [k for k in c.keys if not (main_only and k == "KP_ENTER")]
    return sep.join(key_label(k) for k in names)


def hint(command: str) -> str:
    """The short hint under an on-screen button: "Space · jump button"."""
    c = control(command)
    parts = [key_label(c.keys[0])]
    if c.button is not None:
        parts.append(f"{_BUTTON_NAMES[c.button]} button")
    return " · ".join(parts)


def tooltip(command: str) -> str:
    """A tool's tooltip: "R: a random design nearby: ..."."""
    c = control(command)
    return f"{key_label(c.keys[0])}: {c.does}"


def key_commands() -> dict[str, str]:
    """pygame key constant name (without K_) -> command, for every keyed command."""
    return {key: c.command for c in CONTROLS if c.command for key in c.keys}


def button_commands() -> dict[Button, str]:
    return {c.button: c.command for c in CONTROLS if c.button is not None and c.command}


def help_lines() -> list[str]:
    """The F12 help: one line per control, keys first."""
    lines = []
    for c in CONTROLS:
        board = button_label(c.button) if c.button else c.board_text
        how = [part for part in (keys_text(c, " / "), board, c.pointer) if part]
        lines.append(f"{' · '.join(how)}: {c.does}")
    return lines


def markdown_table() -> str:
    """docs/kiosk.md's controls table."""
    rows = ["| keys | board | mouse / touch | what it does |", "|---|---|---|---|"]
    for c in CONTROLS:
        keys = c.key_text and f"**{c.key_text}**" or " or ".join(f"**{key_label(k)}**" for k in c.keys)
        board = button_label(c.button) if c.button else c.board_text
        rows.append(f"| {keys} | {board} | {c.pointer} | {c.does} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")
