"""Every cache of the app, keyed on the settings dataclasses, so a control reruns only what it affects.

- models: st.cache_resource (one object per ModelSettings, never copied);
- input signals: st.cache_data (small, pickled per call, safe to change);
- traces: st.cache_resource, because st.cache_data would pickle and copy a trace
  of tens of MB on every rerun; a trace is treated as read-only everywhere;
- figures: st.cache_resource on the settings they depend on, so switching pages or
  moving an unrelated widget does not rebuild them.
An uploaded file enters a cache key through its digest (InputSettings.upload_digest);
its bytes are passed as `_upload`, which Streamlit does not hash. A model trained on the
Training page enters through its run id (ModelSettings.checkpoint), unique in the process.
"""
import numpy as np
import streamlit as st
import torch

from lstm_core import units as unit_finder
from lstm_core.checkpoint import read_meta, shipped_checkpoint
from lstm_core.tasks import get_task
from lstm_core.train import EVAL_SEED
from lstm_core.variants import get_variant

from . import demo, demo_figures, figures, heatmaps, signals, task_models
from .settings import DTYPES, LimitError, ModelSettings, check_sizes

TRACE_ENTRIES = 6  # traces kept; each is under settings.LIMITS.trace_budget


class NoUpload(signals.InputError):
    """The input is an upload and no file is chosen yet: a hint, not an error."""


class MismatchError(ValueError):
    """The input's feature count differs from the model's input size; `fix` offers the file's."""

    def __init__(self, message, fix):
        super().__init__(message)
        self.fix = fix


@st.cache_resource(max_entries=8, show_spinner=False)
def model(ms):
    """The lstm_core.LSTM of ModelSettings `ms` (demo.build)."""
    return demo.build(ms)


def signal(spec, input_size, _upload=None):
    """The signals.Signal of InputSettings `spec`; input_size fills generators of any width."""
    gen = signals.GENERATORS.get(spec.kind)
    scalable = gen is not None and gen.features is None
    return _signal(spec, input_size if scalable else 0, _upload)


@st.cache_data(max_entries=32, show_spinner=False)
def _signal(spec, input_size, _upload=None):
    if spec.kind == "task":
        return task_models.to_signal(task_sample(spec), task_models.make_task(spec))
    if spec.kind == "text":
        return signals.one_hot_text(spec.text, spec.vocab)
    if spec.kind == "upload":
        if _upload is None:
            raise NoUpload("Choose a CSV or NPY file in the sidebar: rows are time steps, columns are features.")
        return signals.parse_upload(spec.upload_name, _upload)
    return signals.generate(spec.kind, spec.steps, spec.batch, input_size, spec.seed, spec.vary_lengths,
                            **spec.param_dict())


def fixed_features(spec, _upload=None):
    """The feature count the input imposes, or None if it fills any input size."""
    if spec.kind in signals.GENERATORS:
        gen = signals.GENERATORS[spec.kind]
        return len(gen.features) if gen.features else None
    if spec.kind == "task":
        return task_models.make_task(spec).input_size
    return signal(spec, 0, _upload).x.shape[2]


def shape(spec, input_size, _upload=None):
    """(T, B) of the input without generating it where the settings say it."""
    if spec.kind in signals.GENERATORS or spec.kind == "task":
        return spec.steps, spec.batch
    return signal(spec, input_size, _upload).x.shape[:2]


@st.cache_resource(max_entries=TRACE_ENTRIES, show_spinner="Running the LSTM and recording every gate…")
def trace(ms, spec, _upload=None):
    """The detached CPU Trace of model `ms` on input `spec`; errors name what to change.

    Raises MismatchError, LimitError, signals.InputError or the engine's ValueError/TypeError.
    """
    check_sizes(ms, *shape(spec, ms.input_size, _upload))  # before a generator allocates anything
    sig = signal(spec, ms.input_size, _upload)
    T, B, I = sig.x.shape
    if I != ms.input_size:
        raise MismatchError(f"the input has {I} feature(s) per step but the model's input size is "
                            f"{ms.input_size}", fix=I)
    m = model(ms)
    x = torch.from_numpy(sig.x).to(device=m.device, dtype=DTYPES[ms.dtype])  # (T, B, I)
    lengths = None if (sig.lengths == T).all() else torch.from_numpy(sig.lengths)
    with torch.no_grad():  # with grad on, the engine takes the slow reference path
        tr = m.trace(x, lengths=lengths)
    return tr.detach()


