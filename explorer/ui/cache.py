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
import os

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from lstm_core.analysis import units as unit_finder
from lstm_core.io.checkpoint import read_meta, shipped_checkpoint
from lstm_core.tasks import get_task
from lstm_core.train import EVAL_SEED

from explorer.figures import heatmaps, lines
from explorer.logic import budget as upload_budgets
from explorer.logic import diagnosis, uploads
from explorer.logic import inputs as signals
from explorer.logic import models as task_models
from explorer.logic import subject as pure  # the Subject and its slicers; `subject()` below builds one
from explorer.logic.errors import AppError, Fix
from explorer.logic import claims as lesson_claims, compare as lesson_compare, lessons as lesson_files
from explorer.ui import slides as lesson_slides
from explorer.logic.settings import InputSettings, LimitError, ModelSettings, ViewSettings, check_sizes

# Cache keys: the settings dataclasses are frozen and made of numbers, strings and tuples, so
# their repr is the key. Streamlit's own hashing walks each object field by field (~1 ms a
# key; a rerun looks up a dozen keys even when every one hits; issue 12).
HASH = {ModelSettings: repr, InputSettings: repr, ViewSettings: repr}


class FrozenFigure(go.Figure):
    """A cached figure that serialises once. st.plotly_chart calls to_dict() on every rerun, which
    deep-copies the figure and base64-encodes every array: 60% of a View change's CPU once the
    figure itself was cached (benchmarks/rerun_profile.py, issue 12). A cached figure is read-only
    (like a trace), so its dict is computed on the first call and kept."""

    def to_dict(self):
        spec = self.__dict__.get("_frozen_spec")
        if spec is None:
            spec = super().to_dict()
            self._frozen_spec = spec
        return dict(spec)  # a new top level: to_json pops the traces' uids, nothing else changes it


def frozen(fig):
    """`fig`, serialised once from now on (FrozenFigure); None stays None."""
    if fig is not None:
        fig.__class__ = FrozenFigure
    return fig


def resource(**kw):
    return st.cache_resource(hash_funcs=HASH, **kw)


def data(**kw):
    return st.cache_data(hash_funcs=HASH, **kw)


TRACE_ENTRIES = 8  # traces kept, Explore and Debug together; each is under settings.LIMITS.trace_budget
TASK_ENTRIES = 8


class NoUpload(signals.InputError):
    """The input is an upload and no file is chosen yet: a hint, not an error."""

    kind = "info"


class MismatchError(AppError):
    """The input's feature count differs from the model's input size; `fix` is the input's."""

    title = "Input size mismatch"

    def __init__(self, message, fix, fixes=()):
        super().__init__(message, fixes)
        self.fix = fix


@resource(max_entries=8, show_spinner=False)
def model(ms):
    """The lstm_core.LSTM of ModelSettings `ms` (demo.build)."""
    return task_models.build(ms)


def signal(spec, input_size, _upload=None):
    """The signals.Signal of InputSettings `spec`; input_size fills generators of any width."""
    gen = signals.GENERATORS.get(spec.kind)
    scalable = gen is not None and gen.features is None
    return _signal(spec, input_size if scalable else 0, _upload)


@data(max_entries=32, show_spinner=False)
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


def subject(ms, spec, _upload=None):
    """The Subject of model `ms` on input `spec` (logic/subject.py); errors name what to change.

    Raises MismatchError, LimitError, inputs.InputError, models.ModelError or the engine's
    ValueError/TypeError. The trace comes from `trace_for`, the one trace cache of the app.
    """
    check_sizes(ms, *shape(spec, ms.input_size, _upload))  # before a generator allocates anything
    sig = signal(spec, ms.input_size, _upload)
    T, B, I = sig.x.shape
    if I != ms.input_size:
        if ms.source in task_models.TASK_SOURCES:  # its input size is the task's: the input must change
            fixes = [Fix("Use a sample of the model's task", {"input": "task"}, "fix_input_task")]
        else:
            fixes = [Fix(f"Set the model's input size to {I}", {"input_size": I}, "fix_input_size")]
        raise MismatchError(f"the input has {I} feature(s) per step but the model's input size is "
                            f"{ms.input_size}", fix=I, fixes=fixes)
    m, seqs = model(ms), sequences(spec, ms.input_size, _upload)
    return subject_of(("explore", ms, spec), m, seqs, sig.note)


