"""The run's store of beforeAll results: computed by one process, read by the others."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import subprocess
import sys
import time
from pathlib import Path

from pytest_cfgateway.run.hooks import HookStore


def _compute_in(directory: str, counter: str, out: str) -> None:
    def compute() -> dict[str, object]:
        with open(counter, "a") as f:
            f.write("x")
        time.sleep(0.3)  # the others arrive while this one computes
        return {"suite": {"made_by": multiprocessing.current_process().name}}

    result = HookStore(Path(directory), owns=False).once("suite\0cfg", compute)
    Path(out).write_text(json.dumps(result))


def test_processes_sharing_a_directory_compute_once_and_read_the_same(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    counter = tmp_path / "count"
    procs = [
        ctx.Process(target=_compute_in, args=(str(tmp_path), str(counter), str(tmp_path / f"{i}")))
        for i in range(3)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert counter.read_text() == "x"
    results = {(tmp_path / f"{i}").read_text() for i in range(3)}
    assert len(results) == 1


def test_a_claim_left_by_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    key = "suite\0cfg"
    claim = tmp_path / (hashlib.sha1(key.encode()).hexdigest() + ".claim")
    claim.write_text(str(dead.pid))
    store = HookStore(tmp_path, owns=False)
    assert store.once(key, lambda: {"suite": 1}) == {"suite": 1}
    assert HookStore(tmp_path, owns=False).peek(key) == {"suite": 1}


def test_without_a_directory_results_stay_in_memory(tmp_path: Path) -> None:
    store = HookStore(None, owns=False)
    calls: list[int] = []

    def compute() -> dict[str, object]:
        calls.append(1)
        return {"error": "hook failed"}

    assert store.once("k", compute) == {"error": "hook failed"}
    assert store.once("k", compute) == {"error": "hook failed"}
    assert calls == [1] and store.peek("other") is None
