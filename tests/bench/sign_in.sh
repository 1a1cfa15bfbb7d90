#!/usr/bin/env bash
# Wrong sign-ins through the console's sign-in form, and what they cost it in memory:
#  1. 1,000 wrong passwords from one address, 64 at a time:
#     how many are refused with 429 before any password hash is computed;
#  2. 1,000 wrong passwords from 1,000 addresses (X-Forwarded-For, trusted for the test),
#     64 at a time: every one is hashed, but never more than two Argon2id hashes at once.
# Prints the answers and the process's resident memory (VmRSS, peak VmHWM) before and after
# each phase, and writes them to docs/BENCHMARKS.md.
# Usage: bash tests/bench/sign_in.sh   (after cargo build; TEST_SATISFY_BIN picks another binary)
set -euo pipefail
cd "$(dirname "$0")/../.."
binary="${TEST_SATISFY_BIN:-target/debug/satisfy}"
password="sign-in-benchmark"

data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
SATISFY_ADMIN_PASSWORD=$password RUST_LOG=error "$binary" serve --listen "127.0.0.1:$port" \
  --data-dir "$data" --trust-forwarded-for >/dev/null &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 100); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done

memory() { awk '/VmRSS|VmHWM/ { printf "%s %d MB  ", $1, $2 / 1024 }' "/proc/$pid/status"; }
statuses() { sort | uniq -c | awk '{ printf "%s×%s ", $2, $1 }'; }

# One sign-in through the console's form: fetch it (for the CSRF cookie and field), post
# it with user $2, password "wrong-$1", from address $3; prints the status.
attempt() {
  local jar csrf
  jar=$(mktemp)
  csrf=$(curl -s -c "$jar" -H "X-Forwarded-For: $3" "$BASE/console/login" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -1)
  curl -s -o /dev/null -w '%{http_code}\n' -b "$jar" -H "X-Forwarded-For: $3" \
    --data-urlencode "username=$2" --data-urlencode "password=wrong-$1" --data-urlencode "csrf=$csrf" \
    "$BASE/console/login"
  rm -f "$jar"
}
export -f attempt
export BASE=$base

before=$(memory)
one_address=$(seq 1000 | xargs -P 64 -I{} bash -c 'attempt {} admin 192.0.2.1' | statuses)
after_one=$(memory)
many_addresses=$(seq 1000 | xargs -P 64 -I{} bash -c 'attempt {} user{} 10.$(({} / 256 % 256)).$(({} % 256)).1' | statuses)
after_many=$(memory)

section="## Sign-in under attack

Wrong passwords posted to the console's sign-in form (each after fetching the form for its
CSRF token), 64 at a time, against \`satisfy serve\` (\`bash tests/bench/sign_in.sh\`,
$(date -u +%Y-%m-%d), binary \`$binary\`). Memory is the process's resident set.

| phase | answers | memory after |
|---|---|---|
| start | | $before |
| 1,000 wrong sign-ins from one address | $one_address | $after_one |
| 1,000 wrong sign-ins from 1,000 addresses | $many_addresses | $after_many |

From one address only the first attempts cost an Argon2id hash (19 MiB each); the rest get
429 with \`Retry-After\`. From many addresses every attempt is hashed, but at most two at
once, so memory stays bounded whatever the rate (the others wait, or get 503 after 10 s).
"
echo "$section"
python3 tests/bench/write_section.py "$section"
