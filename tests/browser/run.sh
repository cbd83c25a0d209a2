#!/usr/bin/env bash
# The buyer page in a real headless browser (Debian's chromium): starts a
# loupe-issuer behind a tampering front and the verification API on
# loopback (verifier/examples/buyer_page_server.rs), loads the buyer page
# for a good token (must read "valid", with six ticked photos) and for a
# token whose served bytes were altered (must read "invalid"), and writes
# phone-sized screenshots and the DOMs to target/browser-artifacts/.
set -euo pipefail
cd "$(dirname "$0")/../.."

out=target/browser-artifacts
mkdir -p "$out"
rm -f "$out"/*.png "$out"/*.html

if ! command -v chromium >/dev/null 2>&1; then
  echo "chromium is missing: installing Debian's package"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
fi

cargo build -p loupe-verifier --example buyer_page_server --locked
server="${CARGO_TARGET_DIR:-target}/debug/examples/buyer_page_server"

urls=$(mktemp)
profile=$(mktemp -d)
"$server" >"$urls" 2>"$out/server.log" &
pid=$!
cleanup() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$urls" "$profile"
}
trap cleanup EXIT

for _ in $(seq 1 600); do
  grep -qx READY "$urls" && break
  kill -0 "$pid" 2>/dev/null || { echo "FAIL: the server exited"; cat "$out/server.log"; exit 1; }
  sleep 0.1
done
grep -qx READY "$urls" || { echo "FAIL: the server did not start in 60 s"; exit 1; }
value() { sed -n "s/^$1=//p" "$urls"; }
verifier=$(value VERIFIER)
good=$(value GOOD)
tampered=$(value TAMPERED)

urlencode() {
  local s="$1" out="" c i
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    case $c in
      [a-zA-Z0-9.~_-]) out+=$c ;;
      *) printf -v c '%%%02X' "'$c"; out+=$c ;;
    esac
  done
  printf '%s' "$out"
}

browser() {
  # Root needs --no-sandbox; the profile is thrown away.
  timeout 90 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --no-first-run --user-data-dir="$profile" --virtual-time-budget=10000 \
    "$@" 2>>"$out/chromium.log"
}

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

page() { # name token-url expected-status
  local name=$1 url="$verifier/verify?url=$(urlencode "$2")" want=$3
  browser --window-size=390,844 --dump-dom "$url" >"$out/$name.html" || fail "$name: chromium failed"
  browser --window-size=390,844 --screenshot="$out/$name-phone.png" "$url" >/dev/null || fail "$name: no screenshot"
  browser --window-size=390,2600 --screenshot="$out/$name-full.png" "$url" >/dev/null || fail "$name: no full screenshot"
  grep -q "<body data-status=\"$want\">" "$out/$name.html" || fail "$name: the page does not say $want"
  grep -q "id=\"verdict\"" "$out/$name.html" || fail "$name: no verdict banner"
  [ -s "$out/$name-phone.png" ] || fail "$name: empty screenshot"
  echo "$name: $(grep -o '<p class="word">[^<]*<span[^>]*>[^<]*</span>[^<]*' "$out/$name.html" | sed 's/<[^>]*>//g')"
}

page good "$good" valid
grep -q '>[[:space:]]*✓[[:space:]]*Valid' "$out/good.html" || grep -q 'Valid</p>' "$out/good.html" || fail "good: no \"Valid\" word"
ticks=$(grep -o 'data-match="yes"' "$out/good.html" | wc -l)
[ "$ticks" -eq 6 ] || fail "good: $ticks ticked photos, want 6"

page tampered "$tampered" invalid
grep -q 'Invalid</p>' "$out/tampered.html" || fail "tampered: no \"Invalid\" word"
grep -q 'data-check="url_token_id" data-outcome="fail"' "$out/tampered.html" || fail "tampered: the URL check did not fail"

ls -l "$out"
if [ "$failures" -ne 0 ]; then
  echo "browser check: $failures failure(s)"
  exit 1
fi
echo "browser check: the buyer page reads valid and invalid in chromium"
