#!/usr/bin/env bash
# Prints the raw, gzip and brotli bytes of everything a page downloads for the widget
# (loader with glue, WebAssembly core, CSS, widget-config as served) and writes them to
# docs/BENCHMARKS.md. Fails when the gzip total exceeds the 12 KB budget.
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

files=$(mktemp -d)
curl -sf "$base/widget/v1/satisfy.js" -o "$files/satisfy.js"
wasm=$(grep -o 'satisfy-core\.[0-9a-f]*\.wasm' "$files/satisfy.js" | head -1)
css=$(grep -o 'satisfy\.[0-9a-f]*\.css' "$files/satisfy.js" | head -1)
curl -sf "$base/widget/v1/$wasm" -o "$files/$wasm"
curl -sf "$base/widget/v1/$css" -o "$files/$css"
curl -sf "$base/v1/entrypoints/$ep/widget-config?lang=it" -o "$files/widget-config.json"

# What the server actually sends when the browser accepts each encoding.
served() { curl -sf -H "Accept-Encoding: $2" "$base$1" | wc -c; }
table="| file | raw | gzip | brotli |
|---|---|---|---|"
total_raw=0; total_gz=0; total_br=0
first_br=0  # before the first interaction: everything but the core
for entry in "satisfy.js:/widget/v1/satisfy.js" "$wasm:/widget/v1/$wasm" "$css:/widget/v1/$css" \
             "widget-config.json:/v1/entrypoints/$ep/widget-config?lang=it"; do
  name=${entry%%:*}; path=${entry#*:}
  raw=$(wc -c < "$files/$name"); gz=$(served "$path" gzip); br=$(served "$path" br)
  total_raw=$((total_raw + raw)); total_gz=$((total_gz + gz)); total_br=$((total_br + br))
  [ "$name" = "$wasm" ] || first_br=$((first_br + br))
  table="$table
| \`$name\` | $raw | $gz | $br |"
done
table="$table
| **total** | **$total_raw** | **$total_gz** | **$total_br** |"
rm -rf "$files"
echo "$table"

section="## Widget size

Everything a page downloads for the widget, as the server sends it with
\`Accept-Encoding: gzip\` or \`br\` (\`bash widget/size.sh\`, $(date -u +%Y-%m-%d)).
Budget: at most 12 KB (12,288 bytes) gzip in total; goal: at most 8 KB brotli in all
and at most 5 KB (5,120 bytes) before the first interaction.

$table

Before the first interaction a page downloads the loader, the CSS and the texts: **$first_br
bytes brotli**. The WebAssembly core follows when the widget comes within 400 px of the
viewport, or on the first touch or focus inside it; a rating made before it has loaded
waits for it.
"
python3 tests/bench/write_section.py "$section"
if [ "$total_gz" -gt "$budget" ]; then
  echo "over budget: $total_gz bytes gzip > $budget" >&2
  exit 1
fi
echo "within budget: $total_gz bytes gzip (budget $budget), $total_br bytes brotli, $first_br before the first interaction"
