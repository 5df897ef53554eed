"""What the user chose, as frozen dataclasses, and the limits that keep the machine alive.

The settings are plain values so that they are cache keys (cache.py) and so that
every pure module can be tested without Streamlit. `Limits` are checked before
anything is allocated: the trace's memory is estimated from the sizes
(`lstm_core.trace.estimate_bytes`) and refused above a budget with a message,
instead of freezing a shared classroom machine.
"""
import os
from dataclasses import asdict, dataclass, field

import torch

from lstm_core import zoo
from lstm_core.trace import estimate_bytes

from .errors import AppError

DTYPES = {"float32": torch.float32, "float64": torch.float64}
# Where the model's weights come from: a checkpoint of assets/models trained on a demo task,
# a model trained on the Training page in this session, the hand-wired demo (logic/models.py), or an init.
SOURCES = ("shipped", "trained", "demo", "random")
TASK_SOURCES = ("shipped", "trained")  # models that know their task (ModelSettings.checkpoint)


class LimitError(AppError):
    """A size the app refuses to run: the message says which and what the limit is."""

    title = "Too big for this app"


@dataclass(frozen=True)
class Limits:
    """Upper bounds on what one view may ask for."""

    max_steps: int = 200_000  # T of an input; 100,000 must stay responsive (issue 4)
    max_batch: int = 64  # B
    max_features: int = 512  # I
    max_hidden: int = 1024  # H
    max_layers: int = 8  # L
    # bytes of one trace; LSTM_EXPLORER_TRACE_BUDGET_MB overrides (2 cores, 24 GiB shared by 4 people)
    trace_budget: int = field(default_factory=lambda: int(
        float(os.environ.get("LSTM_EXPLORER_TRACE_BUDGET_MB", 512)) * 2**20))
    max_upload_rows: int = 200_000  # rows of a CSV/NPY upload, = max_steps


LIMITS = Limits()


def cpu_only_reason():
    """Why this machine offers no GPU, for a device list of the CPU alone (issue 21: a "device"
    select with one option said nothing of why)."""
    if torch.version.cuda is None and getattr(torch.version, "hip", None) is None:
        return f"this PyTorch ({torch.__version__}) is built without CUDA"
    return f"this PyTorch ({torch.__version__}) has CUDA but finds no GPU (none in this machine, or no driver)"


@dataclass(frozen=True)
class TrainLimits:
    """What one training run on the Training page may cost (explorer/logic/trainer.py)."""

    max_hidden: int = 256  # H; the char model ships with 128
    max_steps: int = 10_000  # optimiser steps; the shipped models took 2000-3000
    max_seconds: float = 600.0  # a run stops itself after this long (a forgotten tab on a shared machine)
    # runs at once in this server process, over all sessions: each takes a core while it runs
    max_runs: int = field(default_factory=lambda: int(os.environ.get("LSTM_EXPLORER_TRAININGS", 2)))
    snapshots: int = 20  # copies of the weights kept along a run, for the slider over steps
    # MiB all copies of one run may take: fewer copies for a big model. A session keeps 3 runs
    # (views/train/training.py), so 50 students hold at most ~1.2 GiB of weights (issue 12; at
    # H=256 a copy is 1.0-1.4 MiB, 20 of them 28 MiB a run, 84 MiB a session without this cap).
    snapshot_mib: float = 8.0
    grace_seconds: float = 30.0  # a run whose session is gone this long stops (reconnects are quicker)


TRAIN_LIMITS = TrainLimits()


