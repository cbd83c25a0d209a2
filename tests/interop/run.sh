#!/usr/bin/env bash
# Interop between loupe-schemas (Rust) and pycose 1.1.0 (Python), both ways,
# and the issuer's generated OpenAPI document checked by an independent
# validator (openapi-spec-validator). Creates a throwaway venv, installs
# tests/interop/requirements.txt from PyPI, and exits non-zero on any
# mismatch.
#
#   bash tests/interop/run.sh        (PYTHON=python3.12 to choose the interpreter)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"${PYTHON:-python3}" -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
py="$work/venv/bin/python"
out="$work/out"

cd "$root"
echo "== Rust -> pycose"
cargo run --quiet -p loupe-schemas --example interop_emit -- "$out"
"$py" "$here/cose_interop.py" check-rust "$out"

echo "== pycose -> Rust"
"$py" "$here/cose_interop.py" make "$out"
cargo run --quiet -p loupe-schemas --example interop_check -- "$out"

echo "== issuer OpenAPI document -> openapi-spec-validator"
cargo run --quiet -p loupe-issuer --example openapi_emit -- "$work/issuer.openapi.json"
"$py" "$here/openapi_check.py" "$work/issuer.openapi.json"

echo "interop: all checks passed"
