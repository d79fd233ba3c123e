"""A booth booted for real: systemd as PID 1 on an overlay of this machine's root, for tests/test_boot.py.

    machine = Machine(Path("/tmp/boot/run"), shared=[repo])  # emptied; overlay: lower = /, upper and work under it
    machine.boot()                               # unshare a PID/mount/UTS/IPC namespace, chroot, systemd
    machine.run("systemctl", "is-system-running")  # nsenter into it
    machine.power_cut()                          # SIGKILL PID 1: the kernel kills every process in it
    machine.close()                              # always: kill what is left, unmount the overlay

Why these choices:
- The upper directory keeps what the booth wrote between boots (a power cut, then the next boot),
  as a disk would; the page cache of the one kernel survives a power cut here, a real one does not.
- The namespace's root is the overlay by pivot_root (a chroot could not start units with
  PrivateUsers=), and /tmp inside is a fresh tmpfs per boot (as on a booth): the lower /tmp holds this run's own
  overlay directories, which overlayfs refuses to look up (overlapping layers) and
  systemd-tmpfiles would try to empty. So a checkout or venv under /tmp (CI's clone, ci-local's) would be
  missing inside: `shared` paths under /tmp are bind-mounted read-only at the same path in the fresh /tmp
  (read-only and a mount of their own, so the booth's tmpfiles can neither empty nor descend into them).
- The network namespace is the host's: kernel uevents (a loop device appearing) reach only the
  initial network namespace, and the booth's udevd must hear them. The booth's units have
  PrivateNetwork= anyway; its compositor listens on a file-system socket only.
- Timestamps: the namespace shares CLOCK_MONOTONIC with this process, so systemd's
  *TimestampMonotonic properties are compared with time.monotonic() directly.
"""

from __future__ import annotations

import ctypes
import os
import shlex
import shutil
import signal
import subprocess
import time
from pathlib import Path

from waiting import wait_for

SYSTEMD = "/lib/systemd/systemd"
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")


class BootError(AssertionError):
    """The booth did not do what a step waited for; the message says what and for how long."""


