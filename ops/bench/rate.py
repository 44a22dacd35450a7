#!/usr/bin/env python3
"""Open-loop, rate-limited load for ops/bench/ingest (wrk2 is not packaged in Debian).

Sends the same plain-text POST /v1/messages as ops/bench/post-message.lua at a fixed rate over a
pool of keep-alive connections. Request i is due at start + i/rate; its latency is measured from
that due time, not from when a connection became free, so a stalled server is charged for the
queue it causes (coordinated omission corrected, as wrk2 does). Standard library only.

Prints `RESULT requests=… seconds=… rps=… p50_ms=… p99_ms=… non2xx=… socket_errors=…`.
Environment: CV_BENCH_TOKEN (required), CV_BENCH_DESK, CV_BENCH_RUN.
"""
import argparse
import asyncio
import gc
import os
import time
import urllib.parse


def body(desk, run, n):
    user = "U%032x" % (0xBE0000 + n % 50)
    sent_at = time.strftime("%Y-%m-%dT%H:%M:%S.000+00:00", time.gmtime())
    text = "0123456789" * 50
    return (
        '{"desk":"%s","channel":"line","channel_user":"%s","external_id":"rate-%s-%d",'
        '"sent_at":"%s","kind":"text","text":"%s"}' % (desk, user, run, n, sent_at, text)
    ).encode()


async def read_response(reader):
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("closed")
    status = int(status_line.split()[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    if length:
        await reader.readexactly(length)
    return status


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("--rate", type=float, default=1000)
    p.add_argument("--duration", type=float, default=20)
    p.add_argument("--connections", type=int, default=32)
    a = p.parse_args()
    u = urllib.parse.urlparse(a.url)
    token = os.environ["CV_BENCH_TOKEN"]
    desk = os.environ.get("CV_BENCH_DESK", "bench-desk")
    run = os.environ.get("CV_BENCH_RUN", str(int(time.time())))

    idle = asyncio.Queue()
    for _ in range(a.connections):
        idle.put_nowait(await asyncio.open_connection(u.hostname, u.port))
    latencies, non2xx, errors = [], 0, 0

    async def one(n, due):
        nonlocal non2xx, errors
        reader, writer = await idle.get()
        b = body(desk, run, n)
        head = (
            "POST /v1/messages HTTP/1.1\r\nHost: %s:%d\r\nAuthorization: Bearer %s\r\n"
            "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (u.hostname, u.port, token, len(b))
        ).encode()
        try:
            writer.write(head + b)
            status = await read_response(reader)
            latencies.append(time.perf_counter() - due)
            if not 200 <= status <= 299:
                non2xx += 1
            idle.put_nowait((reader, writer))
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            errors += 1
            writer.close()
            idle.put_nowait(await asyncio.open_connection(u.hostname, u.port))

    start = time.perf_counter()
    total = int(a.rate * a.duration)
    tasks = []
    for n in range(total):
        due = start + n / a.rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(n, due)))
    await asyncio.gather(*tasks)
    seconds = time.perf_counter() - start
    latencies.sort()

    def pct(q):
        return latencies[min(len(latencies) - 1, int(q / 100 * len(latencies)))] * 1000 if latencies else 0

    print(
        "RESULT requests=%d seconds=%.1f rps=%.0f p50_ms=%.2f p99_ms=%.2f non2xx=%d socket_errors=%d"
        % (len(latencies), seconds, len(latencies) / seconds, pct(50), pct(99), non2xx, errors)
    )


if __name__ == "__main__":
    # The collector's pauses (tens of ms with 20,000 pending tasks) would be charged to the server as latency.
    gc.disable()
    asyncio.run(main())
