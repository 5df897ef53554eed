"""How long a fresh remember-and-recall model takes to reach the shipped model's metric, on this CPU.

    python benchmarks/train_recall_time.py [--seeds 0,1,2] [--variants standard,coupled,peephole] [--steps N]

What the app's live training runs (`lstm_core.train.train` with the task's defaults),
evaluated every 50 steps on the same eval batch as the shipped sidecar's metric. Seed 0
is the shipped run itself; other seeds show it is not luck. Prints the device, threads
and versions with the figures; times depend on what else the machine runs.
"""
import argparse
import os
import platform
import sys
import threading
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lstm_core.io.checkpoint import SHIPPED_VARIANTS, read_meta, shipped_checkpoint  # noqa: E402
from lstm_core.train import TrainConfig, train  # noqa: E402


def time_to_target(variant, seed, steps=None):
    """(target, seconds and step when first reached or None, final metric, total seconds)."""
    target = read_meta(shipped_checkpoint("recall", variant))["metric"]["value"]
    reached, stop = [], threading.Event()

    def callback(p):
        if p.metric is not None and p.metric <= target and not reached:
            reached.append((p.seconds, p.step))
            stop.set()

    config = TrainConfig.for_task("recall", variant, seed=seed, steps=steps, eval_every=50)
    result = train(config, callback=callback, stop=stop)
    return target, (reached[0] if reached else None), result.metric, result.seconds


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--variants", default=",".join(SHIPPED_VARIANTS))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, help="most steps per run; default the task's (2000)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    print(f"device cpu ({os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}), {a.threads} torch threads, "
          f"torch {torch.__version__}, python {platform.python_version()}")
    print("| variant | seed | shipped metric | reached at | final metric | run time |")
    print("|---|---|---|---|---|---|")
    for variant in a.variants.split(","):
        for seed in map(int, a.seeds.split(",")):
            target, hit, final, seconds = time_to_target(variant, seed, a.steps)
            at = f"{hit[0]:.1f} s (step {hit[1]})" if hit else "not reached"
            print(f"| {variant} | {seed} | {target:.3g} | {at} | {final:.3g} | {seconds:.1f} s |", flush=True)


if __name__ == "__main__":
    main()
