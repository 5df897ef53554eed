"""How many torch threads `python -m lstm_core.train` should use: 1, 2, ... against torch's default.

    python benchmarks/train_threads.py [--task recall] [--variant coupled] [--steps 400] [--repeats 3]

Runs the training command as a user does (a fresh process each time, so each thread count
starts clean), the thread counts interleaved round by round so that a change of the machine's
load hits them all, and prints the median training time of each (the command's own
"in N s", without start-up) and its ratio to one thread. `--threads 0` is torch's default (one
thread per core). Prints the device, load and versions with the figures: the machine is shared.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

import torch


def run(task, variant, steps, threads, out):
    cmd = [sys.executable, "-m", "lstm_core.train", "--task", task, "--variant", variant,
           "--steps", str(steps), "--threads", str(threads), "--out", out]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, check=True)
    return float(re.search(r"steps in ([\d.]+)s", done.stdout).group(1))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--task", default="recall")
    p.add_argument("--variant", default="coupled")
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2, 0], help="0: torch's default")
    a = p.parse_args(argv)
    print(f"device cpu ({os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}), torch {torch.__version__}, "
          f"torch's default {torch.get_num_threads()} threads; {a.task}/{a.variant}, {a.steps} steps")
    times = {t: [] for t in a.threads}
    with tempfile.TemporaryDirectory() as out:
        for r in range(a.repeats):
            for t in a.threads:
                times[t].append(run(a.task, a.variant, a.steps, t, out))
                print(f"  round {r + 1}, threads {t or 'default'}: {times[t][-1]:.1f} s "
                      f"(load {os.getloadavg()[0]:.1f})", flush=True)
    base = statistics.median(times[a.threads[0]])
    for t, ts in times.items():
        m = statistics.median(ts)
        print(f"threads {t or 'default':>7}: median {m:6.1f} s  ({m / base:.1f}x threads {a.threads[0] or 'default'}), "
              f"range {min(ts):.1f}-{max(ts):.1f} s")


if __name__ == "__main__":
    main()