@resource(max_entries=32, show_spinner=False)
def sequences(spec, input_size, _upload=None):
    """The lstm_core.io.data.Sequences of an input (inputs.to_sequences of its signal)."""
    return signals.to_sequences(signal(spec, input_size, _upload))


@resource(max_entries=TRACE_ENTRIES, show_spinner="Running the LSTM and recording every gate…")
def trace_for(key, _model, _seqs):
    """The detached CPU trace of `_model` on `_seqs` (pure.trace_of), one entry per `key`: the
    sidebar's (ModelSettings, InputSettings) or an upload's (model digest and choice, DataSpec)."""
    return pure.trace_of(_model, _seqs)


def subject_of(key, m, seqs, about="", notes=()):
    """A Subject of model m on Sequences seqs, its trace from the one trace cache."""
    return pure.Subject(m, seqs, trace_for(key, m, seqs), about, list(notes))


def trace(ms, spec, _upload=None):
    """The detached CPU trace of model `ms` on input `spec` (the Subject's)."""
    return subject(ms, spec, _upload).trace


def heatmap(s, view, colorbars="shared", highlight=None):
    """The gate heatmap figure of Subject `s` for ViewSettings `view` (heatmaps.gate_heatmaps): every
    page's, Explore and Debug alike. highlight: (unit, label) marks that unit's row (heatmaps.mark_unit),
    and c's colour scale follows that unit (issue 21)."""
    fields, start = {}, pure.clip_window(view.window, s.trace.T)[0]
    for name in view.gates:
        fields[name], start = s.rows(name, view.layer, view.direction, view.sequence, view.window)
    fig = heatmaps.gate_heatmaps(fields, s.input_rows(view.sequence, view.window), s.feature_names, start=start,
                                 columns=view.columns, exact=True if view.exact_hover else None,
                                 labels=s.labels(view.sequence, view.window), notes=s.gate_notes,
                                 colorbars=colorbars, follow=highlight[0] if highlight else None,
                                 declared=s.declared)
    if highlight is not None:
        fig = heatmaps.mark_unit(fig, *highlight, units=s.model.hidden_size, inplace=True)  # fig is new
    return fig


@resource(max_entries=TASK_ENTRIES, show_spinner=False)
def task_sample(spec):
    """The lstm_core.tasks.Sample of an input of kind "task" (task_models.sample): latents, text."""
    return task_models.sample(spec)


@resource(max_entries=16, show_spinner=False)
def heatmap_figure(ms, spec, view, _upload=None, colorbars="shared", highlight=None):
    """The gate heatmap figure of the sidebar's view (`heatmap`); exports take colorbars="panel"."""
    return frozen(heatmap(subject(ms, spec, _upload), view, colorbars, highlight))


def fixed_notes(ms):
    """{field: note} of the cell's declared notes, e.g. f = 1 in no_forget_gate, z keeps (pure.fixed_notes)."""
    return pure.fixed_notes(model(ms))


def declaration(ms):
    """The lstm_core.cells.Declaration of the model of `ms`: its fields, equations and notes."""
    return model(ms).declaration


@resource(max_entries=16, show_spinner=False)
def unit_figure(ms, spec, view, units, names=None, marker_step=None, _upload=None):
    """Line plots of `units` of the view's layer and direction (lines.unit_traces); names: the
    fields, None for all the cell records (i, f, g, o, c, h; r, z, n, h)."""
    s = subject(ms, spec, _upload)
    names = s.trace.fields if names is None else names
    fields, start = s.unit_fields(names, view.layer, view.direction, view.sequence, units, view.window)
    return frozen(lines.unit_traces(fields, list(units), start=start, columns=view.columns, marker_step=marker_step,
                                    gates=s.trace.declaration.gates))


@resource(max_entries=8, show_spinner=False)
def saturation_groups(ms, spec, _upload=None):
    """Left/right saturation fractions of the cell's gates for every layer and direction (pure.saturation_groups)."""
    return pure.saturation_groups(trace(ms, spec, _upload))


@resource(max_entries=16, show_spinner=False)
def cell_figure(ms, spec, view, unit, _upload=None):
    """The memory update of one unit (lines.cell_update): kept and written, as the cell declares them."""
    s = subject(ms, spec, _upload)
    c, kept, written, start = s.cell_parts(view.layer, view.direction, view.sequence, unit, view.window)
    return frozen(lines.cell_update(c, kept, written, unit, start=start, columns=view.columns,
                                    update=pure.memory_update(s.trace)))


