#!/usr/bin/env bash
# Sets up everything needed and runs the whole test suite: formatting, lints, every test, and the
# benchmarks (which print their numbers; they are measured, not asserted against the clock).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TERM_COLOR=never
# A one-off run gains nothing from incremental state, and it costs gigabytes of disk.
export CARGO_INCREMENTAL=0
# Every cargo step uses the same features, so the Tauri stack is compiled once: the app's tests,
# the end-to-end test and its app binary all come from one build.
FEATURES=(--features tidemark-app/custom-protocol)

step() { echo; echo "==> $*"; }

step "UI: unit tests (Vitest) and production build"
(cd ui && npm test --silent && npm run build --silent)

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked "${FEATURES[@]}" -- -D warnings

step "cargo test"
cargo test --workspace --locked "${FEATURES[@]}"

step "end to end: the built app in a real window under Xvfb, driven through WebKitWebDriver"
xvfb-run -a -s "-screen 0 1280x800x24" \
  cargo test --workspace --locked "${FEATURES[@]}" --test e2e -- --ignored --nocapture
echo "screenshots: $PWD/target/e2e-screenshots/"

step "benchmark: list/filter/search over ${TIDEMARK_BENCH_RECORDS:-100000} records"
cargo bench --locked -p tidemark-client --bench query
step "benchmark: the review-meeting report over a province-year (6 stations × 365 days × 4 patrols)"
cargo bench --locked -p tidemark-client --bench report
step "benchmark: catch-up after a day offline on ${TIDEMARK_BENCH_DAYS:-30} days of history"
cargo bench --locked -p tidemark-province --bench catchup
step "benchmark: issue 9's scenarios S1–S6 and S7 (encryption cost) at quick sizes over the real relay (full sizes and figures: BENCHMARKS.md)"
cargo run --release --locked -p tidemark-bench -- all --quick
