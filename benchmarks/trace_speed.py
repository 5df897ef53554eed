"""How much recording the gates costs: lstm_core's trace against torch.nn.LSTM (and nn.GRU).

For each point (T, B, I, H, L) of a grid that holds issue 15's held-out points, at
1 and 2 threads, it measures, interleaved run by run so that load on the machine
hits every case alike:
    nn.LSTM     torch.nn.LSTM forward, which records nothing (the baseline)
    trace       lstm_core.LSTM.trace of each variant asked for, on every path this
                machine has: compiled (the kernel, if built), workspace and replay
                (fused cells), loop
    seed loop   (--seed-loop) a hand-written per-step cell as in the course texts
and prints medians, ratios to the baseline, and for full gate recurrence the ratio
over its own FLOP ratio. With --memory it also measures peak memory against the
trace's own size, each case in a fresh process.

    python benchmarks/trace_speed.py                  # standard variant, full grid
    python benchmarks/trace_speed.py --variants all   # every variant (slower)
    python benchmarks/trace_speed.py --quick --variants all --paths compiled
    python benchmarks/trace_speed.py --quick --memory --threads 1
    python benchmarks/trace_speed.py --no-time --stages --cache-scan --threads 1
    python benchmarks/trace_speed.py --cells gru      # lstm_core.GRU.trace against torch.nn.GRU
"""
import argparse
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
    seed_loop: bool = False  # also time the seed-style loop of the course texts (slow)
    threads: str = "1,2"  # thread counts to measure at, comma-separated
    stages: bool = False  # also break a compiled trace into its stages (held-out points, one layer)
    time: bool = True  # measure the grid (--no-time with --stages or --memory: only those)
    cache_scan: bool = False  # nn.LSTM and trace as the weights outgrow the cache (B=8, H=256..1024)
    paths: str = "all"  # trace paths to time: "all" or some of compiled,workspace,replay,loop
    tf32: bool = False  # CUDA: let cuDNN and matmuls use TF32 (off: both sides in true float32, issue 15)
    cells: str = "lstm,gru"  # which cells' grids to time: lstm (against nn.LSTM), gru (against nn.GRU)


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


# The held-out grid of issue 15, (T, B, I, H, L): always measured.
HELD_OUT = [(100, 1, 16, 64, 1), (1000, 1, 32, 128, 2), (200, 32, 64, 256, 2), (500, 8, 128, 512, 1)]
MORE = [(100, 32, 64, 64, 1), (1000, 32, 256, 256, 1), (200, 1, 512, 512, 2), (100, 8, 32, 1024, 1)]


def grid(quick):
    return HELD_OUT if quick else HELD_OUT + MORE


def paths_for(cell):
    """The trace paths this machine can run for `cell`: compiled (if built), workspace (fused
    cells, where its self-test passes), replay (fused cells), loop."""
    from lstm_core import kernel
    from lstm_core.engine import workspace

    out = ["compiled"] if kernel.kernel() is not None else []
    if cell.fusable and workspace.reason() is None:
        out.append("workspace")
    return out + (["replay"] if cell.fusable else []) + ["loop"]


def flop_ratio(variant, I, H):
    """Per-step FLOPs of the variant over the standard cell's: full gate recurrence adds 9H^2."""
    v = lstm_core.cells.variants.REGISTRY[variant]
    std = 4 * H * I + 4 * H * H
    return (std + (9 * H * H if v.gate_recurrence else 0)) / std


