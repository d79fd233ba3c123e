#!/usr/bin/env bash
# Installs the Debian packages the tests and tools need (data set, textures, firmware toolchain,
# simulator, virtual screen, browser). Skips apt entirely when everything is already there.
set -euo pipefail
PACKAGES=(
  dataset-fashion-mnist   # Fashion-MNIST IDX files in /usr/share/datasets/fashion-mnist
  gimp-data               # real textures for prints: /usr/share/gimp/2.0/patterns
  arduino-mk arduino-core-avr gcc-avr avr-libc   # firmware build
  simavr libsimavr-dev libsimavrparts1          # run the real firmware without a board
  xvfb                    # a real X screen for screenshots
  sway grim wtype         # the booth's compositor, headless in the tests: its screenshots and key presses
  chromium                # the analysis report is checked in a real browser
  systemd                 # systemd-analyze verify/security for the appliance units
  udev
  libzbar0 zbar-tools     # the share test reads the QR code on the kiosk screenshot (pyzbar)
  dnsmasq-base            # the share test resolves the hotspot's names as NetworkManager's dnsmasq would
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
echo "system packages: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
