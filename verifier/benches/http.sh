#!/usr/bin/env bash
# Verifications per second through `POST /v1/verify` (not a test).
#
# Starts `loupe-issuer demo --serve` (a real issuer on SQLite with one
# issued token and a trust store naming it), then `loupe serve` with the
# issuer's answers cached (--cache-ttl), then drives POST /v1/verify
# {"url": …} with wrk. Each request does the whole verification (strict
# parse, issuer key, Ed25519 signature, checkpoint, inclusion, consistency,
# status evidence) on bytes from the fetch cache.
#
# Usage: verifier/benches/http.sh [DURATION_SECONDS] [CONNECTIONS]
# Needs: wrk (Debian package).
set -euo pipefail
cd "$(dirname "$0")/../.."
secs="${1:-20}"
conns="${2:-64}"
cargo build --release -q -p loupe-issuer -p loupe-verifier --bins
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true' EXIT
target/release/loupe-issuer demo --serve --no-qr --dir "$dir/demo" >"$dir/demo.log" 2>&1 &
for _ in $(seq 1 100); do grep -q "Serving at" "$dir/demo.log" && break; sleep 0.2; done
url=$(awk '/^  URL /{print $2}' "$dir/demo.log")
target/release/loupe serve --trust "$dir/demo/trust.toml" --state "$dir/state.json" \
    --listen 127.0.0.1:18090 --cache-ttl 3600 --rate-limit 0 2>"$dir/serve.log" &
for _ in $(seq 1 100); do curl -sf http://127.0.0.1:18090/healthz >/dev/null && break; sleep 0.2; done
body="{\"url\":\"$url\"}"
curl -sf -X POST -H 'content-type: application/json' -d "$body" http://127.0.0.1:18090/v1/verify \
    | grep -q '"status":"valid"' || { echo "the token does not verify as valid"; exit 1; }
cat >"$dir/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
LUA
echo "token URL: $url"
wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$dir/post.lua" http://127.0.0.1:18090/v1/verify
