"""End-to-end lag samples: posts one rating at a time to an entrypoint nobody else rates
and times how long until the console's stats of today count it (202 -> visible), polling
every 100 ms, so a sample over-states the lag by up to 100 ms. A stats request of one day
is five ClickHouse queries (six on a 25-hour day), 25-31 ms of ClickHouse's CPU here
whatever the data: polling every 20 ms would make the sampler ClickHouse's heaviest load. Used by tests/bench/run.sh, alone
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


def stats(day=None):
    period = f"&from={day}&to={day}" if day else ""
    request = urllib.request.Request(
        f"{console}/api/v1/entrypoints/{entrypoint}/stats?granularity=day{period}",
        headers={"Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


# The days of the entrypoint's statistics are its tenant's.
zone = ZoneInfo(stats()["timezone"])


def today():
    return datetime.now(zone).date().isoformat()


def counted(day):
    return stats(day)["summary"]["count"]


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


taken = 0
while taken < int(samples):
    day = today()
    before = counted(day)
    started = time.monotonic()
    post()
    while counted(day) <= before:
        if today() != day:
            break  # posted across midnight: counted on the next day, so taken again
        if time.monotonic() - started > 30:
            raise SystemExit("a rating was not visible within 30 s")
        time.sleep(0.1)
    else:
        print(round((time.monotonic() - started) * 1000), flush=True)
        taken += 1
    # Samples a second apart, more than the aggregator's batch wait: alone, each is a
    # quiet stream's rating, written as soon as the aggregator has read it.
    time.sleep(1)