# --- models that know their task: captions, the unit finder, training references -------------

@resource(max_entries=64, show_spinner=False)
def shipped_info(name, path, stamp):
    """The ModelInfo of a shipped checkpoint (models.describe), read once per version of its file
    (path, modification time): the sidebar and the caption read its metadata on every rerun (issue 12)."""
    return task_models.describe("shipped", name)


def model_info(source, checkpoint):
    """models.describe; a shipped model's from shipped_info (a trained run's info changes as it trains)."""
    if source == "shipped":
        task, _, variant = checkpoint.partition("-")
        try:
            path = task_models.shipped_checkpoint(task, variant)
            return shipped_info(checkpoint, str(path), os.stat(path).st_mtime_ns)
        except (OSError, ValueError, KeyError, TypeError):
            pass  # no such model or file: describe says which, as a ModelError
    return task_models.describe(source, checkpoint)


def knows_task(ms, spec):
    """True if the model was trained on a task and the input is a sample of that same task."""
    return spec.kind == "task" and task_models.task_of(ms) == spec.task


@resource(max_entries=16, show_spinner=False)
def caption(ms, spec, layer=0, direction=0):
    """(text, values) of the task's caption on this trace, shown only where its numbers hold
    (claims.checked_caption, issue 21)."""
    s, task = task_sample(spec), task_models.make_task(spec)
    return lesson_claims.checked_caption(task, trace(ms, spec), s, layer, direction)


@resource(max_entries=16, show_spinner=False)
def caption_figure(ms, spec, layer, direction, sequence):
    """The caption's unit beside the latent it tracks, for one sequence (lines.unit_vs_latent);
    None where the latent is constant along the sequence (the value the recall task holds), so
    that only the heatmaps can show it. Keyed on what it shows, not the whole view: a window or
    a panel change finds it (issue 12)."""
    _, values = caption(ms, spec, layer, direction)
    unit, field, latent = values["unit"], values["field"], values["latent"]
    tr, s = trace(ms, spec), task_sample(spec)
    z = s.latents[latent][:, sequence].numpy()  # (T,)
    if len(np.unique(z[np.isfinite(z)])) < 2:
        return None
    y = tr.get(field, layer, direction)[:, sequence, unit].float().numpy()  # (T,)
    fig = lines.unit_vs_latent({f"{field}[{unit}]": y}, z,
                                      latent_name=latent, title=f"unit {unit} and {latent}, sequence "
                                                                f"{sequence}")
    fig.update_layout(height=230, margin=dict(t=60, b=35))
    return frozen(fig)


@resource(max_entries=16, show_spinner=False)
def unit_scores(ms, spec, latent, fields, layer=0, direction=0):
    """Every unit's UnitScore for `latent` of the task sample, best |r| first (units.rank_units)."""
    return unit_finder.rank_units(trace(ms, spec), task_sample(spec).latents[latent], fields=fields,
                                  layer=layer, direction=direction, top=None)


@data(max_entries=16, show_spinner=False)
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


@resource(max_entries=64, show_spinner=False)
def snapshot_view(_run, run_id, step):
    """(heatmap figure, saturation groups, caption) of run `run_id`'s weights at `step`, on a
    fresh eval sample (the same for every step, so what changes is the model)."""
    task = get_task(_run.config.task, _run.config.task_config)
    s = task.sample(SNAPSHOT_BATCH, SNAPSHOT_SEED, split="eval")
    tm = _run.model_at(step)
    tr, _ = tm.trace(s.x)  # no autograd: the fast path
    sub = pure.Subject(tm.lstm, signals.to_sequences(task_models.to_signal(s, task)), tr.detach())
    return heatmap(sub, ViewSettings(gates=tr.fields)), pure.saturation_groups(sub.trace), \
        lesson_claims.checked_caption(task, tr, s)[0]


# --- the Debug pages: uploads, keyed on file digests and frozen choices -------------------------
#
# Every cache of the "Debug your model" pages, keyed on file digests and frozen choices.
# 
# An upload enters a key through its name and sha256 digest; its bytes are passed as
# `_raw` / `_vocab`, which Streamlit does not hash. Models, data, traces and reports are
# st.cache_resource: one object shared by the pages (a trace or a model is never
# copied, and treated as read-only everywhere). `mkey` is (name, digest, LoadChoice),
# `spec` a debugging.DataSpec. Failures are debugging.UploadError, which Streamlit does
# not cache, so a page shows the message again on every rerun until the input changes.

