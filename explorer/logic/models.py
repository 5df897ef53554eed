"""The models every page can show: shipped and trained task models, and the hand-wired demo.

Two model sources were trained on a demo task of `lstm_core.tasks`:
    "shipped"  a checkpoint of assets/models (`lstm_core.io.checkpoint`), named "<task>-<variant>"
    "trained"  a run of the Training page (explorer/logic/trainer.py), named "<run id>@<step>"
For either, `describe` reads what the model is (its task, sizes and how well it did) without
building it, `settings_for` turns that into the ModelSettings the caches key on, and
`build_trained` returns the `lstm_core.LSTM` or `lstm_core.GRU` every view reads. `to_signal` turns a
task's `Sample` into the `inputs.Signal` the views draw (as Sequences, inputs.to_sequences), so every page works on it unchanged.

Pure (torch, numpy): no streamlit here. Problems are `ModelError`s whose message says what is
missing and how to get it, never a traceback.

The built-in defaults: what the app opens on, and a hand-wired model whose gates do something.

The app opens on a model trained on a demo task (issue 5): `DEFAULT_SOURCE`,
`DEFAULT_SHIPPED` ("<task>-<variant>" of assets/models) and `DEFAULT_INPUT_KIND` choose it;
the remember-and-recall model of the coupled cell shows the textbook gates (input gate
open at the store marker, forget gate near 1 while holding, output gate open at the cue),
and the caption on the first page names the unit that does it. `build` makes every model
the sidebar can describe: shipped and trained ones through `build_trained`, the others by wiring.

`DEFAULT_MODEL` and `DEFAULT_INPUT` are the defaults of the controls of a model built here
and of the generated inputs. Source "demo" is a random model (PyTorch's initialisation,
forget bias 1) whose first three units of layer 0 are wired by hand to read the
remember-and-recall input (channels value v, store marker s, recall cue r, see inputs.py),
each a textbook behaviour:

    unit 0, memory:  i = σ(16 s - 8)   opens only at the store marker (σ(-8) = 0.0003)
                     f = σ(7 - 14 s)   keeps (f ≈ 0.999) except at the marker, where it clears
                     g = tanh(2 v)     the candidate is the value
                     o = σ(16 r - 8)   opens only at the recall cue, when h shows the value
    unit 1, counter: i = σ(16 r - 8), f = σ(7), g = tanh(0.25), o = σ(5):
                     c grows by 0.245 at every recall cue and never forgets
    unit 2, tracker: i = σ(5), f = σ(-5), g = tanh(2 v), o = σ(5):
                     c follows the value with no memory (f ≈ 0.007)

The wired units ignore h_{t-1} (their rows of W_hh are zero). Wiring only the
gates a variant has makes the ablations visible on the same input: coupled
(i = 1 - f) still stores but no longer counts, no_input_gate writes every value,
no_forget_gate never clears, no_output_gate shows the memory all the time. The
random units stay near 0.5, as gates of an untrained network do.

A GRU (variant "gru": h' = (1 − z) ⊙ n + z ⊙ h_{t-1}, z the fraction KEPT) is wired with
the gates it has, to the same roles (GRU_WIRING):

    unit 0, memory:  z = σ(7 - 14 s)   keeps h (z ≈ 0.999) except at the store marker, where
                                       z = σ(-7) ≈ 0.001 writes n over it
                     n = tanh(2 v)     the candidate is the value: h holds tanh(2 v) of the marked step
    unit 1, counter: z = σ(8 - 7 r), n = tanh(5): at every recall cue h moves 27% of the way to 1
                     (0.28, 0.48, 0.62, ...): it counts, each cue a smaller step
    unit 2, tracker: z = σ(-5), n = tanh(2 v): h follows the value with no memory (z ≈ 0.007)
    r = σ(5) in all three; their n reads no h_{t-1} (zero rows of W_hh and b_hh), so r changes nothing.

A GRU has no output gate: its memory h is also its output, shown at every step, not only
at the recall cue.
"""
from dataclasses import dataclass

import numpy as np
import torch

from lstm_core import zoo
from lstm_core.io.checkpoint import SHIPPED_VARIANTS, load_checkpoint, read_meta, shipped_checkpoint
from lstm_core.tasks import TASKS, get_task

