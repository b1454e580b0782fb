#!/usr/bin/env bash
# Fuzzes the core for a bounded time per target (needs a nightly toolchain and cargo-fuzz:
# `cargo install cargo-fuzz`). Not part of CI. Appends the executions and crashes to RESULTS.md.
#   native/fuzz/run.sh [SECONDS_PER_TARGET] [TARGET ...]
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(token claims keys capi)
{
  echo
  echo "## $(date -u '+%Y-%m-%d %H:%M UTC'), ${seconds} s per target ($(nproc) cores, $(rustc +nightly --version))"
  echo
  echo "| target | executions | corpus | crashes |"
  echo "| --- | --: | --: | --: |"
} >> RESULTS.md
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  log="$(mktemp)"
  status=0
  cargo +nightly fuzz run "$t" "corpus/$t" "seeds/$t" -- -max_total_time="$seconds" >"$log" 2>&1 || status=$?
  execs="$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')"
  crashes="$(ls "artifacts/$t" 2>/dev/null | wc -l)"
  echo "| $t | ${execs:-?} | $(ls "corpus/$t" | wc -l) | $crashes$([ "$status" -ne 0 ] && echo " (exit $status, see artifacts/$t)") |" >> RESULTS.md
  tail -3 "$log"
  rm -f "$log"
done
