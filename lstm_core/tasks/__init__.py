"""Demo tasks: sequences generated from a seed, each knowing the signal a good unit should track.

    task = TASKS["recall"]()                 # the default configuration; fields are settings
    s = task.sample(batch=8, seed=0)         # s.x (T, B, I), s.y, s.mask (T, B), s.latents
    task.metric(pred, s), task.baseline(s)   # pred (T, B, O) from a model's readout

Tasks are frozen dataclasses (`Task` in `lstm_core.tasks.base`); `TaskModel` is an
lstm_core.LSTM with a linear readout, what `lstm_core.train` trains.
"""
from .base import SPLITS, Sample, Task
from .charlm import CharLM
from .model import TaskModel
from .synthetic import Adding, Dyck, Recall, Sine

TASKS = {t.name: t for t in (Recall, Dyck, Adding, Sine, CharLM)}


def get_task(name, config=None):
    """The task registered under `name`, with the settings in `config` (a dict) over its defaults."""
    if name not in TASKS:
        raise ValueError(f"task: unknown name {name!r}; expected one of {', '.join(TASKS)}")
    cls = TASKS[name]
    config = dict(config or {})
    known = set(cls.__dataclass_fields__)
    unknown = sorted(set(config) - known)
    if unknown:
        raise ValueError(f"task {name!r}: unknown setting(s) {', '.join(unknown)}; "
                         f"expected some of {', '.join(sorted(known))}")
    return cls(**config)


__all__ = ["TASKS", "get_task", "Task", "Sample", "SPLITS", "TaskModel",
           "Recall", "Dyck", "Adding", "Sine", "CharLM"]
