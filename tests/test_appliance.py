"""The appliance: systemd units verified and security-rated, and the installer run into a scratch
root (DESTDIR, FSE_INSTALL_OFFLINE=1) with its files and permissions checked.

Needs systemd-analyze (systemd >= 252 for `security --offline`), as on the CI machine.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SYSTEMD = REPO / "systemd"
INSTALLER = REPO / "scripts" / "install-appliance.sh"
EXPOSURE_LIMIT = 3.0
UNIT_SUFFIXES = (".service", ".target", ".path", ".timer", ".socket")

needs_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed (apt install systemd)"
)


def install(root: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "DESTDIR": str(root), "FSE_INSTALL_OFFLINE": "1", "FSE_PYTHON": sys.executable, **env}
    return subprocess.run(["bash", str(INSTALLER)], env=environment, capture_output=True, text=True, timeout=120)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("root")
    result = install(root)
    assert result.returncode == 0, result.stdout + result.stderr
    return root


def repo_units() -> list[Path]:
    return sorted(p for p in SYSTEMD.iterdir() if p.suffix in UNIT_SUFFIXES)


def test_installer_is_valid_bash():
    subprocess.run(["bash", "-n", str(INSTALLER)], check=True)


def test_installs_every_unit_rule_and_the_kiosk(root):
    units = root / "etc/systemd/system"
    for unit in repo_units():
        assert (units / unit.name).read_bytes() == unit.read_bytes()
        assert mode(units / unit.name) == 0o644
    for rule in SYSTEMD.glob("*.rules"):
        assert (root / "etc/udev/rules.d" / rule.name).read_bytes() == rule.read_bytes()
        assert mode(root / "etc/udev/rules.d" / rule.name) == 0o644
    assert {"fse-kiosk.service", "fse-display.service"} <= {u.name for u in repo_units()}

    kiosk = root / "opt/fse/venv/bin/fse-kiosk"
    # /opt/fse/venv is current/venv (slot a after a first install; kiosk/update/slots.py)
    assert mode(kiosk) == 0o755 and kiosk.read_text().startswith("#!/opt/fse/a/venv/bin/python\n")
    assert mode(root / "etc/fse/kiosk.toml.example") == 0o644
    journald = root / "etc/systemd/journald.conf.d/fse.conf"  # the journal's cap (issue 24 item 4)
    assert journald.read_bytes() == (SYSTEMD / "journald-fse.conf").read_bytes() and mode(journald) == 0o644
    assert not (root / "etc/fse/kiosk.toml").exists()  # defaults need no file; never overwrite one
    for state in ("var/lib/fse", "var/cache/fse"):
        assert mode(root / state) == 0o750
    models = [m for m in (REPO / "onnx_models").rglob("*") if m.is_file()]
    assert any(m.suffix == ".onnx" for m in models), "the shipped models are part of the repository"
    for model in models:
        installed = root / "opt/fse/onnx_models" / model.relative_to(REPO / "onnx_models")
        assert installed.read_bytes() == model.read_bytes(), model.name


def test_installed_venv_runs_the_kiosk_code(root):
    python = root / "opt/fse/venv/bin/python"
    example = root / "etc/fse/kiosk.toml.example"
    result = subprocess.run(
        [str(python), "-m", "kiosk.config", str(example)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert f"source: defaults + {example}" in result.stdout
    result = subprocess.run(
        [str(python), "-c", "import kiosk.providers as p; print(p.available_providers())"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and "cpu" in result.stdout, result.stderr


def test_offline_install_runs_a_copy_of_the_code_not_the_checkout(root):
    """Issue 12 item 19: root runs /opt/fse's own copy; the checkout is not on its path (a user could
    change it, and ProtectHome= hides it from the units)."""
    python = root / "opt/fse/venv/bin/python"
    result = subprocess.run(
        [
            str(python),
            "-c",
            "import sys, contract, kiosk, kiosk.log_export.cli, kiosk.models, numpy, onnxruntime, pygame, serial; "
            "print(kiosk.__file__); print(contract.__file__); "
            "print(numpy.__file__); print(onnxruntime.__file__); print(pygame.__file__); print(serial.__file__); "
            "print(*sys.path, sep='\\n')",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
    )
    assert result.returncode == 0, result.stderr
    kiosk_file, contract_file, *rest = [
        line
        for line in result.stdout.splitlines()
        if not line.startswith(("pygame", "Hello"))  # pygame(-ce)'s banner
    ]
    dependencies, path = rest[:4], rest[4:]
    site = root / "opt/fse/venv/lib"
    assert Path(kiosk_file).is_relative_to(site) and Path(contract_file).is_relative_to(site)
    # The runtime dependencies are copies too: nothing on root's path lies in the checkout or its .venv.
    assert all(Path(f).is_relative_to(site) for f in dependencies), dependencies
    assert not [p for p in path if p.startswith(str(REPO))], path
    copied = Path(kiosk_file).parent / "log_export" / "usb.py"
    assert not copied.is_symlink() and copied.read_bytes() == (REPO / "kiosk" / "log_export" / "usb.py").read_bytes()


def sdl_video_drivers(root: Path) -> list[str]:
    python = root / "opt/fse/venv/bin/python"
    result = subprocess.run([str(python), "-m", "kiosk.sdl_drivers"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_idempotent_and_display_switch(root):
    """The default display is sway as fse (systemd/fse-display.service); FSE_DISPLAY=kmsdrm and x11
    write the kiosk's display drop-in, and x11 puts the root Xorg fallback in fse-display.service's
    place. Back on the default, the installed files are as before. Each mode's SDL driver is in the
    venv's pygame-ce (the installer refuses a mode whose driver is missing: kiosk.sdl_drivers)."""
    before = sorted(str(p.relative_to(root)) for p in root.rglob("*") if "venv/lib" not in str(p))
    dropin = root / "etc/systemd/system/fse-kiosk.service.d/display.conf"
    display = root / "etc/systemd/system/fse-display.service"
    sway = SYSTEMD / "fse-display.service"
    assert display.read_bytes() == sway.read_bytes() and not dropin.exists()
    assert (root / "etc/fse/sway-kiosk.conf").read_bytes() == (SYSTEMD / "sway-kiosk.conf").read_bytes()
    assert {"wayland", "kmsdrm", "x11"} <= set(sdl_video_drivers(root))
    for _ in range(2):
        result = install(root, FSE_DISPLAY="kmsdrm")
        assert result.returncode == 0, result.stderr
    assert "SDL_VIDEODRIVER=kmsdrm" in dropin.read_text() and display.read_bytes() == sway.read_bytes()
    result = install(root, FSE_DISPLAY="x11")
    assert result.returncode == 0, result.stderr
    assert "SDL_VIDEODRIVER=x11 DISPLAY=:0" in dropin.read_text()
    assert display.read_bytes() == (SYSTEMD / "fallback/fse-display-xorg.service").read_bytes()
    result = install(root)
    assert result.returncode == 0, result.stderr
    assert not dropin.exists() and display.read_bytes() == sway.read_bytes()
    after = sorted(str(p.relative_to(root)) for p in root.rglob("*") if "venv/lib" not in str(p))
    assert after == before


