#!/usr/bin/env bash
# Runs every fuzz target for FUZZ_SECONDS (default 60) on the stable toolchain
# (no sanitizer: `-s none`), each starting from its committed seed corpus in
# fuzz/seeds/<target>. Exits non-zero on the first crash; the crashing input
# is left in fuzz/artifacts/<target>/.
#
#   FUZZ_SECONDS=600 bash fuzz/run.sh            # every target, 10 minutes each
#   FUZZ_SECONDS=60 bash fuzz/run.sh token_parse  # one target
#   FUZZ_JOBS=1 bash fuzz/run.sh                  # one target at a time (default: one per core)
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

# Targets run FUZZ_JOBS at a time (default: one per core), each for the
# full FUZZ_SECONDS; their summaries are printed in order once all are done.
jobs="${FUZZ_JOBS:-$(nproc)}"
logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT

run_target() {
  local t=$1 corpus="fuzz/corpus/$1" status=0
  mkdir -p "$corpus"
  if [ -d "fuzz/seeds/$t" ]; then cp -n fuzz/seeds/"$t"/* "$corpus"/ 2>/dev/null || true; fi
  cargo fuzz run -s none "${profile[@]}" "$t" "$corpus" -- -max_total_time="$seconds" -print_final_stats=1 >"$logs/$t.log" 2>&1 || status=$?
  echo "$status" >"$logs/$t.status"
}

for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  echo "--- fuzz $t for ${seconds}s"
  run_target "$t" &
done
wait

failed=0
for t in "${targets[@]}"; do
  echo "--- $t"
  grep -E '^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb)' "$logs/$t.log" || true
  status="$(cat "$logs/$t.status" 2>/dev/null || echo missing)"
  if [ "$status" != 0 ]; then
    tail -n 40 "$logs/$t.log" >&2
    echo "fuzz target $t FAILED (exit $status): see fuzz/artifacts/$t/" >&2
    failed=1
  fi
done
if [ "$failed" -ne 0 ]; then exit 1; fi
echo "fuzz: ${#targets[@]} targets ran ${seconds}s each with no crash"
