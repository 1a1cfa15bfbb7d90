"""Floods and slow clients against a running Satisfy intake, with the standard library only.

    python3 tests/bench/abuse.py BASE_URL ENTRYPOINT ORIGIN PER_SECOND SECONDS SLOW

Every client has its own address, given in X-Forwarded-For (the server trusts it, as
behind its proxy); every rating has a new id and a page never rated before. Fifty
well-behaved clients each rate at their limit, PER_SECOND; the phases, SECONDS each:
  1. the fifty alone (the baseline p99);
  2. the fifty while one client floods at 20 times its limit;
  3. the fifty while SLOW connections send half a request and then nothing.
Prints one JSON object with the figures, and exits non-zero if a well-behaved client was
refused or failed, the flooder was not limited, or the server stopped answering.
"""

import asyncio
import json
import sys
import time
import uuid

BASE, ENTRYPOINT, ORIGIN = sys.argv[1], sys.argv[2], sys.argv[3]
PER_SECOND, SECONDS, SLOW = float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
HOST, PORT = BASE.removeprefix("http://").split(":")
PORT = int(PORT)
CLIENTS = 50


def rating_request(address: str) -> bytes:
    # Every rating a new id and a page never seen before: nothing per page or per id may
    # stay in the intake's memory.
    rating_id = str(uuid.uuid4())
    body = json.dumps({
        "id": rating_id, "entrypoint": ENTRYPOINT, "page": f"{ORIGIN}/pagina-{rating_id}",
        "rating": 4, "lang": "it",
    }).encode()
    head = (
        f"POST /v1/ratings HTTP/1.1\r\nHost: {HOST}:{PORT}\r\nContent-Type: text/plain\r\n"
        f"Origin: {ORIGIN}\r\nX-Forwarded-For: {address}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def exchange(connection, request: bytes):
    """Sends one request on a kept-alive connection; returns (status, seconds)."""
    reader, writer = connection
    started = time.perf_counter()
    writer.write(request)
    await writer.drain()
    status_line = await reader.readline()
    status = int(status_line.split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
    await reader.readexactly(length)
    return status, time.perf_counter() - started


async def client(address: str, rate: float, until: float, statuses: dict, latencies: list):
    """Rates at `rate` per second until `until`, on one connection (a new one if closed)."""
    connection = None
    next_at = time.perf_counter()
    while next_at < until:
        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
        next_at += 1.0 / rate
        try:
            if connection is None:
                connection = await asyncio.open_connection(HOST, PORT)
            status, seconds = await exchange(connection, rating_request(address))
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            statuses["error"] = statuses.get("error", 0) + 1
            connection = None
            continue
        statuses[status] = statuses.get(status, 0) + 1
        latencies.append(seconds)
    if connection:
        connection[1].close()


def p99(latencies: list) -> float:
    ordered = sorted(latencies)
    return round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 2) if ordered else float("nan")


async def well_behaved(until: float):
    statuses, latencies = {}, []
    await asyncio.gather(*[
        client(f"10.0.{i // 250}.{i % 250 + 1}", PER_SECOND, until, statuses, latencies)
        for i in range(CLIENTS)
    ])
    return statuses, latencies


async def slow_connection(opened: list, closed: list, until: float):
    """Half a request, then silence: counts when the server closes it."""
    try:
        reader, writer = await asyncio.open_connection(HOST, PORT)
    except OSError:
        return
    opened.append(time.perf_counter())
    writer.write(f"POST /v1/ratings HTTP/1.1\r\nHost: {HOST}\r\nX-Slow: ".encode())
    await writer.drain()
    started = time.perf_counter()
    try:
        await asyncio.wait_for(reader.read(), timeout=max(0.1, until - started))
        closed.append(time.perf_counter() - started)
    except (asyncio.TimeoutError, OSError):
        pass
    writer.close()


async def main():
    failures = []
    figures = {"clients": CLIENTS, "per_client_per_second": PER_SECOND, "seconds": SECONDS}

    until = time.perf_counter() + SECONDS
    statuses, latencies = await well_behaved(until)
    figures["baseline"] = {"requests": len(latencies), "p99_ms": p99(latencies), "statuses": statuses}

    until = time.perf_counter() + SECONDS
    flood_statuses = {}
    results = await asyncio.gather(
        well_behaved(until),
        client("10.9.9.9", 20 * PER_SECOND, until, flood_statuses, []),
    )
    statuses, latencies = results[0]
    figures["flooded"] = {"requests": len(latencies), "p99_ms": p99(latencies), "statuses": statuses,
                          "flooder_statuses": flood_statuses}
    if flood_statuses.get(429, 0) == 0:
        failures.append("the flooder was never answered 429")

    until = time.perf_counter() + SECONDS
    opened, closed = [], []
    slow = [slow_connection(opened, closed, until + 15) for _ in range(SLOW)]
    results = await asyncio.gather(well_behaved(until), *slow)
    statuses, latencies = results[0]
    figures["slow"] = {"requests": len(latencies), "p99_ms": p99(latencies), "statuses": statuses,
                       "slow_opened": len(opened), "slow_closed_by_server": len(closed),
                       "slow_longest_held_s": round(max(closed), 1) if closed else None}

    for phase in ("baseline", "flooded", "slow"):
        refused = {k: v for k, v in figures[phase]["statuses"].items() if k != 202}
        if refused:
            failures.append(f"well-behaved clients got {refused} in phase {phase}")
    if len(closed) < len(opened):
        failures.append(f"{len(opened) - len(closed)} slow connections were never closed")
    # The server still answers once it is all over.
    status, _ = await exchange(await asyncio.open_connection(HOST, PORT), rating_request("10.8.8.8"))
    if status != 202:
        failures.append(f"after the abuse the server answered {status}")
    figures["p99_ratio_flooded"] = round(figures["flooded"]["p99_ms"] / figures["baseline"]["p99_ms"], 2)
    figures["p99_ratio_slow"] = round(figures["slow"]["p99_ms"] / figures["baseline"]["p99_ms"], 2)
    figures["failures"] = failures
    print(json.dumps(figures, default=str))
    sys.exit(1 if failures else 0)


asyncio.run(main())
