"""Signed A/B updates (kiosk/update/) on real files: bundles built from this checkout and signed with
keys made here, checked with `cryptography`; a booth staged by the real installer (DESTDIR, offline)
whose slots are built and switched; a folder standing in for the mounted stick (the stick's mount
and the units are the boot test's, tests/test_boot.py). A staged root has no systemd: the trial's
drop-in is written there and checked, systemctl is not called (kiosk/update/trial.py says so).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kiosk.update import bundle, cli, slots, trial
from kiosk.update.bundle import BundleError
from kiosk.update.status import SCREEN_CHARS, UPDATE_STATUS, update_status_toast, update_status_watch
from kiosk.update.usb import update_from_stick

REPO = Path(__file__).resolve().parent.parent
INSTALLER = REPO / "scripts" / "install-appliance.sh"


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """The operator's key pair, another operator's, and a booth key folder trusting the first."""
    d = tmp_path_factory.mktemp("keys")
    ours, theirs = d / "operator.pem", d / "stranger.pem"
    bundle.generate_key(ours)
    bundle.generate_key(theirs)
    trusted = d / "trusted"
    trusted.mkdir()
    shutil.copy(d / "operator.pub.pem", trusted)
    return {"ours": ours, "theirs": theirs, "trusted": trusted, "public": d / "operator.pub.pem"}


@pytest.fixture(scope="module")
def good(keys, tmp_path_factory):
    """A bundle of this checkout, version 9.9.0, signed with the operator's key."""
    out = tmp_path_factory.mktemp("bundles") / "good.fse-update"
    cli.build(REPO, keys["ours"], "9.9.0", out)
    return out