from . import trainer
from .errors import AppError
from .inputs import InputError, Signal
from .settings import DTYPES, SOURCES, TASK_SOURCES, InputSettings, ModelSettings

# The input channels of each task, in order (lstm_core/tasks); the char model's come from its vocabulary.
FEATURES = {"recall": ("value", "store", "recall"), "adding": ("value", "marker"), "sine": ("value",)}
SHOWN = {"\n": "↵", "\x00": "·"}  # how a newline and the unknown symbol show in tick labels
MAX_LENGTH = 2000  # steps of a task sample in the app: the char task's eval text holds ~60,000 characters
# How to read each task's input row on the heatmap page, for someone who has not read the code.
INPUT_NOTES = {
    "recall": "The input: a random value at every step; at the **store** marker the value to remember; "
              "at the **recall** cue the model must say it (and 0 everywhere else).",
    "dyck": "The input: a string of brackets, one per step (the characters above the panels); the model "
            "says how deeply nested it is after each.",
    "adding": "The input: a random value at every step and a **marker** on two of them; at the last step the "
              "model says the sum of the two marked values.",
    "sine": "The input: a noisy mix of a fast wave (period 8) and a slow one (period 25); at every step the "
            "model predicts the next value.",
    "charlm": "The input: Python source from the standard library, one character per step (above the "
              "panels); the model predicts the next character. The **Text view** page colours the text by "
              "one unit.",
}


class ModelError(AppError):
    """A model that cannot be had (a missing checkpoint, a run no longer in memory): says which and why."""

    title = "Model problem"


@dataclass(frozen=True)
class ModelInfo:
    """What a model trained on a task is, read from its checkpoint's sidecar or its run."""

    source: str  # "shipped" or "trained"
    checkpoint: str  # ModelSettings.checkpoint: "<task>-<variant>" or "<run id>@<step>"
    task: str  # a key of lstm_core.tasks.TASKS
    task_config: tuple  # the task's settings it was trained on, sorted (name, value) pairs
    variant: str  # a name of lstm_core.zoo.ARCHITECTURES: an LSTM variant or "gru"
    input_size: int  # I
    hidden_size: int  # H
    num_layers: int  # L
    steps: int  # optimiser steps it was trained for
    seconds: float  # training time
    metric_name: str
    metric: float | None  # on the eval batch (split "eval", seed 0); None mid-training
    baseline: float | None  # the task's trivial predictor on the same batch
    higher_is_better: bool

    @property
    def title(self):
        return TASKS[self.task].title

    def summary(self):
        """One line: the model ("coupled LSTM", "GRU"), sizes, training and how well it did against the baseline."""
        s = f"{model_name(self.variant)}, H={self.hidden_size}, {self.num_layers} layer(s); trained {self.steps:,} steps"
        if self.metric is not None:
            s += f": {self.metric_name} {format_metric(self.metric_name, self.metric)}"
            if self.baseline is not None:
                s += f" (baseline {format_metric(self.metric_name, self.baseline)})"
        return s


def format_metric(name, value):
    """A task's metric for people: an accuracy in percent, anything else to 3 significant digits."""
    return f"{100 * value:.1f}%" if "accuracy" in name else f"{value:.3g}"


def task_line(name):
    """The first line of a task's docstring: what its model does, for a caption."""
    return " ".join((TASKS[name].__doc__ or TASKS[name].title).strip().split("\n\n")[0].split())


def latent_note(task):
    """The "Latents:" paragraph of a task's docstring, what each latent signal is, or ""."""
    if task.name == "charlm":  # its docstring points at the scanner's
        return ("Latents: in_string (1 inside a string literal), in_comment (1 from # to the end of the "
                "line), indent (spaces that open the line), line_position (characters since the newline), "
                "bracket_depth (brackets opened and not closed).")
    doc = type(task).__doc__ or ""
    at = doc.find("Latents:")
    if at < 0:
        return ""
    return " ".join(doc[at:].split("\n\n")[0].split())


def freeze(config):
    """A task config dict as sorted (name, value) pairs, lists as tuples: hashable, a cache key."""
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in config.items()))


