"""The state of the "Debug your model" pages: what was uploaded and chosen, and what every page needs.

A file uploader forgets its file when its page is left (a widget's state lives only
while it is drawn), so views/debug/load.py copies each upload into session state as an
`Upload` (name, bytes, digest) and writes the user's choices as frozen values:

    st.session_state[MODEL]  = Upload         the model file
    st.session_state[CHOICE] = LoadChoice     which LSTM, and the options the file does not record
    st.session_state[DATA], [VOCAB] = Upload  the data file and a text's vocabulary
    st.session_state[SPEC]   = DataSpec       how to read the data, or the generated input

Every other page calls `context()`, which rebuilds the model, data and trace through
ui/cache.py (or shows what is missing, with a link to the load page, and stops).
Tests seed these keys the same way. A link into a view carries its layer, direction,
unit and tab as query parameters (logic/diagnosis.LINK_KEYS); `follow_link()` moves them
into the views' widget keys once.
"""
from dataclasses import dataclass, field

import streamlit as st

from explorer.logic import diagnosis as debug_results
from explorer.logic.budget import BudgetError
from explorer.logic.subject import Subject
from explorer.logic import uploads as debugging

from . import cache as debug_cache
from . import messages, state
from .state import DATA, GRADIENTS, MODEL, SPEC, VOCAB
from .state import LOAD_CHOICE as CHOICE

LOAD_PAGE, FINDINGS_PAGE = state.DEBUG_LOAD, state.DEBUG_FINDINGS


@dataclass(frozen=True)
class Upload:
    """An uploaded file, kept across pages."""

    name: str
    raw: bytes = field(repr=False)
    digest: str = ""


def upload_of(f):
    """An Upload from a Streamlit UploadedFile (or None)."""
    if f is None:
        return None
    raw = f.getvalue()
    return Upload(f.name, raw, debugging.digest(raw))


REFUSED = "dbg_upload_refused"  # {state key: message} of uploads the server's budget refused


def store_upload(widget_key, state_key, forget=()):
    """on_change of a file uploader: keep its file under state_key (a cleared uploader forgets it),
    and drop the session keys starting with a prefix in `forget` (choices made for the previous file).

    A kept file counts against the server's upload budget (logic/budget.py) while it is kept; one
    that does not fit is not kept, and REFUSED says why (refused_message)."""
    refused = st.session_state.setdefault(REFUSED, {})
    refused.pop(state_key, None)
    st.session_state.pop(state_key, None)  # the file it replaces is given back first
    up = upload_of(st.session_state.get(widget_key))
    if up is not None:
        try:
            debug_cache.upload_budget().hold(up, len(up.raw), what=f"{up.name}")
        except (BudgetError, ValueError) as e:
            refused[state_key] = str(e)
            return
        st.session_state[state_key] = up
    for k in [k for k in st.session_state if str(k).startswith(tuple(forget))] if forget else []:
        del st.session_state[k]


def refused_message(state_key, where=st):
    """Show why the server's budget refused the file for state_key, if it did."""
    text = st.session_state.get(REFUSED, {}).get(state_key)
    if text:
        where.error(f"{BudgetError.title}: {text}")


def keep(*keys):
    """Keep the values of widgets that are not drawn on every page (Streamlit drops them otherwise)."""
    for k in keys:
        if k in st.session_state:
            st.session_state[k] = st.session_state[k]


def follow_link(layers, directions, units):
    """Move a link's query parameters into the views' widget keys, clamped to the model's sizes;
    returns {key: value} of those it moved."""
    q, moved = st.query_params, {}
    top = {"dbg_layer": layers - 1, "dbg_dir": directions - 1, "dbg_unit": units - 1}
    for k in debug_results.LINK_KEYS:
        if k not in q:
            continue
        v = q[k]
        if k == "dbg_tab":
            if v in debug_results.TABS:
                st.session_state[k] = moved[k] = v
        elif v.lstrip("-").isascii() and v.lstrip("-").isdecimal() and len(v) < 10:  # not '²': int() fails
            st.session_state[k] = moved[k] = min(max(int(v), 0), top[k])
        del q[k]
    for k, hi in top.items():  # a value left from another model
        if k in st.session_state and not 0 <= st.session_state[k] <= hi:
            st.session_state[k] = 0
    return moved


