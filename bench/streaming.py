"""Streaming benchmark: time to first token and total latency of ``stream=True`` calls per
wire format, against the emulator (own process) with a first-byte delay F and a chunk delay
D, vs what the emulator's sleeps imply: ttft ~ F + D x (events before the first text event),
total ~ F + D x (events - 1). The overhead columns are what the client adds on top.

    python bench/streaming.py                       # F = 200 ms, D = 20 ms, median of 5
    python bench/streaming.py --first-byte 50 --chunk 5 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import time

from _common import emulator, table

from pytest_cfgateway.gateway.client import Gateway

ENV = {
    "OPENAI_API_KEY": "sk-bench",
    "ANTHROPIC_API_KEY": "sk-ant-bench",
    "GOOGLE_API_KEY": "g-bench",
    "COHERE_API_KEY": "co-bench",
    "CLOUDFLARE_API_KEY": "cf-bench",
}
PROMPT = "one two three four five six seven eight"  # echoed: 8 word events
#: provider, events before the first text event, total events
FORMATS = [
    ("openai:gpt-4o-mini", 1, 12),  # role, 8 words, finish, usage, [DONE]
    ("anthropic:claude-sonnet-4-5", 3, 14),  # start, ping, block start, 8, stop, delta, stop
    ("google-ai-studio:gemini-2.5-flash", 0, 8),
    ("cohere:command-a-03-2025", 2, 12),  # start, content-start, 8, end, message-end
    ("workers-ai:@cf/meta/llama-3.1-8b-instruct", 0, 10),  # 8, usage, [DONE]
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--first-byte", type=float, default=200.0, help="F, ms")
    ap.add_argument("--chunk", type=float, default=20.0, help="D, ms")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    f, d = args.first_byte, args.chunk
    flags = ["--first-byte-delay-ms", str(f), "--chunk-delay-ms", str(d)]
    rows = []
    with emulator(0.0, flags) as url:
        gw = Gateway(base_url=url, account_id="acct", gateway_id="gw", env=ENV)
        try:
            gw.complete(FORMATS[0][0], "warm up")  # connection set-up is not measured
            for provider, lead, events in FORMATS:
                ttft, total = [], []
                for _ in range(args.repeats):
                    start = time.perf_counter()
                    c = gw.complete(provider, PROMPT, stream=True)
                    total.append((time.perf_counter() - start) * 1000)
                    assert c.text == PROMPT and c.ttft_ms is not None, c
                    ttft.append(c.ttft_ms)
                t, n = statistics.median(ttft), statistics.median(total)
                want_t, want_n = f + d * lead, f + d * (events - 1)
                rows.append(
                    [provider.split(":")[0], f"{t:.1f}", f"{want_t:.0f}", f"{t - want_t:+.1f}",
                     f"{n:.1f}", f"{want_n:.0f}", f"{n - want_n:+.1f}"]
                )  # fmt: skip
        finally:
            gw.close()
    print(f"first byte F = {f:g} ms, chunk delay D = {d:g} ms, median of {args.repeats}")
    print(
        table(
            ["format", "ttft ms", "F+D*lead", "overhead", "total ms", "F+D*(n-1)", "overhead"],
            rows,
        )
    )


if __name__ == "__main__":
    main()