@pytest.fixture(scope="module")
def newer(keys, tmp_path_factory):
    """A bundle of a copy of this checkout whose docs/appliance.md says it is 9.9.1's."""
    source = tmp_path_factory.mktemp("source")
    shutil.copy(REPO / "pyproject.toml", source)
    for folder in ("contract", "kiosk", "training", "analysis", "onnx_models", "docs"):
        shutil.copytree(REPO / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__", "*.png"))
    with open(source / "docs/appliance.md", "a") as f:
        f.write(NEWER_DOCS)
    out = tmp_path_factory.mktemp("bundles") / "newer.fse-update"
    cli.build(source, keys["ours"], "9.9.1", out)
    return out


NEWER_DOCS = "\nThese are 9.9.1's docs.\n"


def verify(path: Path, keys) -> bundle.Manifest:
    return bundle.verify_file(path, bundle.trusted_keys(keys["trusted"]))


def changed_copy(source: Path, dest: Path, offset: int, truncate: int | None = None) -> Path:
    data = bytearray(source.read_bytes())
    if truncate is not None:
        data = data[:truncate]
    else:
        data[offset] ^= 0x01
    dest.write_bytes(bytes(data))
    return dest


# -- the bundle ---------------------------------------------------------------------------------------


def test_a_signed_bundle_verifies_and_says_what_it_holds(good, keys):
    manifest = verify(good, keys)
    assert manifest.version == "9.9.0" and manifest.signed_by == "operator.pub.pem"
    assert manifest.scripts["fse-kiosk"] == "kiosk.startup:main" and "fse-train" not in manifest.scripts
    assert good.stat().st_size == manifest.header_size + manifest.payload_size


def test_a_changed_payload_byte_is_refused(good, keys, tmp_path):
    manifest = verify(good, keys)
    for offset in (manifest.header_size, good.stat().st_size - 1):  # the payload's first and last bytes
        with pytest.raises(BundleError, match="changed, cut short or damaged after signing"):
            verify(changed_copy(good, tmp_path / "x.fse-update", offset), keys)


def test_a_changed_manifest_or_signature_is_refused(good, keys, tmp_path):
    manifest = verify(good, keys)
    text = good.read_bytes()
    version_at = text.index(b'"9.9.0"') + 1
    for offset in (version_at, manifest.header_size - 1):  # the manifest's version, the signature's last byte
        with pytest.raises(BundleError, match="not signed by a key this booth trusts"):
            verify(changed_copy(good, tmp_path / "x.fse-update", offset), keys)


def test_another_key_is_refused(keys, tmp_path):
    out = tmp_path / "stranger.fse-update"
    cli.build(REPO, keys["theirs"], "9.9.0", out)
    with pytest.raises(BundleError, match=r"not signed by a key this booth trusts.*\(trusted: operator.pub.pem\)"):
        verify(out, keys)


def test_cut_short_and_not_a_bundle_are_refused(good, keys, tmp_path):
    manifest = verify(good, keys)
    for size, problem in (
        (good.stat().st_size - 1, "changed, cut short"),
        (manifest.header_size - 10, "ends inside its signature"),
        (20, "ends inside its manifest"),
    ):
        with pytest.raises(BundleError, match=problem):
            verify(changed_copy(good, tmp_path / "x.fse-update", 0, truncate=size), keys)
    (tmp_path / "photo.fse-update").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    with pytest.raises(BundleError, match="not an fse-update bundle"):
        verify(tmp_path / "photo.fse-update", keys)


def test_a_booth_without_keys_refuses_everything(tmp_path):
    with pytest.raises(BundleError, match="no update key in .*FSE_UPDATE_KEYS"):
        bundle.trusted_keys(tmp_path)
    (tmp_path / "operator.pem").write_text("not a key\n")
    with pytest.raises(BundleError, match="cannot be read"):
        bundle.trusted_keys(tmp_path)


def test_build_refuses_a_folder_that_is_not_the_checkout(keys, tmp_path):
    assert cli.main(["build", "--key", str(keys["ours"]), "--source", str(tmp_path)]) == 2
    with pytest.raises(BundleError, match="no pyproject.toml"):
        cli.build(tmp_path, keys["ours"], None, tmp_path / "x.fse-update")


# -- a staged booth -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def installed(keys, tmp_path_factory):
    """The appliance installed by its real installer into a scratch root, trusting the operator's key."""
    root = tmp_path_factory.mktemp("booth")
    env = {
        **os.environ,
        "DESTDIR": str(root),
        "FSE_INSTALL_OFFLINE": "1",
        "FSE_PYTHON": sys.executable,
        "FSE_UPDATE_KEYS": str(keys["public"]),
    }
    result = subprocess.run(["bash", str(INSTALLER)], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "update key: " in result.stdout
    (root / "var/lib/fse").chmod(0o755)
    return root


@pytest.fixture
def booth(installed, tmp_path):
    """A fresh copy of the installed root for each test (they switch slots)."""
    root = tmp_path / "root"
    shutil.copytree(installed, root, symlinks=True)
    return root


def stick_with(tmp_path: Path, *files: Path) -> Path:
    stick = tmp_path / "stick"
    stick.mkdir(parents=True)
    for f in files:
        shutil.copy(f, stick / f.name)
    return stick


def status(root: Path) -> dict:
    return json.loads((root / "var/lib/fse" / UPDATE_STATUS).read_text())


def slot_python(root: Path, slot: str, code: str) -> str:
    """What a slot's own python says, run from / (so nothing is imported from this checkout)."""
    python = root / "opt/fse" / slot / "venv/bin/python"
    result = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=60, cwd="/")
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_installer_lays_out_slot_a_and_trusts_the_key(installed, keys):
    prefix = installed / "opt/fse"
    assert os.readlink(prefix / "current") == "a"
    for link in ("venv", "onnx_models", "docs"):  # docs: what the units' Documentation= lines name
        assert os.readlink(prefix / link) == f"current/{link}", link
    assert (prefix / "a/docs/appliance.md").read_bytes() == (REPO / "docs/appliance.md").read_bytes()
    assert (prefix / "a/venv/bin/fse-update").read_text().startswith("#!/opt/fse/a/venv/bin/python\n")
    key = installed / "etc/fse/update-keys/operator.pub.pem"
    assert key.read_bytes() == keys["public"].read_bytes() and oct(key.stat().st_mode & 0o777) == "0o644"
    assert slots.slot_version("a", prefix) == "0.1.0"
    assert (installed / "etc/systemd/system/fse-kiosk.service.d").is_dir()  # the update units' ReadWritePaths=


def test_installer_refuses_a_private_key(tmp_path, keys):
    env = {
        **os.environ,
        "DESTDIR": str(tmp_path),
        "FSE_INSTALL_OFFLINE": "1",
        "FSE_PYTHON": sys.executable,
        "FSE_UPDATE_KEYS": str(keys["ours"]),
    }
    result = subprocess.run(["bash", str(INSTALLER)], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and "never the private key" in result.stderr, result.stderr
    assert not list((tmp_path / "etc/fse/update-keys").glob("*"))


def test_installer_moves_an_install_from_before_slots_into_slot_a(installed, tmp_path):
    """An install from before slots: /opt/fse/venv and /opt/fse/onnx_models real folders, no current."""
    root = tmp_path / "old"
    shutil.copytree(installed, root, symlinks=True)
    prefix = root / "opt/fse"
    for link in ("current", "venv", "onnx_models", "docs"):
        (prefix / link).unlink()
    for folder in ("venv", "onnx_models", "docs"):
        os.rename(prefix / "a" / folder, prefix / folder)
    (prefix / "a").rmdir()
    marker = slots.site_packages(prefix / "venv") / "left-by-the-old-install.txt"
    marker.write_text("the old venv, moved not rebuilt\n")
    env = {**os.environ, "DESTDIR": str(root), "FSE_INSTALL_OFFLINE": "1", "FSE_PYTHON": sys.executable}
    result = subprocess.run(["bash", str(INSTALLER)], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "moving the install from before slots" in result.stdout
    assert os.readlink(prefix / "current") == "a" and os.readlink(prefix / "venv") == "current/venv"
    assert (slots.site_packages(prefix / "a/venv") / marker.name).is_file()
    assert (prefix / "a/onnx_models/manifest.json").is_file() and (prefix / "onnx_models/manifest.json").is_file()
    assert os.readlink(prefix / "docs") == "current/docs" and (prefix / "a/docs/appliance.md").is_file()
    # again: the same slot, in place
    result = subprocess.run(["bash", str(INSTALLER)], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and "installing into slot a" in result.stdout, result.stderr


def test_a_good_update_builds_the_other_slot_and_switches(booth, good, tmp_path):
    prefix = booth / "opt/fse"
    before_a = {k: v for k, v in slots.snapshot(prefix).items() if k.startswith("a/")}
    assert update_from_stick(str(stick_with(tmp_path, good)), booth / "var/lib/fse", booth) == "9.9.0"
    assert os.readlink(prefix / "current") == "b" and not (prefix / ".current.new").exists()
    assert {k: v for k, v in slots.snapshot(prefix).items() if k.startswith("a/")} == before_a  # never written
    assert not (prefix / ".incoming").exists() and not (prefix / ".b.new").exists()
    # The new slot runs its own code, models and version, from its own python.
    assert (prefix / "b/venv/bin/fse-kiosk").read_text().startswith("#!/opt/fse/b/venv/bin/python\n")
    said = slot_python(
        booth,
        "b",
        "import importlib.metadata as m, kiosk, cryptography; from contract.models import shipped_models_dir; "
        "print(m.version('fashion-space-explorer')); print(kiosk.__file__); print(shipped_models_dir())",
    ).splitlines()
    assert said[0] == "9.9.0"
    assert Path(said[1]).is_relative_to(prefix / "b/venv") and Path(said[2]) == (prefix / "b/onnx_models").resolve()
    assert (prefix / "b/onnx_models/manifest.json").read_bytes() == (REPO / "onnx_models/manifest.json").read_bytes()
    assert (prefix / "b/docs/appliance.md").read_bytes() == (REPO / "docs/appliance.md").read_bytes()
    assert (prefix / "docs").resolve() == (prefix / "b/docs").resolve()  # the units' docs follow current
    said = status(booth)
    assert (
        said["state"] == "installed"
        and said["message"] == "Update 9.9.0 installed: starting it. You can remove the stick."
    )
    assert "(was 0.1.0)" in said["detail"] and "signed by operator.pub.pem" in said["detail"]
    # On trial: three starts within the watchdog window, then the previous slot's rollback.
    dropin = (booth / trial.TRIAL_DROPIN).read_text()
    for line in (
        "StartLimitBurst=3",
        "OnFailure=fse-update-rollback@a.service",
        "TimeoutStartSec=30",
        "ExecStartPost=+/opt/fse/a/venv/bin/fse-update confirm --from a --to b --state-dir /var/lib/fse",
    ):
        assert f"\n{line}\n" in dropin, line
    # A second stick while the first update is on trial waits.
    with pytest.raises(slots.SlotError, match="still starting"):
        update_from_stick(str(stick_with(tmp_path / "2", good)), booth / "var/lib/fse", booth)


def test_the_installer_after_an_update_installs_into_the_running_slot(booth, good, tmp_path):
    """make install-appliance on a booth an update switched to b: b is updated in place, a (the way
    back) is left alone, and current still points at b."""
    prefix = booth / "opt/fse"
    update_from_stick(str(stick_with(tmp_path, good)), booth / "var/lib/fse", booth)
    trial.confirm("a", "b", booth / "var/lib/fse", booth)
    before_a = {k: v for k, v in slots.snapshot(prefix).items() if k.startswith("a/")}
    env = {**os.environ, "DESTDIR": str(booth), "FSE_INSTALL_OFFLINE": "1", "FSE_PYTHON": sys.executable}
    result = subprocess.run(["bash", str(INSTALLER)], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and "installing into slot b" in result.stdout, result.stderr
    assert os.readlink(prefix / "current") == "b" and slots.slot_version("b", prefix) == "0.1.0"
    assert {k: v for k, v in slots.snapshot(prefix).items() if k.startswith("a/")} == before_a
    assert (prefix / "b/venv/bin/fse-kiosk").read_text().startswith("#!/opt/fse/b/venv/bin/python\n")


def test_confirm_ends_the_trial_and_rollback_goes_back(booth, good, newer, tmp_path):
    """...with the docs: /opt/fse/docs (the units' Documentation=) shows the running version's."""
    prefix, state = booth / "opt/fse", booth / "var/lib/fse"
    update_from_stick(str(stick_with(tmp_path, good)), state, booth)
    trial.confirm("a", "b", state, booth)
    assert not (booth / trial.TRIAL_DROPIN).exists() and status(booth)["message"] == "Updated to 9.9.0 (was 0.1.0)"
    update_from_stick(str(stick_with(tmp_path / "again", newer)), state, booth)  # b -> a now
    assert os.readlink(prefix / "current") == "a" and "rollback@b" in (booth / trial.TRIAL_DROPIN).read_text()
    assert (prefix / "docs/appliance.md").read_text().endswith(NEWER_DOCS)
    trial.rollback("b", state, booth)
    assert os.readlink(prefix / "current") == "b" and not (booth / trial.TRIAL_DROPIN).exists()
    assert (prefix / "docs/appliance.md").read_bytes() == (REPO / "docs/appliance.md").read_bytes()
    assert status(booth)["state"] == "rolled-back"
    assert status(booth)["message"] == "Update to 9.9.1 failed to start; back on 9.9.0"


@pytest.mark.parametrize("problem", ["tampered", "other key", "cut short", "none", "two"])
def test_a_refused_update_changes_nothing_and_says_why(booth, good, keys, tmp_path, problem):
    prefix, state = booth / "opt/fse", booth / "var/lib/fse"
    size = good.stat().st_size
    if problem == "tampered":
        files = [changed_copy(good, tmp_path / "u.fse-update", size // 2)]
    elif problem == "other key":
        files = [tmp_path / "u.fse-update"]
        cli.build(REPO, keys["theirs"], "9.9.0", files[0])
    elif problem == "cut short":
        files = [changed_copy(good, tmp_path / "u.fse-update", 0, truncate=size // 2)]
    elif problem == "none":
        files = []
    else:
        files = [good, changed_copy(good, tmp_path / "v.fse-update", 0, truncate=size)]
    before = slots.snapshot(prefix)
    with pytest.raises(BundleError) as refused:
        update_from_stick(str(stick_with(tmp_path, *files)), state, booth)
    assert slots.snapshot(prefix) == before and not (booth / trial.TRIAL_DROPIN).exists()
    assert sorted(p.name for p in prefix.iterdir()) == ["a", "current", "docs", "onnx_models", "venv"]
    said = status(booth)
    assert said["state"] == "failed" and said["message"].endswith("Nothing was changed.")
    assert said["detail"] == str(refused.value)  # the whole reason and its fix, for the journal
    assert said["message"] == f"Update refused ({refused.value.screen}). Nothing was changed."
    assert len(said["message"]) <= SCREEN_CHARS, said["message"]  # a toast holds three lines


def test_versions_compare_as_versions():
    key = bundle.version_key
    assert key("0.10.0") > key("0.9.0") and key("10.0.0") > key("9.9.0") and key("1.0") == key("1.0.0")
    assert key("0.1.0.1") > key("0.1.0") > key("0.0.9")
    for malformed in ("", "v1.0", "1.0.0-rc1", "1..0", "1.0.0.0.0", " 1.0", "1.0\n", "?"):
        with pytest.raises(BundleError, match="not a version fse-update can compare"):
            key(malformed)


def small_bundle(keys, tmp_path: Path, version: str, downgrade_from: str | None = None) -> Path:
    """A bundle signed with the operator's key, of one small package: for refusals that come before its payload."""
    out = tmp_path / f"fse-update-{version}.fse-update"
    bundle.write_bundle(
        out,
        keys["ours"],
        version,
        {"contract": REPO / "contract"},
        REPO / "onnx_models",
        REPO / "docs",
        {},
        downgrade_from,
    )
    return out


@pytest.mark.parametrize(
    "offered, problem",
    [("0.1.0", "the same version"), ("0.1", "the same version"), ("0.0.9", "older"), ("0.2.0-beta", None)],
)
def test_an_update_not_newer_than_the_running_version_is_refused(booth, keys, tmp_path, offered, problem):
    """A stick with an old signed bundle must not put a known-bad version back (replay); the booth runs 0.1.0."""
    prefix, state = booth / "opt/fse", booth / "var/lib/fse"
    before = slots.snapshot(prefix)
    with pytest.raises(BundleError) as refused:
        update_from_stick(str(stick_with(tmp_path, small_bundle(keys, tmp_path, offered))), state, booth)
    assert slots.snapshot(prefix) == before and not (booth / trial.TRIAL_DROPIN).exists()
    said = status(booth)
    assert said["state"] == "failed" and said["detail"] == str(refused.value) and len(said["message"]) <= SCREEN_CHARS
    if problem is None:  # signed, but not a version: refused before it is compared
        assert (
            said["message"] == "Update refused (its version '0.2.0-beta' is not a version number). Nothing was changed."
        )
        return
    assert said["message"] == (
        f"Update refused (runs 0.1.0, offered {offered}: not newer; to go back: --downgrade-from). Nothing was changed."
    )
    assert f"this booth runs 0.1.0 and the stick offers {offered}, which is {problem}" in said["detail"]
    assert f"fse-update build --key KEY --version {offered} --downgrade-from 0.1.0" in said["detail"]


def test_a_newer_version_installs_and_going_back_needs_a_bundle_signed_for_it(booth, good, keys, tmp_path):
    """10.0.0 is newer than 9.9.0 (as numbers; as strings it is not); going back is a bundle built with
    --downgrade-from naming exactly the running version."""
    prefix, state = booth / "opt/fse", booth / "var/lib/fse"
    update_from_stick(str(stick_with(tmp_path / "1", good)), state, booth)
    trial.confirm("a", "b", state, booth)
    newest = cli.build(REPO, keys["ours"], "10.0.0", tmp_path / "fse-update-10.0.0.fse-update")
    assert update_from_stick(str(stick_with(tmp_path / "2", newest)), state, booth) == "10.0.0"
    trial.confirm("b", "a", state, booth)
    # Signed to go back from another version than the one that runs: refused like any older one.
    before = slots.snapshot(prefix)
    with pytest.raises(BundleError, match="runs 10.0.0 and the stick offers 9.9.0, which is older"):
        update_from_stick(str(stick_with(tmp_path / "3", small_bundle(keys, tmp_path, "9.9.0", "9.9.5"))), state, booth)
    assert slots.snapshot(prefix) == before
    back = tmp_path / "back" / "fse-update-9.9.0.fse-update"
    back.parent.mkdir()
    assert (
        cli.main(
            [
                "build",
                "--key",
                str(keys["ours"]),
                "--source",
                str(REPO),
                "--version",
                "9.9.0",
                "--downgrade-from",
                "10.0.0",
                "--out",
                str(back),
            ]
        )
        == 0
    )
    assert update_from_stick(str(stick_with(tmp_path / "4", back)), state, booth) == "9.9.0"
    assert os.readlink(prefix / "current") == "b" and "going back on purpose" in status(booth)["detail"]
    # The operator's build refuses what no booth could compare.
    for flags in (["--version", "9.9.0-rc1"], ["--version", "9.9.0", "--downgrade-from", "latest"]):
        assert cli.main(["build", "--key", str(keys["ours"]), "--source", str(REPO), "--out", str(back), *flags]) == 2


@pytest.mark.skipif(
    os.geteuid() != 0, reason="a small tmpfs for /opt/fse needs root (mount); the boot test's CI has it"
)
def test_a_full_disk_refuses_the_update_cleans_up_and_the_next_one_installs(booth, good, tmp_path):
    """/opt/fse on a tmpfs with room for the bundle but not for a copy of the running slot: ENOSPC
    while the slot is built is refused with the room there is, and leaves nothing behind."""
    prefix, state = booth / "opt/fse", booth / "var/lib/fse"
    os.rename(prefix, tmp_path / "opt-fse")
    prefix.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1G,mode=0755", "fse-test-full", prefix], check=True)
    try:
        shutil.copytree(tmp_path / "opt-fse", prefix, symlinks=True, dirs_exist_ok=True)
        room = 3 * good.stat().st_size  # the payload copied and unpacked, then no room to copy the venv
        size = shutil.disk_usage(prefix).used + room
        subprocess.run(["mount", "-o", f"remount,size={size}", prefix], check=True)
        before = slots.snapshot(prefix)
        with pytest.raises(slots.SlotError, match="the booth's disk is full") as refused:
            update_from_stick(str(stick_with(tmp_path / "1", good)), state, booth)
        assert slots.snapshot(prefix) == before and not (booth / trial.TRIAL_DROPIN).exists()
        assert sorted(p.name for p in prefix.iterdir()) == ["a", "current", "docs", "onnx_models", "venv"]
        said = status(booth)
        assert said["message"] == "Update refused (the booth's disk is full). Nothing was changed."
        assert said["detail"] == str(refused.value) and "MB free in /opt/fse, an update needs about" in said["detail"]
        subprocess.run(["mount", "-o", "remount,size=1G", prefix], check=True)
        assert update_from_stick(str(stick_with(tmp_path / "2", good)), state, booth) == "9.9.0"
        assert os.readlink(prefix / "current") == "b" and status(booth)["state"] == "installed"
    finally:
        subprocess.run(["umount", prefix], check=True)


def test_the_watchdog_window_is_read_as_systemctl_prints_it():
    """systemctl show prints WatchdogUSec as "30s", not microseconds (the first boot test found it)."""
    assert trial.timespan_s("30s\n") == 30 and trial.timespan_s("1min 30s") == 90 and trial.timespan_s("500ms") == 0.5
    assert trial.timespan_s("0") == 0 and trial.timespan_s("infinity") == 0
    with pytest.raises(slots.SlotError, match="not a time span"):
        trial.timespan_s("soon")


def test_the_udev_rule_starts_the_update_unit_for_the_label_the_updater_names():
    from kiosk.update.usb import LABEL

    rule = (REPO / "systemd/90-fse-usb-update.rules").read_text()
    assert f'ENV{{ID_FS_LABEL}}=="{LABEL}"' in rule and 'ENV{SYSTEMD_WANTS}+="fse-usb-update@%k.service"' in rule
    assert (REPO / "systemd/fse-usb-update@.service").is_file()
    unit = (REPO / "systemd/fse-update-rollback@.service").read_text()
    assert "ExecStart=/opt/fse/%i/venv/bin/fse-update rollback --to %i" in unit  # the previous slot's code
    assert trial.ROLLBACK_UNIT.format(slot="%i") == "fse-update-rollback@%i.service"


# -- on screen ----------------------------------------------------------------------------------------


def test_the_kiosk_shows_an_update_status_written_just_before_it_started(tmp_path):
    """ "Back on 0.1.0" is written before the kiosk it restarts: a young status is news at start-up,
    an old one is not; later statuses are news once each."""
    from kiosk.update.status import write_update_status

    write_update_status(tmp_path, "rolled-back", "Update to 9.9.1 failed to start; back on 9.9.0")
    watch = update_status_watch(tmp_path)
    assert watch.toast(0.0) == ("Update to 9.9.1 failed to start; back on 9.9.0", "warn", 20.0, UPDATE_STATUS)
    assert watch.toast(5.0) is None
    old = time.time() - 3600
    os.utime(tmp_path / UPDATE_STATUS, (old, old))
    assert update_status_watch(tmp_path).toast(0.0) is None
    write_update_status(tmp_path, "updated", "Updated to 9.9.0 (was 0.1.0)")
    assert watch.toast(10.0) == ("Updated to 9.9.0 (was 0.1.0)", "ok", 12.0, UPDATE_STATUS)
    assert update_status_toast({"state": "nonsense", "message": "x"}) is None