def measure_time(cfg, variants):
    """Medians of runs interleaved case by case (nn.LSTM, then every variant and path), per thread count."""
    dtype = getattr(torch, cfg.dtype)
    rows = []
    for threads in [int(t) for t in cfg.threads.split(",")]:
        torch.set_num_threads(threads)
        print(f"\n{threads} thread(s): ms (ratio to nn.LSTM forward)", flush=True)
        for T, B, I, H, L in grid(cfg.quick):
            torch.manual_seed(0)
            ref = nn.LSTM(I, H, L, device=cfg.device, dtype=dtype)
            x = torch.randn(T, B, I, device=cfg.device, dtype=dtype)
            cases = {"nn": lambda: ref(x)}
            for v in variants:
                m = lstm_core.LSTM(I, H, L, variant=v, device=cfg.device, dtype=dtype, seed=0)
                for path in paths_for(m.cell):
                    if cfg.paths != "all" and path not in cfg.paths.split(","):
                        continue
                    cases[(v, path)] = (lambda m=m, path=path: m.trace(x, method=path))
            if cfg.seed_loop:
                cases["seed"] = lambda: seed_loop(ref, x)
            times = {k: [] for k in cases}
            with torch.no_grad():
                for fn in cases.values():  # warm-up
                    fn()
                for _ in range(cfg.repeat):
                    for k, fn in cases.items():
                        sync(cfg.device)
                        t0 = time.perf_counter()
                        fn()
                        sync(cfg.device)
                        times[k].append(time.perf_counter() - t0)
            med = {k: statistics.median(t) for k, t in times.items()}
            base = med.pop("nn")
            row = {"threads": threads, "point": (T, B, I, H, L), "nn": base, **med}
            rows.append(row)
            cells = "  ".join(f"{k[0][:12]}/{k[1]} {t * 1e3:.1f} ({t / base:.2f}x)" for k, t in med.items()
                              if isinstance(k, tuple))
            if "seed" in med:
                cells += f"  seed loop {med['seed'] * 1e3:.1f} ({med['seed'] / base:.2f}x)"
            print(f"  T={T:5d} B={B:3d} I={I:4d} H={H:4d} L={L}  nn.LSTM {base * 1e3:8.2f} ms  {cells}", flush=True)
    summary(rows, variants)
    return rows


def measure_gru(cfg):
    """lstm_core.GRU.trace on each of its paths against torch.nn.GRU forward, interleaved, per thread count."""
    dtype = getattr(torch, cfg.dtype)
    rows = []
    for threads in [int(t) for t in cfg.threads.split(",")]:
        torch.set_num_threads(threads)
        print(f"\nGRU, {threads} thread(s): ms (ratio to nn.GRU forward)", flush=True)
        for T, B, I, H, L in grid(cfg.quick):
            torch.manual_seed(0)
            ref = nn.GRU(I, H, L, device=cfg.device, dtype=dtype)
            m = lstm_core.GRU.from_torch(ref)
            x = torch.randn(T, B, I, device=cfg.device, dtype=dtype)
            cases = {"nn": lambda: ref(x)}
            for path in ("auto", "replay", "loop"):
                if cfg.paths == "all" or path in cfg.paths.split(","):
                    cases[path] = (lambda path=path: m.trace(x, method=path))
            med = interleaved(cases, cfg.repeat)
            base = med.pop("nn")
            rows.append({"threads": threads, "nn": base, **med})
            cells = "  ".join(f"{k} {t * 1e3:.1f} ({t / base:.2f}x)" for k, t in med.items())
            print(f"  T={T:5d} B={B:3d} I={I:4d} H={H:4d} L={L}  nn.GRU {base * 1e3:8.2f} ms  {cells}", flush=True)
    print("\nSummary: GRU trace / nn.GRU forward over the grid, median and worst")
    for threads in sorted({r["threads"] for r in rows}):
        for path in ("auto", "replay", "loop"):
            ratios = [r[path] / r["nn"] for r in rows if r["threads"] == threads and path in r]
            if ratios:
                print(f"  {threads}t gru {path:9s} median {statistics.median(ratios):5.2f}x  max {max(ratios):5.2f}x")
    return rows


def summary(rows, variants):
    print("\nSummary: trace / nn.LSTM forward over the grid, median and worst, per thread count and path")
    for threads in sorted({r["threads"] for r in rows}):
        for v in variants:
            for path in ("compiled", "workspace", "replay", "loop"):
                rs = [r for r in rows if r["threads"] == threads and (v, path) in r]
                if not rs:
                    continue
                ratios = [r[(v, path)] / r["nn"] for r in rs]
                flops = [flop_ratio(v, r["point"][2], r["point"][3]) for r in rs]
                over = max(a / f for a, f in zip(ratios, flops))
                extra = f"   worst / FLOP ratio {over:4.2f}" if flops != [1.0] * len(flops) else ""
                print(f"  {threads}t {v:22s} {path:9s} median {statistics.median(ratios):5.2f}x  "
                      f"max {max(ratios):5.2f}x{extra}")


