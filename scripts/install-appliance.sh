#!/usr/bin/env bash
# Installs Fashion Space Explorer as an appliance: power on and the kiosk runs.
#
#   sudo make install-appliance                    # on the booth (Jetson or any Linux box)
#   sudo FSE_DISPLAY=x11 make install-appliance    # old JetPacks: the root Xorg fallback (docs/appliance.md)
#   DESTDIR=/tmp/root FSE_INSTALL_OFFLINE=1 bash scripts/install-appliance.sh   # CI: a scratch root
#
# What it does (safe to run again; it updates in place and never overwrites /etc/fse/kiosk.toml):
#   1. the `fse` system user, in groups video render input dialout
#   2. a venv at /opt/fse/<slot>/venv with the kiosk (runtime only, no torch) and the right onnxruntime:
#      onnxruntime-gpu from NVIDIA's Jetson wheel index on a Jetson, plain onnxruntime elsewhere.
#      The slot is the one /opt/fse/current points at (a on a first install; updates from a stick go
#      into the other, kiosk/update/slots.py); an install from before slots (/opt/fse/venv) moves into a
#   3. the ONNX models at /opt/fse/<slot>/onnx_models, the docs at /opt/fse/<slot>/docs; /opt/fse/venv,
#      /opt/fse/onnx_models and /opt/fse/docs (the units' Documentation=) link to current/
#   4. every systemd/*.service|*.target|*.path|*.timer|*.socket into /etc/systemd/system and every
#      systemd/*.rules into /etc/udev/rules.d; /etc/fse/kiosk.toml.example; the journal's cap
#      (systemd/journald-fse.conf -> /etc/systemd/journald.conf.d/fse.conf)
#   4a. the operator's update keys (FSE_UPDATE_KEYS) into /etc/fse/update-keys/
#   4b. take your design home: the fse-share user, the share spool /var/lib/fse/share, and from
#       /etc/fse/kiosk.toml [share] the hotspot's NetworkManager files and fse-share.socket (on or off)
#   5. enables fse-kiosk.service (and fse-display.service, the compositor or X server) for the next boot
#
# Environment:
#   DESTDIR=DIR            install under DIR; skips user creation, systemctl and udevadm
#   FSE_INSTALL_OFFLINE=1  no network: fse's code and its runtime dependencies are copied into the
#                          venv from FSE_PYTHON's environment
#   FSE_PYTHON=PATH        the Python for the venv (needs >= 3.10; default python3); one under /home
#                          or /root is replaced by the system's of the same version, or copied
#   FSE_COPY_PYTHON=1      copy such a Python to /opt/fse/python even when the system has one
#   FSE_DISPLAY=MODE       how the kiosk reaches the screen: wayland (default: sway as fse, the unit
#                          systemd/fse-display.service), kmsdrm (SDL on the DRM device, no compositor)
#                          or x11 (old JetPacks: root Xorg, systemd/fallback/fse-display-xorg.service)
#   FSE_ORT_INDEX=URL      override the Jetson wheel index;  FSE_ORT_SPEC=SPEC  e.g. onnxruntime-gpu==1.20.0
#   FSE_UPDATE_KEYS="F..." public keys (PEM, from `fse-update keygen`) the booth trusts for updates from a
#                          stick; kept when not given (without one every update is refused)
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DESTDIR=${DESTDIR:-}
DESTDIR=${DESTDIR%/}
OFFLINE=${FSE_INSTALL_OFFLINE:-0}
DISPLAY_MODE=${FSE_DISPLAY:-wayland}
PREFIX=/opt/fse
UNIT_DIR=/etc/systemd/system
RULES_DIR=/etc/udev/rules.d
GROUPS_NEEDED=(video render input dialout)

say() { printf 'install-appliance: %s\n' "$*"; }
die() { printf 'install-appliance: error: %s\n' "$*" >&2; exit 1; }

case "$DISPLAY_MODE" in
  wayland|kmsdrm|x11) ;;
  *) die "FSE_DISPLAY=$DISPLAY_MODE is not known; use wayland (the default), kmsdrm or x11 (old JetPacks)" ;;
