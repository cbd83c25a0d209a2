#!/usr/bin/env bash
# Paired A/B of two issuer builds on one machine (docs/performance.md,
# "The issuing path's allocations, and a paired A/B").
#
# Both builds serve at once, each on its own empty SQLite log and port;
# `loadgen` runs alternate between them in ABBA order, so both logs grow
# alike and both see the same hour of a machine whose speed drifts more
# than most changes. The idle server costs nothing.
#
#   cargo build --release -p loupe-issuer --example bench_server --example loadgen
#   cp target/release/examples/{bench_server,loadgen} /tmp/a/   # and a second build in /tmp/b
#   issuer/benches/ab.sh /tmp/a /tmp/b 8 50000
#
# Prints per round: tokens/s, p99 ms, server µs of CPU per token (user +
# system from /proc) and bytes the server wrote to disk per token
# (/proc/PID/io write_bytes: WAL and checkpoints) for A and B, then the
# means and how many rounds A won.
set -euo pipefail
A=$1 B=$2 ROUNDS=${3:-8} REQ=${4:-50000}
LOADGEN=${LOADGEN:-$A/loadgen}
tick=$(getconf CLK_TCK)
work=$(mktemp -d)
pa= pb=
# The servers are started from command substitutions, so they are not this
# shell's jobs: stop them by pid.
trap 'kill $pa $pb 2>/dev/null || true; wait $pa $pb 2>/dev/null || true; rm -rf "$work"' EXIT

start() { # bin port dir
  mkdir -p "$3"
  "$1/bench_server" "sqlite://$3/log.db" "127.0.0.1:$2" "$3/media" > "$3/out" 2> "$3/err" &
  echo $!
}
pa=$(start "$A" 18091 "$work/a")
pb=$(start "$B" 18092 "$work/b")
for _ in $(seq 100); do
  grep -q API_KEY "$work/a/out" 2>/dev/null && grep -q API_KEY "$work/b/out" 2>/dev/null && break
  sleep 0.1
done
ka=$(sed -n 's/^API_KEY=//p' "$work/a/out")
kb=$(sed -n 's/^API_KEY=//p' "$work/b/out")

one() { # pid port key prefix -> "tokens/s p99 cpu_us_per_token write_bytes_per_token"
  local c0 c1 w0 w1 out
  c0=$(awk '{print $14+$15}' "/proc/$1/stat")
  w0=$(sed -n 's/^write_bytes: //p' "/proc/$1/io")
  out=$("$LOADGEN" --server "http://127.0.0.1:$2" --api-key "$3" \
        --concurrency 256 --requests "$REQ" --prefix "$4")
  c1=$(awk '{print $14+$15}' "/proc/$1/stat")
  w1=$(sed -n 's/^write_bytes: //p' "/proc/$1/io")
  echo "$(sed -n 's/.*= \([0-9]*\) tokens.*/\1/p' <<< "$out")" \
       "$(sed -n 's/.*p99 \([0-9.]*\) ms.*/\1/p' <<< "$out")" \
       "$(( (c1 - c0) * 1000000 / tick / REQ ))" \
       "$(( (w1 - w0) / REQ ))"
}

for r in $(seq "$ROUNDS"); do
  if (( r % 2 )); then
    a=$(one "$pa" 18091 "$ka" "r$r"); b=$(one "$pb" 18092 "$kb" "r$r")
  else
    b=$(one "$pb" 18092 "$kb" "r$r"); a=$(one "$pa" 18091 "$ka" "r$r")
  fi
  echo "round $r: A $a | B $b"
done | tee "$work/rounds"
awk '{ ra += $4; rb += $10; ca += $6; cb += $12; wa += $7; wb += $13; n++; if ($4 > $10) w++ }
     END { printf "A %.0f tokens/s, %.0f us/token, %.0f B/token | B %.0f tokens/s, %.0f us/token, %.0f B/token | A/B rate %.3f, CPU %.3f, bytes %.3f; A faster in %d of %d rounds\n",
                  ra/n, ca/n, wa/n, rb/n, cb/n, wb/n, ra/rb, ca/cb, wa/wb, w, n }' "$work/rounds"