def measure_stages(cfg):
    """Where the time of a compiled trace goes, standard variant, interleaved medians (CPU)."""
    from lstm_core import kernel
    from lstm_core.engine.gemm import Linear
    from lstm_core.kernel import wrapper

    ext = kernel.kernel()
    if ext is None:
        print(f"\nstages: no compiled kernel ({kernel.reason()})")
        return
    print("\nStages of a compiled trace, standard variant, ms (share of nn.LSTM forward):")
    for threads in [int(t) for t in cfg.threads.split(",")]:
        torch.set_num_threads(threads)
        for T, B, I, H, L in HELD_OUT:
            torch.manual_seed(0)
            ref = nn.LSTM(I, H, 1)
            m = lstm_core.LSTM(I, H, 1, seed=0)
            w, cell = m.layer_weights(0), m.cell
            x, z = torch.randn(T, B, I), torch.zeros(B, H)
            g, c, h = torch.empty(T, B, 4, H), torch.empty(T, B, H), torch.empty(T, B, H)
            proj = Linear(w.w_ih.detach(), w.bias.detach(), rows=T * B)
            work = proj(x.reshape(T * B, I)).view(T, B, 4 * H)
            slot, peep, flags, alpha, beta = wrapper.options(cell)
            w_hh = w.w_hh.detach().contiguous()
            e = torch.empty(0)
            packs = {k: ext.pack(w_hh, B, wrapper.GEMMS[k]) for k in ("mkl", "panel")}
            fgr = lstm_core.LSTM(I, H, 1, variant="full_gate_recurrence", seed=0)
            wf = fgr.layer_weights(0)

            def recur(gemm):  # the kernel's steps alone (work copied back in: recur overwrites it)
                ext.recur(work.clone(), g, c, h, z, z, w_hh, packs[gemm], e, e, e, e, e, e, e, e,
                          slot, peep, flags, alpha, beta, 0)

            cases = {"nn.LSTM": lambda: ref(x), "input GEMM": lambda: proj(x.reshape(T * B, I)),
                     "work copy": lambda: work.clone(), "recurrence mkl": lambda: recur("mkl"),
                     "recurrence panel": lambda: recur("panel"),
                     "kernel layer": lambda: wrapper.run_compiled(ext, cell, w, x, z, z, None, g, c),
                     "fgr kernel layer": lambda: wrapper.run_compiled(ext, fgr.cell, wf, x, z, z, None, g, c),
                     "trace": lambda: m.trace(x), "trace T=1": lambda: m.trace(x[:1])}
            med = interleaved(cases, cfg.repeat)
            base = med["nn.LSTM"]
            print(f"  {threads}t T={T} B={B} I={I} H={H} (one layer): " + "  ".join(
                f"{k} {t * 1e3:.2f} ({t / base:.2f})" for k, t in med.items()), flush=True)


def interleaved(cases, repeat):
    """{name: median seconds} of each no-arg function in `cases`, after one warm-up call each,
    timed run by run in turn so that load on the machine hits every case alike."""
    times = {k: [] for k in cases}
    with torch.no_grad():
        for fn in cases.values():
            fn()
        for _ in range(repeat):
            for k, fn in cases.items():
                t0 = time.perf_counter()
                fn()
                times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(t) for k, t in times.items()}


