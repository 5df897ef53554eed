"""Page: the input's characters, each coloured by one unit's value at that step (Karpathy et al. 2015, Fig. 2)."""
import numpy as np
import streamlit as st

from explorer.figures import text as text_figures
from explorer.logic import models
from explorer.ui import cache, messages, sidebar
from lstm_core.analysis.units import fields_of

Q = dict(bind="query-params")
TEXT_TASKS = {"charlm": "Show the character model on Python text", "dyck": "Show the bracket model on brackets"}

choice = sidebar.current()
st.header("Text coloured by a unit")
st.markdown(
    "The characters the model read, in order, each on a background coloured by one unit's value at that "
    "step: red above zero, blue below (a gate: from 0 to 1). A unit that has learned a property of the "
    "text lights up wherever it holds, as the cells Karpathy, Johnson and Fei-Fei (2015, *Visualizing and "
    "Understanding Recurrent Networks*, Figure 2) found: inside quotes, in a comment, with the indentation. "
    "Hover a character for its step and the value.")

tr = sidebar.run_or_stop(choice)
choice = sidebar.view_controls(choice, ("layer", "seq"))  # the View row: sidebar.py
m, spec, v = choice.model, choice.input, choice.view
H, b = tr.hidden_size, v.sequence


text = None
if spec.kind == "task":
    s = cache.task_sample(spec)
    text = models.text_of(s, models.make_task(spec), b)
elif spec.kind in ("text", "brackets"):  # typed lines, bracket strings: a character per step
    labels = cache.signal(spec, m.input_size, choice.upload).labels
    text = "".join(labels[: int(tr.lengths[b]), b]) if labels is not None else None
if text is None:
    st.info("The text view needs an input of characters: the character model's task (Model > task: charlm), "
            "the bracket task (dyck), typed text or bracket strings.")
    # a click to a shipped model that reads characters, not a hunt through the sidebar (issue 21)
    row = st.container(horizontal=True)
    for j, (name, label) in enumerate(TEXT_TASKS.items()):
        messages.fix_button(label, {"source": "shipped", "task": name, "input": "task"}, f"tv_to_{name}",
                            primary=j == 0, where=row)
    st.stop()

found = None
if cache.knows_task(m, spec):
    _, found = cache.caption(m, spec, v.layer, v.direction)  # the unit the caption names: a good start
best_unit = found["unit"] if found else 0
if st.session_state.get("tv_unit", 0) > H - 1:
    st.session_state["tv_unit"] = H - 1
FIELDS = fields_of(tr)  # the cell's: c, h, i, f, g, o; a GRU's h, r, z, n
if st.session_state.get("tv_field") not in (None, *FIELDS):  # a field of another cell (an LSTM's c on a GRU)
    st.session_state["tv_field"] = FIELDS[0]
memory = tr.declaration.memory
c1, c2, c3 = st.columns([1, 1, 4], vertical_alignment="bottom")
field = c1.selectbox("colour by", FIELDS, index=FIELDS.index(found["field"]) if found and found["field"] in FIELDS else 0, key="tv_field", **Q)
unit = c2.number_input("unit", 0, H - 1, best_unit, key="tv_unit", **Q)

if spec.kind == "task" and cache.knows_task(m, spec):
    task = models.make_task(spec)

    def show(f, u):
        st.session_state["tv_field"], st.session_state["tv_unit"] = f, u

    c3.caption(f"The {tr.declaration.field(memory).title} that tracks each latent best (unit finder):")
    cols = st.columns(len(task.latent_names))
    for col, latent in zip(cols, task.latent_names):
        top = cache.unit_scores(m, spec, latent, (memory,), v.layer, v.direction)[0]
        col.button(f"{latent}: {memory}[{top.unit}] (r = {top.r:+.2f})", key=f"tv_best_{latent}", on_click=show,
                   args=(memory, top.unit), width="stretch")

values = tr.get(field, v.layer, v.direction)[: len(text), b, unit].float().numpy()  # (T,)
scale = dict(zmin=0.0, zmax=1.0) if tr.declaration.field(field).is_gate else {}  # a gate: 0..1
label = f"{field}[{unit}]"
st.plotly_chart(text_figures.text_view(text, values, label=label, **scale,
                                       title=f"sequence {b}, coloured by {label}"),
                key="text_view", config={"displaylogo": False})
st.caption(f"{len(text):,} characters (↵ is a newline); {label} ranges from {np.nanmin(values):+.2f} to "
           f"{np.nanmax(values):+.2f}. The sidebar's Input > steps T reads more text; sequence b above "
           f"picks another.")