esac
if [ "$DISPLAY_MODE" = wayland ] && [ -z "$DESTDIR" ] && [ ! -x /usr/bin/sway ]; then
  die "FSE_DISPLAY=wayland needs the sway compositor: apt install sway (or FSE_DISPLAY=x11 for the root Xorg of old JetPacks)"
fi
if [ -z "$DESTDIR" ] && [ "$(id -u)" != 0 ]; then
  die "installing into / needs root; run: sudo make install-appliance (or set DESTDIR=DIR to stage into DIR)"
fi

# --- Python ---------------------------------------------------------------------------------------
if [ -n "${FSE_PYTHON:-}" ]; then
  PY=$FSE_PYTHON
elif [ "$OFFLINE" = 1 ] && [ -x "$SRC/.venv/bin/python" ]; then
  PY=$SRC/.venv/bin/python   # offline: the checkout's own environment already has every dependency
else
  PY=$(command -v python3 || true)
fi
[ -n "$PY" ] && [ -x "$PY" ] || die "no python3 found; install it (apt install python3 python3-venv) or set FSE_PYTHON"
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
  || die "$PY is Python $("$PY" -c 'import platform; print(platform.python_version())'); the kiosk needs 3.10 or newer (JetPack 5 ships 3.8: use JetPack 6, or set FSE_PYTHON to a 3.10+ interpreter)"

# The units run with ProtectHome=yes, which hides /home, /root and /run/user: a venv whose
# interpreter lives there (pyenv, conda, a user's own build) starts as "python: not found" (rc 127).
# The venv is made from the system's Python of the same version (the copied or installed packages
# are built for that version), else from a copy of the interpreter and its standard library in
# $PREFIX/python. FSE_COPY_PYTHON=1 copies even when the system has one (tests).
hidden_from_units() { case "$(readlink -f "$1")/" in /home/*|/root/*|/run/user/*) return 0 ;; esac; return 1; }
PY_VERSION=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
BASE_PY=$("$PY" -c 'import os, sys; print(os.path.realpath(getattr(sys, "_base_executable", sys.executable)))')
if hidden_from_units "$BASE_PY"; then
  SYSTEM_PY=""
  for candidate in "/usr/bin/python$PY_VERSION" "/usr/local/bin/python$PY_VERSION"; do
    if [ -x "$candidate" ] && ! hidden_from_units "$candidate" && [ "${FSE_COPY_PYTHON:-0}" != 1 ]; then
      SYSTEM_PY=$candidate
      break
    fi
  done
  if [ -n "$SYSTEM_PY" ]; then
    say "$BASE_PY is under /home or /root, which the units cannot see: the venv uses $SYSTEM_PY"
    BASE_PY=$SYSTEM_PY
  else
    PY_HOME=$("$PY" -c 'import sys; print(sys.base_prefix)')
    P=$DESTDIR$PREFIX/python
    say "$BASE_PY is under /home or /root, which the units cannot see: copying Python $PY_VERSION to $PREFIX/python"
    rm -rf "$P"
    install -d -m 0755 "$P/bin" "$P/lib"
    cp -L "$BASE_PY" "$P/bin/python$PY_VERSION"
    ln -s "python$PY_VERSION" "$P/bin/python3"
    cp -a "$PY_HOME"/lib/libpython"$PY_VERSION"*.so* "$P/lib/" 2>/dev/null || true
    tar -C "$PY_HOME/lib" --exclude="python$PY_VERSION/site-packages/*" --exclude="python$PY_VERSION/test" \
      --exclude="__pycache__" -cf - "python$PY_VERSION" | tar -C "$P/lib" -xf -
    # A shared libpython is found through the binary's RUNPATH, which names the hidden folder:
    # point it at the copy beside it ($ORIGIN/../lib), in place (the new path is never longer).
    "$PY" - "$P/bin/python$PY_VERSION" "$PY_HOME/lib" <<'PYEOF'
import sys
path, old = sys.argv[1], sys.argv[2].encode() + b"\0"
new = b"$ORIGIN/../lib"
data = open(path, "rb").read()
if old in data:
    open(path, "wb").write(data.replace(old, new + b"\0" * (len(old) - len(new)), 1))
PYEOF
    chmod -R u=rwX,go=rX "$P"
    BASE_PY=$P/bin/python$PY_VERSION
  fi
fi

# --- Which onnxruntime ----------------------------------------------------------------------------
# Jetson: /etc/nv_tegra_release reads e.g. "# R36 (release), REVISION: 4.0, ...". NVIDIA's Jetson AI
# Lab index carries onnxruntime-gpu built against each JetPack's CUDA; PyPI has no aarch64 GPU build.
l4t_release() {
  local file=/etc/nv_tegra_release
  [ -r "$file" ] || return 1
  sed -n 's/^# R\([0-9]*\) (release), REVISION: \([0-9]*\)\.\([0-9]*\).*/\1.\2.\3/p' "$file" | head -n1
}
ORT_SPEC=onnxruntime
ORT_INDEX=
if L4T=$(l4t_release) && [ -n "$L4T" ]; then
  case "$L4T" in
    36.4.*|36.5.*) ORT_INDEX=https://pypi.jetson-ai-lab.io/jp6/cu126; JETPACK="6.1/6.2 (CUDA 12.6)" ;;
    36.*)          ORT_INDEX=https://pypi.jetson-ai-lab.io/jp6/cu122; JETPACK="6.0 (CUDA 12.2)" ;;
    35.*)          ORT_INDEX=https://pypi.jetson-ai-lab.io/jp5/cu114; JETPACK="5.1 (CUDA 11.4)" ;;
    *)             JETPACK="unknown"; say "L4T $L4T is not a JetPack this installer knows; using the CPU onnxruntime" ;;
  esac
  [ -n "$ORT_INDEX" ] && ORT_SPEC=onnxruntime-gpu
  say "Jetson with L4T $L4T (JetPack $JETPACK)"
