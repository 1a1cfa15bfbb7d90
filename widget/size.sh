#!/usr/bin/env bash
# Prints the raw, gzip and brotli bytes of everything a page downloads for the widget
# (the entrypoint's loader, or the shared loader and the widget-config; the WebAssembly
# core; the CSS file of browsers without constructed style sheets), as served, and writes
# them to docs/BENCHMARKS.md. Fails when either snippet's gzip total exceeds the 12 KB
# budget.
# Usage: bash widget/size.sh   (after cargo build; TEST_SATISFY_BIN picks another binary)
set -euo pipefail
cd "$(dirname "$0")/.."
binary="${TEST_SATISFY_BIN:-target/debug/satisfy}"
budget=12288

data=$(mktemp -d)
port=18182
base="http://127.0.0.1:$port"
SATISFY_ADMIN_PASSWORD=size-budget-check RUST_LOG=warn "$binary" serve --listen "127.0.0.1:$port" --data-dir "$data" >/dev/null &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 100); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done
token=$("$binary" admin --data-dir "$data" tokens create --tenant comune --name size --scopes read 2>/dev/null)
ep=$(curl -sf -H "Authorization: Bearer $token" "$base/api/v1/entrypoints" | python3 -c 'import json,sys; print(json.load(sys.stdin)["entrypoints"][0]["id"])')

loader=$(curl -sf "$base/widget/v1/satisfy.js")
wasm=$(grep -o 'satisfy-core\.[0-9a-f]*\.wasm' <<<"$loader" | head -1)
css=$(grep -o 'satisfy\.[0-9a-f]*\.css' <<<"$loader" | head -1)

# What the server actually sends when the browser accepts each encoding.
served() { curl -sf -H "Accept-Encoding: $2" "$base$1" | wc -c; }
table="| file | raw | gzip | brotli |
|---|---|---|---|"
declare -A raw gz br
for entry in "$ep.js:/widget/v1/$ep.js" "satisfy.js:/widget/v1/satisfy.js" \
             "widget-config.json:/v1/entrypoints/$ep/widget-config?lang=it" "$wasm:/widget/v1/$wasm" \
             "$css:/widget/v1/$css"; do
  name=${entry%%:*}; path=${entry#*:}
  raw[$name]=$(served "$path" identity); gz[$name]=$(served "$path" gzip); br[$name]=$(served "$path" br)
  table="$table
| \`$name\` | ${raw[$name]} | ${gz[$name]} | ${br[$name]} |"
done
echo "$table"

# The console's snippet loads the entrypoint's loader (configuration and styles inside),
# then the core; a snippet pasted before it loads the shared loader and the configuration.
first_br=${br[$ep.js]}
total_br=$((first_br + br[$wasm])); total_gz=$((gz[$ep.js] + gz[$wasm]))
shared_first_br=$((br[satisfy.js] + br[widget-config.json]))
shared_total_br=$((shared_first_br + br[$wasm])); shared_total_gz=$((gz[satisfy.js] + gz[widget-config.json] + gz[$wasm]))

section="## Widget size

Everything a page downloads for the widget, as the server sends it with
\`Accept-Encoding: gzip\` or \`br\` (\`bash widget/size.sh\`, $(date -u +%Y-%m-%d)).
Budget: at most 12 KB (12,288 bytes) gzip in total; goal: at most 8 KB brotli in all
and at most 5 KB (5,120 bytes) before the first interaction.

$table

- The console's snippet loads \`$ep.js\`, the entrypoint's loader: the shared loader with
  the styles inside and the entrypoint's Italian widget-config in front. Before the first
  interaction: **$first_br bytes brotli**; with the core, **$total_br bytes brotli**
  ($total_gz gzip).
- A snippet pasted before loads \`satisfy.js\` and then the widget-config: $shared_first_br bytes
  brotli before the first interaction, $shared_total_br with the core ($shared_total_gz gzip). So
  does a page in English or German with either snippet.
- The core follows when the widget comes within 400 px of the viewport, or on the first
  touch or focus inside it; a rating made before it has loaded waits for it.
- \`$css\` is fetched only by browsers without constructed style sheets.
"
python3 tests/bench/write_section.py "$section"
worst_gz=$((total_gz > shared_total_gz ? total_gz : shared_total_gz))
if [ "$worst_gz" -gt "$budget" ]; then
  echo "over budget: $worst_gz bytes gzip > $budget" >&2
  exit 1
fi
echo "within budget: $worst_gz bytes gzip at most (budget $budget); console's snippet $total_br bytes brotli, $first_br before the first interaction"