def _slice(tr, name, view):
    """(U, S) of field `name` for the view's layer, direction, sequence and window, float32."""
    z = tr.get(name, view.layer, view.direction)[:, view.sequence].T  # (U, T)
    start, stop = view.window
    stop = tr.T - 1 if stop is None else min(stop, tr.T - 1)
    return z[:, start:stop + 1].to(torch.float32).numpy(), start


@st.cache_resource(max_entries=8, show_spinner=False)
def task_sample(spec):
    """The lstm_core.tasks.Sample of an input of kind "task" (task_models.sample): latents, text."""
    return task_models.sample(spec)


@st.cache_resource(max_entries=16, show_spinner=False)
def heatmap_figure(ms, spec, view, _upload=None, colorbars="shared", highlight=None):
    """The gate heatmap figure of a view (heatmaps.gate_heatmaps); exports take colorbars="panel".

    highlight: (unit, label) to frame that unit's row in every panel (demo_figures.mark_unit).
    """
    if highlight is not None:
        return demo_figures.mark_unit(heatmap_figure(ms, spec, view, _upload, colorbars), *highlight,
                                      units=ms.hidden_size)
    tr = trace(ms, spec, _upload)
    sig = signal(spec, ms.input_size, _upload)
    fields = {}
    start = 0
    for name in view.gates:
        fields[name], start = _slice(tr, name, view)
    stop = start + next(iter(fields.values())).shape[1] if fields else tr.T
    x = sig.x[start:stop, view.sequence].astype(np.float32)  # (S, I)
    x[~sig.mask[start:stop, view.sequence]] = np.nan  # padding drawn blank
    labels = None if sig.labels is None else sig.labels[start:stop, view.sequence]
    return heatmaps.gate_heatmaps(fields, x, sig.feature_names, start=start, columns=view.columns,
                                  exact=True if view.exact_hover else None, labels=labels,
                                  notes=fixed_notes(ms), colorbars=colorbars)


def fixed_notes(ms):
    """{gate: note} for gates the variant fixes, e.g. f = 1 in no_forget_gate."""
    v = get_variant(ms.variant)
    notes = {k: "fixed at 1 in this variant" for k in "ifo" if k not in v.gates}
    if v.coupled:
        notes["i"] = "= 1 − f in this variant"
    return notes


@st.cache_resource(max_entries=16, show_spinner=False)
def unit_figure(ms, spec, view, units, names=("i", "f", "g", "o", "c", "h"), marker_step=None, _upload=None):
    """Line plots of `units` of the view's layer and direction (figures.unit_traces)."""
    tr = trace(ms, spec, _upload)
    fields, start = {}, 0
    for name in names:
        z, start = _slice(tr, name, view)
        fields[name] = z[list(units)].T  # (S, U)
    return figures.unit_traces(fields, list(units), start=start, columns=view.columns, marker_step=marker_step)


@st.cache_resource(max_entries=8, show_spinner=False)
def saturation_groups(ms, spec, _upload=None):
    """Left/right saturation fractions of i, f, o for every layer and direction."""
    tr = trace(ms, spec, _upload)
    mask = tr.mask.numpy()
    groups = []
    for layer in range(tr.num_layers):
        for d in range(tr.num_directions):
            left, right = {}, {}
            for k in ("i", "f", "o"):
                left[k], right[k] = figures.saturation_fractions(tr.get(k, layer, d).numpy(), mask)
            groups.append(dict(layer=layer, direction=d, left=left, right=right))
    return groups


@st.cache_resource(max_entries=16, show_spinner=False)
def cell_figure(ms, spec, view, unit, _upload=None):
    """The cell-update breakdown of one unit (figures.cell_update)."""
    tr = trace(ms, spec, _upload)
    kept, written = tr.cell_parts(view.layer, view.direction)  # (T, B, H) each
    start, stop = view.window
    stop = tr.T - 1 if stop is None else min(stop, tr.T - 1)
    part = lambda a: a[start:stop + 1, view.sequence, unit].to(torch.float32).numpy()  # noqa: E731
    c = tr.get("c", view.layer, view.direction)
    return figures.cell_update(part(c), part(kept), part(written), unit, start=start, columns=view.columns)


# --- models that know their task: captions, the unit finder, training references -------------

