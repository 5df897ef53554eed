"""The shared sidebar (every model and input control) and the View row, turned into settings dataclasses.

Every widget has an explicit key and, except the file upload, lives in the URL
(`bind="query-params"`), so a copied link reproduces the view; a value equal to
its default leaves the URL. Defaults come from logic/models.py and are passed as the
widgets' own defaults: with a default only in session state, a value equal to
the widget's implicit default (its minimum, its first option) would drop out of
the URL and the link would not reproduce it. Values that depend on
other controls (a layer index, a sequence, a window) are clamped in session
state before their widget is drawn, which is what Streamlit allows.

`sidebar()` draws the Model and Input controls; app.py calls it on every run, before
the page, because a widget keeps its state across pages only when it is drawn by the
entry script (in a page script it is a different widget on each page). A page reads
the result with `current()`, calls `run_or_stop(choice)`, which computes the trace
through cache.py and shows any problem as a message with, where one exists, a button
that fixes it, never a traceback, and draws the View controls it uses with
`view_controls(choice, parts)` (the Gate heatmaps page inside an st.fragment, issue 12).
"""
import hashlib
from dataclasses import dataclass, replace

import streamlit as st

import lstm_core
from lstm_core import zoo
from lstm_core.io.checkpoint import SHIPPED_VARIANTS
from lstm_core.tasks import TASKS, get_task

from explorer.logic import inputs as signals
from explorer.logic import models as task_models
from explorer.logic.errors import AppError
from explorer.logic.models import DEFAULT_INPUT, DEFAULT_INPUT_KIND, DEFAULT_MODEL, DEFAULT_SHIPPED, DEFAULT_SOURCE
from explorer.logic.models import ModelError
from explorer.logic.settings import DTYPES, LIMITS, SOURCES, TASK_SOURCES, InputSettings, ModelSettings, ViewSettings
from explorer.logic.settings import cpu_only_reason

from . import cache, frame, messages, state

Q = dict(bind="query-params")
SOURCE_LABELS = {"shipped": "trained on a demo task, shipped with the app (assets/models)",
                 "trained": "trained on the Train a model page, in this session",
                 "demo": "random, with units 0-2 wired by hand", "random": "random initialisation only"}
INPUT_LABELS = {"text": "typed text, one-hot by character", "upload": "a CSV or NPY file of yours",
                "task": "a fresh sample of a demo task (its eval split: never seen in training)"}
KINDS = ("task",) + signals.KINDS  # every input kind
RUNS = state.RUNS
CHOICE = state.CHOICE
DIRECTIONS = ("forward", "reverse")  # direction 0 and 1
FIELDS = ("i", "f", "g", "o", "c", "h")


@dataclass
class Choice:
    """What the sidebar holds this run."""

    model: ModelSettings
    input: InputSettings
    view: ViewSettings
    upload: bytes | None  # the uploaded file's bytes, if the input is an upload
    steps: int  # T of the input, 0 if the input could not be read
    error: Exception | None = None  # a problem with the input found while drawing the sidebar
    batch: int = 1  # B of the input, 1 if it could not be read


def _index(options, value):
    return list(options).index(value)


def _clamp(key, low, high):
    """Bring session_state[key] into low..high before its widget is drawn."""
    if key in st.session_state and not low <= st.session_state[key] <= high:
        st.session_state[key] = min(max(st.session_state[key], low), high)


def _steps_box(where, key, low, high, default, step=1, help=None):
    """The "steps T" box; a number outside low..high is set to the nearest allowed one, and said.

    Given as the box's min and max, the browser kept a number outside them in red and sent
    nothing: the box said 5000 while the app ran the previous 1,000, silently, and a T under a
    task's minimum came back as the task's internal check (issue 21, item 9). The box takes
    any number; one outside is brought in before the box is drawn, so it shows what runs.
    """
    typed = st.session_state.get(key)
    if typed is None and key in st.query_params:  # a link, before the box has state
        try:
            typed = int(float(st.query_params[key]))
        except ValueError:
            typed = None
    note = None
    if typed is not None and not low <= typed <= high:
        st.session_state[key] = min(max(int(typed), low), high)
        note = (f"steps T: at least {low:,} steps for this task; showing {low:,}." if typed < low else
                f"steps T: at most {high:,} steps here; showing {high:,}.")
    T = where.number_input("steps T", value=default, step=step, key=key, help=help, **Q)
    T = min(max(int(T), low), high)  # a link's number the box could not take back before it was drawn
    return T, note