@st.cache_resource(show_spinner=False)
def upload_budget():
    """The process's one UploadBudget (logic/budget.py): LSTM_EXPLORER_UPLOAD_BUDGET_MB, read when the
    first upload is kept; ValueError (not cached) if the variable is not a number of MB."""
    return upload_budgets.UploadBudget(upload_budgets.limit_from_env())


@resource(max_entries=4, show_spinner=False)
def model_file(name, digest, _raw):
    """uploads.inspect_model: format, candidates and questions of an uploaded model file."""
    return uploads.inspect_model(name, _raw)


@resource(max_entries=4, show_spinner="Loading the model…")
def upload_model(name, digest, choice, _raw):
    """The lstm_core.LSTM of a LoadChoice in an uploaded file."""
    return uploads.load_model(model_file(name, digest, _raw), _raw, choice)


@resource(max_entries=8, show_spinner=False)
def upload_data(spec, _raw=None, _vocab=None):
    """uploads.Data of a DataSpec (an upload's bytes, or a generator's settings)."""
    return uploads.read_data(spec, _raw, _vocab)


def upload_trace(mkey, spec, _model, _data):
    """The trace of an uploaded model on its data: from the one trace cache (`trace_for`)."""
    return trace_for(("upload", mkey, spec), _model, _data.seqs)


@resource(max_entries=8, show_spinner="Computing gradient norms: one backward pass per unit…")
def gradients(mkey, spec, gspec, _model, _data):
    return diagnosis.gradients(_model, _data.seqs, gspec)


@resource(max_entries=8, show_spinner="Measuring saturation, memory and cell-state growth…")
def report(mkey, spec, gspec, _model, _data):
    """diagnostics.Report of the model on the data; with the gradient flow when gspec is not None."""
    grads = None if gspec is None else gradients(mkey, spec, gspec, _model, _data)
    return diagnosis.diagnose(upload_trace(mkey, spec, _model, _data), grads)


@resource(max_entries=4, show_spinner="Running the model with and without the intervention…")
def what_if(mkey, spec, wspec, _model, _data):
    return diagnosis.run_what_if(_model, _data.seqs, wspec)


__all__ = ["task_sample", "knows_task", "caption", "unit_scores", "train_reference", "snapshot_view",
           "model", "signal", "trace", "fixed_features", "shape", "heatmap_figure", "unit_figure",
           "saturation_groups", "cell_figure", "MismatchError", "LimitError"]


# --- lessons and the Compare page (issue 13): explorer/logic/lessons.py, claims.py, slides.py, compare.py --------

@st.cache_resource(max_entries=2, show_spinner=False)
def shipped_lessons():
    """{id: Lesson} of assets/lessons, read once per process."""
    return lesson_files.shipped_lessons()


@st.cache_resource(max_entries=24, show_spinner="Running the lesson's model and recording every gate…")
def _lesson_subject(key, _view, _variant):
    return lesson_claims.subject(_view, _variant)


def lesson_subject(view, variant=None):
    """The claims.Subject of a slide's view (one model on one task sample), shared by the slides
    and compare columns that show the same model on the same sample."""
    return _lesson_subject(lesson_claims.subject_key(view, variant), view, variant)


def lesson_subjects(view):
    """{subject_key: Subject} of every model a view shows (the columns of a compare slide)."""
    return {lesson_claims.subject_key(view, v): lesson_subject(view, v) for v in (view.variants or (view.variant,))}


@st.cache_resource(max_entries=48, show_spinner=False)
def slide_shown(slide):
    """What a slide draws (ui/slides.py render): figures, the diagram, lines."""
    return lesson_slides.render(slide, lesson_subjects(slide.view))


@st.cache_resource(max_entries=48, show_spinner=False)
def slide_claims(slide):
    """The slide's claims checked on the trace it draws."""
    return lesson_claims.check_claims(slide, lesson_subjects(slide.view))


@st.cache_resource(max_entries=8, show_spinner="Running the models…")
def compare_columns(spec):
    """The Compare page's Columns of a CompareSpec, each on the shared sample."""
    view = spec.view()
    return [lesson_compare.column_of(lesson_subject(view, v)) for v in spec.variants]
