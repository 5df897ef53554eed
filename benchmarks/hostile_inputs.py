"""Thousands of hostile inputs against lstm_core.load and lstm_core.io.data: counts of clear / unclear / hangs.

    python benchmarks/hostile_inputs.py [--mutations 40] [--memory-gb 3] [--seconds 20]

Cases: the corpus of tests/helpers/hostile.py, plus valid files of every format (state dict,
checkpoint, safetensors, .keras, legacy .h5, ONNX, CSV, NPY, NPZ, vocabulary) and of the
corpus, each mutated --mutations times (random bytes overwritten, inserted, truncated, a
header length or zip field changed). All run in child processes under RLIMIT_AS
(tests/helpers/hostile_runner.py). A case is *clear* when it loads or raises LoadError /
DataError, *unclear* on any other exception, a *hang* past --seconds; reads outside a
case's directory are counted separately. Prints the counts, the worst peak RSS and the
slowest case, with the versions of the libraries.
"""
import argparse
import io
import json
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import hostile  # noqa: E402


def valid_files():
    """(name, kind, filename, bytes, options) for correct files of every format."""
    from safetensors.torch import save
    torch.manual_seed(0)
    lstm = nn.LSTM(3, 4, 2)
    state = {k: v.contiguous() for k, v in lstm.state_dict().items()}
    out = []
    buf = io.BytesIO()
    torch.save(state, buf)
    out.append(("state dict", "model", "m.pt", buf.getvalue(), {}))
    buf = io.BytesIO()
    torch.save({"model": {"rnn." + k: v for k, v in state.items()}, "epoch": 3}, buf)
    out.append(("checkpoint", "model", "c.pt", buf.getvalue(), {}))
    out.append(("safetensors", "model", "m.safetensors", save(state), {}))
    out.append(("onnx", "model", "m.onnx", hostile.onnx_lstm(), {}))
    out.append(("keras", "model", "m.keras", hostile.keras_zip(json.dumps({"class_name": "Sequential", "config": {
        "layers": [{"class_name": "LSTM", "config": {"name": "lstm"}}]}})), {}))
    try:
        import h5py
        b = io.BytesIO()
        with h5py.File(b, "w") as f:
            f.attrs["layer_names"] = [b"lstm"]
            g = f.create_group("lstm")
            g.attrs["weight_names"] = [b"lstm/lstm_cell/kernel:0", b"lstm/lstm_cell/recurrent_kernel:0",
                                       b"lstm/lstm_cell/bias:0"]
            g["lstm/lstm_cell/kernel:0"] = np.zeros((3, 16), "f4")
            g["lstm/lstm_cell/recurrent_kernel:0"] = np.zeros((4, 16), "f4")
            g["lstm/lstm_cell/bias:0"] = np.zeros(16, "f4")
        out.append(("legacy h5", "model", "m.h5", b.getvalue(), {}))
    except ImportError:
        pass
    rows = "seq,a,b\n" + "".join(f"s{k % 3},{k * 0.1:.2f},{-k}\n" for k in range(30))
    out.append(("csv", "data", "d.csv", rows.encode(), {"sequence_column": "seq"}))
    b = io.BytesIO()
    np.save(b, np.random.rand(4, 6, 3).astype("f4"))
    out.append(("npy", "data", "d.npy", b.getvalue(), {}))
    b = io.BytesIO()
    np.savez_compressed(b, x=np.random.rand(4, 6, 3), lengths=np.array([6, 5, 2, 1]))
    out.append(("npz", "data", "d.npz", b.getvalue(), {}))
    out.append(("text", "data", "t.txt", b"abcab\nba\n", {"vocab_json": '["a", "b", "c"]', "lines": True}))
    return out


def mutate(data, rng):
    """One random damage to a file's bytes."""
    d = bytearray(data)
    how = rng.choice(["flip", "flip", "insert", "truncate", "length", "zeros", "ff"])
    if not d:
        return bytes(rng.randbytes(rng.randint(1, 64)))
    at = rng.randrange(len(d))
    if how == "flip":
        for _ in range(rng.randint(1, 8)):
            d[rng.randrange(len(d))] = rng.randrange(256)
    elif how == "insert":
        d[at:at] = rng.randbytes(rng.randint(1, 64))
    elif how == "truncate":
        d = d[:at]
    elif how == "length":  # a plausible size field made huge: safetensors length, zip sizes, NPY dims
        d[at:at + 8] = rng.choice([b"\xff" * 8, (2 ** 40).to_bytes(8, "little"), b"\x00\x00\x00\x7f" * 2])
    elif how == "zeros":
        d[at:at + 64] = bytes(64)
    else:
        d[at:at + 16] = b"\xff" * 16
    return bytes(d)


