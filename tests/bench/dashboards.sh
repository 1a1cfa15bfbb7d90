#!/usr/bin/env bash
# Benchmark (not a test) of the dashboards on this machine, written to docs/BENCHMARKS.md:
# `satisfy demo-data` writes N ratings, then every dashboard page and API view, and the first
# byte of each export, are timed over HTTP (median of 5) on the running product: `satisfy
# serve` over SQLite, and `satisfy console` over ClickHouse with a larger N.
# Needs the engines for ClickHouse (tests/engines/install.sh).
# Usage: bash tests/bench/dashboards.sh [sqlite ratings] [clickhouse ratings]
#        (defaults 1,000,000 and 10,000,000)
set -euo pipefail
cd "$(dirname "$0")/../.."
sqlite_ratings="${1:-1000000}"
clickhouse_ratings="${2:-10000000}"
bash tests/engines/install.sh
cargo build --release --locked
bin=target/release/satisfy
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  bash tests/engines/engines.sh stop "$work/clickhouse" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
password=password-di-prova-bench
export RUST_LOG=warn

wait_up() {
  for _ in $(seq 1 300); do
    curl -fsS -o /dev/null "$1/healthz" 2>/dev/null && return 0
    sleep 0.2
  done
  echo "no answer from $1" >&2
  return 1
}

# Median of 5 runs of `curl -w $metric` on a URL, in milliseconds, after one run that warms
# the caches (a dashboard is opened again and again: the steady state is what counts).
median_ms() {
  local metric=$1; shift
  curl -sS -o /dev/null "$@"
  for _ in 1 2 3 4 5; do
    curl -sS -o /dev/null -w "%{$metric}\n" "$@"
  done | sort -n | sed -n 3p | awk '{printf "%.0f", $1 * 1000}'
}

# Median of 5 times to the first byte of a body, in milliseconds, reading no further,
# after one warming run.
first_byte_ms() {
  for _ in 0 1 2 3 4 5; do
    python3 - "$@" <<'PY'
import sys, time, urllib.request
url, headers = sys.argv[-1], dict(h.split(": ", 1) for h in sys.argv[1:-1])
start = time.monotonic()
with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as response:
    response.read(1)
print(time.monotonic() - start)
PY
  done | tail -n 5 | sort -n | sed -n 3p | awk '{printf "%.0f", $1 * 1000}'
}

# Times every dashboard of the demo ente on a running console at $1 with data dir $2.
measure() {
  local base=$1 data=$2 token jar csrf entrypoint
  token=$($bin admin --data-dir "$data" tokens create --tenant demo --name bench --scopes read)
  entrypoint=$(curl -fsS -H "Authorization: Bearer $token" "$base/api/v1/entrypoints" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["entrypoints"][0]["id"])')
  jar="$data/cookies"
  csrf=$(curl -fsS -c "$jar" "$base/console/login" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -1)
  curl -fsS -o /dev/null -b "$jar" -c "$jar" -d "username=admin&password=$password&csrf=$csrf" "$base/console/login"
  # The console shows the ente a user works in: switch the administrator to the demo.
  csrf=$(curl -fsS -b "$jar" "$base/console/entrypoints" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -1)
  curl -fsS -o /dev/null -b "$jar" -c "$jar" -d "tenant=demo&csrf=$csrf" "$base/console/tenant"
  local api=(-H "Authorization: Bearer $token")
  local page="period=year"
  row() { printf '| %s | %s |\n' "$1" "$2"; }
  # One pass over every view first: a freshly started store answers its first queries from
  # cold caches (ClickHouse for several requests), which no user opening dashboards all day
  # sees again.
  for view in "/console/overview?$page" "/console/overview?period=30d" \
    "/console/entrypoints/$entrypoint/stats?$page" "/console/entrypoints/$entrypoint/comments?$page" \
    "/console/entrypoints/$entrypoint/comments?$page&q=orari&stars=1"; do
    curl -sS -o /dev/null -b "$jar" "$base$view"
  done
  for view in "/api/v1/overview?$page" "/api/v1/entrypoints/$entrypoint/stats?$page&granularity=week" \
    "/api/v1/entrypoints/$entrypoint/ratings?$page" \
    "/api/v1/entrypoints/$entrypoint/aggregates?$page&granularity=day&format=csv"; do
    curl -sS -o /dev/null "${api[@]}" "$base$view"
  done
  echo "| view (period: this year, $(date -u +%Y-%m-%d)) | ms |"
  echo "|---|---|"
  row "console: overview (/console/overview)" "$(median_ms time_total -b "$jar" "$base/console/overview?$page")"
  row "console: overview, last 30 days" "$(median_ms time_total -b "$jar" "$base/console/overview?period=30d")"
  row "console: statistics of the entrypoint" "$(median_ms time_total -b "$jar" "$base/console/entrypoints/$entrypoint/stats?$page")"
  row "console: comments, first page" "$(median_ms time_total -b "$jar" "$base/console/entrypoints/$entrypoint/comments?$page")"
  row "console: comments searched (q=orari, 1 star)" "$(median_ms time_total -b "$jar" "$base/console/entrypoints/$entrypoint/comments?$page&q=orari&stars=1")"
  row "API: overview" "$(median_ms time_total "${api[@]}" "$base/api/v1/overview?$page")"
  row "API: statistics" "$(median_ms time_total "${api[@]}" "$base/api/v1/entrypoints/$entrypoint/stats?$page&granularity=week")"
  row "API: ratings, one page of 50" "$(median_ms time_total "${api[@]}" "$base/api/v1/entrypoints/$entrypoint/ratings?$page")"
  row "API: aggregates per day, CSV" "$(median_ms time_total "${api[@]}" "$base/api/v1/entrypoints/$entrypoint/aggregates?$page&granularity=day&format=csv")"
  row "export start: every rating, CSV (first byte)" "$(first_byte_ms "Authorization: Bearer $token" "$base/api/v1/entrypoints/$entrypoint/ratings?$page&format=csv")"
  # The whole file, cut at 3 minutes: the rows received then say the rate.
  local whole size note=""
  whole=$(curl -sS --max-time 180 -o "$data/export.csv" -w '%{time_total}' "${api[@]}" "$base/api/v1/entrypoints/$entrypoint/ratings?$page&format=csv" || true)
  size=$(wc -l < "$data/export.csv")
  [ "$(awk -v t="$whole" 'BEGIN{print (t >= 179)}')" = 1 ] && note=", cut at 180 s"
  row "export whole: $((size - 1)) ratings, CSV ($(du -m "$data/export.csv" | cut -f1) MB$note)" "$(awk -v t="$whole" 'BEGIN{printf "%.0f", t * 1000}')"
}