def _input_section(info):
    d = DEFAULT_INPUT
    # No format_func on a bound widget: the URL would hold the display label, not the name.
    kind = st.selectbox("Input", KINDS, index=_index(KINDS, DEFAULT_INPUT_KIND), key="input", **Q)
    st.caption(INPUT_LABELS.get(kind) or signals.GENERATORS[kind].label)
    if kind == "task":
        return _task_input(info), None
    params, text, vocab, upload, name, digest = (), "", "", None, "", ""
    steps, batch, vary, seed = d.steps, d.batch, d.vary_lengths, d.seed
    if kind in signals.GENERATORS:
        gen = signals.GENERATORS[kind]
        c1, c2 = st.columns(2)
        steps, note = _steps_box(c1, "steps", 1, LIMITS.max_steps, d.steps, step=10,
                                 help=f"1 to {LIMITS.max_steps:,} steps")
        if note:
            st.warning(note)  # under the two columns of boxes
        batch = c2.number_input("sequences B", 1, LIMITS.max_batch, d.batch, key="batch", **Q)
        values = {}
        for j, p in enumerate(gen.params):
            num = int if isinstance(p.default, int) else float
            values[p.name] = (c1, c2)[j % 2].number_input(
                p.label, num(p.low), num(p.high), num(p.default), step=num(p.step), key=f"p_{kind}_{p.name}",
                help=p.help or None, **Q)
        params = tuple(sorted(values.items()))
        seed = (c1, c2)[len(gen.params) % 2].number_input("input seed", 0, 2**31 - 1, d.seed, key="iseed", **Q)
        vary = st.checkbox("vary the lengths", d.vary_lengths, key="vary", **Q,
                           help="shorter sequences padded at the end: padding is drawn blank")
    elif kind == "text":
        text = st.text_area("text, one sequence per line", signals.DEFAULT_TEXT, key="text", height=90, **Q)
        vocab = st.text_input("vocabulary (one-hot order)", signals.DEFAULT_VOCAB, key="vocab", **Q)
    else:
        f = st.file_uploader("CSV or NPY: rows = time steps, columns = features",
                             type=["csv", "tsv", "txt", "npy", "npz"], key="upload", help=state.upload_help() + "; an upload is not part of a shared link")
        if f is not None:
            upload, name = f.getvalue(), f.name
            digest = hashlib.sha256(upload).hexdigest()
    return InputSettings(kind, int(steps), int(batch), bool(vary), int(seed), params, text, vocab,
                         name, digest), upload


def _task_input(info):
    """A sample of a task: the model's own when it was trained on one, else the one picked here."""
    d = DEFAULT_INPUT
    if info is not None:
        name, base = info.task, dict(info.task_config)
        st.caption(f"{TASKS[name].title}, with the settings the model was trained on")
    else:
        name = st.selectbox("task", tuple(TASKS), index=0, key="input_task", **Q)
        st.caption(task_models.task_line(name))
        base = get_task(name).config()
    c1, c2 = st.columns(2)
    low, high = get_task(name, base).min_length, task_models.MAX_LENGTH
    length, note = _steps_box(c1, f"len_{name}", low, high, int(base["length"]),
                              help=f"the task's sequence length, {low:,} to {high:,} steps; longer than in "
                                   f"training asks the model to generalise")
    if note:
        st.warning(note)  # under the two columns of boxes
    batch = c2.number_input("sequences B", 1, LIMITS.max_batch, d.batch, key="batch", **Q)
    seed = c1.number_input("input seed", 0, 2**31 - 1, d.seed, key="iseed", **Q)
    config = task_models.freeze({**base, "length": int(length)})
    return InputSettings("task", int(length), int(batch), False, int(seed), task=name, task_config=config)


def _source_changed():
    """A model trained on a task is best seen on that task: switch the input to a sample of it."""
    if st.session_state.get("source") in TASK_SOURCES:
        st.session_state["input"] = "task"


