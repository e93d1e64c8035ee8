"""Store real promptfoo's verdicts for a config whose checks call OpenAI (moderation, graders)
or Hugging Face (classifier).

Run by hand (needs Node >= 22.22 and promptfoo 0.123.1; no network: promptfoo's OpenAI calls
go to the project's emulator on loopback, started here with the config's reply rules)::

    PATH=/work/nodebin:$PATH /work/venv/bin/python bench/promptfoo_graded_verdicts.py \\
        --promptfoo /work/promptfoo/node_modules/.bin/promptfoo \\
        tests/integration/data/moderation_conversation

The directory holds ``promptfooconfig.yaml`` and ``rules.yaml``; the verdicts are written to
``promptfoo_0.123.1.json`` next to them: one entry per row (``description``, ``success``,
``score``, ``failureReason`` (0 pass, 1 assertion failed, 2 error), ``reason`` (the grading
reason; for an error, the first line of promptfoo's error)). tests/integration/
test_moderation_conversation.py runs the plugin on the same config and rules and compares.

promptfoo's Hugging Face text-classification provider has no base-URL setting, only a whole
``apiEndpoint``: promptfoo runs a copy of the config in which every
``huggingface:{text,token}-classification:<model>`` provider gets ``config.apiEndpoint`` pointing at
the emulator's gateway route for that model (``/v1/acct/gw/huggingface/<model>``), the
request Cloudflare AI Gateway forwards to the Inference API. The stored config stays as the
plugin reads it.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

PLACEHOLDER_KEY = "fake.openai.PLACEHOLDER.0000000000"
HF_PLACEHOLDER_KEY = "fake.hf.PLACEHOLDER.0000000000"
HF_CLASSIFIERS = ("huggingface:text-classification:", "huggingface:token-classification:")


def with_hf_endpoints(node: Any, gateway: str) -> Any:
    """``node`` with each Hugging Face text- or token-classification provider given an
    ``apiEndpoint`` on ``gateway`` (the emulator's ``.../v1/acct/gw``)."""

    def endpoint(pid: str) -> str:
        return f"{gateway}/huggingface/{pid.split(':', 2)[2]}"

    if isinstance(node, str) and node.startswith(HF_CLASSIFIERS):
        return {"id": node, "config": {"apiEndpoint": endpoint(node)}}
    if isinstance(node, dict):
        pid = node.get("id")
        if isinstance(pid, str) and pid.startswith(HF_CLASSIFIERS):
            config = {**(node.get("config") or {}), "apiEndpoint": endpoint(pid)}
            return {**node, "config": config}
        return {k: (v if k == "id" else with_hf_endpoints(v, gateway)) for k, v in node.items()}
    if isinstance(node, list):
        return [with_hf_endpoints(v, gateway) for v in node]
    return node


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(port: int, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(100):
        if proc.poll() is not None:
            raise SystemExit(f"the emulator exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"the emulator did not listen on port {port}")


def verdict_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """promptfoo's result rows as the comparison needs them, in config order."""
    out = []
    for row in doc["results"]["results"]:
        grading = row.get("gradingResult") or {}
        reason = grading.get("reason") or ""
        if row.get("failureReason") == 2:
            reason = str(row.get("error") or "").split("\n", 1)[0]
        out.append(
            {
                "description": row["testCase"].get("description"),
                "success": bool(row["success"]),
                "score": row["score"],
                "failureReason": row.get("failureReason", 0),
                "reason": reason,
            }
        )
    return sorted(out, key=lambda r: str(r["description"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--promptfoo", required=True, help="the promptfoo executable")
    parser.add_argument("directory", type=Path)
    args = parser.parse_args()
    data = args.directory.resolve()
    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        config = yaml.safe_load((data / "promptfooconfig.yaml").read_text(encoding="utf-8"))
        gateway = f"http://127.0.0.1:{port}/v1/acct/gw"
        (work / "promptfooconfig.yaml").write_text(
            yaml.safe_dump(with_hf_endpoints(config, gateway), sort_keys=False), encoding="utf-8"
        )
        emulator = subprocess.Popen(
            [
                *(sys.executable, "-m", "pytest_cfgateway.emulator", "--port", str(port)),
                *("--rules", str(data / "rules.yaml"), "--log-level", "warning"),
            ],
        )
        try:
            _wait(port, emulator)
            env = {
                **os.environ,
                "HOME": str(work),
                "PROMPTFOO_DISABLE_TELEMETRY": "1",
                "PROMPTFOO_DISABLE_UPDATE": "1",
                "PROMPTFOO_DISABLE_SHARING": "1",
                "PROMPTFOO_CACHE_ENABLED": "false",
                "OPENAI_API_KEY": PLACEHOLDER_KEY,
                "HF_API_TOKEN": HF_PLACEHOLDER_KEY,
                "OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1/acct/gw/openai",
            }
            subprocess.run(
                [
                    *(args.promptfoo, "eval", "-c", "promptfooconfig.yaml", "-o", "out.json"),
                    *("--no-cache", "--no-write", "--no-progress-bar"),
                ],
                cwd=work,
                env=env,
                check=False,
            )
            doc = json.loads((work / "out.json").read_text(encoding="utf-8"))
        finally:
            emulator.terminate()
            emulator.wait(timeout=10)
    target = data / "promptfoo_0.123.1.json"
    target.write_text(json.dumps(verdict_rows(doc), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
