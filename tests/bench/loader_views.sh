#!/usr/bin/env bash
# Page views of the widget's loaders, served by `satisfy serve` (release build): the
# entrypoint's own loader, and the shared `satisfy.js` asked by a page of a site of one
# entrypoint and of a site of 32 (the most whose surveys it carries), with brotli, as
# browsers ask; and the widget-config a page in German asks for after the Italian loader.
# wrk on the same cores; written to docs/BENCHMARKS.md.
# Usage: bash tests/bench/loader_views.sh [seconds] [connections]   (after cargo build --release)
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-8}
connections=${2:-32}
bin=${TEST_SATISFY_BIN:-target/release/satisfy}
data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port
SATISFY_ADMIN_PASSWORD=loader-views-password SATISFY_DEMO_DATA=false RUST_LOG=warn \
  "$bin" serve --listen "127.0.0.1:$port" --data-dir "$data" \
  --rate-limit-burst 100000000 --rate-limit-per-second 1000000 >/dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 100); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done
token=$("$bin" admin --data-dir "$data" tokens create --tenant comune --name bench --scopes read,write 2>/dev/null)
# Entrypoints of both official kinds on a site, by turns; prints the last one's id.
create() {
  local site=$1 count=$2 kind id=""
  for i in $(seq "$count"); do
    kind=pagina_web; [ $((i % 2)) = 0 ] && kind=valutazione_servizio
    id=$(curl -sf -H "Authorization: Bearer $token" -H 'content-type: application/json' \
      -d "{\"name\":\"$site $i\",\"kind\":\"$kind\",\"allowed_origins\":[\"$site\"]}" "$base/api/v1/entrypoints" |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  done
  echo "$id"
}
small=https://www.comune.small.example.it
large=https://www.comune.large.example.it
ep=$(create "$small" 1)
create "$large" 32 >/dev/null
sleep 3 # the directory's reload
rows=""
for entry in "the entrypoint's loader, \`$ep.js\`|/widget/v1/$ep.js|$small" \
             "\`satisfy.js\` from a page of a site of 1 entrypoint|/widget/v1/satisfy.js|$small" \
             "\`satisfy.js\` from a page of a site of 32 entrypoints|/widget/v1/satisfy.js|$large" \
             "the entrypoint's widget-config in German, \`$ep/widget-config?lang=de\`|/v1/entrypoints/$ep/widget-config?lang=de|$small"; do
  IFS='|' read -r label path site <<<"$entry"
  bytes=$(curl -sf -H 'Accept-Encoding: br' -H "Referer: $site/" "$base$path" | wc -c)
  rps=$(wrk -t2 -c"$connections" -d"${seconds}s" -H 'Accept-Encoding: br' -H "Referer: $site/" "$base$path" |
    awk '/Requests\/sec/ {printf "%d", $2}')
  echo "$label: $rps page views/s ($bytes bytes)"
  rows="$rows
| $label | $bytes | $rps |"
done
section="## Loader page views

Measured $(date -u +%F) on this machine by \`bash tests/bench/loader_views.sh $seconds $connections\`: release build,
\`wrk -t2 -c$connections -d${seconds}s\` on loopback sharing the 2 cores with the server, every request with
\`Accept-Encoding: br\` and the \`Referer\` of a page of the site, the rate limit (which widget-configs share with
ratings) raised out of the way.

| asked for | bytes (brotli) | page views/s |
|---|---|---|$rows

Every body is compressed once and then served from memory, and what goes before the shared loader (an entrypoint's
survey, a site's surveys) is written out once while the entrypoints stay as they are. Before the latter (2026-12-07,
this script in rounds alternating between the two builds), each page view wrote out its surveys and hashed them to find
the body: the entrypoint's loader 36,600 and 48,200 page views/s against 85,600 and 85,600 after; a site of 32
entrypoints 7,700 and 10,200 against 69,000 and 72,700. A widget-config too is written out once while its entrypoint
stays as it is: before (2026-12-07, three rounds alternating the two builds) 32,100-36,700 answers a second, after
58,200-66,400."
python3 tests/bench/write_section.py "$section"
