"""Page: two to four models side by side on the same input, `/compare?task=recall&variants=standard,coupled,peephole`.

Shared controls drive every column; a click on a cell of any column picks its step and
unit, which are then marked in every column (the linked highlight). The URL holds every
control, so a comparison can be linked. A column may be an LSTM variant or a GRU
(`variants=standard,gru`): each draws its own cell's fields, in rows aligned by role
(explorer.logic.roles: f beside z, c beside h), and says how it keeps its memory.
"""
import re

import streamlit as st

from explorer.figures.slides import export_config
from explorer.logic import compare, roles
from explorer.logic.lessons import MAX_VARIANTS, View
from explorer.ui.slides import compare_figure, difference_figure
from explorer.ui import cache
from lstm_core.tasks import TASKS

VIEW_KEYS = {"b": "cmp_seq", "step": "cmp_step", "unit": "cmp_unit"}  # URL name -> session key


def inline_math(text):
    """The declaration's plain-text symbols as KaTeX, "h_{t−1}" as $h_{t-1}$: Streamlit's markdown
    writes the braces otherwise."""
    def tex(m):
        return f"${m[1]}_{{{m[2].strip('{}')}}}$".replace("−", "-")
    return re.sub(r"\b([A-Za-z])_(\{[^}]*\}|[A-Za-z0-9]\b)", tex, text)


def show_query(spec, view=None):
    """Make the URL the spec's and the view's {name: str}, and nothing left from an earlier state
    (issue 21, item 3: models=random and H= stayed after going back to shipped). The task is left to
    Streamlit, which keeps it bound to the sidebar's widget."""
    d = {**compare.to_query(spec), **(view or {})}
    for k in (*compare.NAMES, *VIEW_KEYS, "panels"):
        if k != "task" and k not in d:
            st.query_params.pop(k, None)
    for k, val in d.items():
        if k != "task" and st.query_params.get(k) != val:
            st.query_params[k] = val
    st.session_state["cmp_from"] = st.query_params.get("variants")  # this URL is ours, not a new link


st.title("Compare models on the same input")
q = st.query_params.to_dict()
if st.session_state.get("cmp_from") != q.get("variants") or "cmp_variants" not in st.session_state:
    try:  # a new link: it decides every control
        first = compare.parse_query(q, fewest=0)  # one variant chosen: the page as it was, asking for another
    except compare.CompareError as e:
        st.error(f"This link asks for a comparison the page cannot draw: {e}. Showing the default instead.")
        first = compare.CompareSpec()
    st.session_state.update(cmp_from=q.get("variants"), cmp_source=first.source, cmp_variants=list(first.variants),
                            cmp_hidden=first.hidden, cmp_mseed=first.model_seed,
                            cmp_steps=first.steps or TASKS[first.task]().config()["length"], cmp_batch=first.batch,
                            cmp_iseed=first.input_seed, task=first.task)
    for name, key in VIEW_KEYS.items():
        if name in q:
            st.session_state[key] = q[name]
    if "panels" in q:
        st.session_state["cmp_panels"] = q["panels"].split(",")


def take_pick(chart):
    """A click on a cell of `chart` (the previous run's grid or difference): its step and unit, then
    marked in every column. The figures' pick markers carry customdata [column, step, unit, value]."""
    picks = [compare.pick_of(p) for p in (st.session_state.get(chart) or {}).get("selection", {}).get("points") or []]
    picks = [p for p in picks if p is not None]
    if not picks:
        return
    sig = picks[-1]
    if sig != st.session_state.get(f"{chart}_last_pick"):  # the selection stays in the state: take it once
        st.session_state["cmp_step"], st.session_state["cmp_unit"] = int(sig[1]), int(sig[2])
        st.session_state[f"{chart}_last_pick"] = sig


take_pick("cmp_grid")
take_pick("cmp_diff")

c1, c2, c3 = st.columns([1.2, 1.2, 3])
task = c1.selectbox("task", tuple(TASKS), key="task", bind="query-params",  # the sidebar's: one task on every page
                    help="the models' task and the input: a fresh sample of it")
source = c2.radio("models", ("shipped", "random"), key="cmp_source", horizontal=True,
                  help="shipped: trained on the task (assets/models); random: untrained, the same seed and sizes")
allowed = compare.available(task, source)
st.session_state["cmp_variants"] = [x for x in st.session_state.get("cmp_variants", []) if x in allowed]
variants = c3.multiselect("variants (2 to 4 columns)", allowed, key="cmp_variants", max_selections=MAX_VARIANTS)
c1, c2, c3, c4, c5 = st.columns(5)
hidden = c1.number_input("hidden size H", 1, 256, key="cmp_hidden", disabled=source == "shipped",
                         help="random models only: a shipped model has its own")
mseed = c2.number_input("model seed", 0, 2**31 - 1, key="cmp_mseed", disabled=source == "shipped")
steps = c3.number_input("steps T", 1, 2000, key="cmp_steps")
batch = c4.number_input("sequences B", 1, 64, key="cmp_batch")
iseed = c5.number_input("input seed", 0, 2**31 - 1, key="cmp_iseed")

shown = compare.CompareSpec(task, tuple(variants), source, int(hidden), int(mseed),
                            None if steps == TASKS[task]().config()["length"] else int(steps), int(batch), int(iseed))
try:
    spec = compare.parse_query(compare.to_query(shown))
