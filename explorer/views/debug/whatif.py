"""Page: what-if interventions: clamp a gate of chosen units over a range of steps, or silence units, and re-run.
The clamp targets are the fields the model's cell declares (an LSTM's i, f, g, o, c, h; a GRU's r, z, n, h)."""
import streamlit as st

from explorer.ui import cache as debug_cache
from explorer.ui import state
from explorer.logic import diagnosis as dr
from explorer.ui import subjects as ds
from explorer.figures import diagnostics as dfig
from lstm_core.analysis import diagnostics as dg

ACTIONS = {"clamp": "clamp a gate or state to a value", "zero": "silence units (h = 0)"}
SPEC = state.WHATIF_SPEC  # the last what-if run: a WhatIfSpec

ctx = ds.context()
m, tr = ctx.model, ctx.trace
T = tr.T
cell, roles = tr.declaration, dg.roles(tr)
TARGETS = dr.clamp_targets(cell)
STATES = tuple(dict.fromkeys((roles.output, roles.memory)))  # h, c of an LSTM; h of a GRU
for key, allowed in (("dbg_wi_target", TARGETS), ("dbg_wi_field", STATES)):
    if key in st.session_state and st.session_state[key] not in allowed:  # left from another cell's model
        del st.session_state[key]
linked = ds.follow_link(m.num_layers, ctx.directions, m.hidden_size)
if "dbg_unit" in linked:  # a finding's link: what if that unit were silenced?
    st.session_state["dbg_wi_units"] = [linked["dbg_unit"]]
    st.session_state["dbg_wi_action"] = "zero"
if any(u >= m.hidden_size for u in st.session_state.get("dbg_wi_units", [])):  # left from another model
    st.session_state["dbg_wi_units"] = [u for u in st.session_state["dbg_wi_units"] if u < m.hidden_size]
if max(st.session_state.get("dbg_wi_steps", (0, 0))) > T - 1:
    del st.session_state["dbg_wi_steps"]
ds.keep("dbg_layer", "dbg_dir", "dbg_unit", "dbg_wi_action", "dbg_wi_target", "dbg_wi_value", "dbg_wi_units",
        "dbg_wi_steps", "dbg_wi_field")
st.header("What if…")
ctx.caption()
st.markdown("Force a gate or state of chosen units to a value over a range of steps, or silence units (their h "
            "set to 0), run the model again on the same data, and see what changes downstream: later steps, the "
            "layers above, the output. Nothing can change before the first intervened step in a forward pass.")

with st.form("dbg_whatif_form", border=True):
    c1, c2, c3 = st.columns(3)
    action = c1.radio("intervention", tuple(ACTIONS), format_func=ACTIONS.get, key="dbg_wi_action")
    target = c2.selectbox("gate or state (clamp)", tuple(TARGETS), format_func=TARGETS.get, key="dbg_wi_target",
                          help=" ".join(f"{k}: {v}." for k, v in cell.notes.items()) or None)  # z keeps, in full
    value = c3.number_input("value (clamp)", -100.0, 100.0, 0.0, step=0.1, key="dbg_wi_value",
                            help=dr.clamp_value_help(cell))
    cols = iter(st.columns(3 if ctx.directions == 2 else 2))
    layer = next(cols).selectbox("layer", range(m.num_layers), key="dbg_layer")
    d = next(cols).radio("direction", range(2), format_func=("forward", "reverse").__getitem__,
                         key="dbg_dir", horizontal=True) if ctx.directions == 2 else 0
    units = next(cols).multiselect("units", range(m.hidden_size), [0], key="dbg_wi_units")
    default = (T // 4, min(T - 1, T // 4 + max(1, T // 20)))
    steps = st.slider("steps (both ends included, in time order)", 0, T - 1, default, key="dbg_wi_steps") \
        if T > 1 else (0, 0)
    run = st.form_submit_button("Run what-if", type="primary")

if run:
    P = m.proj_size or m.hidden_size
    top = P if action == "zero" or target == "h" else m.hidden_size
    if not units:
        st.warning("Choose at least one unit.")
    elif max(units) >= top:
        st.warning(f"h has {P} features (projection): choose units below {P}.")
    else:
        st.session_state[SPEC] = dr.WhatIfSpec(action, target, float(value), tuple(sorted(units)), int(layer), int(d),
                                               int(steps[0]), int(steps[1]))
spec = st.session_state.get(SPEC)
if spec is None or spec.stop >= T or spec.layer >= m.num_layers or spec.direction >= ctx.directions:
    st.info("Choose an intervention and press **Run what-if**.")
    st.stop()

res = debug_cache.what_if(ctx.mkey, ctx.spec, spec, m, ctx.data)
summary = dr.what_if_summary(res, spec)
out = summary[summary.field == "output"].iloc[0]
st.success(f"Ran: {spec.describe()}.")
c1, c2, c3 = st.columns(3)
c1.metric("first step the output changed", "never" if res.first_changed_step is None else res.first_changed_step)
c2.metric(f"largest |Δ output| before step {spec.start}", f"{out.max_before:.3g}")
c3.metric(f"largest |Δ output| from step {spec.start} on", f"{out.max_after:.3g}")
if ctx.directions == 2 and out.max_before > 0:
    st.caption("The output moved before the intervention because the reverse direction of a layer above reads the "
               "steps after it first.")
field = st.radio("show the change in", STATES, key="dbg_wi_field", horizontal=True,
                 format_func=lambda k: f"{cell.field(k).title} {k}")
st.plotly_chart(dfig.intervention_effect(res.effect, res.output_change, field, spec.steps), key="dbg_wi_fig",
                config={"displaylogo": False})
left, right = st.columns(2)
left.markdown("**Change per layer** (max |Δ| over sequences and units)")
left.dataframe(summary, hide_index=True, placeholder="", key="dbg_wi_summary")
right.markdown("**Units that changed most** (max |Δh|)")
right.dataframe(dr.most_changed_units(res), hide_index=True, placeholder="", key="dbg_wi_units_changed")