# SQLite: the embedded product.
sqlite_dir="$work/sqlite"
start=$(date +%s.%N)
$bin demo-data --data-dir "$sqlite_dir" --ratings "$sqlite_ratings" --seed 1 >/dev/null 2>&1
written=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN{printf "%.1f", e - s}')
port=$(free_port)
SATISFY_ADMIN_PASSWORD=$password $bin serve --data-dir "$sqlite_dir" --listen "127.0.0.1:$port" --demo-data false >"$work/serve.log" 2>&1 &
pids+=($!)
wait_up "http://127.0.0.1:$port"
sqlite_table=$(measure "http://127.0.0.1:$port" "$sqlite_dir")
kill "${pids[-1]}"

# ClickHouse: the distributed console.
ch_port=$(free_port)
bash tests/engines/engines.sh start clickhouse "$work/clickhouse" "$ch_port" >/dev/null
ch_dir="$work/ch"
start=$(date +%s.%N)
$bin demo-data --data-dir "$ch_dir" --clickhouse-url "http://127.0.0.1:$ch_port" --ratings "$clickhouse_ratings" --seed 1 >/dev/null 2>&1
ch_written=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN{printf "%.1f", e - s}')
# Background merges of the fresh parts take both cores for a while: measure the steady
# state a dashboard sees, once ClickHouse has merged (at most 5 minutes).
for _ in $(seq 300); do
  merging=$(curl -fsS "http://127.0.0.1:$ch_port/" --data-binary "SELECT count() FROM system.merges")
  [ "$merging" = 0 ] && break
  sleep 1
done
port=$(free_port)
SATISFY_ADMIN_PASSWORD=$password $bin console --data-dir "$ch_dir" --listen "127.0.0.1:$port" \
  --clickhouse-url "http://127.0.0.1:$ch_port" --public-url "http://127.0.0.1:$port" \
  --internal-token bench-internal-token >"$work/console.log" 2>&1 &
pids+=($!)
wait_up "http://127.0.0.1:$port"
clickhouse_table=$(measure "http://127.0.0.1:$port" "$ch_dir")

section="## Dashboards

Measured $(date -u +%Y-%m-%d) on this machine (2 cores, 24 GiB) by \`bash tests/bench/dashboards.sh $sqlite_ratings $clickhouse_ratings\`:
\`satisfy demo-data\` writes the ratings of one website entrypoint of the demo ente over a year,
then each view is fetched over HTTP from the running product (on ClickHouse once its background
merges are done), after one pass over every view, median of 5 after one more warming request
(the first byte for an export's start). Budgets: every page and export start under 300 ms at 1M ratings on SQLite,
under 100 ms at 10M on ClickHouse.

**SQLite** (\`satisfy serve\`), $sqlite_ratings ratings, written by \`satisfy demo-data\` in $written s:

$sqlite_table

**ClickHouse** (\`satisfy console\`), $clickhouse_ratings ratings, written by \`satisfy demo-data --clickhouse-url\` in $ch_written s:

$clickhouse_table

What bounds it. Both backends sum rollups kept exact under updates (ratings and answers per
15-minute slot, pages and negative answers per UTC day, a range's partial days read from the
ratings): a year is about 100,000 rollup rows whatever the number of ratings. On SQLite,
the writer adds each transaction's net changes to them, which costs the writes (\`demo-data\` wrote 1M in 46 s
before them; kept by triggers until 2026-12-06, twice the writer's cost); a
page's queries run side by side on a pool of readers (one per core, 2 to 4), each reading its
entrypoints' key ranges of the rollups in one pass, without sorting, so a year's page is
bounded by scanning those rows (the statistics' answers per period are the largest). On
ClickHouse each version is written with the contribution it replaces and materialized views
add +1 and -1 (SummingMergeTree); a page's queries run side by side, each a few milliseconds
plus the round trip. Listings and export starts read the newest rows in sorting-key order: an
index walked backwards on SQLite; on ClickHouse the newest versions as they lie within a
window ending at the cursor (a day, widened at least fourfold, and as many times as it held too few, until it holds a page;
nothing there in the whole range ends the listing), then versions
merged (\`FINAL\`) only from the earliest of them. A whole export is bounded by formatting and
sending on SQLite, and by those two queries per 2,000-row page on ClickHouse. Writing into
ClickHouse no longer looks batches up first (see \"Ingest and distributed mode\")."
python3 tests/bench/write_section.py "$section"
echo "$section"
