"""Two numbers for the README (demo app section): how long a training run started from the app's
Training page takes to reach the shipped model's metric, and how fast the demo page reruns.

    python benchmarks/train_from_page.py [--task recall] [--variant coupled] [--seeds 0,1] [--steps N] [--reruns 10]

1. Training: `explorer.trainer.start` with exactly what the page starts when only Start is
   pressed (TrainConfig.for_task with the task's defaults, seed 0, 20 snapshots, one torch
   thread as the app sets), polled every 0.1 s as a page would; the time is wall clock from
   Start until the eval metric first reaches the shipped checkpoint's (the run is then
   stopped, as a person watching the curve would). --steps sets the page's "training
   steps" field (the task's default otherwise). The page evaluates
   every `eval_every` steps (100), so the time is rounded up to the next evaluation.
2. Rerun: AppTest of the app as it opens (the shipped recall/coupled model on the gate
   heatmaps): the first run, a rerun with nothing changed (the caches answer), and a rerun
   after a new input seed (a new sample: trace, caption and figure rebuilt), medians.

Prints the device, load, threads and versions with the figures: the machine is shared.
"""
import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import streamlit  # noqa: E402
import torch  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from explorer.logic import trainer  # noqa: E402
from lstm_core.io.checkpoint import read_meta, shipped_checkpoint  # noqa: E402
from lstm_core.tasks import TASKS  # noqa: E402
from lstm_core.train import TrainConfig  # noqa: E402

APP = str(ROOT / "explorer" / "app.py")


def time_to_shipped(task, variant, seed, steps=None):
    """(target, seconds to reach it or None, step, final metric, total seconds) of one page run."""
    target = read_meta(shipped_checkpoint(task, variant))["metric"]["value"]
    better = (lambda m: m >= target) if TASKS[task].higher_is_better else (lambda m: m <= target)
    t0 = time.perf_counter()
    run = trainer.start(TrainConfig.for_task(task, variant, seed=seed, steps=steps))
    # stop at the first evaluation that reaches it, as a person watching the curve would
    hit = None
    while True:
        view = run.view()
        if hit is None:
            reached = [(s, m) for s, m in view.metrics if better(m)]
            if reached:
                hit = (time.perf_counter() - t0, reached[0][0])
                run.request_stop("reached the shipped metric")
        if not view.active:
            break
        time.sleep(0.1)
    run.join()
    view = run.view()
    return target, hit, view.metrics[-1][1], time.perf_counter() - t0


def rerun_times(reruns):
    """Median seconds: the first run, a rerun with nothing changed, a rerun after a new input seed."""
    at = AppTest.from_file(APP, default_timeout=120)
    t = time.perf_counter()
    at.run()
    first = time.perf_counter() - t
    assert not at.exception, [e.value for e in at.exception]
    same, changed = [], []
    for k in range(reruns):
        t = time.perf_counter()
        at.run()
        same.append(time.perf_counter() - t)
        at.number_input(key="iseed").set_value(100 + k)  # a new sample every time: nothing cached
        t = time.perf_counter()
        at.run()
        changed.append(time.perf_counter() - t)
    assert not at.exception, [e.value for e in at.exception]
    return first, statistics.median(same), statistics.median(changed)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--task", default="recall")
    p.add_argument("--variant", default="coupled")
    p.add_argument("--seeds", default="0")
    p.add_argument("--steps", type=int, help="the page's 'training steps' field; default the task's")
    p.add_argument("--reruns", type=int, default=10)
    a = p.parse_args()
    torch.set_num_threads(1)  # as explorer/app.py sets for the server
    print(f"device cpu ({os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}), {torch.get_num_threads()} torch "
          f"thread, torch {torch.__version__}, streamlit {streamlit.__version__}, python {platform.python_version()}")
    d = TrainConfig.for_task(a.task, a.variant, steps=a.steps)
    print(f"\nTraining page settings for {a.task}/{a.variant}: H={d.hidden}, {d.steps} steps, batch {d.batch}, "
          f"lr {d.lr}, evaluated every {d.eval_every} steps")
    print("| seed | shipped metric | reached at | final metric | run time |")
    print("|---|---|---|---|---|")
    for seed in map(int, a.seeds.split(",")):
        target, hit, final, seconds = time_to_shipped(a.task, a.variant, seed, a.steps)
        at = f"{hit[0]:.1f} s (step {hit[1]})" if hit else "not reached"
        print(f"| {seed} | {target:.3g} | {at} | {final:.3g} | {seconds:.1f} s |", flush=True)
    first, same, changed = rerun_times(a.reruns)
    print(f"\nAppTest, gate heatmaps page as the app opens ({a.reruns} reruns each, medians):")
    print(f"first run {first * 1000:.0f} ms; rerun, nothing changed {same * 1000:.0f} ms; "
          f"rerun after a new input seed {changed * 1000:.0f} ms")


if __name__ == "__main__":
    main()
