"""Train a `TaskModel` on a demo task: reproducible on the CPU, from the command line or a thread.

    python -m lstm_core.train --task recall --variant coupled --out assets/models

From code (a UI runs this in a background thread):

    result = train(TrainConfig.for_task("recall", "coupled"), callback=print, stop=threading.Event())
    save_checkpoint(path, result.model, result.meta())

Reproducible: the initialisation comes from `seed`, the batch of step k from task.sample
(seed=seed * 10**9 + k), the evaluation batch from split "eval", seed 0; no global
random state is read, so other threads drawing random numbers change nothing. The same
config gives bit-identical weights with the same torch build and thread count.
"""
import argparse
import dataclasses
import platform
import shlex
import sys
import time
from dataclasses import dataclass, field

import torch

from .io.checkpoint import save_checkpoint
from .tasks import TaskModel, get_task
from . import zoo

EVAL_SEED = 0  # the eval batch: split "eval", this seed, for every run and every checkpoint


@dataclass
class TrainConfig:
    """Everything that decides a training run; the command line maps onto these fields."""

    task: str = "recall"  # a key of lstm_core.tasks.TASKS
    variant: str = "standard"  # one of lstm_core.zoo.ARCHITECTURES: an LSTM variant or "gru"
    hidden: int = 16  # H, units of the LSTM
    layers: int = 1  # L, stacked layers
    steps: int = 2000  # optimiser steps
    batch: int = 64  # sequences per step
    lr: float = 1e-2  # Adam's learning rate
    clip: float = 1.0  # largest gradient norm (Pascanu et al. 2013)
    forget_bias: float = 1.0  # b_f at the start (Gers et al. 2000; Jozefowicz et al. 2015)
    seed: int = 0  # initialisation and training batches
    eval_every: int = 100  # steps between evaluations on the eval batch
    eval_batch: int = 256  # sequences in the eval batch
    snapshot_every: int = 0  # steps between kept copies of the weights; 0 keeps none
    task_config: dict = field(default_factory=dict)  # task settings over its defaults, e.g. {"length": 60}

    @classmethod
    def for_task(cls, task, variant="standard", **overrides):
        """The config for a task and variant: the task's `train_defaults` (and `unfused_defaults`
        for a variant the fused kernel cannot run), then overrides (None skipped)."""
        t = get_task(task)
        slow = {} if zoo.fused(variant) else t.unfused_defaults
        settings = {**t.train_defaults, **slow, **{k: v for k, v in overrides.items() if v is not None}}
        return cls(task=task, variant=variant, **settings)


@dataclass(frozen=True)
class Progress:
    """What `train` reports to its callback after every step (and once before the first)."""

    step: int  # optimiser steps done, 0 before the first
    steps: int  # steps planned
    loss: float | None  # training loss of this step's batch; None at step 0
    metric: float | None  # the task's metric on the eval batch, at evaluation steps only
    seconds: float  # since training started
    snapshot: dict | None = None  # a copy of model.state_dict(), at snapshot steps only


@dataclass
class TrainResult:
    """A finished (or stopped) run: the model, its record and the final evaluation."""

    model: TaskModel
    config: TrainConfig
    task: object  # the lstm_core.tasks.Task trained on
    losses: list  # (step, training loss) for every step
    metrics: list  # (step, eval metric) for every evaluation
    snapshots: list  # (step, state dict) for every snapshot
    seconds: float  # wall time of the run
    stopped: bool  # True if `stop` ended it before the planned steps
    metric: float  # the final eval metric
    baseline: float  # the task's baseline on the same eval batch

    @property
    def steps_done(self):
        return self.losses[-1][0] if self.losses else 0

    def meta(self, command=None):
        """The JSON sidecar content for `save_checkpoint`: what was trained, how, and how well."""
        c, task = self.config, self.task
        return {
            "task": task.name, "task_title": task.title, "task_config": task.config(),
            "variant": c.variant,
            "vocabulary": None if task.vocabulary is None else list(task.vocabulary),
            "metric": {"name": task.metric_name, "value": self.metric, "baseline": self.baseline,
                       "baseline_name": task.baseline_name, "higher_is_better": task.higher_is_better,
                       "evaluated_on": f"split 'eval', seed {EVAL_SEED}, batch {c.eval_batch}"},
            "training": {"steps": self.steps_done, "seed": c.seed, "seconds": round(self.seconds, 1),
                         "stopped": self.stopped, "final_loss": self.losses[-1][1] if self.losses else None,
                         "threads": torch.get_num_threads(), "torch": torch.__version__,
                         "python": platform.python_version()},
            "train_config": dataclasses.asdict(c),
            "command": command or command_line(c),
        }


