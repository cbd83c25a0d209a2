#!/usr/bin/env bash
# Runs every fuzz target for FUZZ_SECONDS (default 60) on the stable toolchain
# (no sanitizer: `-s none`), each starting from its committed seed corpus in
# fuzz/seeds/<target>. Exits non-zero on the first crash; the crashing input
# is left in fuzz/artifacts/<target>/.
#
#   FUZZ_SECONDS=600 bash fuzz/run.sh            # every target, 10 minutes each
#   FUZZ_SECONDS=60 bash fuzz/run.sh token_parse  # one target
#   FUZZ_PROFILE=dev bash fuzz/run.sh             # unoptimised build: compiles in a
#                                                 # fraction of the time, runs slower
#                                                 # (.ci/run's brief smoke run)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-60}"

if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install --locked cargo-fuzz
fi

profile=()
if [ "${FUZZ_PROFILE:-release}" = dev ]; then profile=(--dev); fi

cargo fuzz build -s none "${profile[@]}"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo fuzz list)
fi

for t in "${targets[@]}"; do
  corpus="fuzz/corpus/$t"
  mkdir -p "$corpus"
  if [ -d "fuzz/seeds/$t" ]; then cp -n fuzz/seeds/"$t"/* "$corpus"/ 2>/dev/null || true; fi
  echo "--- fuzz $t for ${seconds}s"
  log="$(mktemp)"
  status=0
  cargo fuzz run -s none "${profile[@]}" "$t" "$corpus" -- -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1 || status=$?
  grep -E '^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb)' "$log" || true
  if [ "$status" -ne 0 ]; then
    tail -n 40 "$log" >&2
    echo "fuzz target $t FAILED (exit $status): see fuzz/artifacts/$t/" >&2
    exit 1
  fi
  rm -f "$log"
done
echo "fuzz: ${#targets[@]} targets ran ${seconds}s each with no crash"
