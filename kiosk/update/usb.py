"""`fse-update usb /dev/sdb1`: an update from a stick labelled FSE-UPDATE (systemd/fse-usb-update@.service).

The order is what keeps a booth working whatever the stick holds or does:
  1. mount the stick read-only (kiosk/usb_stick.py, as the exporter does), find the one bundle;
  2. check its signature against /etc/fse/update-keys/ before anything in it is used, then that its
     version is newer than the running one's (or signed as going back from exactly that one);
  3. copy the payload to /opt/fse/.incoming while hashing it: a payload of another size or hash, or a
     stick pulled meanwhile (SIGTERM from BindsTo=, or a read error), is refused and the copy removed;
  4. unpack and build the inactive slot beside it, rename it into place (kiosk/update/slots.py);
  5. put the new version on trial, switch /opt/fse/current, restart the kiosk (kiosk/update/trial.py).
Until step 5 nothing the booth runs has changed; each step's news goes to the screen (status.py). After
step 3 the stick is not needed: pulling it then does not stop the install. A full disk in steps 3-4
is refused like a bad stick: the copy and the half-built slot are removed, and the message says how
much room there is and how much an update needs.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import stat
from pathlib import Path

from ..usb_stick import StickError, acting_as, mount_stick, stick_name, unmount_stick
from . import trial
from .bundle import (
    KEY_DIR,
    BundleError,
    Manifest,
    copy_payload,
    trusted_keys,
    unpack_payload,
    verify_header,
    version_key,
)
from .slots import PREFIX, SLOTS, DiskFull, SlotError, build_slot, current_slot, other_slot, slot_version, switch
from .status import UPDATE_STATUS, write_update_status

LABEL = "FSE-UPDATE"
"""The label of an update stick; systemd/90-fse-usb-update.rules matches it (a test checks)."""
MOUNT_ROOT = Path("/run/fse-usb-update")
BUNDLE_SUFFIX = ".fse-update"
INCOMING = ".incoming"


class UpdateStopped(Exception):
    """SIGTERM: systemd stops the unit because the stick was pulled (BindsTo=) or it took too long."""


def _stopped(signum, frame) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # one clean-up; systemd's SIGKILL follows if it hangs
    raise UpdateStopped("the stick was removed before the update was installed")


def find_bundle(root: Path) -> Path:
    """The one *.fse-update file at the stick's top level (a regular file, not a link)."""
    found = sorted(p for p in root.iterdir() if p.name.endswith(BUNDLE_SUFFIX))
    if not found:
        raise BundleError(
            f"no update on the stick: put the one file `fse-update build` made (*{BUNDLE_SUFFIX}) at its top level",
            f"no {BUNDLE_SUFFIX} file on the stick",
        )
    if len(found) > 1:
        raise BundleError(
            f"{len(found)} updates on the stick ({', '.join(p.name for p in found)}): leave only one",
            f"{len(found)} updates on the stick: leave one",
        )
    if not stat.S_ISREG(os.lstat(found[0]).st_mode):
        raise BundleError(f"{found[0].name} on the stick is not a regular file; copy the bundle itself onto it")
    return found[0]


def refuse_unless_newer(manifest: Manifest, running: str) -> None:
    """An update must be newer than the version that runs: a stick with an old signed bundle must not
    put a known-bad version back. Going back on purpose is a bundle signed with --downgrade-from that
    names exactly the running version (an unsigned marker on the stick would be as easy to forge)."""
    offered = version_key(manifest.version)
    if manifest.downgrade_from is not None and manifest.downgrade_from == running:
        return
    try:
        runs = version_key(running)
    except BundleError:
        raise BundleError(
            f"this booth's version ({running!r}) cannot be read, so {manifest.version} cannot be checked as "
            "newer: reinstall the booth with make install-appliance",
            "the booth's own version cannot be read",
        ) from None
    if offered > runs:
        return
    same = offered == runs
    raise BundleError(
        f"this booth runs {running} and the stick offers {manifest.version}, which is "
        f"{'the same version' if same else 'older'}: an update must be newer, so that an old signed bundle "
        f"cannot put a known-bad version back. To {'install it again' if same else 'go back to it'} on purpose, "
        f"build it with: fse-update build --key KEY --version {manifest.version} --downgrade-from {running}",
        f"runs {running}, offered {manifest.version}: not newer; to go back: --downgrade-from",
    )


def disk_full(prefix: Path, running: str, manifest: Manifest | None) -> str:
    """The reason for a full disk, with the room there is and the room an update needs."""
    free = shutil.disk_usage(prefix).free
    slot = sum(p.lstat().st_size for p in (prefix / running).rglob("*"))
    # A copy of the running slot, and the bundle's payload packed and unpacked.
    needed = slot + 2 * (manifest.payload_size if manifest else 0)
    return (
        f"the booth's disk is full: {free / 1e6:.0f} MB free in {PREFIX}, an update needs about "
        f"{needed / 1e6:.0f} MB there (a copy of the running slot, {slot / 1e6:.0f} MB, and the bundle). "
        f"Free room on that disk (df -h {PREFIX}), then plug the stick in again"
    )


