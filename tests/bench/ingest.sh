#!/usr/bin/env bash
# Benchmark (not a test): how many ratings per second POST /v1/ratings accepts durably in
# embedded mode on this machine, and at what latency. Needs wrk (Debian package).
# Usage: bash tests/bench/ingest.sh [seconds] [connections]   → updates docs/BENCHMARKS.md
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-20}"
connections="${2:-64}"
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
cargo build --release --locked --bin satisfy

data=$(mktemp -d)
port=18181
base="http://127.0.0.1:$port"
SATISFY_ADMIN_PASSWORD=bench RUST_LOG=warn ./target/release/satisfy serve --listen "127.0.0.1:$port" \
  --data-dir "$data" --rate-limit-burst 1000000 --rate-limit-per-second 1000000 >/dev/null &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 100); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done

ep=$(curl -sf -u admin:bench "$base/api/v1/entrypoints" | python3 -c 'import json,sys; print(json.load(sys.stdin)["entrypoints"][0]["id"])')
result=$(EP="$ep" ORIGIN="$base" wrk -t2 -c"$connections" -d"${seconds}s" --latency -s tests/bench/ratings.lua "$base")
echo "$result"
stored=$(curl -sf -u admin:bench "$base/api/v1/entrypoints/$ep/stats?granularity=day" | python3 -c 'import json,sys; print(json.load(sys.stdin)["summary"]["count"])')
requests=$(echo "$result" | awk '/requests in/ {print $1}')
non2xx=$(echo "$result" | awk '/Non-2xx/ {print $5}')
accepted=$((requests - ${non2xx:-0}))
rps=$(echo "$result" | awk '/Requests\/sec/ {print $2}')
p50=$(echo "$result" | awk '$1=="50%" {print $2}')
p99=$(echo "$result" | awk '$1=="99%" {print $2}')
echo "accepted (202): $accepted, stored: $stored"

section="## Ingest, embedded mode (SQLite, group commit, fsync per commit)

Measured $(date -u +%Y-%m-%d) on this project's CI machine kind (2 cores, 24 GiB), release build,
\`wrk -t2 -c$connections -d${seconds}s\` on loopback, each request a new rating with a random UUID
(\`bash tests/bench/ingest.sh $seconds $connections\`). wrk and the server share the 2 cores.

| ratings/s accepted (202) | p50 latency | p99 latency | 202 answers | ratings stored |
|---|---|---|---|---|
| $rps | $p50 | $p99 | $accepted | $stored |

Every 202 was counted exactly once in the store (${stored} = ${accepted} is checked by reading the console API after the run).
"
mkdir -p docs
python3 - "$section" <<'PY'
import sys, re, pathlib
path = pathlib.Path("docs/BENCHMARKS.md")
text = path.read_text() if path.exists() else "# Benchmarks\n\nFigures measured on this machine by the scripts under `tests/bench/`.\n"
section = sys.argv[1]
pattern = re.compile(r"## Ingest, embedded mode.*?(?=\n## |\Z)", re.S)
text = pattern.sub(section.rstrip() + "\n", text) if pattern.search(text) else text.rstrip() + "\n\n" + section
path.write_text(text)
PY
[ "$stored" = "$accepted" ] || { echo "MISMATCH: $accepted acknowledged, $stored stored" >&2; exit 1; }
