"""Measure the row count real promptfoo reports for each corpus config (run by hand).

    PATH=/work/nodebin:$PATH python tests/corpus/measure_promptfoo.py tests/corpus \
        --promptfoo /work/promptfoo/node_modules/.bin/promptfoo

Each config is copied to a scratch folder with every provider replaced by promptfoo's ``echo``
provider (keeping the provider's label and ``prompts`` filter, which decide the matrix), the
grader set to ``echo`` (as ``defaultTest.options.provider``: the ``--grader echo`` flag breaks
``select-best``) and every outbound host pointed at a dead loopback port (with no retry backoff,
so a call that still tries the network fails at once), then run once with
``promptfoo eval -o out.json``. The number of results (promptfoo's rows) is written to
``tests/corpus/promptfoo_rows.json`` as ``{name: rows}``; a config promptfoo itself refuses is
stored as ``{"error": first line}``. Not collected by pytest (no ``test_`` prefix).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

DEAD = "http://127.0.0.1:9"


def _echo(entry: Any, base: Path) -> list[Any]:
    if isinstance(entry, str):
        if entry.startswith("file://") and entry.endswith((".yaml", ".yml", ".json")):
            data = yaml.safe_load((base / entry[7:]).read_text(encoding="utf-8"))
            items = data if isinstance(data, list) else [data]
            return [e for item in items for e in _echo(item, base)]
        return [{"id": "echo", "label": entry}]
    if isinstance(entry, dict):
        if "id" not in entry and len(entry) == 1:
            ((key, body),) = entry.items()
            body = dict(body or {})
            body["id"] = key
            entry = body
        out: dict[str, Any] = {"id": "echo", "label": entry.get("label") or entry.get("id")}
        for key in ("prompts", "config"):  # the filter, and what keeps entries distinct
            if key in entry:
                out[key] = entry[key]
        return [out]
    return [entry]


def stub_providers(config: Path) -> None:
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    key = "providers" if "providers" in data else "targets"
    value = data.get(key)
    entries = value if isinstance(value, list) else [value]
    data[key] = [e for entry in entries for e in _echo(entry, config.parent)]
    default = data.get("defaultTest")
    if default is None or isinstance(default, dict):  # a file:// defaultTest keeps its grader
        default = dict(default or {})
        default["options"] = {**(default.get("options") or {}), "provider": {"id": "echo"}}
        data["defaultTest"] = default
    config.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


def _first_error(log: str, returncode: int) -> str:
    """The line that says why promptfoo stopped (not its last progress line)."""
    lines = [ln.strip() for ln in re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", log).splitlines()]
    lines = [ln for ln in lines if ln]
    errors = [ln for ln in lines if re.match(r"\w*Error: ", ln)]
    errors = errors or [ln for ln in lines if "Error" in ln and not ln.startswith("at ")]
    return (errors[0] if errors else lines[-1] if lines else f"exit {returncode}")[:300]


def measure(case: Path, promptfoo: str) -> dict[str, Any] | int:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / case.name
        shutil.copytree(case, work)
        config = work / "promptfooconfig.yaml"
        stub_providers(config)
        env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_TOKEN"))}
        env.update(
            PROMPTFOO_DISABLE_TELEMETRY="1",
            PROMPTFOO_DISABLE_UPDATE="1",
            PROMPTFOO_CONFIG_DIR=str(Path(tmp) / ".promptfoo"),
            OPENAI_BASE_URL=DEAD,
            ANTHROPIC_BASE_URL=DEAD,
            HTTP_PROXY=DEAD,
            HTTPS_PROXY=DEAD,
            PROMPTFOO_REQUEST_BACKOFF_MS="1",
            # a config with a redteam: block next to tests otherwise stops at an email prompt
            PROMPTFOO_DISABLE_REDTEAM_REMOTE_GENERATION="1",
        )
        proc = subprocess.run(
            [
                promptfoo,
                "eval",
                "-c",
                str(config),
                "-o",
                str(work / "out.json"),
                "--no-cache",
                "--no-table",
                "--no-progress-bar",
                "-j",
                "4",
            ],
            cwd=work,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        out = work / "out.json"
        if not out.exists():
            return {"error": _first_error(proc.stderr + proc.stdout, proc.returncode)}
        return len(json.loads(out.read_text(encoding="utf-8"))["results"]["results"])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--promptfoo", default="promptfoo")
    parser.add_argument("--only", nargs="*")
    args = parser.parse_args()
    store = args.corpus / "promptfoo_rows.json"
    counts = json.loads(store.read_text()) if store.exists() else {}
    for case in sorted(p for p in args.corpus.iterdir() if (p / "promptfooconfig.yaml").exists()):
        if (args.only and case.name not in args.only) or (not args.only and case.name in counts):
            continue
        try:
            counts[case.name] = measure(case, args.promptfoo)
        except (OSError, ValueError, yaml.YAMLError, subprocess.TimeoutExpired) as exc:
            counts[case.name] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
        print(case.name, counts[case.name], flush=True)
        store.write_text(json.dumps(counts, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
