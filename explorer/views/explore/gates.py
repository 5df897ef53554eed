"""Page: the fields a cell records (an LSTM's i, f, g, o, c, h; a GRU's r, z, n, h) as unit-by-step
heatmaps under the input signal, with the cell's own equations (its declaration's)."""
import streamlit as st

from explorer.logic import budget, models
from explorer.logic.subject import cell_sentence, equations_tex
from explorer.ui import cache, sidebar
from lstm_core import zoo

# What the hand-wired demo's first three units do (logic/models.py WIRINGS), by cell family
DEMO_NOTES = {
    "lstm": "**Demo**: the top three units are wired by hand. **Unit 0 is a memory**: $i$ opens at each store "
            "marker, $f$ dips to clear the old value, $c$ holds the new one and $o$ opens at the recall cue. "
            "**Unit 1 counts** recall cues in $c$; **unit 2 tracks** the value with no memory ($f$ ≈ 0). The "
            "others are random and untrained.",
    "gru": "**Demo**: the top three units are wired by hand. **Unit 0 is a memory**: $z$ (the fraction of $h$ "
           "kept) drops to 0 at each store marker, so $h$ takes the new value $n$, and stays near 1 otherwise. "
           "**Unit 1 counts** recall cues in $h$; **unit 2 tracks** the value with no memory ($z$ ≈ 0). With no "
           "output gate, $h$ shows the memory at every step. The others are random and untrained.",
}

choice = sidebar.current()
m = choice.model
try:  # the cell's declaration without building the model: its errors are run_or_stop's to show
    cell = zoo.declaration(m.variant)
except ValueError:
    cell = None
family = cell.title.split(" (")[0] if cell else "recurrent cell"
st.title(f"What the gates of {'an' if family[0] in 'AEFHILMNORSX' else 'a'} {family} do, step by step")
demo = m.source == "demo" and choice.input.kind == "recall" and cell is not None and cell.family in DEMO_NOTES
# the text full width unless the demo's note sits beside it: at 1280x720, two lines less above
# the first figure (issue 21, item 5)
left, right = st.columns([3, 2]) if demo else (st.container(), None)
signed = ", ".join(f"${f.name}$" for f in cell.fields if not f.is_gate) if cell else ""
left.markdown(
    f"The {family} reads the **input** (top row) one step at a time. "
    + (cell_sentence(cell) if cell else "") + " Each panel is one of them: **a row per unit, a column per "
    f"step**. Gates run from 0 (closed, dark purple) to 1 (open, yellow); {signed} are signed: red above zero, "
    "blue below, white at zero.")
if demo:
    right.info(DEMO_NOTES[cell.family])
tr = sidebar.run_or_stop(choice)


@st.fragment
def view():
    """The View controls and what they change: a change of one reruns this, not the sidebar (issue 12)."""
    c = sidebar.view_controls(sidebar.current())
    v = c.view
    found = None
    # the figure first and what to look for under it, like a figure's caption: at 1280x720 the
    # caption box above it pushed the first figure below the first screen (issue 21, item 5); the
    # caption is read first all the same, since it names the unit the figure frames
    chart = st.container()
    if cache.knows_task(m, c.input):  # a model trained on this task: what to look for (issue 5)
        beside = cache.caption_figure(m, c.input, v.layer, v.direction, v.sequence) is not None
        plot, note = st.columns([3, 2]) if beside else (None, st.container())  # no plot: the text, full width
        found = sidebar.task_caption(note, c, plot)
    if not v.gates:
        chart.info("Choose at least one panel above (panels).")
        return
    mark = (found["unit"], f"unit {found['unit']}") if found else None
    fig = cache.heatmap_figure(m, c.input, v, c.upload, highlight=mark)
    chart.plotly_chart(fig, key="heatmaps", config={"displaylogo": False})
    # under the figure, not above: the figure on the first screen at 1280x720 (issue 21, item 5)
    st.caption(f"{models.model_name(m.variant)}, I={m.input_size}, H={m.hidden_size}, {m.num_layers} layer(s)"
               f"{', bidirectional' if m.bidirectional else ''}; {tr.T:,} steps x {tr.batch_size} sequence(s); "
               f"showing layer {v.layer}{' reverse' if v.direction else ''}, sequence {v.sequence}; "
               f"trace {budget.size(tr.nbytes())} via '{tr.method}'.")
    meta = fig.layout.meta
    if meta["note"]:
        st.caption(meta["note"])
    if meta["refused_exact"]:
        st.caption("Exact hover values are drawn up to 1,500,000 cells; this view has more, so it is drawn as "
                   "images. Narrow the time window or choose fewer panels.")
    elif meta["representation"] == "image":
        st.caption("Drawn as images for speed: hover shows step and unit. For exact values tick 'exact hover "
                   "values', narrow the time window, or pick the unit on the Units page.")
    else:
        st.caption("Hover a cell for its step, unit and exact value.")
    for name, (_, top) in meta["clipped"].items():
        st.caption(f"The colour scale of {name} is {meta['scales'][name]}; larger "
                   f"values, up to {top:.3g}, take its end colours.")
    if int(tr.lengths.min()) < tr.T:
        st.caption("Blank cells are padding: steps after a shorter sequence ended.")


view()

with st.expander("The equations", expanded=True):
    st.latex(equations_tex(tr.declaration))  # this model's own: the coupled cell's i = 1 − f, a GRU's four lines
    for note in tr.declaration.notes.values():  # "z keeps: h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}, ...", "i = 1 − f: ..."
        st.caption(f"{note}.")
    st.caption(f"These are the equations of this model, a {tr.declaration.title}. σ is the logistic sigmoid, "
               "⊙ the element-wise product, W and b the weights and biases of the layer (for layers above the "
               "first, x_t is h_t of the layer below); the Step through page shows them with this model's numbers.")