except compare.CompareError as e:
    show_query(shown)  # the link of a page still being set up opens as it is
    st.info(f"Pick 2 to 4 variants to compare ({e}).")
    st.stop()
try:
    cols = cache.compare_columns(spec)
except (OSError, ValueError, RuntimeError) as e:
    st.error(f"These models could not run: {e}")
    st.stop()

T, H = cols[0].subject.trace.T, max(c.hidden_size for c in cols)
OWN = "each column's"  # the unit control's default: every column frames the unit it names
for key, top in (("cmp_seq", batch - 1), ("cmp_step", T - 1), ("cmp_unit", H - 1)):  # the link's, or a bigger spec's
    raw = st.session_state.get(key, OWN if key == "cmp_unit" else 0)
    try:
        st.session_state[key] = min(max(int(raw), 0), top)
    except (TypeError, ValueError):
        st.session_state[key] = OWN if key == "cmp_unit" else 0
grid = compare.grid_rows(cols)  # a row per role: f beside z, c beside h
mixed = len({c.declaration.names for c in cols}) > 1
# by default the gates and the memory (i, f, o, c of LSTMs); every row where the cells differ, so
# that each column shows its whole cell
default = [r.key for r in grid] if mixed else [
    r.key for r in grid if r.role == "memory" or any(n in c.declaration.gates for c, n in zip(cols, r.names) if n)]
asked = st.session_state.get("cmp_panels", default)  # row keys, or field names from an older link
st.session_state["cmp_panels"] = [r.key for r in roles.pick_rows(grid, asked)]
c1, c2, c3, c4 = st.columns([1, 2.2, 3, 1.2])
seq = c1.number_input("sequence b", 0, batch - 1, key="cmp_seq")
panels = c2.multiselect("panels", [r.key for r in grid], key="cmp_panels",
                        help="a row per role: where the cells differ, each column draws its own field "
                             "(f of an LSTM beside z of a GRU: both keep the memory)")
step = c3.slider("step t (marked in every column)", 0, T - 1, key="cmp_step") if T > 1 else 0
unit = c4.selectbox("unit framed", (OWN,) + tuple(range(H)), key="cmp_unit",
                    help="click a cell of any column to pick its step and unit")
show_query(spec, {"b": str(seq), "step": str(step), "panels": ",".join(panels)}
           | ({} if unit == OWN else {"unit": str(unit)}))
unit = None if unit == OWN else int(unit)

for where, col in zip(st.columns(len(cols)), cols):
    where.markdown(f"**{col.variant}**{' (random)' if source == 'random' else ''}: {compare.summary(col)}")
    where.caption(f"{col.declaration.title}: ${roles.memory_latex(col.declaration)}$ · "
                  f"{inline_math(roles.keeps(col.declaration))}")
if not panels:
    st.info("Choose at least one panel.")
    st.stop()
view = View(page="compare", task=task, variants=spec.variants, sequence=int(seq), panels=tuple(panels))
fig = compare_figure(cols, view, step=int(step), unit=unit)
st.plotly_chart(fig, key="cmp_grid", on_select="rerun", selection_mode="points",
                config=export_config(1920, 1080, "png", name=f"compare-{task}"))
st.caption("Click a cell in any column: its step and unit are marked in every column (a click, not a hover: "
           "Streamlit's chart reports what is selected, not what the mouse is over). Hover shows the value; drag to "
           "zoom, double-click to zoom out. The frame is the unit named above each column unless you pick one.")

st.subheader("Difference")
c1, c2, c3 = st.columns(3)
a = c1.selectbox("this model's", spec.variants, index=0, key="cmp_diff_a")
b = c2.selectbox("minus that one's", spec.variants, index=1, key="cmp_diff_b")
ia, ib = spec.variants.index(a), spec.variants.index(b)
both = [r for r in grid if r.names[ia] and r.names[ib]]  # rows where both draw a field: f - f, or f - z
names = {r.key: r for r in both}
if st.session_state.get("cmp_diff_field") not in names:  # a row of other columns: the keep row again
    st.session_state.pop("cmp_diff_field", None)
keep = next((k for k, r in enumerate(both) if r.role == "keep"), 0)
row = names[c3.selectbox("field", list(names), index=keep, key="cmp_diff_field",
                         format_func=lambda k: k if names[k].names[ia] == names[k].names[ib]
                         else f"{names[k].names[ia]} − {names[k].names[ib]}")]
A, B = cols[ia], cols[ib]
if a == b:
    st.caption("Pick two different models.")
elif A.hidden_size != B.hidden_size:
    st.caption(f"{a} has {A.hidden_size} units and {b} {B.hidden_size}: units cannot be aligned one to one.")
else:
    st.plotly_chart(difference_figure(A, B, row.names[ia], view, step=int(step), unit=unit, field_b=row.names[ib]),
                    key="cmp_diff",
                    on_select="rerun", selection_mode="points",
                    config=export_config(1920, 1080, "png", name=f"difference-{a}-{b}"))
    ma, mb = A.declaration.memory, B.declaration.memory
    st.caption(f"Units are aligned by their memories: unit k of {a} is paired with the unit of {b} whose "
               f"{mb if ma == mb else f'{mb} (its memory)'} moves most like {a}'s {ma} (one to one, summed |r| as "
               f"large as possible), as the row labels say. Click a cell: its step and {a}'s unit are marked in "
               f"every column.")
