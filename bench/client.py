"""Gateway client benchmark: N ``Gateway.acomplete`` calls with ``asyncio.gather`` at
concurrency C against the emulator at latency L (in its own process), vs the ideal
N x L / C. Compares the client's default transport (several small httpx clients, calls
spread round-robin) with one ``httpx.AsyncClient`` holding a pool of C connections, and
the same two shapes with raw httpx (no Gateway) to show the client's own overhead.

    python bench/client.py                 # 1,000 calls, L = 100 ms, C = 64, median of 3
    python bench/client.py --calls 200 --repeats 1
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import time
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
from _common import GATEWAY_ENV, emulator, table

from pytest_cfgateway.gateway.client import Gateway

MODEL = "openai:gpt-4o-mini"
Variant = Callable[[str, int, int], Coroutine[Any, Any, None]]


def _gateway(
    base_url: str, concurrency: int, transport: httpx.AsyncBaseTransport | None
) -> Gateway:
    return Gateway(
        account_id=GATEWAY_ENV["CLOUDFLARE_ACCOUNT_ID"],
        gateway_id=GATEWAY_ENV["CLOUDFLARE_GATEWAY_ID"],
        base_url=base_url,
        api_keys={"openai": GATEWAY_ENV["OPENAI_API_KEY"]},
        env={},
        concurrency=concurrency,
        transport=transport,
    )


async def _gather_gateway(gw: Gateway, calls: int) -> None:
    async with gw:
        done = await asyncio.gather(*(gw.acomplete(MODEL, f"say {i}") for i in range(calls)))
    bad = [c.text for i, c in enumerate(done) if c.text != f"say {i}"][:1]
    if bad:
        raise SystemExit(f"unexpected answer from the emulator: {bad[0]!r}")


async def gateway_default(base_url: str, calls: int, concurrency: int) -> None:
    """The client as the plugin builds it: ``Gateway(concurrency=C)``."""
    await _gather_gateway(_gateway(base_url, concurrency, None), calls)


async def gateway_one_pool(base_url: str, calls: int, concurrency: int) -> None:
    """``Gateway(transport=...)`` with one transport of C connections (one AsyncClient)."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    transport = httpx.AsyncHTTPTransport(limits=limits)
    await _gather_gateway(_gateway(base_url, concurrency, transport), calls)


async def _raw(base_url: str, calls: int, concurrency: int, clients: int) -> None:
    url = f"{base_url}/acct/gw/openai/chat/completions"
    headers = {"authorization": f"Bearer {GATEWAY_ENV['OPENAI_API_KEY']}"}
    per = -(-concurrency // clients)
    limits = httpx.Limits(max_connections=per, max_keepalive_connections=per)
    pool = [httpx.AsyncClient(limits=limits, timeout=None) for _ in range(clients)]
    turn = itertools.count()
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"say {i}"}]}
        async with gate:
            client = pool[next(turn) % clients]
            resp = await client.post(url, headers=headers, content=json.dumps(body))
        resp.raise_for_status()

    try:
        await asyncio.gather(*(one(i) for i in range(calls)))
    finally:
        for c in pool:
            await c.aclose()


async def raw_one_pool(base_url: str, calls: int, concurrency: int) -> None:
    """Plain httpx: one AsyncClient with a pool of C connections (encode/httpx#3215)."""
    await _raw(base_url, calls, concurrency, 1)


async def raw_spread(base_url: str, calls: int, concurrency: int) -> None:
    """Plain httpx: C/8 AsyncClients of 8 connections, round-robin (the default's shape)."""
    await _raw(base_url, calls, concurrency, max(1, -(-concurrency // 8)))


VARIANTS: dict[str, Variant] = {
    "Gateway, default transport (C/8 clients x 8 conns)": gateway_default,
    "Gateway, one AsyncClient of C conns": gateway_one_pool,
    "raw httpx, C/8 clients x 8 conns": raw_spread,
    "raw httpx, one AsyncClient of C conns": raw_one_pool,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000, help="calls (default 1000)")
    parser.add_argument("--latency-ms", type=float, default=100.0, help="emulator latency")
    parser.add_argument("--concurrency", type=int, default=64, help="calls in flight (C)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per variant (default 3)")
    args = parser.parse_args()
    ideal = args.calls * args.latency_ms / 1000 / args.concurrency
    times: dict[str, list[float]] = {name: [] for name in VARIANTS}

    with emulator(latency_ms=args.latency_ms) as url:
        asyncio.run(gateway_default(url, 8, 8))  # warm-up: imports, emulator
        for i in range(args.repeats):
            for name, variant in VARIANTS.items():  # interleaved against background load
                print(f"run {i + 1}/{args.repeats}: {name} ...", flush=True)
                start = time.perf_counter()
                asyncio.run(variant(url, args.calls, args.concurrency))
                times[name].append(time.perf_counter() - start)

    rows = [["ideal N x L / C", f"{ideal:.2f}", "1.00"]]
    for name, ts in times.items():
        wall = statistics.median(ts)
        rows.append([name, f"{wall:.2f}", f"{wall / ideal:.2f}"])
    print()
    print(
        f"{args.calls} calls, latency {args.latency_ms:.0f} ms, C = {args.concurrency}, "
        f"median of {args.repeats}"
    )
    print(table(["variant", "wall s", "x ideal"], rows))


if __name__ == "__main__":
    main()