fi
ORT_INDEX=${FSE_ORT_INDEX:-$ORT_INDEX}
ORT_SPEC=${FSE_ORT_SPEC:-$ORT_SPEC}

# --- 1. user and groups ---------------------------------------------------------------------------
if [ -n "$DESTDIR" ]; then
  say "DESTDIR set: skipping the fse user and groups"
else
  for group in "${GROUPS_NEEDED[@]}"; do
    getent group "$group" >/dev/null || { groupadd --system "$group"; say "created group $group"; }
  done
  if ! id fse >/dev/null 2>&1; then
    useradd --system --user-group --home-dir /var/lib/fse --no-create-home --shell /usr/sbin/nologin \
      --comment "Fashion Space Explorer kiosk" fse
    say "created user fse"
  fi
  usermod -a -G "$(IFS=,; echo "${GROUPS_NEEDED[*]}")" fse
fi

# --- directories ----------------------------------------------------------------------------------
install -d -m 0755 "$DESTDIR$PREFIX" "$DESTDIR/etc/fse" "$DESTDIR$UNIT_DIR" "$DESTDIR$RULES_DIR"
install -d -m 0750 "$DESTDIR/var/lib/fse" "$DESTDIR/var/cache/fse"
[ -n "$DESTDIR" ] || chown fse:fse /var/lib/fse /var/cache/fse

# --- slots (kiosk/update/slots.py) ---------------------------------------------------------------
# This installs into the slot /opt/fse/current points at, in place, as before slots; a first install
# lays out slot a. An install from before slots (a real /opt/fse/venv) is moved into slot a: its
# scripts name /opt/fse/venv/bin/python, which stays valid through the link made below.
CURRENT_LINK=$DESTDIR$PREFIX/current
if [ -L "$CURRENT_LINK" ]; then
  SLOT=$(readlink "$CURRENT_LINK")
  case "$SLOT" in a|b) ;; *) die "$PREFIX/current points at '$SLOT', not at slot a or b; remove it and run this again" ;; esac
else
  [ ! -e "$CURRENT_LINK" ] || die "$PREFIX/current is not a link; move it away and run this again"
  SLOT=a
  install -d -m 0755 "$DESTDIR$PREFIX/a"
  if [ -d "$DESTDIR$PREFIX/venv" ] && [ ! -L "$DESTDIR$PREFIX/venv" ] && [ ! -e "$DESTDIR$PREFIX/a/venv" ]; then
    say "moving the install from before slots ($PREFIX/venv) into slot a"
    mv "$DESTDIR$PREFIX/venv" "$DESTDIR$PREFIX/a/venv"
  fi
