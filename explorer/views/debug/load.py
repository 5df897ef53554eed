"""Page: upload a trained LSTM or GRU and your data; pick the model and the options the file does not record."""
import csv
import io

import streamlit as st

from explorer.logic import example as debug_example
from explorer.logic import uploads as debugging
from explorer.ui import cache as debug_cache
from explorer.ui import state
from explorer.ui import subjects as ds

CHOICE_KEYS = ("dbg_pick", "dbg_opt_")  # prefixes of the widgets that answer for one model file
DATA_KEYS = ("dbg_data_source", "dbg_lines", "dbg_encoding", "dbg_seq_col", "dbg_transpose", "dbg_gen_kind",
             "dbg_gen_steps", "dbg_gen_batch", "dbg_gen_seed", "dbg_gen_vary")
OFFER_KEYS = {"encoding": "dbg_encoding", "transpose": "dbg_transpose", "sequence_column": "dbg_seq_col",
              "source": "dbg_data_source"}  # DataSpec field -> the widget that sets it
SOURCES = {"upload": "a file of yours", "generated": "a generated input, for a quick look"}


def use_example():
    """on_click: store the built-in example's files as if uploaded (debug_example.py)."""
    for k in [k for k in st.session_state if str(k).startswith(CHOICE_KEYS + (ds.CHOICE,))]:
        del st.session_state[k]
    (m_name, m_raw), (d_name, d_raw) = debug_example.files().items()
    st.session_state[ds.MODEL] = ds.Upload(m_name, m_raw, debugging.digest(m_raw))
    st.session_state[ds.DATA] = ds.Upload(d_name, d_raw, debugging.digest(d_raw))
    st.session_state["dbg_data_source"] = "upload"


ds.keep(*DATA_KEYS, *[k for k in st.session_state if str(k).startswith(CHOICE_KEYS)])

st.title("Debug your own model")
st.markdown("Bring an LSTM or GRU trained elsewhere and data it reads. The app records every gate of it on your "
            "data and points at the units worth looking at: gates stuck open or shut, dead units, memories far shorter "
            "than your sequences, vanishing gradients, cell states that grow without bound. Then look where a "
            "finding points, try what-if interventions, and take the results away.")
c1, c2 = st.columns([1, 3], vertical_alignment="center")
c1.button("Try the built-in example", key="dbg_example", on_click=use_example, icon=":material/science:")
c2.caption("No files at hand? The example is a two-layer nn.LSTM tagger saved as safetensors, with three units "
           "of layer 0 broken on purpose (one forgets at once, one never forgets, one never outputs), and random "
           "walks as data. It goes through the same steps as your upload.")


def choose(mf):
    """The widgets that pick the LSTM and answer the file's questions -> a LoadChoice."""
    picks = mf.options()
    if len(picks) > 1:
        if st.session_state.get("dbg_pick") not in picks:
            st.session_state.pop("dbg_pick", None)
        pick = st.selectbox(f"This file holds {len(mf.candidates)} LSTMs: which one?", picks, index=None,
                            format_func=mf.label, key="dbg_pick", placeholder="choose one",
                            help="Nothing is loaded until you choose.")
    else:
        pick = picks[0]
        st.caption(f"One recurrent layer in the file: {mf.label(pick)}")  # an LSTM, a GRU, or either
    answers = {}
    for q in debugging.questions(mf, pick or ()):
        key = f"dbg_opt_{q.option}"
        default = None if q.default is None else q.choices.index(q.default)
        k = st.selectbox(q.label, range(len(q.choices)), index=default, format_func=lambda j, q=q: q.labels[j],
                         key=key, help=q.help, placeholder="choose")
        if k is not None:
            answers[q.option] = q.choices[k]
    return debugging.LoadChoice(which=pick or (), **answers)


def model_section():
    st.header("1. Your model")
    st.file_uploader("Model file: .safetensors, .pt / .pth, .keras, .weights.h5 / .h5, .onnx", key="dbg_model_upload",
                     on_change=ds.store_upload, args=("dbg_model_upload", ds.MODEL, CHOICE_KEYS + (ds.CHOICE,)),
                     help=state.upload_help())
    ds.refused_message(ds.MODEL)
    st.caption("**safetensors is preferred**: it holds tensors and nothing else. A `.pt`/`.pth` file is read with "
               "`torch.load(weights_only=True)` only; one that needs to run code to load (a whole pickled model, "
               "a custom class) is refused and nothing in it runs: save `model.state_dict()` instead. "
               f"Files up to {state.upload_mb():,} MB (a checkpoint with its optimizer state is larger: save the "
               "model's state dict alone).")
    up = st.session_state.get(ds.MODEL)
    if up is None:
        return None
    if up.name == debug_example.MODEL_NAME:
        st.caption(f"Using the built-in example's model, {up.name}; upload a file to replace it.")
    try:
        mf = debug_cache.model_file(up.name, up.digest, up.raw)
    except debugging.UploadError as e:
        st.error(f"{e}")
        return None
    choice = choose(mf)
    st.session_state[ds.CHOICE] = choice
    why = debugging.unanswered(mf, choice)
    if why:
        st.info(why)
        return None
    try:
        model = debug_cache.upload_model(up.name, up.digest, choice, up.raw)
    except debugging.UploadError as e:
        st.error(f"{e}")
        return None
    rows, notes = debugging.model_summary(model)
    cell = model.declaration  # "LSTM", "LSTM (coupled)", "GRU", "GRU (reset before the matmul, ...)"
    st.success(f"Loaded {up.name}: {cell.title}, {model.input_size} -> {model.hidden_size}, "
               f"{model.num_layers} layer(s){', bidirectional' if model.bidirectional else ''}.")
    st.table({"": [r[0] for r in rows], "loaded": [r[1] for r in rows]})
    for n in notes:
        st.caption(f"Note: {n}")
    return model