class Machine:
    def __init__(self, run_dir: Path, shared: list[Path] = ()) -> None:
        self.run_dir = run_dir
        tmp = Path("/tmp")
        self.shared = sorted({p.resolve() for p in shared if p.resolve().is_relative_to(tmp)})
        self.root = run_dir / "root"
        self.upper, self.work = run_dir / "upper", run_dir / "work"
        self.unshare: subprocess.Popen | None = None
        self.pid: int | None = None  # systemd's PID as this process sees it
        self.boot_started = self.boot_wall = 0.0
        self.boots = 0
        if os.path.ismount(self.root):  # a killed run's overlay: unmount it before removing anything
            subprocess.run(["umount", "-l", self.root], check=True)
        shutil.rmtree(run_dir, ignore_errors=True)  # every run starts from the machine's own root
        for d in (self.root, self.upper, self.work):
            d.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "mount",
                "-t",
                "overlay",
                "overlay",
                "-o",
                f"lowerdir=/,upperdir={self.upper},workdir={self.work}",
                self.root,
            ],
            check=True,
        )

        if self.shared:  # the booth's /tmp is a fresh tmpfs already; emptying it at boot would only trip
            # over the shared mounts ("rm_rf(/tmp): Directory not empty" in the journal), so /tmp is kept as is
            tmpfiles = self.root / "etc/tmpfiles.d"
            tmpfiles.mkdir(parents=True, exist_ok=True)
            (tmpfiles / "tmp.conf").write_text(
                "# tests/bootlab.py: /tmp is a fresh tmpfs per boot\nd /tmp 1777 root root -\n"
            )

    # -- power ------------------------------------------------------------------------------------------

    def boot(self, timeout: float = 60.0) -> float:
        """Start systemd as PID 1 and wait until it reports running; returns the seconds it took."""
        assert self.unshare is None, "already booted"
        console = open(self.run_dir / f"console-{self.boots}.log", "wb")
        # pivot_root, not chroot: a chrooted process may not create user namespaces, which units
        # with PrivateUsers= need (unshare(2): EPERM "the caller is in a chroot environment").
        binds = "".join(
            f"mkdir -p {shlex.quote(f'{self.root}{p}')} && mount --bind {shlex.quote(str(p))} {shlex.quote(f'{self.root}{p}')} && "
            f"mount -o remount,bind,ro {shlex.quote(f'{self.root}{p}')} && "
            for p in self.shared
        )
        command = (
            f"mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs {self.root}/tmp && {binds}mkdir {self.root}/tmp/.host && "
            f"pivot_root {self.root} {self.root}/tmp/.host && umount -l /tmp/.host && rmdir /tmp/.host && "
            f"exec env container=unshare {SYSTEMD} --system"
        )
        self.boot_started, self.boot_wall = time.monotonic(), time.time()
        # Never a booted systemd left behind: if this process dies (a CI timeout's SIGKILL), the kernel
        # kills unshare (PDEATHSIG), and unshare's --kill-child takes PID 1 and so the namespace with it.
        self.unshare = subprocess.Popen(
            [
                "unshare",
                "--pid",
                "--fork",
                "--kill-child=SIGKILL",
                "--mount",
                "--uts",
                "--ipc",
                f"--mount-proc={self.root}/proc",
                "sh",
                "-c",
                command,
            ],
            stdout=console,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
        console.close()
        self.boots += 1
        self.pid = self._child_of(self.unshare.pid, timeout=10)
        wait_for(
            lambda: self.run("systemctl", "is-system-running", check=False).stdout.strip() in ("running", "degraded"),
            timeout,
            "systemctl is-system-running to say running",
            interval=0.1,
        )
        return time.monotonic() - self.boot_started

    def _child_of(self, parent: int, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            children = Path(f"/proc/{parent}/task/{parent}/children")
            if children.exists():
                pids = children.read_text().split()
                if pids and Path(f"/proc/{pids[0]}/exe").exists():
                    try:
                        if os.readlink(f"/proc/{pids[0]}/exe").endswith("/systemd"):
                            return int(pids[0])
                    except OSError:
                        pass
            if self.unshare is not None and self.unshare.poll() is not None:
                break
            time.sleep(0.05)
        raise BootError(f"systemd did not start as PID 1 within {timeout:g} s; see {self.run_dir}/console-*.log")

    def poweroff(self, timeout: float = 60.0) -> float:
        """`systemctl poweroff` and wait for PID 1 to exit by itself; returns the seconds it took."""
        start = time.monotonic()
        self.run("systemctl", "poweroff", check=False)
        try:
            self.unshare.wait(timeout)
        except subprocess.TimeoutExpired:
            raise BootError(f"systemctl poweroff did not finish within {timeout:g} s") from None
        self.unshare, self.pid = None, None
        return time.monotonic() - start

    def power_cut(self) -> None:
        """SIGKILL to PID 1: the kernel kills every process of the namespace at once, nothing is stopped."""
        os.kill(self.pid, signal.SIGKILL)
        self.unshare.wait(30)
        self.unshare, self.pid = None, None

    def close(self) -> None:
        """Kill whatever still runs and unmount the overlay; safe to call twice and after a failure."""
        if self.unshare is not None:
            if self.pid is not None:
                try:
                    os.kill(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                self.unshare.wait(30)
            except subprocess.TimeoutExpired:
                self.unshare.kill()
                self.unshare.wait(10)
            self.unshare, self.pid = None, None
        if os.path.ismount(self.root):
            if subprocess.run(["umount", self.root]).returncode != 0:
                subprocess.run(["umount", "-l", self.root])

    # -- inside -----------------------------------------------------------------------------------------

    def run(self, *argv: str, check: bool = True, timeout: float = 60.0, env: dict | None = None, input=None):
        """Run a command inside the booted booth (all its namespaces, its root, as root)."""
        assert self.pid is not None, "not booted"
        prefix = ["nsenter", "-t", str(self.pid), "-m", "-p", "-u", "-i", "-r", "-w"]
        if env:
            prefix += ["env", *(f"{k}={v}" for k, v in env.items())]
        result = subprocess.run(
            [*prefix, *argv],
            capture_output=True,
            timeout=timeout,
            input=input,
            text=input is None or isinstance(input, str),
        )
        if check and result.returncode != 0:
            raise BootError(f"{' '.join(argv)} exited {result.returncode}: {result.stdout}{result.stderr}")
        return result

    def show(self, unit: str, *properties: str) -> dict[str, str]:
        out = self.run("systemctl", "show", unit, *(f"--property={p}" for p in properties)).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def monotonic(self, value: str) -> float:
        """A *TimestampMonotonic property as seconds since this boot's start (time.monotonic() based)."""
        return int(value) / 1e6 - self.boot_started

    def read(self, path: str) -> bytes:
        return self.run("cat", path, input=b"").stdout