fi
VENV=$PREFIX/$SLOT/venv
say "installing into slot $SLOT ($PREFIX/$SLOT)"

# --- 2. the venv ----------------------------------------------------------------------------------
# The kiosk's console scripts, from pyproject.toml's [project.scripts] (kiosk.* entries only).
kiosk_scripts() {
  "$PY" - "$SRC/pyproject.toml" <<'PYEOF'
import sys
try:
    import tomllib
except ModuleNotFoundError:
    import tomli as tomllib
with open(sys.argv[1], "rb") as f:
    scripts = tomllib.load(f)["project"]["scripts"]
for name, target in scripts.items():
    if target.startswith("kiosk."):
        print(name, target)
PYEOF
}

# The kiosk's runtime dependencies from pyproject.toml, less onnxruntime (chosen separately: the
# GPU wheel is a different distribution name, and pip would otherwise add the CPU one beside it).
kiosk_requirements() {
  "$PY" - "$SRC/pyproject.toml" <<'PYEOF'
import re, sys
try:
    import tomllib
except ModuleNotFoundError:
    import tomli as tomllib
with open(sys.argv[1], "rb") as f:
    for requirement in tomllib.load(f)["project"]["dependencies"]:
        if re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].strip().lower() != "onnxruntime":
            print(requirement)
PYEOF
}

