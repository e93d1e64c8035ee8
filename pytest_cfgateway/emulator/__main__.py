"""Command line: ``python -m pytest_cfgateway.emulator --port 8787 [options]``."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from .app import EmulatorDependencyError
from .faults import FaultError
from .rules import RulesError
from .state import EmulatorConfigError

EPILOG = """\
examples:
  python -m pytest_cfgateway.emulator --port 8787
  python -m pytest_cfgateway.emulator --latency-ms 100 --error-rate 0.1 --seed 7
  python -m pytest_cfgateway.emulator --token-env CF_AIG_TOKEN --byok openai=sk-test \\
      --byok anthropic:prod=sk-ant-test --gateways acct/gw,acct/default
  python -m pytest_cfgateway.emulator --rules rules.yaml --rate-limit 10/60 \\
      --rate-limit-technique sliding --cache-ttl 300

Point a client at the printed base URL, e.g. CF_GATEWAY_URL=http://127.0.0.1:8787/v1.
GET /_emulator/requests shows what the emulator saw (credentials masked).
"""


def _pairs(
    values: Sequence[str], flag: str, parser: argparse.ArgumentParser
) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for value in values:
        name, sep, secret = value.partition("=")
        if not sep or not name or not secret:
            parser.error(f"{flag} expects PROVIDER=KEY (or PROVIDER:ALIAS=KEY for --byok)")
        out.append((name.strip(), secret.strip()))
    return out


def build_parser() -> argparse.ArgumentParser:
    """The CLI's argument parser."""
    p = argparse.ArgumentParser(
        prog="python -m pytest_cfgateway.emulator",
        description="A local Cloudflare AI Gateway emulator: every provider route in its native "
        "wire format, compat and Universal endpoints, auth, BYOK, cache, rate limits, faults.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1)"
    )
    p.add_argument("--port", type=int, default=8787, help="port (default: 8787; 0 = any free port)")
    p.add_argument("--latency-ms", type=float, default=0.0, help="simulated model time per call")
    p.add_argument(
        "--first-byte-delay-ms", type=float, default=0.0, help="extra delay before the first byte"
    )
    p.add_argument(
        "--chunk-delay-ms",
        type=float,
        default=0.0,
        help="streamed replies: delay between consecutive chunks",
    )
    p.add_argument(
        "--error-rate", type=float, default=0.0, help="fraction of calls answered 500/502/503"
    )
    p.add_argument(
        "--fail-next",
        default="",
        help="comma list of faults to inject first: 429,503,drop,slow, drop:N (cut a stream "
        "after N chunks)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the fault randomness (default 0)")
    p.add_argument("--token", help="require cf-aig-authorization: Bearer TOKEN (see --token-env)")
    p.add_argument("--token-env", metavar="VAR", help="read the gateway token from this env var")
    p.add_argument("--gateways", help="known gateways 'acct/gw,...'; others get 400/2001")
    p.add_argument("--rules", help="YAML/JSON reply rules file")
    p.add_argument(
        "--byok",
        action="append",
        default=[],
        metavar="PROVIDER[:ALIAS]=KEY",
        help="stored provider key (repeatable)",
    )
    p.add_argument(
        "--valid-key",
        action="append",
        default=[],
        metavar="PROVIDER=KEY",
        help="accept only these keys for PROVIDER (repeatable)",
    )
    p.add_argument("--rate-limit", metavar="N/SECONDS", help="gateway rate limit, e.g. 10/60")
    p.add_argument("--rate-limit-technique", choices=("fixed", "sliding"), default="fixed")
    p.add_argument("--cache-ttl", type=int, default=None, help="gateway cache TTL in seconds")
    p.add_argument(
        "--replicate-polls", type=int, default=2, help="GETs before a prediction succeeds"
    )
    p.add_argument(
        "--custom-provider",
        action="append",
        default=[],
        metavar="custom-SLUG",
        help="a custom provider configured on the gateway, served as OpenAI-compatible "
        "(repeatable)",
    )
    p.add_argument(
        "--replicate-wait-unfinished",
        action="store_true",
        help="answer 'Prefer: wait' predictions unfinished (exercise polling)",
    )
    p.add_argument("--embedding-dimensions", type=int, default=16)
    p.add_argument(
        "--log-level", default="warning", choices=("critical", "error", "warning", "info", "debug")
    )
    return p


def settings_from_args(args: argparse.Namespace, parser: argparse.ArgumentParser) -> dict[str, Any]:
    """Emulator keyword arguments from parsed CLI arguments."""
    token = args.token
    if args.token_env:
        token = os.environ.get(args.token_env)
        if not token:
            parser.error(f"--token-env {args.token_env}: that environment variable is not set")
    byok: dict[str, dict[str, str]] = {}
    for name, key in _pairs(args.byok, "--byok", parser):
        provider, _, alias = name.partition(":")
        byok.setdefault(provider, {})[alias or "default"] = key
    valid: dict[str, set[str]] = {}
    for provider, key in _pairs(args.valid_key, "--valid-key", parser):
        valid.setdefault(provider, set()).add(key)
    return {
        "latency_ms": args.latency_ms,
        "first_byte_delay_ms": args.first_byte_delay_ms,
        "chunk_delay_ms": args.chunk_delay_ms,
        "error_rate": args.error_rate,
        "fail_next": [f.strip() for f in args.fail_next.split(",") if f.strip()],
        "seed": args.seed,
        "token": token,
        "gateways": args.gateways,
        "rules": args.rules,
        "byok": byok,
        "valid_keys": valid,
        "rate_limit": args.rate_limit,
        "rate_limit_technique": args.rate_limit_technique,
        "cache_ttl": args.cache_ttl,
        "replicate_polls": args.replicate_polls,
        "custom_providers": args.custom_provider,
        "replicate_wait_finishes": not args.replicate_wait_unfinished,
        "embedding_dimensions": args.embedding_dimensions,
    }


def _terminate(signum: int, frame: Any) -> NoReturn:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Run the emulator until interrupted; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = settings_from_args(args, parser)
    try:
        from .server import Emulator

        emu = Emulator(host=args.host, port=args.port, **settings)
    except (EmulatorConfigError, RulesError, FaultError) as exc:
        parser.error(str(exc))
    signal.signal(signal.SIGTERM, _terminate)

    def ready(url: str) -> None:
        print(f"pytest-cfgateway gateway emulator listening on {url}  (Ctrl-C to stop)", flush=True)

    try:
        emu.serve_forever(log_level=args.log_level, ready=ready)
    except EmulatorDependencyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(
            f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        pass
    print("gateway emulator stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