def check_config(config):
    """The config's task, after a ValueError for any setting that cannot train."""
    task = get_task(config.task, config.task_config)
    zoo.check(config.variant)
    for name in ("hidden", "layers", "steps", "batch", "eval_every", "eval_batch"):
        if getattr(config, name) < 1:
            raise ValueError(f"{name}: expected >= 1, got {getattr(config, name)}")
    if not config.lr > 0:
        raise ValueError(f"lr: expected > 0, got {config.lr}")
    return task


def model_for(config, task=None):
    """The freshly initialised `TaskModel` a config trains (also what a snapshot loads into)."""
    task = task or get_task(config.task, config.task_config)
    return TaskModel.for_task(task, config.hidden, num_layers=config.layers, variant=config.variant,
                              forget_bias=config.forget_bias if zoo.has_forget_gate(config.variant) else None,
                              seed=config.seed)


def train(config, callback=None, stop=None):
    """Train a model as config says; returns a `TrainResult`.

    callback: called with a `Progress` after every step and once before the first.
    stop: anything with is_set() (a threading.Event), checked after every step: the first
        step that sees it set is the last, evaluated and snapshot, and the result is
        marked stopped. Set before the call, no step is taken.
    Safe in a background thread: it reads no global random state and sets no global flag.
    """
    task = check_config(config)
    model = model_for(config, task)
    # A constant learning rate: a cosine decay to lr / 20 was measured no better (recall over
    # 2 seeds x 2 variants, adding, sine, dyck, and 1.914 against 1.901 bits for charlm-coupled).
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    evaluation = task.sample(config.eval_batch, EVAL_SEED, split="eval")
    losses, metrics, snapshots = [], [], []
    start = time.perf_counter()

    def report(step, loss):
        """Evaluate and snapshot as due, tell the callback; True if this is the last step."""
        metric = snapshot = None
        last = step == config.steps or (stop is not None and stop.is_set())
        if step % config.eval_every == 0 or last:
            metric = evaluate(model, task, evaluation)
            metrics.append((step, metric))
        if config.snapshot_every and (step % config.snapshot_every == 0 or last):
            snapshot = {k: v.detach().clone() for k, v in model.state_dict().items()}
            snapshots.append((step, snapshot))
        if callback is not None:
            callback(Progress(step, config.steps, loss, metric, time.perf_counter() - start, snapshot))
        return last  # a stop set after `last` was read (by the callback, say) ends the next step

    done = report(0, None)
    for step in range(1, config.steps + 1):
        if done:
            break
        s = task.sample(config.batch, config.seed * 10**9 + step)
        loss = task.loss(model(s.x), s)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip)
        opt.step()
        losses.append((step, loss.item()))
        done = report(step, losses[-1][1])
    stopped = len(losses) < config.steps
    model.eval()
    return TrainResult(model, config, task, losses, metrics, snapshots, time.perf_counter() - start,
                       stopped, metrics[-1][1], task.baseline(evaluation))


@torch.no_grad()
def evaluate(model, task, sample):
    """The task's metric of model on sample, without autograd (the fast paths of every variant)."""
    was_training = model.training
    model.eval()
    metric = task.metric(model(sample.x), sample)
    model.train(was_training)
    return metric


def load_snapshot(config, state_dict):
    """A `TaskModel` holding a snapshot's weights, in eval mode: for looking at gates mid-training."""
    model = model_for(config)
    model.load_state_dict(state_dict)
    return model.eval()


# Issue 10: recall/coupled took ~2 minutes with torch's default of one thread per core on a busy
# 2-core machine (the threads wait for each other at every small op) and seconds on one thread;
# these models are small, so one thread is the default. Measured in docs/demos.md.
DEFAULT_THREADS = 1


