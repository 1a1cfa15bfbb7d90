#!/usr/bin/env bash
# Benchmarks (not tests) on this machine, written to docs/BENCHMARKS.md:
#  1. POST /v1/ratings throughput and latency: a bare axum handler answering 202, the
#     embedded store (SQLite group commit) and the Kafka sink (acks=all), in one run;
#  2. aggregator throughput from Kafka into ClickHouse, one aggregator and then two on the
#     topic's 12 partitions, beside what ClickHouse alone takes;
#  3. end-to-end lag from 202 to visible in the console's stats (distributed mode), idle
#     and under a sustained load of about 10,000 ratings/s.
# Profiles (docs/profiles/) are taken in loads of their own: perf slows what it watches.
# Platform events have their own script: tests/bench/events.sh.
# Needs wrk (Debian) and the engines (tests/engines/install.sh). Every figure in the tables
# comes from this run (the prose beside them cites dated measurements that explain them);
# ratios against the bare handler are the figures that travel between machines.
# Usage: bash tests/bench/run.sh [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-15}"
connections="${2:-64}"
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
bash tests/engines/install.sh
cargo build --release --locked --bin satisfy
cargo build --release --locked -p satisfy-ingest --example bare_accept
cargo build --release --locked -p satisfy-aggregator --example weekly_chart_at_scale
bin=target/release/satisfy
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  bash tests/engines/engines.sh stop "$work/clickhouse" || true
  bash tests/engines/engines.sh stop "$work/noida" || true
  rm -rf "$work"
}
trap cleanup EXIT
wait_up() { for _ in $(seq 200); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "$1 not up" >&2; exit 1; }
uuid() { cat /proc/sys/kernel/random/uuid; }
# Writes perf's report of the recording $1 to $2, titled $3: where the process's CPU went,
# by function with everything it calls, so the parts (request handling, the intake log,
# the applier, the socket writes) read as shares of the whole.
profile_report() {
  {
    echo "# $3"
    echo "# perf record --call-graph dwarf, perf report --children. First column: the share of the"
    echo "# process's CPU samples in the function and everything it calls; second: in the function"
    echo "# itself. Functions under 2% are left out; tokio's and hyper's frames are the runtime."
    perf report -i "$1" --stdio --children --percent-limit 2 -g none --sort symbol 2>/dev/null \
      | grep -v "^#" | grep -v "^$" | sed -E "s/[[:space:]]+$//" | cut -c1-200 | head -150
  } >"$2" || true
}

# wrk against $1 for entrypoint $2; prints "rps p50 p99 non2xx requests".
load() {
  local result non2xx
  result=$(EP="$2" ORIGIN="https://www.comune.example.it" wrk -t2 -c"$connections" -d"${seconds}s" --latency -s tests/bench/ratings.lua "$1")
  echo "$result" >&2
  non2xx=$(echo "$result" | awk '/Non-2xx/ {print $5}')
  echo "$(echo "$result" | awk '/Requests\/sec/ {print $2}') $(echo "$result" | awk '$1=="50%" {print $2}') $(echo "$result" | awk '$1=="99%" {print $2}') ${non2xx:-0} $(echo "$result" | awk '/requests in/ {print $1}')"
}