def _source():
    source = st.selectbox("Weights", SOURCES, index=_index(SOURCES, DEFAULT_SOURCE), key="source", **Q,
                          on_change=_source_changed,
                          help="shipped: trained on a demo task (assets/models); trained: on the Train a model "
                               "page; demo: random weights plus three hand-wired units for the remember-and-"
                               "recall input: 0 a memory, 1 a counter of recall cues, 2 a tracker (explorer/logic/models.py)")
    st.caption(SOURCE_LABELS[source])
    return source


def _task_model_section(source):
    """The pickers of a shipped or trained model; its ModelInfo, or ModelError."""
    if source == "shipped":
        c1, c2 = st.columns(2)
        task = c1.selectbox("task", tuple(TASKS), index=_index(TASKS, DEFAULT_SHIPPED[0]), key="task", **Q)
        variant = c2.selectbox("variant", SHIPPED_VARIANTS, index=_index(SHIPPED_VARIANTS, DEFAULT_SHIPPED[1]),
                               key="shipped_variant", **Q)
        st.caption(task_models.task_line(task))
        info = cache.model_info("shipped", f"{task}-{variant}")
    else:
        runs = [r.id for r in st.session_state.get(RUNS, []) if not r.view().active]
        if not runs:
            raise ModelError("no model has been trained in this session yet: train one on the Train a model "
                             f"page (top bar), then press '{state.OPEN_TRAINED.format('N')}' under its gates (N: "
                             f"the training step whose weights you want)")
        run_id = st.selectbox("run", runs, index=0, key="trained_run")  # not in the URL: it lives in this session
        steps = [step for step, _ in task_models.trainer.lookup(run_id).view().snapshots]
        step = st.select_slider("weights at training step", steps, value=steps[-1], key="trained_step")
        info = task_models.describe("trained", f"{run_id}@{step}")
    st.caption(f"{zoo.declaration(info.variant).summary} {info.summary()}.")
    return info


def _model_section(source, fixed_I):
    d = DEFAULT_MODEL
    variant = st.selectbox("Variant", zoo.ARCHITECTURES, index=_index(zoo.ARCHITECTURES, d.variant),
                           key="variant", **Q, help="an LSTM variant (Greff et al. 2017), or a GRU (Cho et al. 2014)")
    cell = zoo.declaration(variant)
    st.caption(cell.summary)
    lstm = cell.family == "lstm"  # only lstm_core.LSTM takes a projection
    match = st.checkbox("input size follows the input", True, key="match", **Q,
                        help="off: set it yourself; a different feature count is then an error")
    if match and fixed_I is not None and st.session_state.get("input_size") != fixed_I:
        st.session_state["input_size"] = fixed_I
    c1, c2 = st.columns(2)
    I = c1.number_input("input size I", 1, LIMITS.max_features, d.input_size, key="input_size", **Q,
                        disabled=match and fixed_I is not None)
    H = c2.number_input("hidden size H", 1, LIMITS.max_hidden, d.hidden_size, key="hidden", **Q)
    L = c1.number_input("layers L", 1, LIMITS.max_layers, d.num_layers, key="layers", **Q)
    if lstm:
        _clamp("proj", 0, H - 1)
        P = c2.number_input("projection P", 0, H - 1, min(d.proj_size, H - 1), key="proj", **Q,
                            help="0: no projection (h has H features)")
    else:  # its own box: the LSTM's, bound to a link, would show a link's P on its first run, not what runs
        P = c2.number_input("projection P", 0, 0, 0, key="proj_none", disabled=True,
                            help=f"a {cell.title} has no projection")
    bidir = c1.checkbox("bidirectional", d.bidirectional, key="bidir", **Q)
    init = c2.selectbox("init", lstm_core.INITS, index=_index(lstm_core.INITS, d.init), key="init", **Q)
    fb_on = c1.checkbox("forget bias", d.forget_bias is not None, key="fbias_on", **Q,
                        help="set b_f (Gers et al. 2000; 1.0 is common)")
    # labelled: collapsed, the box was an unnamed "1.00" under init (issue 21)
    fb = c2.number_input("b_f", -20.0, 20.0, float(d.forget_bias if d.forget_bias is not None else 1.0), step=0.5,
                         key="fbias", **Q, disabled=not fb_on, help="the forget bias, with 'forget bias' ticked")
    seed = c1.number_input("model seed", 0, 2**31 - 1, d.seed, key="seed", **Q)
    devices = lstm_core.available_devices()
    if st.session_state.get("device", "cpu") not in devices:
        st.warning(f"Device {st.session_state['device']!r} is no longer available on this machine; "
                   f"using cpu.")
        st.session_state["device"] = "cpu"
    device = c2.selectbox("device", devices, index=_index(devices, "cpu"), key="device", **Q)
    dtype = c1.selectbox("dtype", tuple(DTYPES), index=_index(DTYPES, d.dtype), key="dtype", **Q)
    if devices == ["cpu"]:
        st.caption(f"device: the CPU only; {cpu_only_reason()}.")
    if source == "demo" and I < 3:
        st.caption("The demo units read 3 input channels (value, store, recall); with fewer the model is "
                   "random.")
    if fb_on and (no_bias := task_models.without_forget_gate(variant)):
        st.caption(f"{no_bias[0].upper()}{no_bias[1:]}: the forget bias is not used.")
    return ModelSettings(source, variant, int(I), int(H), int(L), bool(bidir), int(P), init,
                         float(fb) if fb_on else None, int(seed), device, dtype)