def header_names(raw):
    """The first row of a CSV, if it looks like a header (not all numbers)."""
    try:
        row = next(csv.reader(io.StringIO(raw[:4096].decode("utf-8", "replace"))), [])
    except csv.Error:
        return []
    names = [c.strip() for c in row]
    return names if any(n and not n.replace(".", "", 1).lstrip("-").isdigit() for n in names) else []


def data_section(model):
    st.header("2. Your data")
    source = st.radio("Data", tuple(SOURCES), format_func=SOURCES.get, key="dbg_data_source", horizontal=True,
                      label_visibility="collapsed")
    if source == "generated":
        if model is None:
            st.info("A generated input takes the model's input size: load the model first.")
            return None
        c1, c2, c3, c4 = st.columns(4)
        kind = c1.selectbox("input", debugging.GENERATED, key="dbg_gen_kind")
        steps = c2.number_input("steps T", 1, 20_000, 100, step=10, key="dbg_gen_steps")
        batch = c3.number_input("sequences B", 1, 64, 8, key="dbg_gen_batch")
        seed = c4.number_input("seed", 0, 2**31 - 1, 0, key="dbg_gen_seed")
        vary = st.checkbox("sequences of different lengths (padding shown blank)", True, key="dbg_gen_vary")
        spec = debugging.DataSpec("generated", kind=kind, steps=int(steps), batch=int(batch), seed=int(seed),
                                  vary_lengths=vary, input_size=model.input_size)
    else:
        left, right = st.columns([3, 2])
        left.file_uploader("Data file: .csv, .npy / .npz, or text (.txt)", key="dbg_data_upload",
                           on_change=ds.store_upload, args=("dbg_data_upload", ds.DATA), help=state.upload_help())
        ds.refused_message(ds.DATA, left)
        left.caption("**CSV**: rows are steps, columns features (a header is optional); a column naming the "
                     "sequence of each row makes a batch. **NPY/NPZ**: x of shape (B, T, I) or (T, I), and "
                     "optionally `lengths` (B,) for sequences of different lengths. **Text**: with a vocabulary "
                     "file, one-hot (or index) encoded per token.")
        up = st.session_state.get(ds.DATA)
        name = up.name.lower() if up else ""
        if up is not None and up.name == debug_example.DATA_NAME:
            left.caption(f"Using the built-in example's data, {up.name}; upload a file to replace it.")
        lines, encoding, column, transpose, voc = True, "onehot", "", False, None
        if name.endswith(debugging.TEXT_SUFFIXES):
            right.file_uploader("Vocabulary: JSON list of tokens, or dict token -> index", type=None,
                                key="dbg_vocab_upload", on_change=ds.store_upload, args=("dbg_vocab_upload", ds.VOCAB),
                                help=state.upload_help())
            ds.refused_message(ds.VOCAB, right)
            voc = st.session_state.get(ds.VOCAB)
            lines = right.checkbox("one sequence per line", True, key="dbg_lines")
            encoding = right.radio("encoding", ("onehot", "index"), key="dbg_encoding", horizontal=True,
                                   format_func={"onehot": "one-hot (I = vocabulary size)",
                                                "index": "token index (I = 1)"}.get)
        if name.endswith(".csv"):
            names = header_names(up.raw)
            if names:
                if st.session_state.get("dbg_seq_col", "") not in [""] + names:
                    st.session_state["dbg_seq_col"] = ""
                column = right.selectbox("sequence id column", [""] + names, key="dbg_seq_col",
                                         format_func=lambda c: c or "none: the file is one sequence")
        if name.endswith((".csv", ".npy", ".npz")):
            transpose = right.checkbox("rows are features, columns are steps", False, key="dbg_transpose")
        spec = debugging.DataSpec("upload", up.name if up else "", up.digest if up else "",
                                  voc.name if voc else "", voc.digest if voc else "", lines, encoding, column,
                                  transpose)
    st.session_state[ds.SPEC] = spec
    if spec.source == "upload" and not spec.name:
        return None
    try:
        data = ds.loaded_data(spec)
    except debugging.UploadError as e:
        st.error(f"{e}")
        return None
    st.success(f"Data: {debugging.data_summary(data)}.")
    for n in data.notes:
        st.caption(n)
    return data


def apply(changes):
    for field, value in changes.items():
        if field in OFFER_KEYS:
            st.session_state[OFFER_KEYS[field]] = value


model = model_section()
data = data_section(model)
if model is not None and data is not None:
    try:
        debugging.check_fit(model, data)
    except debugging.Mismatch as e:
        st.error(f"The data does not fit the model: {e}")
        for j, (label, changes) in enumerate(e.offers):
            st.button(label, key=f"dbg_offer_{j}", on_click=apply, args=(changes,), type="primary" if j == 0 else
                      "secondary")
    except debugging.UploadError as e:
        st.error(f"{e}")
    else:
        st.header("3. Look")
        st.markdown("Ready. Start with the findings: each one links to the view that shows it.")
        c1, c2, c3, c4 = st.columns(4)
        c1.page_link(ds.FINDINGS_PAGE, label="Findings", icon=":material/troubleshoot:")
        c2.page_link(state.DEBUG_GATES, label="Gates of your model", icon=":material/grid_on:")
        c3.page_link(state.DEBUG_WHATIF, label="What-if", icon=":material/science:")
        c4.page_link(state.DEBUG_EXPORT, label="Take the results away", icon=":material/download:")