def shipped_names():
    """Every "<task>-<variant>" the app offers as shipped, whether or not its files are here."""
    return tuple(f"{t}-{v}" for t in TASKS for v in SHIPPED_VARIANTS)


def model_name(variant):
    """The model's name on the pages: "coupled LSTM" for an LSTM variant, as the pages always said;
    the declaration's title for another cell ("GRU", never "gru LSTM")."""
    d = zoo.declaration(variant)
    return f"{variant} {d.title.partition(' ')[0]}" if d.family == "lstm" else d.title


def without_forget_gate(variant):
    """Why a forget bias does nothing for `variant`, or None where it has a forget gate:
    "this variant has no forget gate (f = 1)", "a GRU has no forget gate"."""
    if zoo.has_forget_gate(variant):
        return None
    d = zoo.declaration(variant)
    return "this variant has no forget gate (f = 1)" if d.family == "lstm" else f"a {d.title} has no forget gate"


def model_line(ms):
    """"coupled LSTM, I=3, H=8, 2 layer(s), bidirectional" for ModelSettings `ms`, under a figure."""
    return (f"{model_name(ms.variant)}, I={ms.input_size}, H={ms.hidden_size}, {ms.num_layers} layer(s)"
            f"{', bidirectional' if ms.bidirectional else ''}")


def describe(source, checkpoint):
    """The ModelInfo of a shipped checkpoint or a trained run; ModelError if it cannot be had."""
    if source == "shipped":
        return _describe_shipped(checkpoint)
    if source == "trained":
        run, step = _run_and_step(checkpoint)
        c = run.config
        metric = next((m for s, m in reversed(run.view().metrics) if s <= step), None)  # latest by then
        return ModelInfo("trained", checkpoint, c.task, freeze(get_task(c.task, c.task_config).config()),
                         c.variant, get_task(c.task, c.task_config).input_size, c.hidden, c.layers, step,
                         run.seconds_at(step), TASKS[c.task].metric_name, metric, run.baseline,
                         TASKS[c.task].higher_is_better)
    raise ModelError(f"source {source!r} has no task; expected 'shipped' or 'trained'")


def _describe_shipped(name):
    task, _, variant = name.partition("-")
    if task not in TASKS or variant not in SHIPPED_VARIANTS:
        raise ModelError(f"no shipped model is named {name!r}: the app ships one for every task "
                         f"({', '.join(TASKS)}) with the variants {', '.join(SHIPPED_VARIANTS)}")
    path = shipped_checkpoint(task, variant)
    try:
        meta = read_meta(path)
    except FileNotFoundError:
        raise ModelError(_missing(task, variant, path)) from None
    except ValueError as e:
        raise ModelError(f"the shipped model {name} could not be read: {e}") from None
    m, metric, training = meta["model"], meta.get("metric", {}), meta.get("training", {})
    return ModelInfo("shipped", name, meta["task"], freeze(get_task(meta["task"], meta.get("task_config")).config()),
                     m["variant"], m["input_size"], m["hidden_size"], m["num_layers"],
                     int(training.get("steps", 0)), float(training.get("seconds", 0.0)),
                     metric.get("name", TASKS[task].metric_name), metric.get("value"), metric.get("baseline"),
                     bool(metric.get("higher_is_better", TASKS[task].higher_is_better)))


def _missing(task, variant, path):
    return (f"no shipped model for {task} / {variant}: {path}.safetensors and .json are not there "
            f"(a copy of the app without assets/models?). Regenerate it with `python -m lstm_core.train "
            f"--task {task} --variant {variant} --out assets/models`, or train one on the Training page")


def _run_and_step(checkpoint):
    run_id, _, step = checkpoint.partition("@")
    run = trainer.lookup(run_id)
    if run is None:
        raise ModelError(f"the model {run_id!r} was trained in another session, or this session's "
                         f"runs were cleared: train one on the Training page")
    steps = [s for s, _ in run.view().snapshots]
    if not (step.isascii() and step.isdecimal() and len(step) < 10) or int(step) not in steps:  # '²' passes isdigit
        raise ModelError(f"run {run_id} kept no weights at step {step!r}; it kept steps "
                         f"{', '.join(map(str, steps)) or 'none yet'}")
    return run, int(step)


