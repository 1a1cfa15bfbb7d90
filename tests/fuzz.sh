#!/usr/bin/env bash
# Runs every cargo-fuzz target (fuzz/fuzz_targets) for a fixed number of executions each,
# from the seeds in fuzz/seeds/<target>, with a fixed seed: 0 crashes or the script fails.
# Usage: bash tests/fuzz.sh [RUNS_PER_TARGET] [--write]   (default 20000: CI's short run;
# `bash tests/fuzz.sh 2500000 --write` puts the figures, 10M executions in all, in
# docs/BENCHMARKS.md)
# Needs the nightly toolchain and cargo-fuzz (installed from crates.io when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-20000}"
write="${2:-}"

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked --version 0.13.2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
results=()
cd fuzz
for target in rating_parser event_parser settings_file widget_encoder; do
  mkdir -p "$work/$target"
  started=$(date +%s)
  # The first directory receives what the run discovers; the seeds stay untouched.
  cargo +nightly fuzz run --release "$target" "$work/$target" "seeds/$target" -- \
    -runs="$runs" -seed=1 -max_len=4096 -print_final_stats=1 >"$work/$target.log" 2>&1 || {
      tail -40 "$work/$target.log"; echo "fuzz target $target failed" >&2; exit 1; }
  executed=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/$target.log" | grep -o '[0-9]*$')
  coverage=$(grep -o 'cov: [0-9]*' "$work/$target.log" | tail -1 | grep -o '[0-9]*')
  line="$target: $executed executions, 0 crashes, coverage $coverage edges, $(( $(date +%s) - started )) s"
  echo "$line"
  results+=("$line")
done
cd ..
if [ "$write" = "--write" ]; then
  section="## Fuzzing

\`bash tests/fuzz.sh $runs --write\`: each cargo-fuzz target (fuzz/fuzz_targets) run $runs times
from the seeds in fuzz/seeds, libFuzzer seed 1, inputs up to 4 KiB, with AddressSanitizer
(cargo-fuzz's default), on this machine. A target fails on a panic, a sanitizer report or a
broken round trip (what the parser accepts, encoded again, must parse to the same value).

$(printf -- '- %s\n' "${results[@]}")

CI runs the same targets 20,000 times each."
  python3 tests/bench/write_section.py "$section"
fi