echo "==> bare axum handler"
target/release/examples/bare_accept 127.0.0.1:18190 & pids+=($!)
sleep 0.5
read -r bare_rps bare_p50 bare_p99 _ _ < <(load http://127.0.0.1:18190 ep_AAAAAAAAAAAAAAAA)

echo "==> embedded mode (SQLite)"
SATISFY_ADMIN_PASSWORD=benchmark-password RUST_LOG=warn $bin serve --listen 127.0.0.1:18191 --data-dir "$work/embedded" \
  --rate-limit-burst 100000000 --rate-limit-per-second 1000000 >/dev/null & pids+=($!)
wait_up http://127.0.0.1:18191/healthz
auth="Authorization: Bearer $($bin admin --data-dir "$work/embedded" tokens create --tenant comune --name bench --scopes read,write)"
# The load rates pages of the ente's site, which its entrypoint allows.
ep=$(curl -sf -H "$auth" -X POST -H 'content-type: application/json' \
  -d '{"name":"bench","kind":"pagina_web","allowed_origins":["https://www.comune.example.it"]}' \
  http://127.0.0.1:18191/api/v1/entrypoints | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
sleep 0.3
embedded_pid=${pids[-1]}
read -r emb_rps emb_p50 emb_p99 emb_non2xx emb_requests < <(load http://127.0.0.1:18191 "$ep")
emb_peak_rss=$(awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$embedded_pid/status")
# The intake log is applied in the background, at a lower priority while the load lasts:
# how long the store takes to hold every acknowledged rating once the load stops.
load_ended=$(date +%s.%N)
emb_acknowledged=$((emb_requests - emb_non2xx))
while :; do
  emb_stored=$(curl -sf -H "$auth" "http://127.0.0.1:18191/api/v1/entrypoints/$ep/stats?granularity=day" | python3 -c 'import json,sys; print(json.load(sys.stdin)["summary"]["count"])')
  [ "$emb_stored" -ge "$emb_acknowledged" ] && break
  sleep 0.2
done
emb_applied_s=$(python3 -c "print(round($(date +%s.%N) - $load_ended, 1))")

# Restarted on its data directory (now holding the load's ratings, all applied): time to
# /readyz, and the idle memory; then the profile.
kill -INT "$embedded_pid"; wait "$embedded_pid" 2>/dev/null || true
restart_started=$(date +%s.%N)
SATISFY_ADMIN_PASSWORD=benchmark-password RUST_LOG=warn $bin serve --listen 127.0.0.1:18191 --data-dir "$work/embedded" \
  --rate-limit-burst 100000000 --rate-limit-per-second 1000000 >/dev/null & pids+=($!)
until curl -sf -o /dev/null http://127.0.0.1:18191/readyz; do sleep 0.005; done
ready_ms=$(python3 -c "print(round(($(date +%s.%N) - $restart_started) * 1000))")
sleep 3
embedded_pid=${pids[-1]}
idle_rss=$(awk '/VmRSS/ {print int($2 / 1024)}' "/proc/$embedded_pid/status")

# The profile of the intake, in a load of its own.
mkdir -p docs/profiles
profile_seconds=$(( seconds / 2 > 5 ? seconds / 2 : 5 ))
perf record -F 299 --call-graph dwarf,16384 -p "$embedded_pid" -o "$work/intake.perf" -- sleep $((profile_seconds - 1)) >/dev/null 2>&1 &
profiler=$!
seconds=$profile_seconds load http://127.0.0.1:18191 "$ep" >/dev/null
wait "$profiler" || true
profile_report "$work/intake.perf" docs/profiles/intake-embedded.txt \
  "satisfy serve (embedded) under wrk -c$connections posting new ratings, $(date -u +%F)"

echo "==> distributed mode (Kafka: noida-db, ClickHouse 26.9)"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
clickhouse_port=$(free_port)
broker_port=$(free_port)
bash tests/engines/engines.sh start clickhouse "$work/clickhouse" "$clickhouse_port"
bash tests/engines/engines.sh start noida "$work/noida" "$broker_port"
export SATISFY_INTERNAL_TOKEN=bench-token
SATISFY_ADMIN_PASSWORD=benchmark-password RUST_LOG=warn SATISFY_CLICKHOUSE_URL=http://127.0.0.1:$clickhouse_port SATISFY_PUBLIC_URL=http://127.0.0.1:18192 \
  $bin console --listen 127.0.0.1:18193 --data-dir "$work/console" >/dev/null 2>&1 & pids+=($!)
console_pid=$!
wait_up http://127.0.0.1:18193/healthz
dauth="Authorization: Bearer $($bin admin --data-dir "$work/console" tokens create --tenant comune --name bench --scopes read,write)"
RUST_LOG=warn SATISFY_KAFKA_BROKERS=127.0.0.1:$broker_port SATISFY_KAFKA_PARTITIONS=12 SATISFY_CONSOLE_URL=http://127.0.0.1:18193 \
  $bin ingest --listen 127.0.0.1:18192 --rate-limit-burst 100000000 --rate-limit-per-second 1000000 >/dev/null 2>&1 & pids+=($!)
ingest_pid=$!
dep=$(curl -sf -H "$dauth" -X POST -H 'content-type: application/json' -d '{"name":"bench","kind":"pagina_web","allowed_origins":["https://www.comune.example.it"]}' \
  http://127.0.0.1:18193/api/v1/entrypoints | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
wait_up http://127.0.0.1:18192/readyz
wait_up "http://127.0.0.1:18192/v1/entrypoints/$dep/widget-config"
# The aggregator is not running yet: the load piles up in Kafka, then it drains it.
read -r kafka_rps kafka_p50 kafka_p99 kafka_non2xx kafka_requests < <(load http://127.0.0.1:18192 "$dep")
kafka_accepted=$((kafka_requests - kafka_non2xx))
count() {
  local n
  n=$(curl -sf -H "$dauth" "http://127.0.0.1:18193/api/v1/entrypoints/$dep/stats?granularity=day" | python3 -c 'import json,sys; print(json.load(sys.stdin)["summary"]["count"])') \
    || { echo "cannot read the console's stats" >&2; exit 1; }
  echo "$n"
}
# Starts $1 aggregators on the backlog and waits until the console counts $2 ratings. Sets
# drain_s (from their start, joining the group included), steady_s and steady_ratings (the
# time from when each had stored a batch, and the ratings stored in it), insert_s (time the
# aggregators spent writing to ClickHouse) and agg_pids. With $3 = profile, the first
# aggregator is profiled into $work/aggregator.perf.
aggregator_metric() { curl -sf "http://127.0.0.1:$1/metrics" | awk -v m="$2" '$1 == m {print $2}'; }
# CPU seconds a process (all its threads) has used so far.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz}' "/proc/$1/stat"; }
clickhouse_pid() { cat "$work/clickhouse/pid"; }
broker_pid() { cat "$work/noida/pid"; }
# Also sets, for the aggregators' processes: agg_cpu_s, clickhouse_cpu_s and broker_cpu_s
# (CPU seconds each used during the drain) and agg_peak_mb (the first one's peak memory).
drain() {
  local started first="" port clickhouse_before broker_before at_start storing
  agg_pids=()
  at_start=$(current)
  clickhouse_before=$(cpu_s "$(clickhouse_pid)")
  broker_before=$(cpu_s "$(broker_pid)")
  started=$(date +%s.%N)
  for n in $(seq "$1"); do
    port=$((18193 + n))
    RUST_LOG=warn SATISFY_KAFKA_BROKERS=127.0.0.1:$broker_port SATISFY_CLICKHOUSE_URL=http://127.0.0.1:$clickhouse_port SATISFY_BATCH_SIZE=20000 \
      $bin aggregator --listen 127.0.0.1:$port >/dev/null 2>&1 & pids+=($!); agg_pids+=($!)
  done
  if [ "${3:-}" = profile ]; then
    perf record -F 499 --call-graph dwarf,16384 -p "${agg_pids[0]}" -o "$work/aggregator.perf" >/dev/null 2>&1 &
    aggregator_profiler=$!
  fi
  # The steady part starts once every aggregator has stored a batch: joining the group and
  # the rebalances while the others join are excluded.
  until [ "$(current)" -ge "$2" ]; do
    if [ -z "$first" ]; then
      storing=0
      for n in $(seq "$1"); do
        [ "$(aggregator_metric $((18193 + n)) satisfy_aggregator_batch_rows_count 2>/dev/null || echo 0)" != "0" ] && storing=$((storing + 1))
      done
      # The count first: its query may take a while, which must not count as steady time.
      if [ "$storing" = "$1" ]; then steady_ratings=$(( $2 - $(current) )); first=$(date +%s.%N); fi
    fi
    sleep 0.05
  done
  drained=$(date +%s.%N)
  agg_cpu_s=0
  for pid in "${agg_pids[@]}"; do agg_cpu_s=$(python3 -c "print($agg_cpu_s + $(cpu_s "$pid"))"); done
  clickhouse_cpu_s=$(python3 -c "print(round($(cpu_s "$(clickhouse_pid)") - $clickhouse_before, 2))")
  broker_cpu_s=$(python3 -c "print(round($(cpu_s "$(broker_pid)") - $broker_before, 2))")
  agg_peak_mb=$(awk '/VmHWM/ {print int($2 / 1024)}' "/proc/${agg_pids[0]}/status")
  if [ "${3:-}" = profile ]; then
    kill -INT "$aggregator_profiler" 2>/dev/null || true; wait "$aggregator_profiler" 2>/dev/null || true
  fi
  drain_s=$(python3 -c "print($drained - $started)")
  if [ -z "$first" ] || [ "$steady_ratings" -le 0 ]; then
    echo "drain of $1: not every aggregator stored a batch before the end; steady figures are from the start" >&2
    first=$started; steady_ratings=$(( $2 - at_start ))
  fi
  steady_s=$(python3 -c "print($drained - $first)")
  insert_s=0
  for n in $(seq "$1"); do
    insert_s=$(python3 -c "print($insert_s + $(aggregator_metric $((18193 + n)) satisfy_aggregator_insert_seconds_sum))")
  done
}
# Reads the count, ending the script if the console cannot answer.
current() { local n; n=$(count); [ -n "$n" ] || { echo "cannot read the console's stats" >&2; kill $$; }; echo "$n"; }
drain 1 "$kafka_accepted"
kafka_counted=$(current)
# Where the drain's CPU went, per rating drained.
per_rating_us() { python3 -c "print(round($1 * 1e6 / $kafka_accepted, 1))"; }
broker_us=$(per_rating_us "$broker_cpu_s")
drain_cpu="aggregator $agg_cpu_s s ($(per_rating_us "$agg_cpu_s") µs a rating), ClickHouse $clickhouse_cpu_s s ($(per_rating_us "$clickhouse_cpu_s") µs), broker $broker_cpu_s s ($broker_us µs)"
drain_cpu_share=$(python3 -c "print(round(($agg_cpu_s + $clickhouse_cpu_s + $broker_cpu_s) / (2 * $drain_s) * 100))")
agg1_peak_mb=$agg_peak_mb
rate() { python3 -c "print(round($1 / $2))"; }
agg_rps=$(rate "$kafka_accepted" "$drain_s")
agg_steady_rps=$(rate "$steady_ratings" "$steady_s")
agg_insert_s=$(python3 -c "print(f'{$insert_s:.1f}')")
agg_drain_s=$(python3 -c "print(f'{$drain_s:.1f}')")

echo "==> end-to-end lag, idle and under a sustained load"
# Samples rate an entrypoint of their own, so that the load's ratings do not count.
lag_ep=$(curl -sf -H "$dauth" -X POST -H 'content-type: application/json' -d '{"name":"lag","kind":"pagina_web","allowed_origins":["https://www.comune.example.it"]}' \
  http://127.0.0.1:18193/api/v1/entrypoints | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
wait_up "http://127.0.0.1:18192/v1/entrypoints/$lag_ep/widget-config"
token=${dauth#Authorization: Bearer }
# Always run in a subshell (a command substitution, or in the background): exec makes the
# subshell the sampler itself, so that the background one's pid stops it.
lag_samples() { exec python3 tests/bench/lag.py http://127.0.0.1:18192 http://127.0.0.1:18193 "$token" "$lag_ep" https://www.comune.example.it "$1"; }
percentile() { python3 -c "import math,sys; v=sorted(int(x) for x in sys.stdin); print(v[max(0, math.ceil(len(v) * $1 / 100) - 1)])"; }
# Cores each process uses over a span: "name=cpu_seconds ..." snapshots of the processes
# of the distributed mode, then the difference of two of them over the seconds between.
cpu_snapshot() {
  echo "ingest=$(cpu_s "$ingest_pid") aggregator=$(cpu_s "${agg_pids[0]}") broker=$(cpu_s "$(broker_pid)") ClickHouse=$(cpu_s "$(clickhouse_pid)") console=$(cpu_s "$console_pid")"
}
cores_used() {
  python3 -c "
import sys
before = dict(p.split('=') for p in sys.argv[1].split())
after = dict(p.split('=') for p in sys.argv[2].split())
print(', '.join(f'{k} {(float(after[k]) - float(before[k])) / float(sys.argv[3]):.2f}' for k in before))" "$1" "$2" "$3"
}
# Nothing to read: what the consumer and the broker spend waiting for ratings.
idle_before=$(cpu_snapshot); sleep 5; idle_cores=$(cores_used "$idle_before" "$(cpu_snapshot)" 5)
idle_lags=$(lag_samples 20)
lag_p50=$(echo "$idle_lags" | percentile 50)
lag_max=$(echo "$idle_lags" | percentile 100)
# A steady load of at least 10,000 ratings/s (probes aim 5% above, as they vary by as much
# from one to the next at the same connections): each wrk connection waits 20 ms between its
# requests, long against a request's few milliseconds, so that the rate holds when latency
# grows; three short runs set the number of connections that gives the rate, each with a
# sampler polling the stats as during the samples (its polls take ClickHouse's CPU).
# Always run in a subshell (a pipeline, or in the background): exec makes the subshell wrk
# itself, so that the background one's pid stops wrk.
steady() { DELAY_MS=20 EP="$dep" ORIGIN="https://www.comune.example.it" exec wrk -t2 -c"$1" -d"$2" -s tests/bench/ratings.lua http://127.0.0.1:18192; }
steady_connections=200
for _ in 1 2 3; do
  lag_samples 1000 >/dev/null & sampler_pid=$!; pids+=("$sampler_pid")
  probe_rps=$(steady "$steady_connections" 4s | awk '/Requests\/sec/ {print $2}')
  kill -0 "$sampler_pid" 2>/dev/null || echo "warning: the lag sampler stopped during this probe" >&2
  kill "$sampler_pid" 2>/dev/null || true; wait "$sampler_pid" 2>/dev/null || true
  echo "steady load probe: $steady_connections connections, $probe_rps ratings/s" >&2
  steady_connections=$(python3 -c "print(max(2, round($steady_connections * 10500 / $probe_rps)))")
done
# Long enough for the samples even at a few seconds each; stopped when they are taken.
steady "$steady_connections" 300s >"$work/steady.txt" & steady_pid=$!
sleep 5
loaded_before=$(cpu_snapshot); loaded_started=$(date +%s.%N)
loaded_lags=$(lag_samples 40)
loaded_cores=$(cores_used "$loaded_before" "$(cpu_snapshot)" "$(python3 -c "print($(date +%s.%N) - $loaded_started)")")
kill -INT "$steady_pid" 2>/dev/null || true; wait "$steady_pid" 2>/dev/null || true
sleep 3  # the aggregator stores the load's last ratings before the next drain counts
steady_rps=$(awk '/Requests\/sec/ {printf "%d", $2}' "$work/steady.txt")
loaded_p50=$(echo "$loaded_lags" | percentile 50)
loaded_p95=$(echo "$loaded_lags" | percentile 95)
loaded_max=$(echo "$loaded_lags" | percentile 100)

echo "==> two aggregators on the 12 partitions"
kill -INT "${agg_pids[@]}"; wait "${agg_pids[@]}" 2>/dev/null || true
counted_before=$(current)
read -r _ _ _ second_non2xx second_requests < <(load http://127.0.0.1:18192 "$dep")
second_accepted=$((second_requests - second_non2xx))
drain 2 $((counted_before + second_accepted))
agg2_rps=$(rate "$second_accepted" "$drain_s")
agg2_steady_rps=$(rate "$steady_ratings" "$steady_s")

echo "==> the profile of one aggregator draining, in a drain of its own"
kill -INT "${agg_pids[@]}"; wait "${agg_pids[@]}" 2>/dev/null || true
counted_before=$(current)
read -r _ _ _ third_non2xx third_requests < <(seconds=$profile_seconds load http://127.0.0.1:18192 "$dep")
drain 1 $((counted_before + third_requests - third_non2xx)) profile
profile_report "$work/aggregator.perf" docs/profiles/aggregator-drain.txt \
  "satisfy aggregator draining a queued topic into ClickHouse, $(date -u +%F)"

echo "==> what ClickHouse alone takes"
# The same shape of rows (a new version, nothing replaced) made inside ClickHouse and
# inserted through rating_changes and its five views, 200,000 at a time: no client, no
# parsing, the bound of the aggregator's inserts on this machine.
database=$(curl -sf "http://127.0.0.1:$clickhouse_port/" --data-binary "SELECT database FROM system.tables WHERE name = 'rating_changes' LIMIT 1")
clickhouse_alone() {
  curl -sf "http://127.0.0.1:$clickhouse_port/?database=$database" --data-binary "INSERT INTO rating_changes
    SELECT 'bench', generateUUIDv4(), 'ep_BENCHBENCHBENCH', concat('https://www.comune.example.it/p', toString(number % 200)),
      toUInt8(number % 5 + 1), if(number % 5 < 3, ['unclear'], ['clear']), NULL, 'it', '1.0.0',
      toInt64(1777593600000 + number * 10), toInt64(1777593600000 + number * 10), '', toUInt8(0), []
    FROM numbers(200000)"
}
ch_started=$(date +%s.%N)
ch_cpu_before=$(cpu_s "$(clickhouse_pid)")
for _ in 1 2 3; do clickhouse_alone; done
clickhouse_rps=$(rate 600000 "$(python3 -c "print($(date +%s.%N) - $ch_started)")")
# CPU a row, beside the drain's: ClickHouse's floor for the ratings it is sent.
clickhouse_alone_us=$(python3 -c "print(round(($(cpu_s "$(clickhouse_pid)") - $ch_cpu_before) * 1e6 / 600000, 1))")

echo "==> weekly chart over 10M ratings in ClickHouse"
scale=$(target/release/examples/weekly_chart_at_scale http://127.0.0.1:$clickhouse_port 10000000 | tee /dev/stderr | grep "weekly chart" | sed 's/^/- /')

ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }
section="## Ingest and distributed mode

Measured $(date -u +%Y-%m-%d) on this machine (2 cores, 24 GiB) by \`bash tests/bench/run.sh $seconds $connections\`:
release build, \`wrk -t2 -c$connections -d${seconds}s\` on loopback sharing the 2 cores with the server
(and, for Kafka, with the broker), every request a new rating with a random UUID.

| POST /v1/ratings | ratings/s | share of bare | p50 | p99 |
|---|---|---|---|---|
| bare axum handler answering 202 | $bare_rps | 1.00 | $bare_p50 | $bare_p99 |
| embedded: intake log (SQLite, group commit, fsync), applied in the background | $emb_rps | $(ratio "$emb_rps" "$bare_rps") | $emb_p50 | $emb_p99 |
| distributed: Kafka sink (noida-db), idempotent, acks=all | $kafka_rps | $(ratio "$kafka_rps" "$bare_rps") | $kafka_p50 | $kafka_p99 |

Embedded memory and start (goal 7): resident memory peaked at ${emb_peak_rss} MB under the $connections-connection load;
restarted on its data directory (holding the load's ratings), \`satisfy serve\` answered \`/readyz\` 200 after
${ready_ms} ms and then held ${idle_rss} MB resident, idle. Profiles (goal 8, \`perf record --call-graph dwarf\`, shares with callees), each
taken in a load of its own after the measured one (perf slows what it watches): the intake under the same load in
[profiles/intake-embedded.txt](profiles/intake-embedded.txt), one aggregator draining in
[profiles/aggregator-drain.txt](profiles/aggregator-drain.txt).

wrk counts only the responses it received before stopping, so the store holds up to one in-flight
request per connection more (and, distributed, the 20 lag samples): embedded $emb_acknowledged acknowledged, $emb_stored counted
(the store held them all ${emb_applied_s} s after the load ended: the intake log's applier works at most an eighth of a core while ratings
arrive, then at full speed);
distributed $kafka_accepted acknowledged, $kafka_counted counted after the aggregator drained the topic.

| aggregator (Kafka → ClickHouse 26.9 via chDB), topic of 12 partitions | figure |
|---|---|
| one aggregator, drain of $kafka_accepted queued ratings, batches up to 20,000, from its start | $agg_rps ratings/s |
| the same, from its first batch stored (joining the group excluded) | $agg_steady_rps ratings/s |
| two aggregators, drain of $second_accepted queued ratings, from their start | $agg2_rps ratings/s |
| the same, once both were storing (joining and rebalancing excluded) | $agg2_steady_rps ratings/s |
| ClickHouse alone: rows made inside it, through rating_changes and its views | $clickhouse_rps rows/s, $clickhouse_alone_us µs of CPU a row |
| end-to-end lag, 202 → visible in console stats, idle (20 samples a second apart, batch wait 500 ms) | p50 $lag_p50 ms, max $lag_max ms |
| the same under a steady load of $steady_rps ratings/s on another entrypoint (40 samples) | p50 $loaded_p50 ms, p95 $loaded_p95 ms, max $loaded_max ms |

The one aggregator's writer was writing to ClickHouse for ${agg_insert_s} s of its ${agg_drain_s} s drain; it asks ClickHouse
nothing before an insert (it remembers what it wrote), and collects the next batch while one is written.
Told that partitions moved (a rebalance, as when the second aggregator below joins), or after a failed write, it keeps the
ids it knew and reads only those ClickHouse stored since (\`inserted_ms\`), from ten minutes before it last knew them all: over
2M stored ratings, 20,000 ids in 10 ms of ClickHouse's time instead of all 2M in 60 ms, and 20,000 ids to add in the writer
instead of 2M to fold and sort (2026-12-06; before, every rebalance read every id again).
CPU used during that drain: $drain_cpu, together ${drain_cpu_share}% of the 2 cores
over the drain. The aggregator's memory peaked at ${agg1_peak_mb} MB resident.

Dashboard query at scale (\`aggregator/examples/weekly_chart_at_scale.rs\`, the console's own query code, 10M ratings
of 20 entrypoints over a year generated inside ClickHouse):

$scale

What bounds it. Intake shares the 2 cores with wrk: the handler alone (validation, JSON, rate limit, no
storage at all) measured 0.56 of the bare handler on 2026-11-24, so storage can only take the rest. Where the embedded
server's own CPU goes under this load (perf with call graphs, 2026-12-06, 35,500 ratings/s while recorded): the
handler's work (parsing, validation, look-ups, the answer) 16%, of which the page URL's parsing 2%; the intake log's
append and commit 12%; the applier 16% (the store's inserts and their rollup triggers 13%, before the change below); writing the answers to the
socket 13% and reading the requests 7%, nearly all of both in the kernel's loopback TCP; the rest hyper and tokio, as for
the bare handler. A heap profile (heaptrack) counted 102 allocations a rating, 43 of them axum cloning each route's stack of
boxed layers for every request; with the timeout, panic and trace layers wrapped once around the router, the rate
and body limits one layer, and the handler's copies gone, 51 (the applier's included), and 11% more ratings a second
than the build before in rounds alternating between the two (this script's single runs, 2026-12-06: 0.38 of the bare
handler before, 0.43 and 0.44 after). The applier's rollups were kept by triggers, an upsert per rollup for every rating,
each statement firing one with its statement journal (29% of the applier's CPU in a profile of it alone); since the store
sums a transaction's changes and adds them once per row, it applies a rating in 12-15 µs instead of 22-28 (alternating
runs, 2026-12-06), so it keeps its former pace under load with an eighth of a core instead of a quarter: 14% more
ratings a second in alternating rounds (40,900 against 35,900/s), the p99 as before (5-7 ms). The same intake code measured in three runs of this script on the afternoon
of 2026-12-06, with the bare handler at 68k, 72k and 102k ratings/s as the host's speed moved: embedded 0.43, 0.49
and 0.41, Kafka 0.35, 0.29 and 0.25; an fsync and a broker's round trip do not speed up with the host as the bare
handler does, so the fastest hours give the lowest ratios. With the intake code unchanged since, a run in the evening
of 2026-12-06 (ef39ef4, bare handler 80.7k/s) gave embedded 0.55 and Kafka 0.36, and 20 rounds of 8 s alternating two
builds on 2026-12-07 (a quick script, not kept) ranged from 0.40 to 0.59 for each. Embedded, the
group-commit append to the intake log and its fsync are what remains on the request path; the store's own cost (random
ids' index, listings' indexes, rollups) moved to the applier. With 64 connections the commit's fsync, not the CPU,
bounds it: on 2026-11-25 (bare handler 128-133k/s that day), with the CPU 13% idle under the load, a commit held 22
ratings on average and took 0.39 ms from the writer's hand-off to its answer, 0.3 ms of it in SQLite and 0.13-0.2 ms
of that an fsync on this disk. Builds made only to measure this, not kept:
the log as a plain file appended and fdatasync'd, applier off, 0.36 of the bare handler (the SQLite log: 0.35); the
same without fsync, 0.48, the ceiling of the request path that day; two commits fsyncing at once, 0.29 (smaller
commits, each a full flush). Distributed, librdkafka and the broker share the cores. A rating waits at most 1 ms
(\`queue.buffering.max.ms\`) to share a request to the broker: in alternating rounds on one noida-db, 2 ms took 5-13%
fewer ratings a second, 0 and 0.5 ms 5% fewer, and lz4 or no compression made no difference. This broker slows as its
log grows (from 22k to 15k ratings/s over four 8-second rounds), so the Kafka figure moves more between runs than the others.
In CPU (2026-12-07, 10-second rounds on fresh brokers, bare handler 92-94k/s, so 21-22 µs of the machine a request, wrk's
share included): ingest spent 33-38 µs a rating, and the broker 13.7 µs on a fresh log, growing to 34.3 µs over three
rounds (noida-db writes out its whole state periodically); 0.4 of the bare handler leaves 54 µs for both and wrk, and
the cores were still 7-12% idle, waiting on acknowledgements. Each of the 64 clients waits for its own rating to be
acknowledged, so at most 64 ratings are in flight, spread over the topic's 12 partitions: about 17 ratings a produce
request, where a producer's per-request costs (the broker's answer, librdkafka's wake-ups, 23% of ingest's CPU) are
shared by few ratings.
Draining, the aggregator, the broker (noida-db) and ClickHouse share the same 2 cores, in the CPU split above:
200,000 ratings/s would need the three together under 10 µs of CPU a rating. ClickHouse alone, given rows it makes
itself (no client, no parsing, the merges after it not counted), spent $clickhouse_alone_us µs a row, and the broker
$broker_us µs a rating during the drain: over 10 µs before the aggregator does anything. The same
rows sent over HTTP in RowBinary (curl, 2026-12-07, three rounds each) cost ClickHouse 4.7-6.5 µs a row in inserts of
200,000 and 6.3-9.3 with the merges that followed; in inserts of 20,000, as the aggregator writes, 7.9-12.1 and 8.0-18.2
(the merges vary most). A second aggregator on the same cores
brings no CPU, only a second consumer and a second insert in flight competing for it with the broker and ClickHouse:
over the runs of 2026-12-06 two drained at 0.7 to 1.1 times the rate of one. The aggregator's peak memory is mostly librdkafka's: a heap profile of such a
drain (heaptrack, 2026-12-06) peaked at 360 MB of heap, 255 MB of it fetched messages (their lz4 decompression,
queue operations and buffers) and 78 MB the versions the writer remembers (two tables of 2^18 slots, allocated
once); \`queued.min.messages\`, \`queued.max.messages.kbytes\` and the fetch sizes lowered did not lower the
peak against this broker (337-481 MB over runs of the same drain).

Lag. Under the steady load every process (wrk, ingest, the broker, the aggregator, ClickHouse, the console and the lag
sampler) shares the 2 cores: the rate wrk keeps there, calibrated for 10,500/s on short runs with a sampler at work (each connection waiting
20 ms between requests), is what this machine sustains with all of them. Cores each process used, idle (the topic
drained, nothing arriving): $idle_cores; during the loaded samples: $loaded_cores. noida-db answers a fetch at once
when nothing is new, where Kafka waits up to \`fetch.wait.max.ms\` (500 ms) for data, so librdkafka fetches again at
once and an aggregator with nothing to read keeps itself and the broker busy (the idle figures above). tansu waits
as Kafka does (an idle aggregator used 0.01 of a core beside it) but spends more CPU a rating (0.87 of a core at 6,700
ratings/s, without lag samples, 2026-12-06), so the load runs against noida-db. A sample polls the console's stats every 100 ms (so over-states the lag by up to 100 ms); each poll is five
ClickHouse queries, 25-31 ms of ClickHouse's CPU here (eight and 32-38 ms before the report totalled its range from
its buckets and skipped the comment page when no version matched, 2026-12-06). The aggregator writes a batch that is not full when its
oldest rating has waited the batch wait (500 ms) or once it has caught up with the topic, but not sooner than the
batch wait after the previous one that was not full: a quiet stream is written at once, a steady one in two inserts
a second, the end of a backlog as soon as it is read. Flushing
at every pause of a steady stream, as before 2026-12-06, made tansu's aggregator insert 12 times a second at 5,600
ratings/s (267 inserts in 21 s, against 44 in 22 s since), each a new part in the ratings table and each of its
views. Against noida-db, whose answers leave fewer pauses, flushing at every pause gave a lower lag under load (p50
553-569 ms against 709-732, p95 844-881 against 877-970, in alternating runs at 7,900-8,300 ratings/s with samples
0.1 s apart) for 1.4 to 2.2 times the inserts (57-83 against 38-40 in 18-20 s).
"
python3 tests/bench/write_section.py "$section"
echo "$section"