def update_from_stick(target: str, state_dir: Path, root: Path = Path("/")) -> str:
    """Install the bundle on a stick (a block device is mounted here, a folder used as is); returns
    the new version. Raises with the reason after putting it on screen; then nothing has changed.
    `root`: the booth's root (tests use a staged one, as the installer's DESTDIR; systemd is then left alone)."""
    stick = stick_name(target)
    prefix, key_dir = root / PREFIX.relative_to("/"), root / KEY_DIR.relative_to("/")
    incoming = prefix / INCOMING
    mount_point, switched, top, manifest, running, copied = None, None, None, None, None, False
    previous = signal.signal(signal.SIGTERM, _stopped)

    def status(state: str, message: str, **extra) -> None:
        write_update_status(state_dir, state, message, device=target, **extra)

    try:
        status("running", f"Checking the update on {stick}. Do not remove it.")
        if trial.on_trial(root):
            raise SlotError(
                "the last update is still starting; wait until the kiosk is back, then plug the stick in again"
            )
        running = current_slot(prefix)
        keys = trusted_keys(key_dir)
        path = Path(target)
        if stat.S_ISBLK(os.stat(path).st_mode):
            mount_point = top = mount_stick(path, None, MOUNT_ROOT, LABEL, read_only=True)
        elif path.is_dir():
            top = path
        else:
            raise StickError(f"{target} is neither a block device nor a folder; plug the stick in again")
        bundle = find_bundle(top)
        shutil.rmtree(incoming, ignore_errors=True)
        incoming.mkdir(mode=0o700)
        with open(bundle, "rb", opener=lambda p, flags: os.open(p, flags | os.O_NOFOLLOW)) as f:
            manifest = verify_header(f, keys)
            refuse_unless_newer(manifest, slot_version(running, prefix))
            status("running", f"Copying update {manifest.version} from {stick}. Do not remove it.")
            copy_payload(f, manifest, incoming / "payload.tar.gz")
            copied = True
        if mount_point:
            unmount_stick(mount_point)
            mount_point = None
        # The stick is no longer needed: pulling it now (systemd's SIGTERM) does not stop the install,
        # which is done whole (SIGKILL after TimeoutStopSec= leaves at most a half-built inactive slot).
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        new, was = other_slot(running), slot_version(running, prefix)
        status("running", f"Installing update {manifest.version} (now {was}). You can remove the stick.")
        unpack_payload(incoming / "payload.tar.gz", incoming / "unpacked")
        build_slot(prefix, running, new, incoming / "unpacked", manifest.version, manifest.scripts)
        shutil.rmtree(incoming, ignore_errors=True)
        trial.begin(running, new, root)
        switch(prefix, new)
        switched = manifest.version
        status(
            "installed",
            f"Update {manifest.version} installed: starting it. You can remove the stick.",
            version=manifest.version,
            previous=was,
            detail=f"update {manifest.version} (was {was}) from {stick}, signed by {manifest.signed_by}, "
            f"built {manifest.created_utc}: installed into slot {new}, on trial"
            + (" (going back on purpose: signed --downgrade-from)" if manifest.downgrade_from == was else ""),
        )
        trial.systemctl(root, "restart", "--no-block", trial.KIOSK)
        return manifest.version
    except BaseException as e:
        if mount_point:
            unmount_stick(mount_point)
        shutil.rmtree(incoming, ignore_errors=True)
        # The screen gets a few words (a toast holds three lines), the journal and the status's detail the rest.
        full = isinstance(e, DiskFull) or (isinstance(e, OSError) and e.errno == errno.ENOSPC)
        if full and running:
            reason, screen = disk_full(prefix, running, manifest), "the booth's disk is full"
        elif (
            isinstance(e, OSError)
            and not copied
            and (top is None or e.filename is None or str(e.filename).startswith(str(top)))
        ):
            reason = f"{stick} could not be read ({e.strerror or e}): it was removed or is damaged"
            screen = "the stick could not be read"
        elif isinstance(e, OSError):
            reason, screen = f"{e.strerror or e} ({e.filename}) on the booth", "a problem on the booth, see its journal"
        elif isinstance(e, UpdateStopped):
            reason, screen = str(e), "the stick was removed"
        else:
            reason, screen = str(e), getattr(e, "screen", None) or "see journalctl -u 'fse-usb-update@*'"
        if switched:  # the new slot is current and on trial: its kiosk starts at the latest at the next boot
            status("failed", f"Update {switched} is installed but did not start: restart the booth", detail=reason)
        else:
            status("failed", f"Update refused ({screen}). Nothing was changed.", detail=reason)
        if full:
            raise SlotError(reason) from e
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)


def mark_stopped(target: str, state_dir: Path) -> bool:
    """After the unit ends (ExecStopPost): an update still "running" was killed and could not say so."""
    shutil.rmtree(PREFIX / INCOMING, ignore_errors=True)
    for slot in SLOTS:
        shutil.rmtree(PREFIX / f".{slot}.new", ignore_errors=True)
    point = MOUNT_ROOT / Path(target).name
    if os.path.ismount(point):
        unmount_stick(point)
    state_dir = Path(state_dir)
    info = os.lstat(state_dir)
    try:  # as the state directory's owner: root holds no CAP_DAC_OVERRIDE in the unit
        with acting_as((info.st_uid, info.st_gid) if os.geteuid() == 0 and info.st_uid != 0 else None):
            status = json.loads((state_dir / UPDATE_STATUS).read_text())
    except (OSError, ValueError):
        return False
    if status.get("state") != "running" or status.get("device") != target:
        return False
    write_update_status(
        state_dir,
        "failed",
        "Update refused (stopped before it was installed). Nothing was changed.",
        device=target,
        detail="the update unit was stopped or killed before the update was installed (the stick was pulled, or it took too long)",
    )
    return True
