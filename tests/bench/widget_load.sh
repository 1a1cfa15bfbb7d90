#!/usr/bin/env bash
# Benchmark of the widget's loading in headless Chromium (issue 13, goal 6): layout shift
# on the Modello Comuni fixture pages for each placement, and the time to operable stars
# under Slow 3G and 4x CPU throttling; written to docs/BENCHMARKS.md.
# Needs chromium and tests/browser's npm packages (tests/run.sh installs both) and a debug
# build of the binary (cargo build; TEST_SATISFY_BIN picks another).
# Usage: bash tests/bench/widget_load.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
results=$(cd tests/browser && node widget-load.mjs)
echo "$results"
section=$(RESULTS="$results" python3 - <<'PY'
import json, os, datetime
r = json.loads(os.environ["RESULTS"])
rows = "\n".join(
    f"| {s['page']} | {s['width']} | {s['cls']} | {', '.join(sorted({src for shift in s['shifts'] for src in shift['sources']})) or '-'} |"
    for s in r["layout_shift"])
throttled = "\n".join(
    f"| {t['loader']} | {t['loader_ran_ms']} | {t['config_arrived_ms'] if t['config_arrived_ms'] is not None else 'not asked for'} | {t['operable_ms']} | **{t['operable_after_loader_ms']}** |"
    for t in r["throttled"])
print(f"""## Widget loading

Measured in headless Chromium on the Modello Comuni fixture site (`bash tests/bench/widget_load.sh`,
{datetime.date.today()}). Layout shift: the sum of every `layout-shift` entry not caused by input, from
navigation until the widget is live and 1.5 s more, at 900 px of viewport height. Goal: 0.

| placement | width | layout shift | elements moved |
|---|---|---|---|
{rows}

Under Chromium's Slow 3G preset (2 s latency, 400 kbit/s) and 4x CPU throttling, 375 px wide, the snippet at the
end of `<body>` after Bootstrap Italia's script: when the loader ran, when the widget-config arrived, and when a real
click on a star selected it (ms from navigation; goal: operable within 100 ms of the loader running). The entrypoint's
loader carries its configuration and both loaders carry the styles; the shared loader asks for the configuration.

| loader | loader ran | widget-config arrived | star selected | after the loader ran |
|---|---|---|---|---|
{throttled}
""")
PY
)
python3 tests/bench/write_section.py "$section"