def test_installer_refuses_bad_input(tmp_path):
    result = install(tmp_path, FSE_DISPLAY="fbdev")
    assert result.returncode != 0 and "FSE_DISPLAY=fbdev" in result.stderr
    assert all(mode in result.stderr for mode in ("wayland", "kmsdrm", "x11")), result.stderr
    result = install(tmp_path, FSE_PYTHON=str(tmp_path / "python9"))
    assert result.returncode != 0 and "FSE_PYTHON" in result.stderr


def exec_paths(unit_text: str) -> set[str]:
    """Absolute programs named by Exec*= lines (after systemd's -@:+! prefixes)."""
    paths = set()
    for match in re.finditer(r"^Exec\w+=\s*[-@:+!]*(\S+)", unit_text, re.MULTILINE):
        if match.group(1).startswith("/"):
            paths.add(match.group(1))
    return paths


@needs_analyze
def test_units_verify_in_the_installed_root(root):
    """`systemd-analyze verify --root` on every installed unit. The scratch root gets a copy of the
    host's stock units (sysinit.target and friends) and empty stand-ins for system programs the units
    call that the OS provides (Xorg, sh); programs under /opt/fse must be the installer's real files."""
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True, dirs_exist_ok=True)
    installed = sorted((root / "etc/systemd/system").glob("*.*"))
    installed = [p for p in installed if p.suffix in UNIT_SUFFIXES]
    # The rollback unit's instance names the slot its program lives in: verify it as an instance
    # (a template is verified with the instance "i", whose /opt/fse/i does not exist).
    rollback = root / "etc/systemd/system/fse-update-rollback@a.service"
    if not rollback.exists():
        rollback.symlink_to("fse-update-rollback@.service")
    installed = [rollback if p.name == "fse-update-rollback@.service" else p for p in installed]
    for unit in installed:
        for program in exec_paths(unit.read_text()):
            program = program.replace("%i", "a")  # fse-update-rollback@a.service runs slot a's fse-update
            target = root / program.lstrip("/")
            if program.startswith("/opt/fse/"):
                assert target.is_file() and os.access(target, os.X_OK), f"{unit.name}: {program} not installed"
            elif not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text("#!/bin/true\n")
                target.chmod(0o755)
    result = subprocess.run(
        [
            "systemd-analyze",
            "verify",
            f"--root={root}",
            "--man=no",
            *[f"/etc/systemd/system/{u.name}" for u in installed],
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


@needs_analyze
@pytest.mark.parametrize("unit", ["fse-kiosk.service", "fse-display.service"])
def test_kiosk_and_display_units_security_exposure(unit):
    """The kiosk and its display (sway as fse; the root Xorg, 8.6, is only the fallback)."""
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--no-pager", str(SYSTEMD / unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    match = re.search(rf"Overall exposure level for {re.escape(unit)}: (\d+\.\d+)", result.stdout)
    if match is None and "offline" in result.stderr:
        pytest.skip("this systemd-analyze has no --offline (needs systemd >= 250)")
    assert match, result.stdout + result.stderr
    exposure = float(match.group(1))
    print(f"{unit} exposure {exposure}")
    assert exposure <= EXPOSURE_LIMIT, result.stdout
    assert f"| `{unit}` | {match.group(1)} |" in (REPO / "docs/appliance.md").read_text()  # the table says so


@needs_analyze
def test_usb_export_unit_security_exposure(tmp_path):
    """Issue 12 item 8: the root exporter's sandbox (rated on an instance of the template)."""
    unit = tmp_path / "fse-usb-export@sdb1.service"
    shutil.copy(SYSTEMD / "fse-usb-export@.service", unit)
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    match = re.search(r"Overall exposure level for fse-usb-export@sdb1\.service: (\d+\.\d+)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= 2.1, result.stdout  # issue 21 item 10: 2.4 before; the unit says why the rest
    assert re.search(r"^MemoryMax=\d+M$", unit.read_text(), re.MULTILINE)  # item 8: a bounded exporter
    text = unit.read_text()
    assert re.search(r"^ReadWritePaths=/var/lib/fse$", text, re.MULTILINE)
    assert re.search(r"^RuntimeDirectory=fse-usb-export/%i$", text, re.MULTILINE)  # a mount point per stick
    (caps,) = re.findall(r"^CapabilityBoundingSet=(.*)$", text, re.MULTILINE)
    assert set(caps.split()) == {"CAP_SYS_ADMIN", "CAP_SETUID", "CAP_SETGID", "CAP_CHOWN"}


@needs_analyze
@pytest.mark.parametrize(
    "template, instance", [("fse-usb-update@.service", "sdb1"), ("fse-update-rollback@.service", "a")]
)
def test_update_units_security_exposure(tmp_path, template, instance):
    """Issue 24 item 3: the root units that update and roll back (rated on an instance of the
    template); each unit's header says why each right that is left is needed."""
    unit = tmp_path / template.replace("@", f"@{instance}")
    shutil.copy(SYSTEMD / template, unit)
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    match = re.search(rf"Overall exposure level for {re.escape(unit.name)}: (\d+\.\d+)", result.stdout)
    assert match, result.stdout + result.stderr
    print(f"{unit.name} exposure {match.group(1)}")
    assert float(match.group(1)) <= EXPOSURE_LIMIT, result.stdout
    assert f"| `{unit.name}` | {match.group(1)} |" in (REPO / "docs/appliance.md").read_text()  # the table says so
    text = unit.read_text()
    (caps,) = re.findall(r"^CapabilityBoundingSet=(.*)$", text, re.MULTILINE)
    for cap in caps.split():
        assert cap in text.split("[Unit]")[0], f"{template}: {cap} is not explained in its header"


def test_kiosk_unit_speaks_the_contract():
    text = (SYSTEMD / "fse-kiosk.service").read_text()
    for line in (
        "Type=notify",
        "Restart=always",
        "StartLimitIntervalSec=0",
        "User=fse",
        "SupplementaryGroups=video render input dialout",
        "StateDirectory=fse",
        "CacheDirectory=fse",
        "ConfigurationDirectory=fse",
        "ExecStart=/opt/fse/current/venv/bin/fse-kiosk",
        "DevicePolicy=closed",
        "RestrictAddressFamilies=AF_UNIX",
        "NoNewPrivileges=yes",
    ):
        assert re.search(rf"^{re.escape(line)}$", text, re.MULTILINE), line
    assert re.search(r"^WatchdogSec=\d+", text, re.MULTILINE)


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None, reason="hiding /root needs root and unshare")
@pytest.mark.parametrize("copy", ["0", "1"], ids=["system-python", "copied-python"])
def test_the_appliance_python_runs_with_home_and_root_hidden(tmp_path, copy):
    """Issue 21 item 12: the venv's python linked to an interpreter under /root/.pyenv; with the units'
    ProtectHome=yes it was "python: not found" (rc 127). /root and /home are hidden here by mounting
    empty folders over them in a mount namespace of our own, as ProtectHome= does."""
    root = tmp_path / "root"
    result = install(root, FSE_COPY_PYTHON=copy)
    assert result.returncode == 0, result.stdout + result.stderr
    python = root / "opt/fse/venv/bin/python"
    hidden = subprocess.run(
        [
            "unshare",
            "-m",
            "sh",
            "-c",
            'mount -t tmpfs none /root && mount -t tmpfs none /home && exec "$0" -c "$1"',
            str(python),
            "import sys, json, sqlite3, kiosk.log_export.cli, kiosk.models, numpy, onnxruntime, pygame; print(sys.prefix)",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd="/",
    )
    assert hidden.returncode == 0, hidden.stderr[-2000:]
    assert hidden.stdout.strip().endswith("opt/fse/venv")
    interpreter = python.resolve()
    assert not str(interpreter).startswith(("/root/", "/home/")), interpreter
    if copy == "1":
        assert interpreter.is_relative_to(root / "opt/fse/python")


def test_sdl_video_drivers_are_asked_of_sdl(capsys):
    """kiosk.sdl_drivers reads the list from the SDL library pygame loaded (pygame itself cannot tell
    a driver that was not built from one whose device is missing)."""
    from kiosk import sdl_drivers

    drivers = sdl_drivers.video_drivers()
    assert {"dummy", "offscreen"} <= set(drivers), drivers
    assert sdl_drivers.main(["dummy"]) == 0
    assert sdl_drivers.main(["no-such-driver"]) == 1
    assert "has no no-such-driver video driver, only: " in capsys.readouterr().err