WINDOW_STEPS = "window_steps"  # the T the time window was last drawn for


def _linked_window():
    """The window a link carries (query parameter "window"), before its widget has state; else None."""
    try:
        lo, hi = (int(float(v)) for v in st.query_params.get_all("window"))
        return lo, hi
    except (TypeError, ValueError):
        return None


def follow_window(window, before, steps):
    """The time window for an input of `steps` steps, from the one shown for `before` steps.

    A window that reached the last step keeps reaching it (T 40 -> 120 shows 0..119, not
    0..39: issue 10, item 1); any window is brought inside 0..steps-1, so the slider never
    gets a value above its new maximum. None: the whole input.
    """
    last = steps - 1
    if window is None:
        return 0, last
    lo, hi = (int(v) for v in window)
    if before is not None and before != steps and hi >= before - 1:
        hi = last
    lo = min(max(lo, 0), last)
    return lo, min(max(hi, lo), last)


# The View controls are drawn by the pages, beside what they change, not here: on the Gate heatmaps
# page inside an st.fragment, so a change of the sequence, layer, panels or window reruns that
# view and not the ~25 widgets of the sidebar (issue 12). A page script's widget is a different
# widget on every page; persist_state="session" keeps its value when the user moves to a page that
# does not draw it, and `bind` keeps it in the URL.
VIEW = dict(bind="query-params", persist_state="session")
VIEW_PARTS = ("layer", "seq", "fields", "window", "exact")  # "direction" comes with "layer"
# Each control's width in px, in a row that wraps; "content": the control's own width, "stretch": what is
# left of its line. As shares of the page (columns) the row was squeezed at 1280 px ("sequence b" on two
# lines, the h chip of the panels hidden, "exact hov...") and cut at 1600 px with a bidirectional
# model (issue 21, item 5). 326: the six chips of the panels, measured in Chromium.
VIEW_WIDTHS = {"layer": 72, "direction": "content", "seq": 96, "fields": 326, "window": "stretch",
               "exact": "content"}


def panel_fields(ms):
    """The fields a heatmap of the model of `ms` has panels for, in display order: its cell's
    declared names (i, f, g, o, c, h; a GRU's r, z, n, h)."""
    try:
        return zoo.declaration(ms.variant).names
    except ValueError:  # a name no cell has: the model's own error says so where it is built
        return FIELDS


def _chosen_panels(ms):
    """The panels held in session state that this model has; all of its panels when none of those held
    is one of them (a GRU after an LSTM's i, f, o). An empty choice stays empty (the page asks for one)."""
    names = panel_fields(ms)
    held = st.session_state.get("fields", names)
    kept = [k for k in names if k in held]
    return kept if kept or not held else list(names)


