"""Every cache of the "Debug your model" pages, keyed on file digests and frozen choices.

An upload enters a key through its name and sha256 digest; its bytes are passed as
`_raw` / `_vocab`, which Streamlit does not hash. Models, data, traces and reports are
st.cache_resource: one object shared by the pages (a trace or a model is never
copied, and treated as read-only everywhere). `mkey` is (name, digest, LoadChoice),
`spec` a debugging.DataSpec. Failures are debugging.UploadError, which Streamlit does
not cache, so a page shows the message again on every rerun until the input changes.
"""
import streamlit as st

from . import debug_results, debugging


@st.cache_resource(max_entries=4, show_spinner=False)
def model_file(name, digest, _raw):
    """debugging.inspect_model: format, candidates and questions of an uploaded model file."""
    return debugging.inspect_model(name, _raw)


@st.cache_resource(max_entries=4, show_spinner="Loading the model…")
def model(name, digest, choice, _raw):
    """The lstm_core.LSTM of a LoadChoice in an uploaded file."""
    return debugging.load_model(model_file(name, digest, _raw), _raw, choice)


@st.cache_resource(max_entries=8, show_spinner=False)
def data(spec, _raw=None, _vocab=None):
    """debugging.Data of a DataSpec (an upload's bytes, or a generator's settings)."""
    return debugging.read_data(spec, _raw, _vocab)


@st.cache_resource(max_entries=4, show_spinner="Running your model and recording every gate…")
def trace(mkey, spec, _model, _data):
    return debug_results.trace_of(_model, _data)


@st.cache_resource(max_entries=8, show_spinner="Computing gradient norms: one backward pass per unit…")
def gradients(mkey, spec, gspec, _model, _data):
    return debug_results.gradients(_model, _data, gspec)


@st.cache_resource(max_entries=8, show_spinner="Measuring saturation, memory and cell-state growth…")
def report(mkey, spec, gspec, _model, _data):
    """diagnostics.Report of the model on the data; with the gradient flow when gspec is not None."""
    grads = None if gspec is None else gradients(mkey, spec, gspec, _model, _data)
    return debug_results.diagnose(trace(mkey, spec, _model, _data), grads)


@st.cache_resource(max_entries=4, show_spinner="Running the model with and without the intervention…")
def what_if(mkey, spec, wspec, _model, _data):
    return debug_results.run_what_if(_model, _data, wspec)