def task_of(ms):
    """The task name a model was trained on (ModelSettings `ms`), or None for one built at random."""
    if ms.source == "shipped":
        return ms.checkpoint.partition("-")[0]
    if ms.source == "trained":
        run = trainer.lookup(ms.checkpoint.partition("@")[0])
        return run.config.task if run is not None else None
    return None


def settings_for(info, device="cpu", dtype="float32"):
    """The ModelSettings of a model that knows its task: its own sizes, named by its checkpoint."""
    return ModelSettings(info.source, info.variant, info.input_size, info.hidden_size, info.num_layers,
                         checkpoint=info.checkpoint, device=device, dtype=dtype)


def build_trained(ms):
    """The `lstm_core.LSTM` or `GRU` of a shipped or trained model (ModelSettings `ms`), in eval mode."""
    if ms.source == "shipped":
        task, _, variant = ms.checkpoint.partition("-")
        path = shipped_checkpoint(task, variant)
        try:
            model, _ = load_checkpoint(path)
        except FileNotFoundError:
            raise ModelError(_missing(task, variant, path)) from None
        except ValueError as e:
            raise ModelError(f"the shipped model {ms.checkpoint} could not be loaded: {e}") from None
    elif ms.source == "trained":
        run, step = _run_and_step(ms.checkpoint)
        model = run.model_at(step)
    else:
        raise ModelError(f"source {ms.source!r} has no checkpoint; expected 'shipped' or 'trained'")
    return model.lstm.to(device=ms.device, dtype=DTYPES[ms.dtype]).eval()


def sample(spec):
    """The `lstm_core.tasks.Sample` of an InputSettings of kind "task" (split "eval", spec.seed)."""
    task = make_task(spec)
    try:
        return task.sample(spec.batch, spec.seed, split="eval")
    except (ValueError, RuntimeError) as e:
        raise InputError(f"{task.name}: could not draw a sample of {spec.steps:,} steps: {e}") from None


def make_task(spec):
    """The task of an InputSettings of kind "task"; InputError for settings it refuses."""
    if spec.task not in TASKS:
        raise InputError(f"task: expected one of {', '.join(TASKS)}, got {spec.task!r}")
    try:
        return get_task(spec.task, spec.task_dict())
    except (TypeError, ValueError) as e:
        raise InputError(f"{spec.task}: {e}") from None


def to_signal(s, task):
    """A task's Sample as the Signal the views draw: x (T, B, I), the channels' names and,
    for a task with a vocabulary, the symbol read at each step as its label."""
    x = s.x.numpy().astype(np.float32)  # (T, B, I)
    T, B, I = x.shape
    labels = None
    if task.vocabulary is not None and s.tokens is not None:
        shown = np.array([SHOWN.get(ch, ch) for ch in task.vocabulary], dtype=object)
        labels = shown[s.tokens.numpy()].astype(str)  # (T, B)
    names = FEATURES.get(task.name) or (tuple(repr(ch) for ch in task.vocabulary) if task.vocabulary else
                                        tuple(f"x{k}" for k in range(I)))
    return Signal(x, np.full(B, T, np.int64), names, labels,
                  f"{task.title}: {B} sample(s) of {T:,} steps (split 'eval')")


def text_of(s, task, b):
    """The characters sequence b reads, one per step, for the text view: the char model's own
    text, the task's symbols (the brackets of Dyck), or None for a task without symbols."""
    if s.text is not None:
        return s.text[b]
    if task.vocabulary is not None and s.tokens is not None:
        return "".join(task.vocabulary[int(k)] for k in s.tokens[:, b])
    return None


# --- the built-in defaults and the hand-wired demo model ---------------------------------------


DEFAULT_SOURCE = "shipped"  # what the app opens on: one of settings.SOURCES
DEFAULT_SHIPPED = ("recall", "coupled")  # task and variant of the shipped model it opens on
DEFAULT_INPUT_KIND = "task"  # a sample of the model's task
DEFAULT_MODEL = ModelSettings()  # source "demo", standard, I = 3, H = 8, pytorch init, forget bias 1
DEFAULT_INPUT = InputSettings()  # remember and recall, T = 120, B = 4

