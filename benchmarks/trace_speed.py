"""How much recording the gates costs: lstm_core's trace against torch.nn.LSTM.

For each point of a grid (T, B, H, layers) it measures, side by side in one run:
    nn.LSTM     torch.nn.LSTM forward, which records nothing (the baseline)
    trace       lstm_core.LSTM.trace of each variant asked for, all gates recorded
    seed loop   a hand-written per-step cell as in the course texts, recording the gates
and prints medians and ratios to the baseline. With --memory it also measures peak
memory against the trace's own size, each case in a fresh process.

    python benchmarks/trace_speed.py                  # standard variant, full grid
    python benchmarks/trace_speed.py --variants all   # every variant (slower)
    python benchmarks/trace_speed.py --quick --memory
"""
import argparse
import itertools
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

import torch
from torch import nn

sys.path.insert(0, __file__.rsplit("/benchmarks/", 1)[0])
import lstm_core  # noqa: E402
from lstm_core.trace import estimate_bytes  # noqa: E402


@dataclass
class Config:
    device: str = "cpu"  # where to run
    dtype: str = "float32"  # parameter and input dtype
    variants: str = "standard"  # "all" or comma-separated names
    quick: bool = False  # a small grid
    repeat: int = 5  # timed runs per measurement (median reported)
    memory: bool = False  # also measure peak memory (CPU: max RSS in a subprocess; CUDA: allocator peak)
    seed_loop: bool = True  # also time the seed-style loop


def sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn, device, repeat):
    """Median seconds of fn() after one warm-up run."""
    fn()
    sync(device)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def seed_loop(ref, x):
    """The per-step cell of the course texts, recording i, f, g, o, c, h at every step."""
    T, B, _ = x.shape
    H = ref.hidden_size
    rec = {k: [] for k in "ifgoch"}
    layer_in = x
    for k in range(ref.num_layers):
        w_ih, w_hh = getattr(ref, f"weight_ih_l{k}"), getattr(ref, f"weight_hh_l{k}")
        b = getattr(ref, f"bias_ih_l{k}") + getattr(ref, f"bias_hh_l{k}")
        h = x.new_zeros(B, H)
        c = x.new_zeros(B, H)
        outs = []
        for t in range(T):
            Z = layer_in[t] @ w_ih.T + h @ w_hh.T + b
            i, f, g, o = Z.chunk(4, 1)
            i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
            c = f * c + i * g
            h = o * torch.tanh(c)
            for name, v in zip("ifgoch", (i, f, g, o, c, h)):
                rec[name].append(v)
            outs.append(h)
        layer_in = torch.stack(outs)
    return {k: torch.stack(v) for k, v in rec.items()}


def grid(quick):
    if quick:
        return list(itertools.product((100, 1000), (1, 32), (64, 256), (1,)))
    return list(itertools.product((100, 1000), (1, 32), (64, 256, 512), (1, 2)))


