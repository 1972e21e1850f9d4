#!/usr/bin/env python3
"""Baseline: the asyncio + aiohttp batch client people write today, at the same concurrency.

  aiohttp_client.py --url http://127.0.0.1:PORT/v1 --calls 50000 --concurrency 256

Sends distinct chat-completion requests through a bounded pool of workers and prints one JSON
line: calls, wall seconds, calls/s, process CPU seconds and CPU ms per call. No caching, no
retries beyond what aiohttp does: it is the floor a runtime with those features should match.
"""
import argparse, asyncio, json, os, resource, time

import aiohttp


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--calls", type=int, default=10_000)
    ap.add_argument("--concurrency", type=int, default=256)
    ap.add_argument("--model", default="fake")
    a = ap.parse_args()

    queue = asyncio.Queue()
    for i in range(a.calls):
        queue.put_nowait(i)
    ok = 0
    failed = 0

    async def worker(session):
        nonlocal ok, failed
        while True:
            try:
                i = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            body = {"model": a.model, "messages": [{"role": "user", "content": f"request {i}"}]}
            try:
                async with session.post(a.url.rstrip("/") + "/chat/completions", json=body) as r:
                    data = await r.json()
                    if r.status == 200 and data["choices"][0]["message"]["content"] is not None:
                        ok += 1
                    else:
                        failed += 1
            except Exception:
                failed += 1

    connector = aiohttp.TCPConnector(limit=a.concurrency)
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(worker(session) for _ in range(a.concurrency)))
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"tool": "python-aiohttp", "calls": ok, "failed": failed,
                      "wall_s": round(wall, 3), "calls_per_s": round(ok / wall, 1),
                      "cpu_s": round(cpu, 3), "cpu_ms_per_call": round(1000 * cpu / max(ok, 1), 4),
                      "peak_rss_mb": round(peak_mb, 1)}))


if __name__ == "__main__":
    asyncio.run(main())