@dataclass
class Context:
    """What the analysis pages work on: the Subject (model, sequences, trace) and how it was loaded."""

    mf: object  # uploads.ModelFile
    subject: Subject  # the model, the data's Sequences and the trace, as on the Explore pages
    data: object  # uploads.Data: the Sequences and the notes on how they were read
    mkey: tuple  # (name, digest, LoadChoice): the model's cache key
    spec: object  # uploads.DataSpec

    @property
    def model(self):
        return self.subject.model

    @property
    def trace(self):
        return self.subject.trace

    @property
    def directions(self):
        return 2 if self.model.bidirectional else 1

    def gradient_spec(self):
        """The GradientSpec asked for on this model and data, or None."""
        g = st.session_state.get(GRADIENTS)
        return g[1] if g and g[0] == (self.mkey, self.spec) else None

    def ask_gradients(self, gspec):
        st.session_state[GRADIENTS] = ((self.mkey, self.spec), gspec)

    def pick(self, unit_label="unit", seq_label="sequence"):
        """The layer, direction (forward only: no widget), unit and sequence widgets in one row ->
        (layer, direction, unit, sequence); keys shared by the views (a link sets them)."""
        m, seqs = self.model, self.data.seqs
        cols = iter(st.columns(4 if self.directions == 2 else 3))
        layer = next(cols).selectbox("layer", range(m.num_layers), key="dbg_layer")
        d = next(cols).radio("direction", range(2), format_func=("forward", "reverse").__getitem__, key="dbg_dir",
                             horizontal=True) if self.directions == 2 else 0
        unit = next(cols).selectbox(unit_label, range(m.hidden_size), key="dbg_unit")
        seq = next(cols).selectbox(seq_label, range(seqs.batch_size), key="dbg_seq",
                                   format_func=lambda b: f"{b} ({int(seqs.lengths[b])} steps)")
        return layer, d, unit, seq

    def report(self):
        return debug_cache.report(self.mkey, self.spec, self.gradient_spec(), self.model, self.data)

    def caption(self):
        m = self.model
        chosen = " + ".join(n.rstrip(".") or "(top level)" for n in m.load_info.chosen)
        st.caption(f"**Model** {self.mf.name} › {chosen} (I={m.input_size}, H={m.hidden_size}, {m.num_layers} "
                   f"layer(s){', bidirectional' if m.bidirectional else ''}, {m.declaration.title}"
                   f"{'' if m.variant in m.declaration.title else ', ' + m.variant}) · **Data** "
                   f"{self.spec.name if self.spec.source == 'upload' else 'generated ' + self.spec.kind}: "
                   f"{debugging.data_summary(self.data)}")


def loaded_model():
    """(ModelFile, model) of the stored upload and choice; (mf, None) while a choice is missing;
    None without a model file. Raises debugging.UploadError."""
    up = st.session_state.get(MODEL)
    if up is None:
        return None
    mf = debug_cache.model_file(up.name, up.digest, up.raw)
    choice = st.session_state.get(CHOICE) or debugging.LoadChoice()
    if debugging.unanswered(mf, choice):
        return mf, None
    return mf, debug_cache.upload_model(up.name, up.digest, choice, up.raw)


def loaded_data(spec):
    """debugging.Data of a DataSpec with the stored uploads. Raises debugging.UploadError."""
    if spec.source == "upload":
        up, voc = st.session_state.get(DATA), st.session_state.get(VOCAB)
        if up is None:
            raise debugging.UploadError("choose a data file, or use a generated input")
        spec_raw, vocab = up.raw, voc.raw if voc is not None else None
        return debug_cache.upload_data(spec, spec_raw, vocab)
    return debug_cache.upload_data(spec)


def _stop(message, kind="info"):
    if isinstance(message, Exception):
        messages.show(message, fixes=False)  # the load page offers them, beside its widgets
    else:
        getattr(st, kind)(message)
    st.page_link(LOAD_PAGE, label="Load a model and data", icon=":material/upload_file:")
    st.stop()


def context():
    """The Context of the stored uploads and choices, or a message, a link to the load page, and st.stop()."""
    try:
        loaded = loaded_model()
        if loaded is None:
            _stop("No model yet: upload a trained LSTM or GRU (safetensors, PyTorch, Keras or ONNX) on the load "
                  "page.")
        mf, model = loaded
        if model is None:
            _stop(debugging.unanswered(mf, st.session_state.get(CHOICE) or debugging.LoadChoice()))
        spec = st.session_state.get(SPEC)
        if spec is None:
            _stop("No data yet: upload your data or choose a generated input on the load page.")
        data = loaded_data(spec)
        debugging.check_fit(model, data)
    except debugging.UploadError as e:
        _stop(e)
    up = st.session_state[MODEL]
    mkey = (up.name, up.digest, st.session_state.get(CHOICE) or debugging.LoadChoice())
    try:
        tr = debug_cache.upload_trace(mkey, spec, model, data)
    except (ValueError, TypeError, RuntimeError) as e:  # the engine's argument errors, out of memory
        _stop(f"The model could not run on this data: {(str(e).splitlines() or [''])[0]}", "error")
    return Context(mf, Subject(model, data.seqs, tr, notes=list(data.notes)), data, mkey, spec)