def stored_view(ms, steps, batch):
    """The ViewSettings the View controls hold before a page draws them this run (the save box,
    the pages that draw some or none of them), clamped to this model and input."""
    ss = st.session_state
    direction = ss.get("direction", DIRECTIONS[0])
    fields = _chosen_panels(ms)
    window = (0, steps - 1)
    if steps > 1:
        window = follow_window(ss.get("window"), ss.get(WINDOW_STEPS), steps)
    return ViewSettings(min(max(int(ss.get("layer", 0)), 0), ms.num_layers - 1),
                        DIRECTIONS.index(direction) if ms.bidirectional and direction in DIRECTIONS else 0,
                        min(max(int(ss.get("seq", 0)), 0), batch - 1), tuple(fields),
                        window, bool(ss.get("exact", False)))


def view_controls(choice, parts=VIEW_PARTS):
    """Draw the View controls named in `parts` in one row, where the page is; the Choice with their view.

    Call it inside the page's fragment (gates.py) or at the top of a page. The controls a page
    leaves out keep their values (stored_view)."""
    ms, steps, batch = choice.model, max(choice.steps, 1), max(choice.batch, 1)
    v = stored_view(ms, steps, batch)
    shown = [p for p in VIEW_WIDTHS
             if p in parts or (p == "direction" and "layer" in parts and ms.bidirectional)]
    shown = [p for p in shown if not (p == "window" and steps < 2)]
    # a row that wraps: each control keeps its width, the slider takes what is left of its line
    row = st.container(horizontal=True, vertical_alignment="bottom") if shown else None
    if "fields" in shown and "fields" in st.session_state:  # only this model's fields are options
        st.session_state["fields"] = list(v.gates)
    for key in shown:  # a widget new on this page returns its default in its first run unless its key holds
        if key in st.session_state:  # the value: persist_state copies it over only at the end of that run
            st.session_state[key] = st.session_state[key]
    layer, direction, seq, fields, window, exact = v.layer, v.direction, v.sequence, v.gates, v.window, v.exact_hover
    w = VIEW_WIDTHS
    if "layer" in shown:
        _clamp("layer", 0, ms.num_layers - 1)
        layer = row.selectbox("layer", range(ms.num_layers), index=0, key="layer", width=w["layer"], **VIEW)
    if "direction" in shown:
        direction = DIRECTIONS.index(row.radio("direction", DIRECTIONS, index=0, key="direction", horizontal=True,
                                               width=w["direction"], **VIEW))
    if "seq" in shown:
        _clamp("seq", 0, batch - 1)
        seq = row.selectbox("sequence b", range(batch), index=0, key="seq", width=w["seq"], **VIEW)
    if "fields" in shown:
        names = panel_fields(ms)
        fields = row.multiselect("panels", names, default=list(names), key="fields", width=w["fields"], **VIEW)
        fields = tuple(k for k in names if k in fields)
    if "window" in shown:
        st.session_state["window"] = follow_window(st.session_state.get("window", _linked_window()),
                                                   st.session_state.get(WINDOW_STEPS), steps)
        window = row.slider("time window (steps)", 0, steps - 1, (0, steps - 1), key="window", width=w["window"],
                            **VIEW)
    if steps > 1:
        st.session_state[WINDOW_STEPS] = steps
    if "exact" in shown:
        exact = row.checkbox("exact hover values", False, key="exact", width=w["exact"], **VIEW,
                             help="draw every panel as a float heatmap so hover shows the value; slower "
                                  "above 60,000 cells (otherwise drawn as images, hover shows step and unit)")
    view = ViewSettings(int(layer), int(direction), int(seq), tuple(fields), (int(window[0]), int(window[1])),
                        bool(exact))
    st.session_state[CHOICE] = replace(choice, view=view)
    return st.session_state[CHOICE]


CELL_PANELS = "cell_panels"  # the fields of the cell the sidebar held last run


def _new_cell_shows_all_panels(ms):
    """Another cell (a GRU after an LSTM, or back) shows all of its panels: the panels chosen for
    the last one kept only the h they share."""
    names = panel_fields(ms)
    if st.session_state.get(CELL_PANELS, names) != names and "fields" in st.session_state:
        st.session_state["fields"] = list(names)
    st.session_state[CELL_PANELS] = names