def command_line(config, out=None, threads=None):
    """The command that runs config, every setting spelled out (what a checkpoint records); not
    --forget-bias for a cell without a forget gate (a GRU), which would ignore it."""
    args = ["python", "-m", "lstm_core.train"]
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if f.name == "forget_bias" and not zoo.has_forget_gate(config.variant):
            continue
        if f.name == "task_config":
            for k, v in sorted(value.items()):
                args += ["--task-option", f"{k}={','.join(v) if isinstance(v, (list, tuple)) else v}"]
        elif f.name != "snapshot_every":
            args += [f"--{f.name.replace('_', '-')}", str(value)]
    if threads is not None:
        args += ["--threads", str(threads)]
    if out is not None:
        args += ["--out", str(out)]
    return shlex.join(args)


def _parse_option(task_name, text):
    """'key=value' for a task setting, the value converted to the type of the setting's default."""
    key, sep, value = text.partition("=")
    defaults = get_task(task_name).config()
    if not sep or key not in defaults:
        raise ValueError(f"--task-option: expected key=value with key one of {', '.join(defaults)}, "
                         f"got {text!r}")
    kind = type(defaults[key])
    if kind is bool:
        return key, value.lower() in ("1", "true", "yes")
    if kind is list:
        return key, value.split(",")
    try:
        return key, kind(value)
    except ValueError:
        raise ValueError(f"--task-option {key}: expected {kind.__name__}, got {value!r}") from None


def parse_args(argv=None):
    """(TrainConfig, out directory, checkpoint name, threads) from the command line."""
    p = argparse.ArgumentParser(prog="python -m lstm_core.train", description=__doc__.split("\n")[0])
    p.add_argument("--task", required=True, help="one of lstm_core.tasks.TASKS")
    p.add_argument("--variant", default="standard", help="one of lstm_core.zoo.ARCHITECTURES: an LSTM variant or gru")
    for name, kind in (("hidden", int), ("layers", int), ("steps", int), ("batch", int), ("lr", float),
                       ("clip", float), ("forget-bias", float), ("seed", int), ("eval-every", int),
                       ("eval-batch", int)):
        p.add_argument(f"--{name}", type=kind, help="default: the task's train_defaults or TrainConfig's")
    p.add_argument("--task-option", action="append", default=[], metavar="KEY=VALUE",
                   help="a task setting over its default, e.g. length=60 (repeatable)")
    p.add_argument("--out", default=".", help="directory for <name>.safetensors and <name>.json")
    p.add_argument("--name", help="checkpoint name; default <task>-<variant>")
    p.add_argument("--threads", type=int, help=f"torch threads (default: {DEFAULT_THREADS}; 0: torch's own, one "
                   "per core); the last bits of the weights may depend on it")
    a = p.parse_args(argv)
    if a.threads is not None and a.threads < 0:
        p.error(f"--threads: expected 0 (torch's default) or a positive number, got {a.threads}")
    overrides = {k: getattr(a, k) for k in ("hidden", "layers", "steps", "batch", "lr", "clip",
                                             "forget_bias", "seed", "eval_every", "eval_batch")}
    try:
        task_config = dict(_parse_option(a.task, o) for o in a.task_option)
        config = TrainConfig.for_task(a.task, a.variant, task_config=task_config, **overrides)
        check_config(config)
    except ValueError as e:
        p.error(str(e))
    return config, a.out, a.name or f"{a.task}-{a.variant}", a.threads


def main(argv=None):
    config, out, name, threads = parse_args(argv)
    threads = DEFAULT_THREADS if threads is None else threads
    if threads:
        torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)  # a process of its own: the global flag is ours to set

    def show(p):
        if p.metric is not None:
            loss = "-" if p.loss is None else f"{p.loss:.4f}"
            print(f"step {p.step:5d}/{p.steps}  loss {loss}  metric {p.metric:.4f}  {p.seconds:6.1f}s", flush=True)

    result = train(config, callback=show)
    command = command_line(config, out, threads)
    weights, sidecar = save_checkpoint(f"{out}/{name}", result.model, result.meta(command))
    print(f"{result.task.metric_name} {result.metric:.4f} (baseline {result.baseline:.4f}) after "
          f"{result.steps_done} steps in {result.seconds:.1f}s -> {weights} and {sidecar.name}")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
