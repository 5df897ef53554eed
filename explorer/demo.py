"""The built-in defaults: what the app opens on, and a hand-wired model whose gates do something.

The app opens on a model trained on a demo task (issue 5): `DEFAULT_SOURCE`,
`DEFAULT_SHIPPED` ("<task>-<variant>" of assets/models) and `DEFAULT_INPUT_KIND` choose it;
the remember-and-recall model of the coupled cell shows the textbook gates (input gate
open at the store marker, forget gate near 1 while holding, output gate open at the cue),
and the caption on the first page names the unit that does it. `build` makes every model
the sidebar can describe: shipped and trained ones through task_models.py, the others here.

`DEFAULT_MODEL` and `DEFAULT_INPUT` are the defaults of the controls of a model built here
and of the generated inputs. Source "demo" is a random model (PyTorch's initialisation,
forget bias 1) whose first three units of layer 0 are wired by hand to read the
remember-and-recall input (channels value v, store marker s, recall cue r, see signals.py),
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
"""
import torch

import lstm_core

from . import task_models
from .settings import SOURCES, TASK_SOURCES, InputSettings, ModelSettings

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
ROLES = {0: "memory", 1: "counter", 2: "tracker"}


def build(settings):
    """The lstm_core.LSTM that `settings` (ModelSettings) describes, on its device."""
    if settings.source in TASK_SOURCES:
        return task_models.build(settings)
    if settings.source not in ("demo", "random"):
        raise ValueError(f"source: expected one of {', '.join(SOURCES)}, got {settings.source!r}")
    model = lstm_core.LSTM(**settings.lstm_kwargs())
    if settings.source == "demo" and settings.input_size >= 3:  # fewer inputs: random only (app says so)
        wire(model)
    return model.eval()


@torch.no_grad()
def wire(model, wiring=WIRING):
    """Overwrite the units of `wiring` in layer 0 (every direction), in place.

    Needs input_size >= 3 (value, store, recall come first); units beyond the hidden
    size are skipped. Only the gates the variant has parameters for are wired; the
    units' peephole and gate-recurrence weights are zeroed so they read only the input.
    """
    if model.input_size < 3:
        raise ValueError(f"the demo units read 3 input channels (value, store, recall); "
                         f"input_size is {model.input_size}")
    H = model.hidden_size
    for d in range(model.num_directions):
        w = model.layer_weights(0, d)
        for unit, gates in wiring.items():
            if unit >= H:
                continue
            for j, k in enumerate(model.cell.gates):
                row = j * H + unit
                wv, ws, wr, b = gates[k]
                w.w_ih[row].zero_()
                w.w_ih[row, :3] = torch.tensor([wv, ws, wr], dtype=w.w_ih.dtype)
                w.w_hh[row].zero_()
                if w.b_ih is not None:
                    w.b_ih[row], w.b_hh[row] = b, 0.0
            if w.w_peep is not None:
                w.w_peep[:, unit] = 0.0
            if w.w_gg is not None:
                w.w_gg[[unit, H + unit, 2 * H + unit]] = 0.0  # rows i, f, o of the unit
    return model
