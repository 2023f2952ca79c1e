#!/usr/bin/env bash
# Benchmark: `podium check` and `podium schedule --json` on 1,000 debates,
# each repeating weekly for a year (52,000 occurrences). Builds a release
# binary, generates the file, and times the commands with hyperfine when it
# is installed (apt-get install hyperfine), else with a plain loop.
# Usage: scripts/bench-check.sh [DEBATES]   (results: docs/benchmarks.md;
# 10000 gives the large `schedule --json` case measured there)
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-1000}"
cargo build --release --quiet
target="${CARGO_TARGET_DIR:-target}"
bin="$target/release/podium"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 scripts/gen-bench-schedule.py "$n" > "$work/debates.yaml"
echo "file: $(wc -c < "$work/debates.yaml") bytes, $n debates"
"$bin" --now 2026-05-01T00:00:00Z check "$work/debates.yaml" 2>/dev/null | tail -1
check=("$bin" --now 2026-05-01T00:00:00Z check "$work/debates.yaml")
sched=("$bin" --now 2026-05-01T00:00:00Z schedule "$work/debates.yaml" --from 2026-05-01 --until 2027-06-01 --json)
if command -v hyperfine >/dev/null; then
  hyperfine --warmup 3 --runs 20 "${check[*]} 2>/dev/null" "${sched[*]} >/dev/null"
else
  for cmd in check sched; do
    declare -n c="$cmd"
    start=$(date +%s%N)
    for _ in $(seq 20); do "${c[@]}" >/dev/null 2>&1; done
    end=$(date +%s%N)
    echo "$cmd: mean $(( (end - start) / 20 / 1000000 )) ms over 20 runs"
  done
fi
/usr/bin/time -f "check: max RSS %M KiB" "${check[@]}" >/dev/null 2>"$work/time" || true
tail -1 "$work/time"
/usr/bin/time -f "schedule --json: max RSS %M KiB" "${sched[@]}" >/dev/null 2>"$work/time" || true
tail -1 "$work/time"
