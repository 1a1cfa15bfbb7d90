#!/usr/bin/env bash
# Floods and slow clients against the embedded intake (issue 12, item 7): fifty
# well-behaved clients, each at its rate limit, alone, then beside one client flooding at
# 20 times its limit, then beside SLOW connections that send half a request and nothing
# more (tests/bench/abuse.py). Fails if a well-behaved client is refused, the flooder is
# not limited, a slow connection is never closed or the server stops answering.
# Usage: bash tests/bench/abuse.sh [BINARY] [SECONDS_PER_PHASE] [SLOW] [--write]
#   CI runs it short on the debug build; `--write` (a release build, 30 s, 1000) puts the
#   figures in docs/BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin="${1:-target/release/satisfy}"
seconds="${2:-30}"
slow="${3:-1000}"
write="${4:-}"
per_second=5
ulimit -n 8192
source tests/bench/embedded.sh
start_embedded abuse --rate-limit-per-second "$per_second" --rate-limit-burst $((2 * per_second))
rss_before=$(awk '/VmRSS/ {print $2}' "/proc/$server/status")
figures=$(python3 tests/bench/abuse.py "http://127.0.0.1:$port" "$ep" "$origin" "$per_second" "$seconds" "$slow") || {
  echo "$figures"; tail -20 "$work/log"; exit 1; }
rss_after=$(awk '/VmRSS/ {print $2}' "/proc/$server/status")
echo "$figures"
echo "server RSS: $((rss_before / 1024)) MB before, $((rss_after / 1024)) MB after"

if [ "$write" = "--write" ]; then
  section=$(FIGURES="$figures" RSS="$((rss_before / 1024)) $((rss_after / 1024))" SECONDS_PER_PHASE="$seconds" \
    SLOW="$slow" python3 - <<'PY'
import json, os
f = json.loads(os.environ["FIGURES"])
before, after = os.environ["RSS"].split()
b, fl, sl = f["baseline"], f["flooded"], f["slow"]
flood = fl["flooder_statuses"]
print(f"""## Floods and slow clients

`bash tests/bench/abuse.sh target/release/satisfy {os.environ['SECONDS_PER_PHASE']} {os.environ['SLOW']} --write`
(tests/bench/abuse.py): the embedded intake, each client its own address (X-Forwarded-For),
limit {f['per_client_per_second']:g} ratings/s per client (burst {2 * f['per_client_per_second']:g}); fifty well-behaved
clients rate at their limit, {os.environ['SECONDS_PER_PHASE']} s per phase, on this machine (2 cores, shared with the load).

| phase | well-behaved requests | refused | p99 | p99 against alone |
|---|---|---|---|---|
| alone | {b['requests']} | 0 | {b['p99_ms']} ms | 1 |
| one client flooding at 20x its limit | {fl['requests']} | 0 | {fl['p99_ms']} ms | {f['p99_ratio_flooded']} |
| {sl['slow_opened']} slow connections (half a request, then silence) | {sl['requests']} | 0 | {sl['p99_ms']} ms | {f['p99_ratio_slow']} |

- The flooder: {flood.get('202', 0)} accepted (its burst and rate), {flood.get('429', 0)} answered 429.
- The slow connections: all {sl['slow_closed_by_server']} closed by the server, the longest held
  {sl['slow_longest_held_s']} s (the header-read timeout, 10 s by default).
- The server's memory, every rating with a new id about a page never rated before:
  {before} MB resident before, {after} MB after.
- What bounds it: the 2 cores are shared by the server and the Python clients; each
  rating is fsync'd by SQLite's group commit, which sets the p99.
""")
PY
)
  python3 tests/bench/write_section.py "$section"
fi