def run(cases, root, memory, seconds):
    spec = root / f"cases-{time.monotonic_ns()}.json"
    spec.write_text(json.dumps(cases))
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "hostile_runner.py"), str(spec), str(memory),
                           str(seconds)], capture_output=True, text=True, cwd=root, env={"PYTHONPATH": str(ROOT),
                                                                                        "PATH": "/usr/bin:/bin"})
    results = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    if len(results) < len(cases):  # the child died (out of memory, a crash): that case is unclear
        dead = cases[len(results)]
        results.append({"name": dead["name"], "outcome": "crash", "type": f"exit {proc.returncode}",
                        "message": proc.stderr[-300:], "seconds": 0, "outside": [], "peak_rss_mb": 0})
        results += run(cases[len(results):], root, memory, seconds) if len(results) < len(cases) else []
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mutations", type=int, default=40, help="mutations per file")
    ap.add_argument("--memory-gb", type=float, default=3.0)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    import onnx
    import safetensors
    print(f"torch {torch.__version__}, numpy {np.__version__}, onnx {onnx.__version__}, "
          f"safetensors {safetensors.__version__}, python {sys.version.split()[0]}")
    rng = random.Random(a.seed)
    root = Path(tempfile.mkdtemp(prefix="hostile-"))
    cases, k = [], 0

    def add(name, kind, filename, data, options):
        nonlocal k
        d = root / f"c{k:05d}"
        d.mkdir()
        (d / filename).write_bytes(data)
        (d / hostile.SECRET).write_bytes(hostile.SECRET_TEXT)
        cases.append({"name": name, "kind": kind, "path": str(d / filename), "options": options})
        k += 1

    seeds = valid_files()
    for c in hostile.CASES:
        d = root / f"c{k:05d}"
        d.mkdir()
        p = hostile.write(c, d)
        cases.append({"name": c.name, "kind": c.kind, "path": str(p), "options": c.options})
        k += 1
        if p.stat().st_size < 4 * 2 ** 20:
            seeds.append((c.name, c.kind, c.filename, p.read_bytes(), c.options))
    for name, kind, filename, data, options in seeds:
        add(name, kind, filename, data, options)
        for m in range(a.mutations):
            add(f"{name} / mutation {m}", kind, filename, mutate(data, rng), options)
    print(f"{len(cases)} cases ({len(seeds)} files x {a.mutations} mutations + the corpus) in {root}")
    start = time.perf_counter()
    results = []
    for i in range(0, len(cases), 400):
        results += run(cases[i:i + 400], root, int(a.memory_gb * 2 ** 30), a.seconds)
    counts = Counter(r["outcome"] for r in results)
    clear = counts["ok"] + counts["refused"]
    print(f"tried {len(results)}: clear {clear} (loaded {counts['ok']}, refused {counts['refused']}), "
          f"unclear {counts['unclear'] + counts['crash']}, hangs {counts['timeout']}, "
          f"outside reads {sum(bool(r['outside']) for r in results)}; {time.perf_counter() - start:.0f} s")
    for r in results:
        if r["outcome"] not in ("ok", "refused") or r["outside"]:
            print(f"  {r['outcome']}: {r['name']}: {r['type']}: {r['message'][:200]} {r['outside']}")
    worst = max(results, key=lambda r: r["peak_rss_mb"] - r.get("rss_before_mb", 0))
    slow = max(results, key=lambda r: r["seconds"])
    print(f"worst peak RSS: {worst['peak_rss_mb']} MB (process, torch included; {worst.get('rss_before_mb', 0)} MB "
          f"before the case): {worst['name']}")
    print(f"slowest: {slow['seconds']:.2f} s: {slow['name']}")
    print(f"marker files: {len(list(root.rglob(hostile.MARKER)))}")


if __name__ == "__main__":
    main()
