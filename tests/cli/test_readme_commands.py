"""The docs work as written: their marked examples run, their links resolve, their pins agree.

A fenced block right after a line `<!-- test: run -->` in README.md or docs/*.md is run here:
a ```bash block line by line (each line one command, from a scratch folder where `assets/` is
the repository's, so that every example reads `assets/examples/...` and writes where it
runs), a ```python block as a notebook would, the marked blocks of one page in order and in
one namespace. A command must exit 0, and what it writes (`--out X`, `> X`) must exist and
read back as its format. Only marked blocks run, so a new sub-command documented elsewhere
changes nothing here until its author marks it.

DOCS_TEST_TIMEOUT (seconds, default 180) bounds each command.
"""
import json
import os
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MARKER = "<!-- test: run -->"
TIMEOUT = float(os.environ.get("DOCS_TEST_TIMEOUT", 180))
# Pages the docs map names that other work is writing now: a link to one is checked once it exists.
PENDING = {"docs/serving.md", "docs/lessons.md", "docs/checker.md", "docs/limits.md", "docs/engine-internals.md"}
FENCE = re.compile(r"^(`{3,}|~{3,})\s*([\w+-]*)")


def fenced_blocks(path):
    """(language, first line number, text, marked) of every fenced block of a markdown file."""
    lines = path.read_text(encoding="utf-8").split("\n")
    blocks, k = [], 0
    while k < len(lines):
        m = FENCE.match(lines[k])
        if not m:
            k += 1
            continue
        fence, lang, start = m.group(1), m.group(2), k
        k += 1
        while k < len(lines) and not lines[k].startswith(fence):
            k += 1
        before = next((lines[j].strip() for j in range(start - 1, -1, -1) if lines[j].strip()), "")
        blocks.append((lang, start + 1, "\n".join(lines[start + 1:k]), before == MARKER))
        k += 1
    return blocks


def marked(lang):
    return [(p, line, text) for p in DOCS for lg, line, text, m in fenced_blocks(p) if m and lg == lang]


def commands():
    """(id, command) of every line of every marked bash block."""
    out, seen = [], set()
    for path, line, text in marked("bash"):
        for k, cmd in enumerate(text.split("\n")):
            key = tuple(shlex.split(cmd, comments=True))
            if key and key not in seen:  # the same command on two pages runs once
                seen.add(key)
                out.append((f"{path.relative_to(ROOT)}:{line + 1 + k}", cmd))
    return out


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A scratch folder whose assets/ is the repository's: the examples read, the outputs land here."""
    d = tmp_path_factory.mktemp("docs_run")
    (d / "assets").symlink_to(ROOT / "assets")
    return d


def _env():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    return env


def outputs(cmd):
    """The files or folders a command writes: --out X and > X."""
    words = shlex.split(cmd, comments=True)
    outs = [words[k + 1] for k, w in enumerate(words[:-1]) if w == "--out"]
    return outs + [words[k + 1] for k, w in enumerate(words[:-1]) if w == ">"]


def check_output(path, cmd):
    """path (a file or folder a command wrote) exists and reads back as its format."""
    assert path.exists(), f"{cmd!r} did not write {path.name}"
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            assert {"i", "f", "g", "o", "c", "h", "mask", "lengths"} <= set(z.files)
            c, mask = z["c"], z["mask"]
            assert c.ndim == 4 and mask.shape == c.shape[1:3] and np.isfinite(c[:, mask]).all()
    elif path.suffix in (".csv", ".parquet"):
        import pandas as pd

        frame = pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)
        assert {"layer", "direction", "step", "batch", "unit", "gate", "value"} <= set(frame.columns)
        assert len(frame) and set("ifgoch") <= set(frame["gate"]) and np.isfinite(frame["value"]).all()
    elif path.suffix == ".json":
        report = json.loads(path.read_text())
        assert {"model", "data", "findings"} <= set(report)
    elif path.is_dir() and (path / "lstm.yml").exists():  # an LSTMVis project
        import h5py

        assert {"states.hdf5", "train.hdf5", "words.dict"} <= {p.name for p in path.iterdir()}
        with h5py.File(path / "states.hdf5", "r") as f, h5py.File(path / "train.hdf5", "r") as t:
            assert f["states1"].shape[0] == t["words"].shape[0] > 0
    elif path.is_dir():  # a training run's checkpoints
        from lstm_core.io.checkpoint import load_checkpoint

        sidecars = sorted(path.glob("*.json"))
        assert sidecars, f"no checkpoint in {path}"
        for s in sidecars:
            model, meta = load_checkpoint(s.with_suffix(""))
            assert meta["metric"]["value"] < meta["metric"]["baseline"] or meta["metric"]["higher_is_better"]
            if "--threads" not in cmd:  # issue 10: torch's thread per core made these ~20-100x slower
                assert meta["training"]["threads"] == 1 and "--threads 1" in meta["command"]
    else:
        raise AssertionError(f"{path}: the test does not know how to check this output")


