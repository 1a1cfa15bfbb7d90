#!/usr/bin/env bash
# Property-based tests of the REST API against its own OpenAPI document: schemathesis
# generates requests from /api/v1/openapi.json (valid and invalid ones) and checks every
# answer: no server error, and each status, content type and body as the document says.
# Runs `satisfy serve` (target/debug/satisfy unless TEST_SATISFY_BIN) on a fresh data
# directory with an entrypoint, some ratings and a read-write token.
# Installs schemathesis into its own virtualenv (default /opt/satisfy-schemathesis, or
# $TEST_SATISFY_SCHEMATHESIS_VENV) when missing.
# Usage: bash tests/api/schemathesis.sh [max examples per operation, default 40]
set -euo pipefail
cd "$(dirname "$0")/../.."
examples="${1:-40}"
bin="${TEST_SATISFY_BIN:-target/debug/satisfy}"
venv="${TEST_SATISFY_SCHEMATHESIS_VENV:-/opt/satisfy-schemathesis}"
if ! "$venv/bin/st" --version >/dev/null 2>&1; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q schemathesis==4.32.5
fi

work=$(mktemp -d)
server=""
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
RUST_LOG=warn SATISFY_ADMIN_PASSWORD=password-di-prova-api "$bin" serve --data-dir "$work" \
  --listen "127.0.0.1:$port" --tenant comune --demo-data false >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 150); do curl -fsS -o /dev/null "$base/healthz" 2>/dev/null && break; sleep 0.2; done
token=$("$bin" admin --data-dir "$work" tokens create --tenant comune --name schemathesis --scopes read,write)
RUST_LOG=warn "$bin" demo-data --data-dir "$work" --ratings 2000 --days 60 --seed 3 \
  --entrypoint "$(curl -fsS -H "Authorization: Bearer $token" "$base/api/v1/entrypoints" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["entrypoints"][0]["id"])')" >/dev/null

# Checks: no 5xx; every status documented; bodies and content types as documented. Once
# with the token, once with a wrong one (the errors' own documentation).
checks=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
"$venv/bin/st" run "$base/api/v1/openapi.json" --url "$base/api/v1" \
  --header "Authorization: Bearer $token" \
  --checks "$checks" --max-examples "$examples" --seed 42 --no-color
"$venv/bin/st" run "$base/api/v1/openapi.json" --url "$base/api/v1" \
  --header "Authorization: Bearer sat_000000000000_not-a-token" \
  --checks "$checks" --max-examples 5 --phases fuzzing --seed 42 --no-color
if grep -q "panicked" "$work/serve.log"; then
  grep -B2 -A5 "panicked" "$work/serve.log" >&2
  exit 1
fi
