#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 60) each and fails on the first
# crash. Installs cargo-fuzz if it is missing. Builds without a sanitizer on
# stable (`-s none`); set FUZZ_SANITIZER=address to use ASan (needs nightly
# or RUSTC_BOOTSTRAP=1, which this script then sets).
#
# usage: fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail
secs="${1:-60}"
shift || true
cd "$(dirname "$0")"
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
san="${FUZZ_SANITIZER:-none}"
if [ "$san" != none ]; then
    export RUSTC_BOOTSTRAP=1
fi
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
    mapfile -t targets < <(cargo fuzz list)
fi
cargo fuzz build -s "$san"
# Targets run FUZZ_JOBS at a time (default 2, one per core of the CI machine),
# each for SECONDS, so the whole run takes about ceil(targets / jobs) * SECONDS.
jobs="${FUZZ_JOBS:-2}"
run_one() {
    local t="$1"
    mkdir -p "corpus/$t" "artifacts/$t"
    local log="artifacts/$t/last-run.log"
    if cargo fuzz run -s "$san" "$t" "corpus/$t" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -timeout=20 -print_final_stats=1 \
        >"$log" 2>&1; then
        local execs
        execs=$(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
        echo "fuzz $t: ok, $execs execs in ${secs}s"
    else
        echo "fuzz $t: FAILED (see fuzz/$log); crash inputs are in fuzz/artifacts/$t/"
        tail -40 "$log"
        return 1
    fi
}
status=0
pids=()
for t in "${targets[@]}"; do
    run_one "$t" &
    pids+=("$!")
    if [ "${#pids[@]}" -ge "$jobs" ]; then
        wait "${pids[0]}" || status=1
        pids=("${pids[@]:1}")
    fi
done
for p in "${pids[@]}"; do
    wait "$p" || status=1
done
exit $status
