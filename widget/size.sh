#!/usr/bin/env bash
# Prints the raw, gzip and brotli bytes of everything a page downloads for the widget
# (the entrypoint's loader, in Italian or in a page's language; or the shared loader, with
# its site's surveys or followed by the widget-config; the WebAssembly core; the CSS file
# of browsers without constructed style sheets), as served, and writes them to docs/BENCHMARKS.md. Fails when a snippet's
# gzip total exceeds the 12 KB budget.
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
# The first entrypoint (the demo data's), its site and how many active entrypoints that has.
read -r ep site site_entrypoints < <(curl -sf -H "Authorization: Bearer $token" "$base/api/v1/entrypoints" |
  python3 -c 'import json,sys
all=json.load(sys.stdin)["entrypoints"]; e=all[0]; site=e["allowed_origins"][0]
print(e["id"], site, sum(1 for o in all if o["status"] == "active" and site in o["allowed_origins"]))')

loader=$(curl -sf "$base/widget/v1/satisfy.js")
wasm=$(grep -o 'satisfy-core\.[0-9a-f]*\.wasm' <<<"$loader" | head -1)
css=$(grep -o 'satisfy\.[0-9a-f]*\.css' <<<"$loader" | head -1)

# What the server actually sends when the browser accepts each encoding, to a page of the
# entrypoint's site (browsers name a page's origin when they ask for its scripts).
served() { curl -sf -H "Accept-Encoding: $2" -H "Referer: $3/" "$base$1" | wc -c; }
table="| file | raw | gzip | brotli |
|---|---|---|---|"
declare -A raw gz br
other_site=https://www.another-site.example
# name|label in the table|path|the asking page's site
for entry in "$ep.js|\`$ep.js\`|/widget/v1/$ep.js|$site" \
             "loader-de|\`$ep.js?lang=de\`|/widget/v1/$ep.js?lang=de|$site" \
             "site|\`satisfy.js\`, asked by a page of the entrypoint's site|/widget/v1/satisfy.js|$site" \
             "satisfy.js|\`satisfy.js\`, asked by a page of another site|/widget/v1/satisfy.js|$other_site" \
             "widget-config.json|\`widget-config.json\`|/v1/entrypoints/$ep/widget-config?lang=it|$site" \
             "config-de|\`widget-config.json\`, in German|/v1/entrypoints/$ep/widget-config?lang=de|$site" \
             "$wasm|\`$wasm\`|/widget/v1/$wasm|$site" "$css|\`$css\`|/widget/v1/$css|$site"; do
  IFS='|' read -r name label path referer <<<"$entry"
  raw[$name]=$(served "$path" identity "$referer"); gz[$name]=$(served "$path" gzip "$referer")
  br[$name]=$(served "$path" br "$referer")
  table="$table
| $label | ${raw[$name]} | ${gz[$name]} | ${br[$name]} |"
done
echo "$table"

# The console's snippet loads the entrypoint's loader (configuration and styles inside),
# then the core; a snippet pasted before it loads the shared loader, which carries the
# configurations of its site's entrypoints, or else is followed by the configuration.
first_br=${br[$ep.js]}
total_br=$((first_br + br[$wasm])); total_gz=$((gz[$ep.js] + gz[$wasm]))
site_first_br=${br[site]}
site_total_br=$((site_first_br + br[$wasm])); site_total_gz=$((gz[site] + gz[$wasm]))
shared_first_br=$((br[satisfy.js] + br[widget-config.json]))
# A page in another language asks for its configuration after either loader.
de_first_br=$((first_br + br[config-de])); de_site_first_br=$((site_first_br + br[config-de]))
de_shared_first_br=$((br[satisfy.js] + br[config-de]))
goal=5120
against_goal() { if [ "$1" -le "$goal" ]; then echo "within the goal"; else echo "$(($1 - goal)) bytes over the goal"; fi; }
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
  ($total_gz gzip): $(against_goal "$first_br").
- A snippet pasted before loads \`satisfy.js\`, which the server answers according to the
  asking page's site (its \`Referer\`): it carries the Italian widget-configs of the site's
  active entrypoints (up to 32 and 1.5 KB of brotli; the demo site has $site_entrypoints) in front, keyed by
  id as the entrypoint's loader carries its one: **$site_first_br bytes brotli** before the first interaction
  ($(against_goal "$site_first_br")), **$site_total_br** with the core ($site_total_gz gzip). The
  entrypoints' ids are random, so these figures move by about 10 bytes from one run to the next
  (5,036-5,046 for either loader over six runs on 2026-12-07, 5,065-5,078 in German).
- For a site beyond those limits, or a page that sends no \`Referer\` (\`Referrer-Policy:
  no-referrer\` or \`same-origin\`), that loader asks for the widget-config: $shared_first_br
  bytes brotli before the first interaction, $shared_total_br with the core ($shared_total_gz gzip).
- A page in German with the console's snippet for pages in several languages loads
  \`$ep.js?lang=de\`, the entrypoint's loader with its German widget-config in front:
  **${br[loader-de]} bytes brotli** before the first interaction ($(against_goal "${br[loader-de]}")),
  $((br[loader-de] + br[$wasm])) with the core.
- A page in English or German with another snippet asks for the widget-config in its language after
  either loader: before the first interaction $de_first_br bytes brotli with the console's snippet,
  $de_site_first_br with an earlier one on a site within the limits, $de_shared_first_br elsewhere.
- The core follows when the widget comes within 400 px of the viewport, or on the first
  touch or focus inside it; a rating made before it has loaded waits for it.
- \`$css\` is fetched only by browsers without constructed style sheets.
"
python3 tests/bench/write_section.py "$section"
worst_gz=$((gz[loader-de] + gz[$wasm] > total_gz ? gz[loader-de] + gz[$wasm] : total_gz))
de_site_total_gz=$((gz[site] + gz[config-de] + gz[$wasm]))
for other in "$site_total_gz" "$shared_total_gz" "$de_site_total_gz"; do
  worst_gz=$((other > worst_gz ? other : worst_gz))
done
if [ "$worst_gz" -gt "$budget" ]; then
  echo "over budget: $worst_gz bytes gzip > $budget" >&2
  exit 1
fi
echo "within budget: $worst_gz bytes gzip at most (budget $budget); console's snippet $total_br bytes brotli, $first_br before the first interaction; an earlier snippet on its site $site_first_br"
