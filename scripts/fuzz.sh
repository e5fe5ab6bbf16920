#!/usr/bin/env bash
# Fuzzes every decoder of untrusted bytes for a bounded time and prints the figures.
#
#   scripts/fuzz.sh            # 60 s per target
#   scripts/fuzz.sh 600 bundle # 10 minutes, one target
#
# Needs cargo-fuzz (installed here if missing) and a C++ compiler (libFuzzer). Uses the nightly
# toolchain when rustup has one; otherwise stable with RUSTC_BOOTSTRAP=1 and no sanitizer.
# New inputs go to target/fuzz-corpus/ (not committed); a crash stops the run with its path —
# fix it, then copy the input into fuzz/regressions/<target>/ so the test suite replays it.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(envelope response bundle interchange gpx nmea track)

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    fuzz=(cargo +nightly fuzz)
    sanitizer=(--sanitizer address)
else
    export RUSTC_BOOTSTRAP=1
    fuzz=(cargo fuzz)
    sanitizer=(--sanitizer none)
fi

total=0
report=target/fuzz-report.md
mkdir -p target
printf '| target | seconds | executions | corpus | crashes |\n|---|---|---|---|---|\n' > "$report"
for t in "${targets[@]}"; do
    scratch="target/fuzz-corpus/$t"
    mkdir -p "$scratch"
    log="target/fuzz-$t.log"
    set +e
    "${fuzz[@]}" run "${sanitizer[@]}" --fuzz-dir fuzz "$t" "$scratch" "fuzz/corpus/$t" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -max_len=262144 -print_final_stats=1 > "$log" 2>&1
    status=$?
    set -e
    runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1)
    runs=${runs:-0}
    corpus=$(find "$scratch" "fuzz/corpus/$t" -type f | wc -l)
    crashes=$(find "fuzz/artifacts/$t" -type f 2>/dev/null | wc -l)
    total=$((total + runs))
    printf '| %s | %s | %s | %s | %s |\n' "$t" "$secs" "$runs" "$corpus" "$crashes" >> "$report"
    if [ $status -ne 0 ] || [ "$crashes" -gt 0 ]; then
        tail -40 "$log"
        echo "fuzz target $t failed (exit $status); inputs in fuzz/artifacts/$t/, log in $log" >&2
        exit 1
    fi
    echo "fuzz $t: $runs executions in $secs s, corpus $corpus"
done
echo "| all | | $total | | 0 |" >> "$report"
cat "$report"
