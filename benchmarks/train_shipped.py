"""Train every shipped checkpoint (task x variant) as its sidecar's command says, and time it.

    python benchmarks/train_shipped.py [--out assets/models] [--only recall,dyck] [--variants coupled]

Prints the device, thread count and library versions, then one markdown row per model:
metric against the task's baseline, training time and size on disk (the README's table).
Times depend on the machine and on what else runs on it: quote them with that context.
"""
import argparse
import os
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lstm_core.io.checkpoint import SHIPPED_VARIANTS, checkpoint_paths  # noqa: E402
from lstm_core.tasks import TASKS  # noqa: E402
from lstm_core.train import main as train_main  # noqa: E402


def run(out, tasks, variants, threads):
    rows = ["| task | variant | H | steps | metric | baseline | train time | size |", "|---|---|---|---|---|---|---|---|"]
    for task in tasks:
        for variant in variants:
            start = time.perf_counter()
            result = train_main(["--task", task, "--variant", variant, "--threads", str(threads), "--out", str(out)])
            wall = time.perf_counter() - start
            weights, sidecar = checkpoint_paths(Path(out) / f"{task}-{variant}")
            size = (weights.stat().st_size + sidecar.stat().st_size) / 1024
            rows.append(f"| {task} | {variant} | {result.config.hidden} | {result.steps_done} | "
                        f"{result.task.metric_name} {result.metric:.4g} | {result.baseline:.4g} | "
                        f"{result.seconds:.0f} s ({wall:.0f} s wall) | {size:.0f} KiB |")
            print(rows[-1], flush=True)
    print(f"\ndevice cpu ({os.cpu_count()} cores), {threads} torch threads, torch {torch.__version__}, "
          f"python {platform.python_version()}, {platform.machine()}")
    print("\n".join(rows))


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default="assets/models")
    p.add_argument("--only", default=",".join(TASKS), help="comma-separated tasks")
    p.add_argument("--variants", default=",".join(SHIPPED_VARIANTS), help="comma-separated variants")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads per run; 1 (the shipped models): small models gain nothing from more")
    a = p.parse_args()
    run(a.out, a.only.split(","), a.variants.split(","), a.threads)
