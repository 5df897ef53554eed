"""How long each step of the "Debug your model" pages takes (issue 6), on the built-in example and a
2-layer bidirectional H=64 model on 16 x 100 steps: best of 3 after a warm-up, one torch thread,
the functions the pages cache (explorer/debugging.py, explorer/debug_results.py).

    python benchmarks/debug_pages.py
"""
import io
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from safetensors.torch import save

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from explorer.logic import diagnosis as dr  # noqa: E402
from explorer.logic import example as debug_example  # noqa: E402
from explorer.logic import exports, subject  # noqa: E402
from explorer.logic import uploads as debugging  # noqa: E402
from explorer.logic.uploads import DataSpec, LoadChoice  # noqa: E402

torch.set_num_threads(1)


def t(f, n=3):
    """(best seconds of n calls after one warm-up, the last result)."""
    f()
    best = float("inf")
    for _ in range(n):
        start = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - start)
    return best, out


def run(label, mraw, mname, draw, dname):
    ti, mf = t(lambda: debugging.inspect_model(mname, mraw))
    tl, model = t(lambda: debugging.load_model(mf, mraw, LoadChoice(which=mf.options()[0])))
    td, data = t(lambda: debugging.read_data(DataSpec("upload", name=dname), draw))
    tt, tr = t(lambda: subject.trace_of(model, data.seqs))
    tg, rep = t(lambda: dr.diagnose(tr))
    tgr, grads = t(lambda: dr.gradients(model, data.seqs, dr.GradientSpec(4, 4)), 1)
    tw, _ = t(lambda: dr.run_what_if(model, data.seqs, dr.WhatIfSpec("clamp", "f", 1.0, (0,), 0, 0, 10, 14)), 1)
    tx, _ = t(lambda: exports.lstmvis_zip(tr), 1)
    print(f"{label}: inspect {ti*1e3:.0f} ms, load {tl*1e3:.0f} ms, read data {td*1e3:.0f} ms, trace {tt*1e3:.0f} ms, "
          f"diagnostics (no gradients) {tg*1e3:.0f} ms, gradient flow 4 units x 4 seqs {tgr*1e3:.0f} ms, "
          f"what-if {tw*1e3:.0f} ms, LSTMVis zip {tx*1e3:.0f} ms; {len(rep.findings)} findings")



def main():
    f = debug_example.files()
    run("example (2 layers, H=8, 5 x 40 steps)", f[debug_example.MODEL_NAME], "ex.safetensors",
        f[debug_example.DATA_NAME], "ex.npz")
    torch.manual_seed(0)
    big = torch.nn.LSTM(32, 64, 2, bidirectional=True)
    raw = save({k: v.contiguous() for k, v in big.state_dict().items()})
    x = np.random.default_rng(0).normal(size=(16, 100, 32)).astype(np.float32)  # (B, T, I)
    buf = io.BytesIO()
    np.savez(buf, x=x)
    run("2 layers bidirectional, H=64, I=32, 16 x 100 steps", raw, "big.safetensors", buf.getvalue(), "big.npz")
    print("device cpu, float32, torch", torch.__version__, "python", platform.python_version(), "threads 1")


if __name__ == "__main__":
    main()
