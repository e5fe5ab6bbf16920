#!/usr/bin/env bash
# Installs what building and testing Tidemark needs on Debian 12, idempotently: system packages
# only when missing, then fetches crates. Safe to run again and again.
set -euo pipefail

# Debian packages the build and tests use. Later issues add the desktop app's (WebKitGTK, Xvfb,
# webkit2gtk-driver) here.
PACKAGES=(build-essential pkg-config ca-certificates curl)

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
echo "setup: ok"
