"""A new version on trial: it has three starts to reach READY=1, each within the kiosk's watchdog
window, or the booth goes back to the slot it came from by itself.

Why systemd counts, not us: fse-kiosk.service restarts forever (Restart=always,
StartLimitIntervalSec=0) so a booth never gives up on a crash. While a version is on trial a drop-in
(TRIAL_DROPIN, written before the switch, so a power cut at any point leaves either no trial or a
trial that still protects the booth) gives the unit a start limit of three, a start timeout of one
watchdog window, and OnFailure=fse-update-rollback@<previous slot>.service. A kiosk that crashes,
hangs or exits before READY=1 three times puts the unit into "failed" (start-limit-hit), and systemd
starts the rollback unit, which runs the *previous* slot's fse-update: the version that failed is
never trusted to undo itself. READY=1 runs ExecStartPost, the previous slot's `fse-update confirm`,
which ends the trial (the drop-in goes, the start limit with it). The trial survives a reboot: the
drop-in is in /etc.

A hang before READY=1 is ended by the start timeout, not the watchdog: systemd arms WatchdogSec=
only when the start ends (READY=1) or at a first WATCHDOG=1. The boot test measured it: three
"start operation timed out", then the rollback (docs/appliance.md has the figures). A start that is
moving is not a hang: each start-up step extends the timeout (kiosk/startup.py START_STEP_S), so a
TensorRT build after new models is waited for.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from .slots import PREFIX, SlotError, current_slot, slot_version, switch
from .status import write_update_status

KIOSK = "fse-kiosk.service"
UNIT_DIR = Path("etc/systemd/system")
TRIAL_DROPIN = UNIT_DIR / "fse-kiosk.service.d/update-trial.conf"
"""Below the booth's root: /etc/systemd/system/fse-kiosk.service.d/update-trial.conf."""
STARTS = 3
ROLLBACK_UNIT = "fse-update-rollback@{slot}.service"


def systemctl(root: Path, *args: str) -> str:
    """systemctl on the running booth; nothing for a staged root (tests, DESTDIR), which has no systemd."""
    if root != Path("/"):
        return ""
    result = subprocess.run(["systemctl", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise SlotError(f"systemctl {' '.join(args)} failed: {result.stderr.strip() or result.returncode}")
    return result.stdout


def watchdog_s(root: Path) -> int:
    """The kiosk's watchdog window: fse-kiosk.service's WatchdogSec=, as systemd has it (the unit file
    in a staged root)."""
    if root == Path("/"):
        seconds = timespan_s(systemctl(root, "show", "--property=WatchdogUSec", "--value", KIOSK))
        if seconds:
            return max(1, round(seconds))
    match = re.search(r"^WatchdogSec=(\d+)$", (root / UNIT_DIR / KIOSK).read_text(), re.MULTILINE)
    if not match:
        raise SlotError(f"{KIOSK} has no WatchdogSec=; reinstall it (make install-appliance)")
    return int(match.group(1))


TIMESPAN_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def timespan_s(text: str) -> float:
    """A time span as systemctl show prints it ("30s", "1min 30s", "500ms", "0", "infinity") in seconds (0: none)."""
    text = text.strip()
    if text in ("", "0", "infinity"):
        return 0.0
    total = 0.0
    for word in text.split():
        match = re.fullmatch(r"(\d+(?:\.\d+)?)(us|ms|s|min|h|d)", word)
        if not match:
            raise SlotError(f"systemd's watchdog window {text!r} is not a time span fse-update reads")
        total += float(match.group(1)) * TIMESPAN_UNITS[match.group(2)]
    return total


def trial_dropin(previous: str, new: str, window_s: int, prefix: Path = PREFIX) -> str:
    python = f"{PREFIX}/{previous}/venv/bin/fse-update"
    return f"""\
# Written by fse-update (kiosk/update/trial.py): slot {new} ({slot_version(new, prefix)}) is on trial, from
# slot {previous} ({slot_version(previous, prefix)}). It has {STARTS} starts to send READY=1 within {window_s} s (the watchdog
# window); then the unit fails and {ROLLBACK_UNIT.format(slot=previous)} switches back. READY=1 runs
# the confirmation below, which removes this file.
[Unit]
StartLimitIntervalSec={STARTS * (window_s + 30) + 60}
StartLimitBurst={STARTS}
OnFailure={ROLLBACK_UNIT.format(slot=previous)}

[Service]
TimeoutStartSec={window_s}
ExecStartPost=+{python} confirm --from {previous} --to {new} --state-dir /var/lib/fse
"""


def begin(previous: str, new: str, root: Path = Path("/")) -> None:
    """Put `new` on trial (the drop-in, then systemd reads it); the caller switches after this."""
    dropin = root / TRIAL_DROPIN
    dropin.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    temp = dropin.with_name(dropin.name + ".new")
    temp.write_text(trial_dropin(previous, new, watchdog_s(root), root / PREFIX.relative_to("/")))
    temp.chmod(0o644)
    os.replace(temp, dropin)
    systemctl(root, "daemon-reload")


def end(root: Path = Path("/")) -> None:
    """No trial any more: the drop-in goes and systemd forgets its start limit."""
    dropin = root / TRIAL_DROPIN
    if dropin.exists():
        dropin.unlink()
        systemctl(root, "daemon-reload")


def on_trial(root: Path = Path("/")) -> bool:
    return (root / TRIAL_DROPIN).exists()


def confirm(previous: str, new: str, state_dir: Path, root: Path = Path("/")) -> None:
    """The kiosk sent READY=1 (ExecStartPost): the version on trial stays."""
    prefix = root / PREFIX.relative_to("/")
    end(root)
    if current_slot(prefix) == new:
        version, was = slot_version(new, prefix), slot_version(previous, prefix)
        write_update_status(state_dir, "updated", f"Updated to {version} (was {was})", version=version, previous=was)


def rollback(to: str, state_dir: Path, root: Path = Path("/")) -> None:
    """The kiosk failed its trial (OnFailure=): back to slot `to`, then start the kiosk again."""
    prefix = root / PREFIX.relative_to("/")
    failed = current_slot(prefix)
    if failed != to:
        switch(prefix, to)
    end(root)
    systemctl(root, "reset-failed", KIOSK)
    systemctl(root, "start", "--no-block", KIOSK)
    # After the start is queued (the kiosk shows a status younger than NEWS_AT_START_S when it comes up):
    # whoever waits for this status finds the kiosk starting, no longer failed.
    if failed != to:
        version, back = slot_version(failed, prefix), slot_version(to, prefix)
        write_update_status(
            state_dir,
            "rolled-back",
            f"Update to {version} failed to start; back on {back}",
            version=version,
            previous=back,
        )