# unit -> gate -> (weight on value, on store, on recall, bias)
WIRING = {
    0: {"i": (0.0, 16.0, 0.0, -8.0), "f": (0.0, -14.0, 0.0, 7.0), "g": (2.0, 0.0, 0.0, 0.0),
        "o": (0.0, 0.0, 16.0, -8.0)},
    1: {"i": (0.0, 0.0, 16.0, -8.0), "f": (0.0, 0.0, 0.0, 7.0), "g": (0.0, 0.0, 0.0, 0.25),
        "o": (0.0, 0.0, 0.0, 5.0)},
    2: {"i": (0.0, 0.0, 0.0, 5.0), "f": (0.0, 0.0, 0.0, -5.0), "g": (2.0, 0.0, 0.0, 0.0),
        "o": (0.0, 0.0, 0.0, 5.0)},
}
# the same roles for a GRU: unit -> gate -> (weight on value, on store, on recall, bias)
GRU_WIRING = {
    0: {"r": (0.0, 0.0, 0.0, 5.0), "z": (0.0, -14.0, 0.0, 7.0), "n": (2.0, 0.0, 0.0, 0.0)},
    1: {"r": (0.0, 0.0, 0.0, 5.0), "z": (0.0, 0.0, -7.0, 8.0), "n": (0.0, 0.0, 0.0, 5.0)},
    2: {"r": (0.0, 0.0, 0.0, 5.0), "z": (0.0, 0.0, 0.0, -5.0), "n": (2.0, 0.0, 0.0, 0.0)},
}
WIRINGS = {"lstm": WIRING, "gru": GRU_WIRING}  # by lstm_core.cells family
ROLES = {0: "memory", 1: "counter", 2: "tracker"}


def build(settings):
    """The lstm_core.LSTM or GRU that `settings` (ModelSettings) describes, on its device."""
    if settings.source in TASK_SOURCES:
        return build_trained(settings)
    if settings.source not in ("demo", "random"):
        raise ValueError(f"source: expected one of {', '.join(SOURCES)}, got {settings.source!r}")
    model = zoo.build(**settings.model_kwargs())
    if settings.source == "demo" and settings.input_size >= 3:  # fewer inputs: random only (app says so)
        wire(model)
    return model.eval()


@torch.no_grad()
def wire(model, wiring=None):
    """Overwrite the units of `wiring` (default: WIRINGS of the model's cell) in layer 0 (every
    direction), in place.

    Needs input_size >= 3 (value, store, recall come first); units beyond the hidden
    size are skipped. Only the gates the variant has parameters for (its weight blocks) are
    wired; the units' peephole and gate-recurrence weights are zeroed so they read only the input.
    """
    if model.input_size < 3:
        raise ValueError(f"the demo units read 3 input channels (value, store, recall); "
                         f"input_size is {model.input_size}")
    declared = model.declaration
    wiring = WIRINGS[declared.family] if wiring is None else wiring
    H = model.hidden_size
    for d in range(model.num_directions):
        w = model.layer_weights(0, d)
        w_ih, w_hh, b_ih, b_hh = _rows(w)
        for unit, gates in wiring.items():
            if unit >= H:
                continue
            for j, k in enumerate(declared.blocks):  # the stacked rows: (W_i|W_f|W_g|W_o), (W_r|W_z|W_n)
                row = j * H + unit
                wv, ws, wr, b = gates[k]
                w_ih[row].zero_()
                w_ih[row, :3] = torch.tensor([wv, ws, wr], dtype=w_ih.dtype)
                w_hh[row].zero_()
                if b_ih is not None:
                    b_ih[row], b_hh[row] = b, 0.0
            if getattr(w, "w_peep", None) is not None:
                w.w_peep[:, unit] = 0.0
            if getattr(w, "w_gg", None) is not None:
                w.w_gg[[unit, H + unit, 2 * H + unit]] = 0.0  # rows i, f, o of the unit
    return model


def _rows(w):
    """(W_ih, W_hh, b_ih, b_hh) of a layer_weights: an LSTM's LayerWeights or a GRU's dict of
    torch.nn.GRU's names."""
    if isinstance(w, dict):
        return w["weight_ih"], w["weight_hh"], w["bias_ih"], w["bias_hh"]
    return w.w_ih, w.w_hh, w.b_ih, w.b_hh