def current():
    """The Choice the sidebar holds this run (drawn by app.py before the page)."""
    return st.session_state[CHOICE]


def sidebar():
    """Draw the Model and Input controls; keep and return the Choice they hold (its view: stored_view).

    A model trained on a task decides the input (a sample of its task), and an input decides
    the input size of a model built here, so the Model box is filled in two parts around the Input.
    """
    error, steps, batch, info = None, 0, 1, None
    frame.compact()  # every page with this sidebar: a figure on the first screen at 1280x720
    with st.sidebar:
        model_box = st.expander("Model", expanded=True)
        input_box = st.expander("Input", expanded=True)
    with model_box:
        source = _source()
        if source in TASK_SOURCES:
            try:
                info = _task_model_section(source)
            except ModelError as e:
                error = e
    with input_box:
        spec, upload = _input_section(info)
        fixed_I = None
        try:
            fixed_I = cache.fixed_features(spec, upload)
            steps, batch = cache.shape(spec, st.session_state.get("input_size", 1), upload)
        except signals.InputError as e:
            error = error or e
    with model_box:
        if source not in TASK_SOURCES:
            ms = _model_section(source, fixed_I)
        elif info is not None:
            ms = task_models.settings_for(info)
        else:
            ms = ModelSettings(source=source)  # nothing to run: the pages show `error`
    _new_cell_shows_all_panels(ms)
    view = stored_view(ms, max(steps, 1), max(batch, 1))  # the page draws the View controls
    st.session_state[CHOICE] = Choice(ms, spec, view, upload, steps, error, max(batch, 1))
    return st.session_state[CHOICE]


def fix_button(label, key, value, button_key):
    """A button that sets one widget's value (messages.fix_button)."""
    messages.fix_button(label, {key: value}, button_key)


def show_problem(e, model=None):
    """A message for a problem, with a button per fix (messages.show)."""
    hint = ""
    if isinstance(e, cache.MismatchError):
        hint = ("This model was trained on a task: it reads samples of it." if model is not None
                and model.source in TASK_SOURCES else "Set the model's input size to the input's, or turn on "
                "'input size follows the input' in the sidebar.")
    if isinstance(e, AppError):
        messages.show(e, hint=hint)
    else:
        st.error(f"The model could not run: {e}")
    if isinstance(e, ModelError) and model is not None and model.source == "trained":
        st.page_link(state.TRAIN, label="Train a model", icon=":material/model_training:")


def run_or_stop(choice):
    """The trace of the sidebar's choice, or a message and st.stop()."""
    if choice.error is not None:
        show_problem(choice.error, choice.model)
        st.stop()
    try:
        return cache.trace(choice.model, choice.input, choice.upload)
    except (ValueError, TypeError) as e:  # ours, and lstm_core's argument errors
        show_problem(e, choice.model)
    except RuntimeError as e:  # torch: out of memory, a device that went away mid-run
        st.error(f"The model could not run on {choice.model.device}: {str(e).splitlines()[0]}")
    st.stop()


def task_caption(where, choice, plot=None):
    """For a model trained on the task of its input: what to look for, in `where`, with the unit
    chosen from the data (lstm_core.analysis.units.caption), and in `plot` that unit beside the latent
    it tracks, for the sequence in view. Returns the caption's values, or None."""
    ms, spec, v = choice.model, choice.input, choice.view
    if not cache.knows_task(ms, spec):
        return None
    text, values = cache.caption(ms, spec, v.layer, v.direction)
    where.info(_caption_text(ms, text), icon=":material/lightbulb:")
    fig = cache.caption_figure(ms, spec, v.layer, v.direction, v.sequence) if plot is not None else None
    if fig is not None:
        plot.plotly_chart(fig, key="caption_unit", config={"displaylogo": False})
    return values


def _caption_text(ms, text):
    """The caption box's markdown."""
    info = cache.model_info(ms.source, ms.checkpoint)
    return (f"**{info.title}** ({'shipped' if ms.source == 'shipped' else 'trained here'}: {info.summary()}).  \n"
            f"{task_models.INPUT_NOTES[info.task]}\n\n**What to look for.** {text}")

