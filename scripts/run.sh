#!/usr/bin/env bash
# Sets up everything needed and runs Tidemark. Until the relay and the desktop app land, this
# runs the headless demo: two devices edit the same records offline, merge, see and resolve the
# conflicts, read the history, and search without diacritics — all on real device stores.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --locked -q -p tidemark-cli
exec ./scripts/demo.sh ./target/release/tidemark
