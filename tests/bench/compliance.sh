#!/usr/bin/env bash
# Benchmark (not a test) of `satisfy compliance` on a generated site of about 500 candidate
# pages built like the Modello Comuni templates (static official component on every page),
# served by Python's http.server: wall time, pages per second and the peak memory of the
# satisfy process and of the whole process tree (Chromium included), written to
# docs/BENCHMARKS.md. Needs chromium on the PATH.
# Usage: bash tests/bench/compliance.sh [second-level pages per section] [service pages]
set -euo pipefail
cd "$(dirname "$0")/../.."
per_section="${1:-60}"
services="${2:-250}"
cargo build --release --locked --bin satisfy
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
site="$work/site"
mkdir -p "$site"
python3 - "$site" "$per_section" "$services" <<'PY'
import os, sys
root, per_section, services = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
stars = "".join(f'<input type="radio" id="s{n}" name="rating" value="{n}"><label for="s{n}" data-element="feedback-rate-{n}">Valuta {n} stelle su 5</label>' for n in range(1, 6))
pos = "".join(f'<label data-element="feedback-rating-answer"><input type="radio" name="a">{a}</label>' for a in ["Le indicazioni erano chiare", "Le indicazioni erano complete", "Capivo sempre che stavo procedendo correttamente", "Non ho avuto problemi tecnici", "Altro"])
neg = "".join(f'<label data-element="feedback-rating-answer"><input type="radio" name="a">{a}</label>' for a in ["A volte le indicazioni non erano chiare", "A volte le indicazioni non erano complete", "A volte non capivo se stavo procedendo correttamente", "Ho avuto problemi tecnici", "Altro"])
component = f'''<div data-element="feedback"><h2 data-element="feedback-title">Quanto sono chiare le informazioni su questa pagina?</h2>
<fieldset><legend>Valuta da 1 a 5 stelle la pagina</legend>{stars}</fieldset>
<fieldset data-element="feedback-rating-positive" hidden><legend data-element="feedback-rating-question">Quali sono stati gli aspetti che hai preferito?</legend>{pos}</fieldset>
<fieldset data-element="feedback-rating-negative" hidden><legend data-element="feedback-rating-question">Dove hai incontrato le maggiori difficoltà?</legend>{neg}</fieldset>
<input type="text" data-element="feedback-input-text">
<script>for (const s of document.querySelectorAll('input[name=rating]')) s.addEventListener('change', () => {{
const low = Number(s.value) <= 3; document.querySelector('[data-element=feedback-rating-positive]').hidden = low;
document.querySelector('[data-element=feedback-rating-negative]').hidden = !low; }});</script></div>'''
def page(path, links=""):
    directory = os.path.join(root, path.strip("/"))
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "index.html"), "w") as f:
        f.write(f'<!doctype html><html lang="it"><head><meta charset="utf-8"><title>Comune</title></head><body><main><h1>Comune</h1>{links}{component}</main></body></html>')
menu = {"management": "amministrazione", "news": "novita", "all-services": "servizi", "live": "vivere"}
page("/", "".join(f'<a data-element="{de}" href="/{path}/">{path}</a>' for de, path in menu.items()))
for de, path in [("management", "amministrazione"), ("news", "novita")]:
    page(f"/{path}/", "".join(f'<a data-element="{de}-category-link" href="/{path}/{i}/">{i}</a>' for i in range(per_section)))
    for i in range(per_section):
        page(f"/{path}/{i}/")
page("/servizi/", "".join(f'<a data-element="service-category-link" href="/servizi/categoria-{i}/">{i}</a>' for i in range(per_section))
     + "".join(f'<a data-element="service-link" href="/servizi/servizio-{i}/">servizio {i}</a>' for i in range(services)))
for i in range(per_section):
    page(f"/servizi/categoria-{i}/")
for i in range(services):
    page(f"/servizi/servizio-{i}/")
page("/vivere/", '<a data-element="live-button-locations" href="/vivere/luoghi/">Luoghi</a><a data-element="live-button-events" href="/vivere/eventi/">Eventi</a>')
page("/vivere/luoghi/"); page("/vivere/eventi/")
PY
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(cd "$site" && exec python3 -m http.server "$port" --bind 127.0.0.1 >/dev/null 2>&1) &
server=$!
sleep 1
started=$(date +%s.%N)
# Peak memory of the whole tree, sampled every 200 ms while the check runs.
target/release/satisfy compliance --site "http://127.0.0.1:$port/" --json "$work/report.json" \
  --requests-per-second 20 --concurrency 2 >"$work/table.txt" 2>"$work/log.txt" &
check=$!
tree_peak=0; satisfy_peak=0
while kill -0 "$check" 2>/dev/null; do
  children=$(pgrep -P "$check" || true)
  pids="$check $children"
  for child in $children; do pids="$pids $(pgrep -P "$child" || true)"; done
  tree=$(ps -o rss= -p "$(echo $pids | tr ' ' ',')" 2>/dev/null | awk '{s+=$1} END {print s+0}' || true)
  own=$(ps -o rss= -p "$check" 2>/dev/null | awk '{print $1+0}' || true)
  [ "$tree" -gt "$tree_peak" ] && tree_peak=$tree
  [ "${own:-0}" -gt "$satisfy_peak" ] && satisfy_peak=$own
  sleep 0.2
done
wait "$check" || true
seconds=$(python3 -c "import time; print(round(time.time() - $started, 1))")
pages=$(python3 -c "import json; r=json.load(open('$work/report.json')); print(len(r['pages']))")
conforming=$(python3 -c "import json; r=json.load(open('$work/report.json')); print(sum(p['verdict']=='conforming' for p in r['pages']))")
section="## PNRR compliance check

Measured $(date -u +%Y-%m-%d) on this machine (2 cores, 24 GiB) by \`bash tests/bench/compliance.sh $per_section $services\`:
\`satisfy compliance\` (release build) on a generated site of $pages candidate pages built like the Modello
Comuni templates (homepage, 4 first-level pages, $((per_section * 3 + 2)) second-level pages, $services service pages, the static official
component on each), served on loopback by Python's http.server, at 20 page loads per second and 2 pages at once.

- $pages pages found and checked in $seconds s ($(python3 -c "print(round($pages / $seconds, 1))") pages/s); $conforming conforming
- peak memory: satisfy $((satisfy_peak / 1024)) MiB; satisfy with its Chromium processes $((tree_peak / 1024)) MiB

What bounds it: not the politeness limit but the check itself, about $(python3 -c "print(round(2 * $seconds / $pages, 1))") s a page two at a time: the load and
its settling (half a second of network quiet), then five star clicks with 300 ms after each (the validator waits
for 2 s of network idle there), then the tab closes. CPU stays low; a 500-page site takes about
$(python3 -c "print(round(500 * $seconds / $pages / 60))") minutes. Memory stays flat: a tab is closed as soon as its page is checked, and only the URLs and each
page's verdict are kept."
python3 tests/bench/write_section.py "$section"
echo "$section"
