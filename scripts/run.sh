#!/usr/bin/env bash
# Sets up everything needed and runs Tidemark. Until the desktop app lands (issue 5), this runs
# the headless demo, `tidemark demo`: a relay on loopback with its embedded SQLite and a demo
# province (HQ, three stations, two district committees), each unit a separate device store
# enrolled over HTTP — a day at sea without signal, reconnection in any order, HQ's merged view,
# a conflict surfaced and resolved, a USB bundle with its receipt — told with the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --locked -q -p tidemark-cli -p tidemark-sync-server
exec ./target/release/tidemark demo "$@"