def measure_cache_scan(cfg):
    """GMAC/s of nn.LSTM and trace as W_hh grows past the cache, and full gate recurrence at H=512.

    Shows whether a slow point is the kernel's GEMM or the machine: when the weights read
    every step no longer stay in the cache, nn.LSTM slows down by the same factor.
    """
    T, B, I = 200, 8, 128
    print(f"\nCache scan, T={T} B={B} I={I}, 1 layer, medians of {cfg.repeat} interleaved runs, per step:")
    for threads in [int(t) for t in cfg.threads.split(",")]:
        torch.set_num_threads(threads)
        for H in (256, 512, 768, 1024):
            torch.manual_seed(0)
            ref, m, x = nn.LSTM(I, H), lstm_core.LSTM(I, H, seed=0), torch.randn(T, B, I)
            cases = {"nn": lambda: ref(x), "trace": lambda: m.trace(x)}
            if H == 512:
                f = lstm_core.LSTM(I, H, variant="full_gate_recurrence", seed=0)
                cases["fgr"] = lambda: f.trace(x)
            us = {k: t / T * 1e6 for k, t in interleaved(cases, cfg.repeat).items()}
            mac = B * 4 * H * (H + I)
            line = (f"  {threads}t H={H:4d} W_hh {16 * H * H / 2**20:5.1f} MiB: nn.LSTM {us['nn']:7.0f} us "
                    f"({mac / us['nn'] / 1e3:5.1f} GMAC/s), trace {us['trace']:7.0f} us ({us['trace'] / us['nn']:.2f}x)")
            if "fgr" in us:
                fm = mac + B * 9 * H * H
                line += (f"; full gate recurrence {us['fgr']:7.0f} us ({fm / us['fgr'] / 1e3:5.1f} GMAC/s, "
                         f"W_hh + W_gg {52 * H * H / 2**20:.1f} MiB)")
            print(line, flush=True)


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
        budget = 1.1 * (size + res["nn"])  # issue 15: the trace's size plus nn.LSTM's needs, plus 10%
        half = estimate_bytes(T, B, H, num_layers=L, dtype=torch.float16)
        print(f"  T={T} B={B} H={H} L={L}: trace holds {size / 2**20:7.1f} MiB; peak nn.LSTM "
              f"{res['nn'] / 2**20:7.1f} MiB, trace {res['trace'] / 2**20:7.1f} MiB "
              f"({res['trace'] / budget:4.2f} of the budget 1.1 x (trace + nn.LSTM)); "
              f"float16 record {half / 2**20:6.1f} MiB, peak {res['tracefloat16'] / 2**20:7.1f} MiB "
              f"({res['tracefloat16'] / (1.1 * (half + res['nn'])):4.2f} of its budget)")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name, default in vars(Config()).items():
        if isinstance(default, bool):
            p.add_argument("--" + name.replace("_", "-"), action=argparse.BooleanOptionalAction, default=default)
        else:
            p.add_argument("--" + name.replace("_", "-"), type=type(default), default=default)
    cfg = Config(**vars(p.parse_args(argv)))
    variants = list(lstm_core.VARIANTS) if cfg.variants == "all" else cfg.variants.split(",")
    unknown = set(cfg.paths.split(",")) - {"all", "auto", "compiled", "workspace", "replay", "loop"}
    if unknown:
        p.error(f"--paths: expected all or some of auto,compiled,workspace,replay,loop, got {', '.join(sorted(unknown))}")
    if cfg.device.startswith("cuda") and not torch.cuda.is_available():
        p.error(f"--device {cfg.device}: no CUDA device here (this torch: {torch.__version__})")
    if cfg.device.startswith("cuda"):
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = cfg.tf32
    print(f"lstm_core trace benchmark: device {cfg.device}, dtype {cfg.dtype}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, {platform.processor() or platform.machine()}, "
          f"oneDNN {'on' if torch.backends.mkldnn.is_available() else 'off'}"
          + (f", {torch.cuda.get_device_name()}, cuDNN {torch.backends.cudnn.version()}, "
             f"TF32 {torch.backends.cudnn.allow_tf32}" if cfg.device.startswith("cuda") else ""))
    cells = set(cfg.cells.split(","))
    if cells - {"lstm", "gru"}:
        p.error(f"--cells: expected some of lstm,gru, got {cfg.cells}")
    if cfg.time and "lstm" in cells:
        measure_time(cfg, variants)
    if cfg.time and "gru" in cells:
        measure_gru(cfg)
    if cfg.stages:
        measure_stages(cfg)
    if cfg.cache_scan:
        measure_cache_scan(cfg)
    if cfg.memory:
        if cfg.device.startswith("cuda"):
            print("memory: measured on CPU only")
        else:
            measure_memory(cfg)


if __name__ == "__main__":
    main()
