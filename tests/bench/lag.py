"""End-to-end lag samples: posts one rating at a time to an entrypoint nobody else rates
and times how long until the console's stats of today count it (202 -> visible), polling
every 100 ms, so a sample over-states the lag by up to 100 ms. A stats request is eight
ClickHouse queries, about 50 ms of ClickHouse's CPU here whatever the data: polling every
20 ms would make the sampler ClickHouse's heaviest load. Used by tests/bench/run.sh, alone
and under a sustained load on another entrypoint.

Usage: python3 tests/bench/lag.py INTAKE_URL CONSOLE_URL TOKEN ENTRYPOINT ORIGIN SAMPLES
Prints one lag in milliseconds per line.
"""
import json
import sys
import time
import urllib.request
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

intake, console, token, entrypoint, origin, samples = sys.argv[1:7]
# The days of the console's statistics: its default time zone.
CONSOLE_ZONE = ZoneInfo("Europe/Rome")


def counted(day):
    request = urllib.request.Request(
        f"{console}/api/v1/entrypoints/{entrypoint}/stats?granularity=day&from={day}&to={day}",
        headers={"Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["summary"]["count"]


def post():
    body = json.dumps({
        "id": str(uuid.uuid4()), "entrypoint": entrypoint, "page": f"{origin}/lag",
        "rating": 5, "lang": "it",
    }).encode()
    request = urllib.request.Request(
        f"{intake}/v1/ratings", data=body, method="POST",
        headers={"Content-Type": "application/json", "Origin": origin},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        if response.status != 202:
            raise SystemExit(f"rating answered {response.status}")


for _ in range(int(samples)):
    day = datetime.now(CONSOLE_ZONE).date().isoformat()
    before = counted(day)
    started = time.monotonic()
    post()
    while counted(day) <= before:
        if time.monotonic() - started > 30:
            raise SystemExit("a rating was not visible within 30 s")
        time.sleep(0.1)
    print(round((time.monotonic() - started) * 1000), flush=True)
    # Samples a second apart, more than the aggregator's batch wait: alone, each is a
    # quiet stream's rating, written as soon as the aggregator has read it.
    time.sleep(1)
