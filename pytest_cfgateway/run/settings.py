"""Run settings, built once from CLI options > ini > environment and kept in config.stash."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path

import pytest

from ..modes import Mode

DEFAULT_GRADER = "openai:gpt-5.2"
DEFAULT_EMBEDDING = "openai:text-embedding-3-large"


@dataclasses.dataclass(frozen=True)
class Settings:
    mode: Mode
    drift_fail: bool
    configs: tuple[Path, ...]
    autocollect: bool
    env_file: Path | None
    gateway_url: str | None
    grader: str | None
    cache_ttl: int | None
    concurrency: int
    #: --cf-http-process: "auto", "on" or "off"
    http_process: str
    max_retries: int
    timeout: float
    max_cost: float | None
    outputs: tuple[Path, ...]
    rootdir: Path


def _ini_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def build_settings(config: pytest.Config) -> Settings:
    """Resolve every option; raise pytest.UsageError for contradictory combinations."""
    opt = config.option
    rootdir = Path(config.rootpath)
    explicit_mode = getattr(opt, "cf_mode", None)
    update = bool(getattr(opt, "update_snapshots", False))
    if update and explicit_mode in ("live", "replay"):
        raise pytest.UsageError(
            f"--snapshot-update writes snapshots but --cf-mode {explicit_mode} never does; "
            "drop one of them (--snapshot-update implies --cf-mode record)."
        )
    mode = Mode(explicit_mode) if explicit_mode else (Mode.RECORD if update else Mode.REPLAY)

    configs = [Path(p) for p in (opt.cf_config or [])]
    configs += [rootdir / p for p in config.getini("cf_config")]
    env_file_opt = opt.cf_env_file
    env_file: Path | None
    if env_file_opt:
        env_file = Path(env_file_opt)
        if not env_file.is_file():
            raise pytest.UsageError(f"--cf-env-file {env_file_opt}: no such file")
    else:
        default_env = rootdir / ".env"
        env_file = default_env if default_env.is_file() else None

    def positive(name: str, value: float) -> float:
        if value <= 0:
            raise pytest.UsageError(f"{name} must be > 0 (got {value})")
        return value

    outputs = tuple(Path(p) for p in (opt.cf_output or []))
    for out in outputs:
        if out.suffix.lower() not in (".json", ".jsonl", ".csv", ".html"):
            raise pytest.UsageError(
                f"--cf-output {out}: unsupported format {out.suffix or '(no extension)'!r}; "
                "use .json (promptfoo v3 shape), .jsonl, .csv or .html"
            )

    return Settings(
        mode=mode,
        drift_fail=opt.cf_drift == "fail",
        configs=tuple(configs),
        autocollect=_ini_bool(config.getini("cf_autocollect")),
        env_file=env_file,
        gateway_url=opt.cf_gateway_url or None,
        grader=opt.cf_grader or (config.getini("cf_grader") or None),
        cache_ttl=opt.cf_cache_ttl,
        concurrency=int(positive("--cf-concurrency", opt.cf_concurrency)),
        http_process=getattr(opt, "cf_http_process", None) or "auto",
        max_retries=max(0, int(opt.cf_max_retries)),
        timeout=positive("--cf-timeout", opt.cf_timeout),
        max_cost=opt.cf_max_cost,
        outputs=outputs,
        rootdir=rootdir,
    )


def read_env_file(path: Path) -> dict[str, str]:
    """Parse a dotenv file (KEY=VALUE, optional `export`, quotes, # comments)."""
    out: dict[str, str] = {}
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key.replace("_", "").isalnum():
            raise pytest.UsageError(
                f"{path}:{lineno}: expected KEY=VALUE in the env file (the line is not shown "
                "because it may hold a secret)"
            )
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        out[key] = value
    return out


def effective_env(env_file_values: Mapping[str, str]) -> dict[str, str]:
    """The env file's values under the process environment: a variable already set in the
    process wins, as with promptfoo's dotenv loading."""
    merged = dict(env_file_values)
    merged.update(os.environ)
    return merged
