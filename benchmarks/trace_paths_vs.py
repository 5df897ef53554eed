"""float64 and autograd traces: this checkout against another one (e.g. the code before the kernel).

Neither path runs on the compiled kernel (float64 is not its dtype; gradients take the
reference loop), so the kernel must leave them as fast as they were (issue 15). Each round
runs a fresh process per checkout, alternating, so load on the machine hits both alike;
the medians over rounds are printed with their ratio.

    git archive <commit> | tar -x -C /tmp/old
    python benchmarks/trace_paths_vs.py /tmp/old --rounds 5
"""
import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
POINTS = [(100, 1, 16, 64, 1), (1000, 1, 32, 128, 2), (200, 32, 64, 256, 2), (500, 8, 128, 512, 1)]

_CHILD = """
import json, sys, time, statistics, torch
sys.path.insert(0, {root!r})
import lstm_core
torch.set_num_threads({threads})
out = []
for T, B, I, H, L in {points!r}:
    torch.manual_seed(0)
    m = lstm_core.LSTM(I, H, L, variant={variant!r})
    x = torch.randn(T, B, I)
    cases = {{}}
    m64, x64 = lstm_core.LSTM(I, H, L, variant={variant!r}).double(), x.double()
    def f64():
        with torch.no_grad():
            m64.trace(x64)
    cases["float64"] = f64
    Ta = max(1, T // {grad_div})  # the autograd path: shorter sequences (it keeps every step's graph)
    def grad():
        m.trace(x[:Ta]).h.sum().backward()
    cases["autograd"] = grad
    for k, fn in cases.items():
        fn()
        ts = []
        for _ in range({repeat}):
            t0 = time.perf_counter(); fn(); ts.append(time.perf_counter() - t0)
        out.append((T, B, I, H, L, k, statistics.median(ts)))
print(json.dumps(out))
"""


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("other", type=Path, help="root of the other checkout (holds lstm_core/)")
    p.add_argument("--rounds", type=int, default=3, help="fresh processes per checkout, alternating")
    p.add_argument("--repeat", type=int, default=3, help="timed calls per case in one process (median)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--variant", default="standard")
    p.add_argument("--grad-div", type=int, default=10, help="the autograd case runs T / this steps")
    p.add_argument("--points", default="0,1,2,3", help="which points of POINTS, comma-separated indices")
    a = p.parse_args(argv)
    if not (a.other / "lstm_core" / "__init__.py").is_file():
        p.error(f"other: expected a checkout holding lstm_core/__init__.py, got {a.other}")
    try:
        points = [POINTS[int(i)] for i in a.points.split(",")]
    except (ValueError, IndexError):
        p.error(f"--points: expected indices 0..{len(POINTS) - 1}, comma-separated, got {a.points!r}")
    runs = {"this": [], "other": []}
    for _ in range(a.rounds):
        for name, root in (("this", HERE), ("other", a.other.resolve())):
            code = _CHILD.format(root=str(root), threads=a.threads, points=points, variant=a.variant,
                                 repeat=a.repeat, grad_div=a.grad_div)
            res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
            runs[name].append(json.loads(res.stdout.strip().splitlines()[-1]))
    print(f"{a.variant}, {a.threads} thread(s), medians of {a.rounds} processes x {a.repeat} calls; "
          f"this = {HERE}, other = {a.other}")
    ratios = []
    for j, (T, B, I, H, L, k, _) in enumerate(runs["this"][0]):
        mine = statistics.median(r[j][6] for r in runs["this"])
        theirs = statistics.median(r[j][6] for r in runs["other"])
        ratios.append(mine / theirs)
        print(f"  {k:8s} T={T:5d} B={B:3d} I={I:4d} H={H:4d} L={L}: this {mine * 1e3:9.2f} ms, "
              f"other {theirs * 1e3:9.2f} ms, this / other {mine / theirs:5.2f}")
    print(f"  median this / other {statistics.median(ratios):.2f}, worst {max(ratios):.2f}")


if __name__ == "__main__":
    main()