@pytest.mark.parametrize("cmd", [c for _, c in commands()], ids=[i for i, _ in commands()])
def test_documented_command_runs(cmd, workdir):
    done = subprocess.run(["bash", "-c", cmd], cwd=workdir, env=_env(), capture_output=True, text=True,
                          timeout=TIMEOUT)
    assert done.returncode == 0, f"{cmd}\nexit {done.returncode}\n{done.stderr[-3000:]}"
    for out in outputs(cmd):
        check_output(workdir / out, cmd)
    if " diagnose " in cmd and "--json" not in cmd:
        assert re.search(r"\d+ findings?", done.stdout), done.stdout[-2000:]


RUNNER = textwrap.dedent("""
    import json, sys, traceback
    pages = json.load(sys.stdin)
    results = {}
    for page, blocks in pages.items():
        ns = {"__name__": "__main__"}  # one namespace per page, as one notebook
        for name, code in blocks:
            try:
                exec(compile(code, name, "exec"), ns)
                results[name] = None
            except BaseException:
                results[name] = traceback.format_exc(limit=-3)
    print("RESULTS" + json.dumps(results))
""")


@pytest.fixture(scope="module")
def python_results(workdir):
    """{block id: None or the traceback} of every marked python block, all run in one process."""
    pages = {}
    for path, line, text in marked("python"):
        pages.setdefault(str(path.relative_to(ROOT)), []).append((f"{path.relative_to(ROOT)}:{line}", text))
    done = subprocess.run([sys.executable, "-c", RUNNER], input=json.dumps(pages), cwd=workdir, env=_env(),
                          capture_output=True, text=True, timeout=TIMEOUT * 2)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.rsplit("RESULTS", 1)[1])


PYTHON_BLOCKS = [f"{p.relative_to(ROOT)}:{line}" for p, line, _ in marked("python")]


@pytest.mark.parametrize("block", PYTHON_BLOCKS)
def test_documented_python_runs(block, python_results):
    assert python_results[block] is None, f"{block} raised:\n{python_results[block]}"


def test_examples_are_marked():
    """The docs do run examples (a renamed marker would otherwise skip them all silently)."""
    assert len(commands()) >= 5 and len(PYTHON_BLOCKS) >= 3


# --- links ------------------------------------------------------------------------------------------

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def slug(heading):
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`|\*\*|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path):
    """Every heading anchor of a markdown file (duplicates get -1, -2 as on GitHub)."""
    seen, out = {}, set()
    in_fence = False
    for line in path.read_text(encoding="utf-8").split("\n"):
        if FENCE.match(line):
            in_fence = not in_fence
        m = re.match(r"#{1,6}\s+(.*)", line)
        if m and not in_fence:
            s = slug(m.group(1))
            out.add(s if s not in seen else f"{s}-{seen[s]}")
            seen[s] = seen.get(s, 0) + 1
    return out


def links(path):
    """(line, target) of every link outside code blocks and code spans (a link may wrap a line)."""
    lines, in_fence = [], False
    for line in path.read_text(encoding="utf-8").split("\n"):
        fence = bool(FENCE.match(line))
        in_fence ^= fence
        lines.append("" if in_fence or fence else re.sub(r"`[^`]*`", "", line))
    text = "\n".join(lines)
    return [(text.count("\n", 0, m.start()) + 1, m.group(1)) for m in LINK.finditer(text)]


@pytest.mark.parametrize("page", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page):
    bad = []
    for n, target in links(page):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, mailto: ...: not ours to check offline
            continue
        file, _, anchor = target.partition("#")
        dest = (page.parent / file).resolve() if file else page
        rel = dest.relative_to(ROOT).as_posix() if dest.is_relative_to(ROOT) else str(dest)
        if not dest.exists():
            if rel not in PENDING:
                bad.append(f"line {n}: {target} (no such file)")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            bad.append(f"line {n}: {target} (no heading with anchor #{anchor} in {rel})")
    assert not bad, f"{page.relative_to(ROOT)}:\n" + "\n".join(bad)


def test_readme_maps_every_docs_page():
    targets = {t.partition("#")[0] for _, t in links(ROOT / "README.md")}
    missing = [p.name for p in DOCS[1:] if f"docs/{p.name}" not in targets]
    assert not missing, f"README.md's docs map does not link {', '.join(missing)}"


def test_readme_is_a_front_door():
    assert len((ROOT / "README.md").read_text().split("\n")) <= 220


# --- install ----------------------------------------------------------------------------------------

def _requirements(path):
    out = set()
    for line in path.read_text().split("\n"):
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            out.add(line.replace(" ", ""))
    return out


def test_pyproject_agrees_with_requirements():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert set(project["dependencies"]) | set(extras["app"]) | set(extras["import"]) == \
        _requirements(ROOT / "requirements.txt")
    assert set(extras["test"]) == _requirements(ROOT / "requirements-dev.txt")


def test_train_threads_must_be_zero_or_more():
    from lstm_core.train import parse_args

    with pytest.raises(SystemExit):
        parse_args(["--task", "recall", "--threads", "-1"])
