#!/usr/bin/env bash
# Runs every adapter's fuzz target for a bounded time (`make fuzz`; not CI).
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Needs the nightly toolchain and cargo-fuzz (installed from crates.io on
# first use). Each target starts from its client's fixtures as seeds. Prints
# one line per target: executions, seconds, and whether libFuzzer found a
# crash (its input is then kept under fuzz/artifacts/<target>/).
set -uo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_TARGET="${1:-60}"
shift || true
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/pond-target}/fuzz"

fixtures_of() {
    case "$1" in
        gemini_cli) echo gemini ;;
        claude_ai_export) echo claude-ai-export ;;
        copilot_cli) echo copilot-cli ;;
        factory_droid) echo factory-droid ;;
        claude_web) echo claude-web ;;
        *) echo "$1" | tr _ - ;;
    esac
}

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cd fuzz && ls fuzz_targets | sed 's/\.rs$//')
fi

# Optimised, with debug assertions, overflow checks and AddressSanitizer
# (cargo-fuzz defaults): overflow on input-derived numbers is a finding too.
(cd fuzz && cargo +nightly fuzz build 2>&1 | tail -3) || exit 1

printf '%-18s %12s %8s %s\n' target executions seconds result
for t in "${targets[@]}"; do
    corpus="fuzz/corpus/$t"
    mkdir -p "$corpus"
    seeds="tests/fixtures/$(fixtures_of "$t")"
    if [ -d "$seeds" ]; then
        find "$seeds" -type f -size -1M -exec cp -n {} "$corpus/" \; 2>/dev/null
    fi
    log="fuzz/last-$t.log"
    (cd fuzz && cargo +nightly fuzz run "$t" "corpus/$t" -- \
        -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=4096 -max_len=1048576 \
        >"../$log" 2>&1)
    status=$?
    runs=$(grep -oE 'Done [0-9]+ runs in [0-9]+ second' "$log" | tail -1)
    execs=$(echo "$runs" | awk '{print $2}')
    secs=$(echo "$runs" | awk '{print $5}')
    if [ $status -eq 0 ]; then result="no crash"; else result="CRASH (see $log)"; fi
    printf '%-18s %12s %8s %s\n' "$t" "${execs:-?}" "${secs:-?}" "$result"
done
