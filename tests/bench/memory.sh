#!/usr/bin/env bash
# Benchmark (not a test) of the embedded product's memory under a flood where every rating
# comes from a new client (its own IPv6 /64), about a page never rated before, with a new id
# (tests/bench/ratings.lua with DISTINCT=1): the server's resident memory is sampled every 10 s, to show
# whether it levels off. Figures go to docs/BENCHMARKS.md.
# Usage: bash tests/bench/memory.sh [SECONDS] [CONNECTIONS]   (defaults 300 and 32)
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-300}"
connections="${2:-32}"
cargo build --release --locked
bin=target/release/satisfy
source tests/bench/embedded.sh
start_embedded memory
rss_mb() { awk '/VmRSS/ {printf "%d", $2 / 1024}' "/proc/$server/status"; }
limited() { curl -sf "http://127.0.0.1:$port/metrics" | awk '/^satisfy_rate_limited_clients / {print $2}'; }
stored() {
  curl -sf -H "$auth" "http://127.0.0.1:$port/api/v1/entrypoints/$ep/stats?period=year" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["summary"]["count"])'
}
idle=$(rss_mb)
EP=$ep ORIGIN=$origin DISTINCT=1 wrk -t2 -c"$connections" -d"${seconds}s" --latency -s tests/bench/ratings.lua \
  "http://127.0.0.1:$port/v1/ratings" >"$work/wrk" 2>&1 &
load=$!
samples=""
for t in $(seq 10 10 "$seconds"); do
  sleep 10
  samples="$samples| $t | $(rss_mb) | $(limited) |
"
done
wait "$load"
sleep 3  # the last group commits and the background apply
total=$(stored)
rate=$(awk '/Requests\/sec/ {printf "%d", $2}' "$work/wrk")
non2xx=$(awk '/Non-2xx/ {print $NF}' "$work/wrk")
after=$(rss_mb)
db_mb=$(du -sm "$work/data" | cut -f1)
cat "$work/wrk"
section="## Memory under a flood of new clients, pages and ids

\`bash tests/bench/memory.sh $seconds $connections\` (tests/bench/ratings.lua with DISTINCT=1), $(date -u +%Y-%m-%d), this
machine (2 cores, shared with wrk): the embedded product (\`satisfy serve\`, default settings,
rate limit per client) takes ratings for $seconds s from $connections connections, every one from a new
client (its own IPv6 /64 through X-Forwarded-For), about a page never rated before, with a
new id. $total ratings stored ($rate requests/s, ${non2xx:-0} not accepted), data directory $db_mb MB.

| seconds into the flood | resident memory (MB) | clients the rate limiter remembers |
|---|---|---|
| 0 (idle) | $idle | 0 |
$samples| after the flood | $after | $(limited) |

What the process holds: nothing per page or id in the intake; a rate-limiter bucket per client
/64, forgotten 10 s after its last request (the right-hand column, read from \`/metrics\` after
each cleanup); SQLite's page cache, at most 64 MiB for each of the store's two connections;
ratings acknowledged but not yet applied wait on disk (at most 1,000,000, then 503: the
requests not accepted above, as the store applies about 2,000 ratings/s while the flood lasts)."
python3 tests/bench/write_section.py "$section"
echo "$section"
