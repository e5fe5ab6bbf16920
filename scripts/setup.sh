#!/usr/bin/env bash
# Installs what building and testing Tidemark needs on Debian 12, idempotently: system packages
# only when missing, then fetches crates. Safe to run again and again.
set -euo pipefail

# Debian packages the build and tests use: the toolchain, the desktop app's WebKitGTK and its
# build dependencies, and for the end-to-end tests a virtual display (Xvfb), WebKit's WebDriver
# and screenshot tools; Chromium renders the HTML report to PNG and PDF in its tests.
PACKAGES=(build-essential pkg-config ca-certificates curl
  libwebkit2gtk-4.1-dev libxdo-dev libssl-dev librsvg2-dev
  xvfb xauth webkit2gtk-driver x11-apps imagemagick chromium)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

export PATH="$HOME/.cargo/bin:$PATH"
command -v cargo >/dev/null || { echo "setup: cargo not found; install Rust (rustup) first" >&2; exit 1; }
cd "$(dirname "$0")/.."
cargo fetch --locked -q 2>/dev/null || cargo fetch -q

# The UI's npm packages, exactly as locked; skipped when node_modules already matches the lock.
command -v npm >/dev/null || { echo "setup: npm not found; install Node.js 20 first" >&2; exit 1; }
if [ -f ui/package-lock.json ]; then
  if ! cmp -s ui/package-lock.json ui/node_modules/.package-lock.json 2>/dev/null \
     && ! [ ui/node_modules/.package-lock.json -nt ui/package-lock.json ]; then
    echo "setup: installing the UI's npm packages"
    (cd ui && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi
echo "setup: ok"
