#!/usr/bin/env bash
# Sets up everything needed and runs Tidemark: a relay on loopback with its embedded SQLite,
# seeded with a demo province (HQ, three stations, two district committees, each a device store
# enrolled over HTTP, after a day at sea without signal, a conflict and a USB bundle), and the
# desktop app opened on HQ's device, connected to that relay. Where no display exists (or with
# TIDEMARK_HEADLESS=1) it tells the same story headless: `tidemark demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --locked -q -p tidemark-cli -p tidemark-sync-server

if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] || [ -n "${TIDEMARK_HEADLESS:-}" ]; then
  echo "(no display: the headless demo tells the story; the desktop app needs a display)"
  exec ./target/release/tidemark demo "$@"
fi

(cd ui && npm run build --silent)
# The same build the end-to-end tests use (dependencies are optimised in the dev profile).
cargo build --locked -q -p tidemark-app --features custom-protocol
WORK="$(mktemp -d)"
./target/release/tidemark demo --dir "$WORK/province" --serve &
DEMO_PID=$!
cleanup() { kill -INT "$DEMO_PID" 2>/dev/null || true; wait "$DEMO_PID" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
for _ in $(seq 1 300); do [ -f "$WORK/province/relay.url" ] && break; sleep 0.1; done
[ -f "$WORK/province/relay.url" ] || { echo "the demo relay did not start" >&2; exit 2; }
echo "Opening the app on HQ's device ($WORK/province/hq), relay $(cat "$WORK/province/relay.url")"
echo "Its store is encrypted: unlock it with the demo passphrase printed above."
./target/debug/tidemark-app --data-dir "$WORK/province/hq"