def knows_task(ms, spec):
    """True if the model was trained on a task and the input is a sample of that same task."""
    return spec.kind == "task" and task_models.task_of(ms) == spec.task


@st.cache_resource(max_entries=16, show_spinner=False)
def caption(ms, spec, layer=0, direction=0):
    """(text, values) of the task's caption on this trace (lstm_core.units.caption_values)."""
    s, task = task_sample(spec), task_models.make_task(spec)
    values = unit_finder.caption_values(task, trace(ms, spec), s, layer, direction)
    return task.captions[values["latent"]].format(**values), values


@st.cache_resource(max_entries=16, show_spinner=False)
def caption_figure(ms, spec, view):
    """The caption's unit beside the latent it tracks, for the sequence in view (demo_figures.unit_vs_latent);
    None where the latent is constant along the sequence (the value the recall task holds), so
    that only the heatmaps can show it."""
    _, values = caption(ms, spec, view.layer, view.direction)
    unit, field, latent = values["unit"], values["field"], values["latent"]
    tr, s = trace(ms, spec), task_sample(spec)
    z = s.latents[latent][:, view.sequence].numpy()  # (T,)
    if len(np.unique(z[np.isfinite(z)])) < 2:
        return None
    y = tr.get(field, view.layer, view.direction)[:, view.sequence, unit].float().numpy()  # (T,)
    fig = demo_figures.unit_vs_latent({f"{field}[{unit}]": y}, z,
                                      latent_name=latent, title=f"unit {unit} and {latent}, sequence "
                                                                f"{view.sequence}")
    fig.update_layout(height=230, margin=dict(t=60, b=35))
    return fig


@st.cache_resource(max_entries=16, show_spinner=False)
def unit_scores(ms, spec, latent, fields, layer=0, direction=0):
    """Every unit's UnitScore for `latent` of the task sample, best |r| first (units.rank_units)."""
    return unit_finder.rank_units(trace(ms, spec), task_sample(spec).latents[latent], fields=fields,
                                  layer=layer, direction=direction, top=None)


@st.cache_data(max_entries=16, show_spinner=False)
def train_reference(task_name, variant):
    """(baseline, shipped) metrics for the training curve: the task's trivial predictor on the
    eval batch, and the shipped model's metric for this variant (None if none is shipped)."""
    task = get_task(task_name)
    baseline = task.baseline(task.sample(256, EVAL_SEED, split="eval"))
    try:
        shipped = read_meta(shipped_checkpoint(task_name, variant))["metric"]["value"]
    except (OSError, ValueError, KeyError):
        shipped = None
    return baseline, shipped


SNAPSHOT_SEED, SNAPSHOT_BATCH = 1, 4  # the fresh eval sample every snapshot of a run is shown on


@st.cache_resource(max_entries=64, show_spinner=False)
def snapshot_view(_run, run_id, step):
    """(heatmap figure, saturation groups, caption) of run `run_id`'s weights at `step`, on a
    fresh eval sample (the same for every step, so what changes is the model)."""
    task = get_task(_run.config.task, _run.config.task_config)
    s = task.sample(SNAPSHOT_BATCH, SNAPSHOT_SEED, split="eval")
    tr, _ = _run.model_at(step).trace(s.x)  # no autograd: the fast path
    sig = task_models.to_signal(s, task)
    fields = {k: tr.get(k)[:, 0].T.to(torch.float32).numpy() for k in "ifgoch"}  # (H, T) of sequence 0
    labels = None if sig.labels is None else sig.labels[:, 0]
    fig = heatmaps.gate_heatmaps(fields, sig.x[:, 0], sig.feature_names, labels=labels,
                                 notes=fixed_notes(ModelSettings(variant=_run.config.variant)))
    mask = tr.mask.numpy()
    left, right = {}, {}
    for k in ("i", "f", "o"):
        left[k], right[k] = figures.saturation_fractions(tr.get(k).numpy(), mask)
    text = unit_finder.caption(task, tr, s)
    return fig, [dict(layer=0, direction=0, left=left, right=right)], text


__all__ = ["task_sample", "knows_task", "caption", "unit_scores", "train_reference", "snapshot_view",
           "model", "signal", "trace", "fixed_features", "shape", "heatmap_figure", "unit_figure",
           "saturation_groups", "cell_figure", "MismatchError", "LimitError"]