def measure_time(cfg, variants):
    dtype = getattr(torch, cfg.dtype)
    rows = []
    for T, B, H, L in grid(cfg.quick):
        torch.manual_seed(0)
        ref = nn.LSTM(H, H, L, device=cfg.device, dtype=dtype)
        x = torch.randn(T, B, H, device=cfg.device, dtype=dtype)
        with torch.no_grad():
            base = timed(lambda: ref(x), cfg.device, cfg.repeat)
            row = {"T": T, "B": B, "H": H, "L": L, "nn": base}
            for v in variants:
                m = lstm_core.LSTM(H, H, L, variant=v, device=cfg.device, dtype=dtype, seed=0)
                row[v] = timed(lambda: m.trace(x), cfg.device, cfg.repeat)
            if cfg.seed_loop:
                row["seed"] = timed(lambda: seed_loop(ref, x), cfg.device, max(1, cfg.repeat // 2))
        rows.append(row)
        cells = "  ".join(f"{v} {row[v] * 1e3:8.2f} ms ({row[v] / base:4.2f}x)" for v in variants)
        seed = f"  seed loop {row['seed'] * 1e3:8.2f} ms (trace {row['seed'] / row[variants[0]]:5.1f}x faster)" \
            if cfg.seed_loop else ""
        print(f"T={T:5d} B={B:3d} H={H:4d} L={L}  nn.LSTM {base * 1e3:8.2f} ms  {cells}{seed}", flush=True)
    print("\nSummary (ratio of trace time to nn.LSTM forward, over the grid):")
    for v in variants:
        ratios = [r[v] / r["nn"] for r in rows]
        print(f"  {v:22s} median {statistics.median(ratios):5.2f}x   min {min(ratios):5.2f}x   max {max(ratios):5.2f}x")
    if cfg.seed_loop:
        small = [r["seed"] / r[variants[0]] for r in rows if r["H"] == 64]
        print(f"  {variants[0]} trace vs seed loop at H=64: median {statistics.median(small):.1f}x faster, "
              f"min {min(small):.1f}x")
    return rows


_CHILD = """
import resource, sys, torch
sys.path.insert(0, {root!r})
import lstm_core
T, B, H, L, what, store = {T}, {B}, {H}, {L}, {what!r}, {store!r}
torch.manual_seed(0)
x = torch.randn(T, B, H)
ref = torch.nn.LSTM(H, H, L)
m = lstm_core.LSTM(H, H, L)
with torch.no_grad():
    ref(x[:2]); m.trace(x[:2])  # load kernels and libraries before the baseline
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = ref(x) if what == "nn" else m.trace(x, store_dtype=getattr(torch, store) if store else None)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print((peak - before) * 1024)
"""


def measure_memory(cfg):
    """Peak extra memory of nn.LSTM and of trace, each in a fresh process (CPU, max RSS)."""
    print("\nPeak memory (CPU, growth of max RSS during the call, fresh process per case):")
    root = __file__.rsplit("/benchmarks/", 1)[0]
    points = [(1000, 32, 256, 2), (1000, 32, 512, 1), (2000, 8, 512, 2)]
    if cfg.quick:
        points = points[:1]
    for T, B, H, L in points:
        res = {}
        for what, store in (("nn", ""), ("trace", ""), ("trace", "float16")):
            code = _CHILD.format(root=root, T=T, B=B, H=H, L=L, what=what, store=store)
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
            res[what + store] = int(out.stdout.split()[-1])
        size = estimate_bytes(T, B, H, num_layers=L)
        budget = 1.5 * size + res["nn"]
        half = estimate_bytes(T, B, H, num_layers=L, dtype=torch.float16)
        print(f"  T={T} B={B} H={H} L={L}: trace holds {size / 2**20:7.1f} MiB; peak nn.LSTM "
              f"{res['nn'] / 2**20:7.1f} MiB, trace {res['trace'] / 2**20:7.1f} MiB "
              f"({res['trace'] / budget:4.2f} of the budget 1.5 x trace + nn.LSTM); "
              f"float16 record {half / 2**20:6.1f} MiB, peak {res['tracefloat16'] / 2**20:7.1f} MiB "
              f"({res['tracefloat16'] / (1.5 * half + res['nn']):4.2f} of its budget)")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name, default in vars(Config()).items():
        if isinstance(default, bool):
            p.add_argument("--" + name.replace("_", "-"), action=argparse.BooleanOptionalAction, default=default)
        else:
            p.add_argument("--" + name.replace("_", "-"), type=type(default), default=default)
    cfg = Config(**vars(p.parse_args(argv)))
    variants = list(lstm_core.VARIANTS) if cfg.variants == "all" else cfg.variants.split(",")
    print(f"lstm_core trace benchmark: device {cfg.device}, dtype {cfg.dtype}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, {platform.processor() or platform.machine()}, "
          f"oneDNN {'on' if torch.backends.mkldnn.is_available() else 'off'}"
          + (f", {torch.cuda.get_device_name()}, cuDNN {torch.backends.cudnn.version()}, "
             f"TF32 {torch.backends.cudnn.allow_tf32}" if cfg.device.startswith("cuda") else ""))
    measure_time(cfg, variants)
    if cfg.memory:
        if cfg.device.startswith("cuda"):
            print("memory: measured on CPU only")
        else:
            measure_memory(cfg)


if __name__ == "__main__":
    main()