V=$DESTDIR$VENV
if [ "$OFFLINE" = 1 ]; then
  # No network (CI): the code and the kiosk's runtime dependencies are copied into the venv's
  # site-packages (root must never run code from a user-writable checkout or its .venv, and
  # ProtectHome= hides /home from the units). Console scripts are written here, so
  # /opt/fse/venv/bin/fse-kiosk is a real file to verify.
  say "FSE_INSTALL_OFFLINE=1: venv at $V, dependencies copied from $("$PY" -c 'import sys; print(sys.prefix)')"
  [ "$(readlink -f "$V/bin/python")" = "$(readlink -f "$BASE_PY")" ] || "$BASE_PY" -m venv --clear --without-pip "$V"
  VENV_PURELIB=$("$V/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  "$PY" - "$SRC" "$VENV_PURELIB" <<'PYEOF'
import os, shutil, sys, sysconfig
try:
    import tomllib
except ModuleNotFoundError:
    import tomli as tomllib
src, purelib = sys.argv[1:3]
with open(os.path.join(src, "pyproject.toml"), "rb") as f:
    project = tomllib.load(f)["project"]
ours = ("contract", "kiosk", "training", "analysis")   # [tool.setuptools.packages.find] include
dist_info = f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
for stale in ("fse-offline.pth",):   # older installers pointed into FSE_PYTHON's environment
    if os.path.exists(os.path.join(purelib, stale)):
        os.remove(os.path.join(purelib, stale))
for old in [*ours, *(e for e in os.listdir(purelib) if e.startswith(project["name"].replace("-", "_") + "-"))]:
    shutil.rmtree(os.path.join(purelib, old), ignore_errors=True)   # the previous install
for package in ours:
    shutil.copytree(os.path.join(src, package), os.path.join(purelib, package),
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
os.mkdir(os.path.join(purelib, dist_info))
with open(os.path.join(purelib, dist_info, "METADATA"), "w") as f:
    f.write(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n")
with open(os.path.join(purelib, dist_info, "INSTALLER"), "w") as f:
    f.write("install-appliance\n")
# The kiosk's runtime dependencies and theirs, copied file by file from $PY's environment (the
# files each distribution's RECORD lists), so root imports nothing from a user-writable folder.
import importlib.metadata as md
import re
wanted = [r for r in project["dependencies"]]
seen, queue = set(), list(wanted)
while queue:
    requirement = queue.pop()
    name, _, marker = requirement.partition(";")
    name = re.split(r"[<>=!~\[ (]", name.strip(), maxsplit=1)[0]
    if marker.strip():
        env = {"sys_platform": sys.platform, "python_version": "%d.%d" % sys.version_info[:2], "extra": ""}
        try:
            from packaging.markers import Marker
            if not Marker(marker.strip()).evaluate(env):
                continue
        except ImportError:
            if "extra" in marker or ("python_version < '3.11'" in marker and sys.version_info >= (3, 11)):
                continue
    key = name.lower().replace("_", "-")
    if key in seen:
        continue
    seen.add(key)
    try:
        dist = md.distribution(name)
    except md.PackageNotFoundError:
        sys.exit(f"install-appliance: error: {name} is not installed in {sys.prefix}; install the kiosk's "
                 f"dependencies there first (pip install -e .) or install with the network")
    if dist.files is None:
        sys.exit(f"install-appliance: error: {name} in {sys.prefix} lists no files (no RECORD, e.g. a Debian "
                 f"python3-* package); install the kiosk's dependencies with pip there, or install with the network")
    for f in dist.files:
        source = f.locate()
        if ".." in f.parts or not os.path.isfile(source) or str(f).endswith(".pyc"):
            continue   # scripts in bin/ and the like: the kiosk's own are written below
        target = os.path.join(purelib, str(f))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(source, target)
    queue += [r for r in (dist.requires or []) if "extra ==" not in r]
print(f"install-appliance: copied {len(seen)} distributions: {' '.join(sorted(seen))}")
PYEOF
  chmod -R u=rwX,go=rX "$VENV_PURELIB"
  while read -r name target; do
    module=${target%%:*}; func=${target##*:}
    printf '#!%s\nimport sys\nfrom %s import %s\nsys.exit(%s())\n' "$VENV/bin/python" "$module" "$func" "$func" > "$V/bin/$name"
    chmod 0755 "$V/bin/$name"
  done < <(kiosk_scripts)
else
  [ "$(readlink -f "$V/bin/python")" = "$(readlink -f "$BASE_PY")" ] || "$BASE_PY" -m venv --clear "$V" \
    || die "could not create a venv with $PY; install the venv module (apt install python3-venv)"
  "$V/bin/pip" install -q --upgrade pip
  mapfile -t REQUIREMENTS < <(kiosk_requirements)
  "$V/bin/pip" install -q "${REQUIREMENTS[@]}"
  if [ -n "$ORT_INDEX" ]; then
    say "onnxruntime: $ORT_SPEC from $ORT_INDEX"
    if ! "$V/bin/pip" install -q --extra-index-url "$ORT_INDEX" "$ORT_SPEC"; then
      # A booth that can't reach the index still works, on the CPU; the overlay says so.
      say "WARNING: $ORT_SPEC from $ORT_INDEX failed; installing the CPU onnxruntime instead"
      ORT_SPEC=onnxruntime
      "$V/bin/pip" install -q onnxruntime
    else
      "$V/bin/pip" uninstall -q -y onnxruntime 2>/dev/null || true   # never two onnxruntime packages
    fi
  else
    say "onnxruntime: $ORT_SPEC from PyPI"
    "$V/bin/pip" install -q "$ORT_SPEC"
  fi
  "$V/bin/pip" install -q --no-deps --force-reinstall "$SRC"
  "$V/bin/python" -c 'import kiosk.providers as p; print("install-appliance: onnxruntime providers:", ", ".join(p.available_providers()))'
fi

# The mode's SDL video driver must be in the venv's SDL: pygame's wheels have no kmsdrm (pygame-ce's
# have), and a kiosk without its driver could never open the screen. Refuse now rather than boot
# into a black screen.
PYGAME_HIDE_SUPPORT_PROMPT=1 "$V/bin/python" -m kiosk.sdl_drivers "$DISPLAY_MODE" \
  || die "FSE_DISPLAY=$DISPLAY_MODE: the venv's pygame cannot draw there (above); install pygame-ce into $VENV (pip uninstall pygame, then pip install pygame-ce), or choose another FSE_DISPLAY"

# --- 3. models and docs ---------------------------------------------------------------------------
if compgen -G "$SRC/onnx_models/*" >/dev/null; then
  MODELS=$DESTDIR$PREFIX/$SLOT/onnx_models
  rm -rf "$MODELS.new"
  cp -r "$SRC/onnx_models" "$MODELS.new"
  rm -rf "$MODELS"
  mv "$MODELS.new" "$MODELS"
  chmod -R u=rwX,go=rX "$MODELS"
else
  say "WARNING: $SRC/onnx_models is empty; export the models (fse-train export) and run this again"
fi
# The docs are the slot's (an update brings its own, a rollback goes back to them): as the models.
DOCS=$DESTDIR$PREFIX/$SLOT/docs
rm -rf "$DOCS.new"
install -d -m 0755 "$DOCS.new"
for doc in "$SRC"/docs/*.md; do
  [ -e "$doc" ] && install -m 0644 "$doc" "$DOCS.new/"
done
rm -rf "$DOCS"
mv "$DOCS.new" "$DOCS"
# The slot is whole: point current at it (a first install), and the paths from before slots at current.
if [ ! -L "$CURRENT_LINK" ]; then
  ln -s "$SLOT" "$CURRENT_LINK.new" && mv -T "$CURRENT_LINK.new" "$CURRENT_LINK"
fi
for old in venv onnx_models docs; do
  if [ -e "$DESTDIR$PREFIX/$old" ] && [ ! -L "$DESTDIR$PREFIX/$old" ]; then
    rm -rf "${DESTDIR:?}$PREFIX/$old"   # from before slots: the venv moved into slot a, models and docs copied there
  fi
  ln -sfn "current/$old" "$DESTDIR$PREFIX/$old"
done

# --- 4. units, rules, config ----------------------------------------------------------------------
UNITS=()
for unit in "$SRC"/systemd/*.service "$SRC"/systemd/*.target "$SRC"/systemd/*.path \
            "$SRC"/systemd/*.timer "$SRC"/systemd/*.socket; do
  [ -e "$unit" ] || continue
  install -m 0644 "$unit" "$DESTDIR$UNIT_DIR/"
  UNITS+=("$(basename "$unit")")
done
for rule in "$SRC"/systemd/*.rules; do
  [ -e "$rule" ] && install -m 0644 "$rule" "$DESTDIR$RULES_DIR/"
done
# The display: sway's kiosk config; for x11 the fallback Xorg unit takes the display unit's name.
install -m 0644 "$SRC/systemd/sway-kiosk.conf" "$DESTDIR/etc/fse/sway-kiosk.conf"
install -d -m 0755 "$DESTDIR/etc/fse/sway-kiosk.d"   # the booth's own output settings (kept)
if [ "$DISPLAY_MODE" = x11 ]; then
  install -m 0644 "$SRC/systemd/fallback/fse-display-xorg.service" "$DESTDIR$UNIT_DIR/fse-display.service"
fi
install -m 0644 "$SRC/systemd/kiosk.toml.example" "$DESTDIR/etc/fse/kiosk.toml.example"
install -d -m 0755 "$DESTDIR/etc/systemd/journald.conf.d"
install -m 0644 "$SRC/systemd/journald-fse.conf" "$DESTDIR/etc/systemd/journald.conf.d/fse.conf"
say "installed units: ${UNITS[*]}"

DROPIN=$DESTDIR$UNIT_DIR/fse-kiosk.service.d
if [ "$DISPLAY_MODE" = kmsdrm ]; then
  install -d -m 0755 "$DROPIN"
  cat > "$DROPIN/display.conf" <<'EOF'
# Written by install-appliance.sh (FSE_DISPLAY=kmsdrm): SDL draws straight to the DRM device, no compositor.
[Unit]
Conflicts=fse-display.service getty@tty1.service

[Service]
Environment=SDL_VIDEODRIVER=kmsdrm
UnsetEnvironment=WAYLAND_DISPLAY XDG_RUNTIME_DIR
EOF
  chmod 0644 "$DROPIN/display.conf"
elif [ "$DISPLAY_MODE" = x11 ]; then
  install -d -m 0755 "$DROPIN"
  cat > "$DROPIN/display.conf" <<'EOF'
# Written by install-appliance.sh (FSE_DISPLAY=x11): the fallback root Xorg (fse-display.service) on :0.
[Service]
Environment=SDL_VIDEODRIVER=x11 DISPLAY=:0
UnsetEnvironment=WAYLAND_DISPLAY XDG_RUNTIME_DIR
# The X server's socket, seen from inside the private /tmp.
BindPaths=-/tmp/.X11-unix
EOF
  chmod 0644 "$DROPIN/display.conf"
else
  rm -f "$DROPIN/display.conf"
fi
# Always there: the update units write the trial drop-in into it (their ReadWritePaths=).
install -d -m 0755 "$DROPIN"

# --- 4a. update keys (kiosk/update/bundle.py) -------------------------------------------------------
KEYS_DIR=$DESTDIR/etc/fse/update-keys
install -d -m 0755 "$KEYS_DIR"
for key in ${FSE_UPDATE_KEYS:-}; do
  [ -f "$key" ] || die "FSE_UPDATE_KEYS: $key is not a file; give the .pub.pem file fse-update keygen wrote"
  "$V/bin/python" - "$key" <<'PYEOF' || die "FSE_UPDATE_KEYS: $key is not an ed25519 public key (PEM); give the .pub.pem file fse-update keygen wrote (never the private key)"
import sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
try:
    sys.exit(not isinstance(load_pem_public_key(open(sys.argv[1], "rb").read()), Ed25519PublicKey))
except ValueError:
    sys.exit(1)
PYEOF
  name=$(basename "$key")
  install -m 0644 "$key" "$KEYS_DIR/${name%.pem}.pem"
  say "update key: $key -> /etc/fse/update-keys/${name%.pem}.pem"
done
if ! compgen -G "$KEYS_DIR/*.pem" >/dev/null; then
  say "no update key in /etc/fse/update-keys: the booth refuses updates from a stick until one is installed (FSE_UPDATE_KEYS=key.pub.pem)"
fi

# --- 4b. take your design home (kiosk/share/, docs/appliance.md) ----------------------------------
# The share server's own user and the spool it shares with the kiosk (setgid: the kiosk's files are
# the server's group to read and expire); the hotspot's NetworkManager files from kiosk.toml [share].
if [ -z "$DESTDIR" ] && ! id fse-share >/dev/null 2>&1; then
  useradd --system --user-group --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin \
    --comment "Fashion Space Explorer share server" fse-share
  say "created user fse-share"
fi
install -d -m 2770 "$DESTDIR/var/lib/fse/share"
[ -n "$DESTDIR" ] || chown fse:fse-share /var/lib/fse/share
SHARING=$("$V/bin/python" -m kiosk.share.hotspot install --root "$DESTDIR/" --config "$DESTDIR/etc/fse/kiosk.toml") \
  || die "kiosk.toml [share] is not usable for the hotspot (above); fix it and run this again"
say "$SHARING"

# --- 5. enable ------------------------------------------------------------------------------------
if [ -n "$DESTDIR" ]; then
  say "DESTDIR set: not running systemctl/udevadm; staged into $DESTDIR"
else
  systemctl daemon-reload
  systemctl restart systemd-journald.service   # the cap applies now, not only after the next boot
  udevadm control --reload-rules
  udevadm trigger --action=add --subsystem-match=tty --subsystem-match=input || true
  if [ "$DISPLAY_MODE" != kmsdrm ]; then
    # The booth's screen belongs to the kiosk: a desktop login screen would fight it for tty1.
    if systemctl is-enabled --quiet display-manager.service 2>/dev/null; then
      say "disabling the desktop login screen (display-manager.service); re-enable with: systemctl enable gdm3"
      systemctl disable display-manager.service || true
    fi
    systemctl enable fse-display.service
  else
    systemctl disable fse-display.service 2>/dev/null || true
  fi
  systemctl enable fse-kiosk.service
  if [ "$SHARING" = "sharing on" ]; then
    systemctl enable fse-share.socket
    systemctl reload NetworkManager 2>/dev/null || say "NetworkManager is not running: the hotspot starts with it"
  else
    systemctl disable --now fse-share.socket fse-share.service 2>/dev/null || true
  fi
  systemctl set-default graphical.target
  systemd-analyze verify "$UNIT_DIR/fse-kiosk.service" || say "WARNING: systemd-analyze verify reported problems above"
  say "done: reboot to start the kiosk (or: systemctl start fse-kiosk); logs: journalctl -u fse-kiosk -f"
fi
