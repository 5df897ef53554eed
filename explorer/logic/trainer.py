"""Training in a background thread, for the Training page: start it, watch it, stop it, keep snapshots.

    run = trainer.start(TrainConfig.for_task("recall", "coupled"))
    v = run.view()          # a consistent copy: status, step, losses, metrics, snapshots
    run.request_stop()      # the step that sees it is the last, evaluated and snapshot
    run.join()
    run.model_at(step)      # a TaskModel holding the weights kept at that step

`lstm_core.train.train` does the work; this module runs it beside the page and bounds what
it may cost (settings.TRAIN_LIMITS): the sizes, a wall-clock limit, how many runs one server
process trains at once, and a run whose session has been gone for a while stops itself (a
closed tab must not keep a shared classroom machine busy). Pure Python and torch, no
streamlit: the page passes `alive`, a function that says whether its session is still there.
"""
import secrets
import threading
import time
import weakref
from dataclasses import dataclass, replace

from lstm_core.train import EVAL_SEED, check_config, load_snapshot, train

from .errors import AppError
from .settings import TRAIN_LIMITS

_lock = threading.Lock()
_running = 0  # runs training now in this process, over every session
_runs = weakref.WeakValueDictionary()  # run id -> Run, while a session holds it


class TrainError(AppError):
    """A run that may not start: its message says which limit and what to change."""


@dataclass(frozen=True)
class RunView:
    """A copy of a run's state at one moment, for a page to draw without racing the thread."""

    status: str  # "running", "done", "stopped" or "failed"
    step: int  # optimiser steps done
    steps: int  # planned
    seconds: float  # since training started
    losses: list  # (step, training loss)
    metrics: list  # (step, eval metric)
    snapshots: list  # (step, state dict), the weights kept along the way
    reason: str  # why it stopped early ("" if it did not)
    error: str  # what went wrong ("" if nothing)

    @property
    def active(self):
        return self.status == "running"

    @property
    def steps_per_second(self):
        return self.step / self.seconds if self.seconds > 0 else 0.0


class Run:
    """One training run in its own thread; create it with `start`."""

    def __init__(self, config, alive=None, limits=TRAIN_LIMITS):
        self.id = f"{config.task}-{config.variant}-h{config.hidden}-{secrets.token_hex(3)}"
        self.config = config
        self.limits = limits
        self.baseline = None  # the task's trivial predictor on the eval batch, set as the run starts
        self.result = None  # lstm_core.train.TrainResult once finished
        self._alive = alive
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._losses, self._metrics, self._snapshots, self._times = [], [], [], {}
        self._step, self._seconds = 0, 0.0
        self._status, self._reason, self._error = "running", "", ""
        self._models = {}  # step -> TaskModel, built on demand
        self._seen = self._checked = time.monotonic()
        self.thread = threading.Thread(target=self._main, name=f"train-{self.id}", daemon=True)

    # --- the page's side ---------------------------------------------------------------------

    def view(self):
        with self._lock:
            return RunView(self._status, self._step, self.config.steps, self._seconds, list(self._losses),
                           list(self._metrics), list(self._snapshots), self._reason, self._error)

    def request_stop(self, reason="stopped from the page"):
        with self._lock:
            if self._status == "running" and not self._reason:
                self._reason = reason
        self._stop.set()

    def join(self, timeout=None):
        self.thread.join(timeout)
        return not self.thread.is_alive()

    def seconds_at(self, step):
        return self._times.get(step, 0.0)

    def model_at(self, step):
        """The TaskModel with the weights kept at `step` (eval mode); KeyError if none was kept."""
        if step not in self._models:
            state = dict(self.view().snapshots)[step]
            self._models[step] = load_snapshot(self.config, state)
        return self._models[step]

    # --- the thread's side -------------------------------------------------------------------

    def _main(self):
        global _running
        try:
            task = check_config(self.config)
            self.baseline = task.baseline(task.sample(self.config.eval_batch, EVAL_SEED, split="eval"))
            self.result = train(self.config, callback=self._progress, stop=self._stop)
            with self._lock:
                self._status = "stopped" if self.result.stopped else "done"
        except Exception as e:  # noqa: BLE001 - anything the run raises is shown on the page, not lost
            with self._lock:
                self._status, self._error = "failed", f"{type(e).__name__}: {e}"
        finally:
            with _lock:
                _running -= 1

    def _progress(self, p):
        with self._lock:
            self._step, self._seconds = p.step, p.seconds
            if p.loss is not None:
                self._losses.append((p.step, p.loss))
            if p.metric is not None:
                self._metrics.append((p.step, p.metric))
            if p.snapshot is not None:
                self._snapshots.append((p.step, p.snapshot))
                self._times[p.step] = p.seconds
        if p.seconds > self.limits.max_seconds:
            self.request_stop(f"the page's time limit of {self.limits.max_seconds:.0f} s")
        now = time.monotonic()
        if self._alive is not None and now - self._checked >= 1.0:  # cheap, but not every step
            self._checked = now
            if self._alive():
                self._seen = now
            elif now - self._seen > self.limits.grace_seconds:
                self.request_stop("the page was closed")


def check(config, limits=TRAIN_LIMITS):
    """TrainError (or lstm_core's ValueError) if config may not train here; returns its task."""
    task = check_config(config)
    if config.hidden > limits.max_hidden:
        raise TrainError(f"hidden size {config.hidden} is over this page's limit of {limits.max_hidden}")
    if config.steps > limits.max_steps:
        raise TrainError(f"{config.steps:,} steps is over this page's limit of {limits.max_steps:,}")
    return task


def start(config, alive=None, limits=TRAIN_LIMITS):
    """A Run of config, started in its own thread; TrainError if a limit says no.

    Keeps `limits.snapshots` copies of the weights along the way (config.snapshot_every is
    set from it when 0). alive: a function, True while the page's session is there.
    """
    global _running
    check(config, limits)
    if not config.snapshot_every:
        config = replace(config, snapshot_every=max(1, config.steps // limits.snapshots))
    with _lock:
        if _running >= limits.max_runs:
            raise TrainError(f"{_running} training run(s) are already going on this server, its limit "
                             f"(LSTM_EXPLORER_TRAININGS={limits.max_runs}): try again when one has finished")
        _running += 1
    run = Run(config, alive, limits)
    _runs[run.id] = run
    try:
        run.thread.start()
    except RuntimeError:
        with _lock:
            _running -= 1
        raise
    return run


def lookup(run_id):
    """The Run of that id while some session still holds it, else None."""
    return _runs.get(run_id)


def running():
    """How many runs are training in this process now."""
    return _running