@dataclass(frozen=True)
class ModelSettings:
    """The model: lstm_core.zoo.build's arguments (an LSTM's or a GRU's), plus where the weights come from."""

    source: str = "demo"  # one of SOURCES; "demo": random init + a hand-wired memory unit (logic/models.wire)
    variant: str = "standard"  # one of lstm_core.zoo.ARCHITECTURES: an LSTM variant or "gru"
    input_size: int = 3  # I
    hidden_size: int = 8  # H: 8 rows per panel read well on a projector
    num_layers: int = 1  # L
    bidirectional: bool = False  # D = 2 if True
    proj_size: int = 0  # P if > 0; an LSTM's only
    init: str = "pytorch"  # one of lstm_core.INITS
    forget_bias: float | None = 1.0  # b_f (Gers et al. 2000); None: leave the init's
    seed: int = 0  # makes the initialisation reproducible
    device: str = "cpu"  # one of lstm_core.available_devices()
    dtype: str = "float32"  # key of DTYPES
    # source "shipped": "<task>-<variant>", a checkpoint of assets/models; source "trained":
    # "<run id>@<step>", a run of explorer/logic/trainer.py. The sizes above are then the checkpoint's.
    checkpoint: str = ""

    def model_kwargs(self):
        """Keyword arguments for lstm_core.zoo.build; forget_bias dropped where there is no forget
        gate (the no-forget-gate variant, the GRU: shown as a note). ValueError for a projection on
        a cell without one."""
        kw = asdict(self)
        kw.pop("source")
        kw.pop("checkpoint")
        kw["architecture"] = kw.pop("variant")
        kw["dtype"] = DTYPES[kw["dtype"]]
        if not zoo.has_forget_gate(self.variant):  # also checks the name
            kw["forget_bias"] = None
        if self.variant not in zoo.VARIANTS:  # only the LSTM takes proj_size
            if kw.pop("proj_size"):
                raise ValueError(f"projection P: a {self.declaration.title} has no projection; set P to 0, "
                                 f"or choose an LSTM variant")
        return kw

    @property
    def declaration(self):
        """The cell's lstm_core.cells.Declaration: its title, fields and equations."""
        return zoo.declaration(self.variant)

    @property
    def num_directions(self):
        return 2 if self.bidirectional else 1


@dataclass(frozen=True)
class InputSettings:
    """The input sequence(s): a generator and its parameters, typed text, or an upload."""

    kind: str = "recall"  # a name in signals.GENERATORS, "text", "upload" or "task"
    steps: int = 120  # T for generators
    batch: int = 4  # B for generators
    vary_lengths: bool = False  # shorter sequences padded at the end, to show padding blank
    seed: int = 0  # of the generator's randomness
    params: tuple = ()  # the generator's own parameters, as sorted (name, value) pairs
    text: str = ""  # kind "text": one sequence per line
    vocab: str = ""  # kind "text": the characters of the one-hot code, in order
    upload_name: str = ""  # kind "upload": the file's name (decides CSV or NPY)
    upload_digest: str = ""  # kind "upload": identifies the bytes in the caches
    task: str = ""  # kind "task": a name in lstm_core.tasks.TASKS; a sample of `batch` from `seed`
    task_config: tuple = ()  # kind "task": its settings as sorted (name, value) pairs, lists as tuples

    def param_dict(self):
        return dict(self.params)

    def task_dict(self):
        """task_config as the dict `lstm_core.tasks.get_task` takes."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.task_config}


@dataclass(frozen=True)
class ViewSettings:
    """Which slice of the trace the views show."""

    layer: int = 0  # l
    direction: int = 0  # 0 forward, 1 reverse
    sequence: int = 0  # b
    gates: tuple = ("i", "f", "g", "o", "c", "h")  # panels of the heatmap figure, top to bottom
    window: tuple = (0, None)  # first and last step shown (None: the end)
    exact_hover: bool = False  # float heatmaps (exact hover) even above the image threshold
    columns: int = 1200  # screen columns a heatmap is reduced to (downsample.py)


def check_sizes(model, steps, batch, limits=LIMITS):
    """LimitError if a model of `model` (ModelSettings) on (steps, batch) input is over a limit.

    The trace holds every field the cell declares (an LSTM's 4 gates and c, a GRU's r, z, n) of H
    features and h of P features, per layer, direction, step and sequence; its bytes, and the
    input's, are estimated before anything is generated or run. Returns the estimate in bytes.
    """
    for name, value, top in (("sequence length", steps, limits.max_steps),
                             ("batch size", batch, limits.max_batch),
                             ("input size", model.input_size, limits.max_features),
                             ("hidden size", model.hidden_size, limits.max_hidden),
                             ("layers", model.num_layers, limits.max_layers)):
        if value > top:
            raise LimitError(f"{name} {value:,} is over this app's limit of {top:,}")
    need = estimate_bytes(steps, batch, model.hidden_size, model.proj_size, model.num_layers,
                          model.num_directions, DTYPES[model.dtype], declaration=model.declaration)
    need += steps * batch * model.input_size * 4  # the input x, float32, made before the run
    if need > limits.trace_budget:
        raise LimitError(f"this trace would need {need / 2**20:,.0f} MiB (T={steps:,}, B={batch}, "
                         f"H={model.hidden_size}, {model.num_layers} layer(s) x {model.num_directions} "
                         f"direction(s)), over the budget of {limits.trace_budget / 2**20:,.0f} MiB: "
                         f"shorten the input, use fewer sequences, units or layers "
                         f"(LSTM_EXPLORER_TRACE_BUDGET_MB raises the budget)")
    return need
