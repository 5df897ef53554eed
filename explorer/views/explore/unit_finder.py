"""Page: which units track the task's latent signal (a correlation per unit), and their traces beside it."""
import streamlit as st

from explorer.figures import lines
from explorer.logic import models
from explorer.ui import cache, sidebar
from lstm_core.analysis.units import fields_of

Q = dict(bind="query-params")
RANKING = "uf_ranking_of"  # what the units in "uf_units" were picked from

choice = sidebar.current()
st.header("Unit finder")
st.markdown(
    "Every demo task knows its **latent** signals, the quantities a unit that solves it should carry: the "
    "value held in memory, the nesting depth, whether the text is inside a string. For every unit, the "
    "**correlation r** between the latent and the unit's memory, output $h$ or a gate, over every "
    "step of every sequence of the input, ranks the units: |r| near 1, the unit tracks it (Karpathy, Johnson "
    "and Fei-Fei 2015 found such cells by eye; this finds them by number).")

tr = sidebar.run_or_stop(choice)
choice = sidebar.view_controls(choice, ("layer", "seq"))  # the View row: sidebar.py
m, spec, v = choice.model, choice.input, choice.view

if spec.kind != "task":
    st.info("The unit finder needs an input whose latent signals are known: a sample of a demo task.")
    sidebar.fix_button("Use a sample of a task as the input", "input", "task", "uf_use_task")
    st.stop()
task = models.make_task(spec)
if models.task_of(m) != task.name:
    st.caption(f"This model was not trained on {task.title}: expect small correlations, the baseline a "
               f"trained model beats.")


def pick_bar():
    """A click on a bar plots that unit below (its customdata is [field, unit])."""
    points = st.session_state["uf_ranking"].selection.get("points", [])
    picked = [f"{p['customdata'][0]}[{int(p['customdata'][1])}]" for p in points if p.get("customdata")]
    if picked:
        st.session_state["uf_units"] = picked[:6]


c1, c2, c3 = st.columns([2, 3, 1])
FIELDS = fields_of(tr)  # the cell's: c, h, i, f, g, o; a GRU's h, r, z, n
if "uf_fields" in st.session_state:  # only this cell's fields are options (a GRU after an LSTM's c, i)
    held = [k for k in FIELDS if k in st.session_state["uf_fields"]]
    st.session_state["uf_fields"] = held if held or not st.session_state["uf_fields"] else list(FIELDS)
latent = c1.selectbox("latent signal", task.latent_names, index=0, key="uf_latent", **Q)
fields = c2.multiselect("look in", FIELDS, default=list(FIELDS), key="uf_fields", **Q)
top = c3.number_input("units shown", 1, 40, 8, key="uf_top", **Q)
st.caption(models.latent_note(task))
if not fields:
    st.info(f"Pick at least one of {', '.join(FIELDS)} to look in.")
    st.stop()
fields = tuple(k for k in FIELDS if k in fields)
scores = cache.unit_scores(m, spec, latent, fields, v.layer, v.direction)
where = f"layer {v.layer}{' reverse' if v.direction else ''}, " if m.num_layers > 1 or m.bidirectional else ""
st.plotly_chart(lines.unit_ranking(scores[:top], latent=latent,
                                          title=f"Units that track {latent} ({where}best |r| first)"),
                key="uf_ranking", on_select=pick_bar, selection_mode="points", config={"displaylogo": False})
best = scores[0]
st.caption(f"r over {best.n:,} steps of {tr.batch_size} sequence(s) where {latent} is defined. Click a bar to "
           f"plot that unit below.")

labels = [s.label for s in scores]
# A selection belongs to the ranking it was picked from: another model, task, layer, latent or place
# to look ranks other units, so the plot follows the new ranking's top units; kept, h[2] of the
# recall model was plotted against the depth of the bracket task (issue 21, item 8). The first
# run on this page keeps the selection a link carries.
ranking = (m, task.name, v.layer, v.direction, latent, fields)
if st.session_state.get(RANKING, ranking) != ranking:
    st.session_state["uf_units"] = labels[:3]
st.session_state[RANKING] = ranking
chosen = st.multiselect("units beside the latent", labels, default=labels[:3], key="uf_units", max_selections=6,
                        **Q)
b = v.sequence
s = cache.task_sample(spec)
series = {}
for label in chosen:
    field, unit = label[0], int(label[2:-1])
    series[label] = tr.get(field, v.layer, v.direction)[:, b, unit].float().numpy()  # (T,)
if series:
    st.plotly_chart(lines.unit_vs_latent(series, s.latents[latent][:, b].numpy(), latent_name=latent,
                                                title=f"sequence {b}: the units (left axis) and {latent} "
                                                      f"(right axis, dashed)"),
                    key="uf_traces", config={"displaylogo": False})
    st.caption("Gaps in the dashed line: steps where the latent is not defined. The View row's sequence b, at "
               "the top of the page, picks the sequence.")
else:
    st.info("Pick units above, or click a bar.")
