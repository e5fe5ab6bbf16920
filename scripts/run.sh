#!/usr/bin/env bash
# Sets up everything needed and runs Tidemark. Until the desktop app and the client's sync engine
# land, this runs the headless demo: the relay starts on loopback with its embedded SQLite, a
# station device enrols; two devices edit the same records offline, merge, see and resolve the
# conflicts, read the history, and search without diacritics — all on real stores.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --locked -q -p tidemark-cli -p tidemark-sync-server
exec ./scripts/demo.sh ./target/release/tidemark ./target/release/tidemark-server
