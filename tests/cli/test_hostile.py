"""The hostile corpus (tests/helpers/hostile.py), loaded in a child process under a memory limit.

Each file must get its specific, clear error (LoadError / DataError) within seconds, or
load if it is valid; no file outside the case's directory may be opened, and the
malicious pickles must not create their marker file. One child runs every case (importing
torch costs seconds); it prints a line per case, so a crash still names the case.
"""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import hostile

ROOT = Path(__file__).resolve().parents[2]
MEMORY = 3 * 2 ** 30  # RLIMIT_AS of the child: address space, torch's own ~0.7 GB included
SECONDS = 20  # per case, far above what a refusal takes (see test_refusals_are_fast)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    cases = []
    for k, c in enumerate(hostile.CASES):
        d = root / f"case{k:02d}"
        d.mkdir()
        cases.append({"name": c.name, "kind": c.kind, "path": str(hostile.write(c, d)), "options": c.options})
    spec = root / "cases.json"
    spec.write_text(json.dumps(cases))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LSTM_CORE_")}  # the defaults
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "helpers" / "hostile_runner.py"), str(spec), str(MEMORY),
                           str(SECONDS)], capture_output=True, text=True, env=env, cwd=root,
                          timeout=SECONDS * len(cases) + 120)
    out = {}
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            r = json.loads(line)
            out[r["name"]] = r
    if len(out) < len(cases):
        missing = [c["name"] for c in cases if c["name"] not in out]
        pytest.fail(f"the child stopped at {missing[0]!r} (exit {proc.returncode}): {proc.stderr[-2000:]}")
    return root, out


@pytest.mark.parametrize("case", hostile.CASES, ids=[c.name for c in hostile.CASES])
def test_each_hostile_file_gets_its_clear_error(results, case):
    root, out = results
    r = out[case.name]
    assert not r["outside"], f"opened files outside its directory: {r['outside']}"
    assert hostile.SECRET_TEXT.decode()[:12] not in r["message"]
    if case.message is None:
        assert r["outcome"] == "ok", r
        return
    assert r["outcome"] == "refused", r
    assert r["type"] == ("LoadError" if case.kind == "model" else "DataError")
    assert re.search(case.message, r["message"]), r["message"]
    assert "\n" not in r["message"]


def test_refusals_are_fast_and_small(results):
    root, out = results
    slow = {n: r["seconds"] for n, r in out.items() if r["seconds"] > 10}
    assert not slow, slow
    peak = max(r["peak_rss_mb"] for r in out.values())
    assert peak < 2048, f"peak RSS {peak} MB"  # the whole process, torch included


def test_no_marker_file_appeared(results):
    root, _ = results
    assert not list(root.rglob(hostile.MARKER))
