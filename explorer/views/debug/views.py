"""Page: the diagnostics' views of one layer: saturation, memory, gradient flow and cell-state growth."""
import streamlit as st

from explorer.figures import diagnostics as dfig, lines, saturation
from explorer.logic import diagnosis as dr
from explorer.logic.subject import memory_update
from explorer.ui import subjects as ds
from lstm_core.analysis import diagnostics as dg

CONFIG = {"displaylogo": False}

ctx = ds.context()
m, tr, seqs = ctx.model, ctx.trace, ctx.data.seqs
ds.follow_link(m.num_layers, ctx.directions, m.hidden_size)
ds.keep("dbg_layer", "dbg_dir", "dbg_unit", "dbg_seq", "dbg_tab", "dbg_grad_units", "dbg_grad_seqs")
st.header("Diagnostic views")
ctx.caption()
layer, d, unit, seq = ctx.pick(seq_label="sequence (for the curves)")
where = f"layer {layer}{' reverse' if d else ''}"
report = ctx.report()
roles = dg.roles(tr)  # the cell's memory (c, h), its keep gate (f, z) and output (h), from its declaration
mem_name, keep = roles.memory, roles.keep or "1"
update = memory_update(tr)
tabs = st.tabs(dr.TABS, key="dbg_tab", on_change="rerun")

if tabs[0].open:
    with tabs[0]:
        st.markdown("Per unit and gate, the fraction of steps the gate is **closed** (< 0.1) against **open** "
                    "(> 0.9), as in Karpathy, Johnson and Fei-Fei (2015), Section 4.2. Points on the diagonal "
                    "are always saturated; a **stuck** gate (a cross) sits on one side for 99% of the steps; "
                    "a **dead** unit never moves by more than 1e-3. The ringed points are the chosen unit.")
        fig = saturation.ring_unit(saturation.saturation_map(report.saturation, layer, d), report.saturation,
                                      layer, d, unit)
        left, right = st.columns([3, 2])
        left.plotly_chart(fig, key="dbg_sat_map", config=CONFIG)
        mine = report.saturation
        mine = mine[(mine.layer == layer) & (mine.direction == d) & (mine.unit == unit)]
        right.markdown(f"**Unit {unit}, {where}**")
        right.dataframe(mine[["gate", "left", "right", "mean", "range", "stuck", "dead"]], hide_index=True, placeholder="",
                        key="dbg_sat_unit")
        flagged = dr.flagged_units(report.saturation, layer, d)
        right.markdown(f"**Stuck or dead in {where}**: {len(flagged)}")
        if len(flagged):
            right.dataframe(flagged, hide_index=True, placeholder="", key="dbg_sat_flagged", height=min(36 * len(flagged) + 40, 300))
        traced = tr.declaration.gates + (roles.output,)  # i, f, o, h of an LSTM; r, z, h of a GRU
        st.plotly_chart(lines.unit_traces(ctx.subject.unit_fields(traced, layer, d, seq, [unit])[0], [unit]),
                        key="dbg_sat_traces", config=CONFIG)

if tabs[1].open:
    with tabs[1]:
        lo, hi = int(seqs.lengths.min()), int(seqs.lengths.max())
        mem = report.memory[(report.memory.layer == layer) & (report.memory.direction == d)]
        st.markdown(f"How long each unit keeps what it holds: its time constant 1/(1 − mean {keep}) in steps, "
                    f"against your sequences' lengths ({lo}{'' if lo == hi else f' to {hi}'} steps, mean "
                    f"{float(seqs.lengths.float().mean()):.3g}). "
                    f"In {where}, **{int((mem.time_constant >= mem.mean_length).sum())}** of {len(mem)} units keep "
                    f"{mem_name} for longer than the mean sequence, **{int((mem.time_constant < 2).sum())}** forget "
                    f"within 2 steps.")
        if roles.keep and roles.keep in tr.declaration.notes:
            st.caption(f"{roles.keep}: {tr.declaration.notes[roles.keep]}.")  # z keeps, as in torch
        fig = dfig.time_constants(report.memory, layer, d)
        st.plotly_chart(dfig.mark_bar(dfig.mark_lengths(fig, seqs.lengths.tolist()), unit),
                        key="dbg_time_constants", config=CONFIG)
        st.dataframe(mem[mem.unit == unit], hide_index=True, placeholder="", key="dbg_mem_unit")
        t0 = st.number_input("from step t0", 0, tr.T - 1, 0, key="dbg_t0",
                             help=f"∏ {keep} from here on: how much of {mem_name} at t0 is left at each later step")
        longest = mem.nlargest(4, "time_constant").unit.tolist()
        shown = [unit] + [u for u in longest if u != unit][:4]
        st.plotly_chart(dfig.survival_curves(dg.survival(tr, layer, d, t0), shown, seq, t0, keep, mem_name),
                        key="dbg_survival", config=CONFIG)
        st.caption(f"Unit {unit} and the units with the longest memory in {where}, sequence {seq}"
                   + ("; steps in the order the reverse direction reads them" if d else "") + ".")

if tabs[2].open:
    with tabs[2]:
        own = roles.memory != roles.output  # an LSTM's c has its own gradient; a GRU's memory is its output h
        st.markdown("How much the last step still depends on earlier ones: ‖∂h_T/∂x_t‖ (the last layer's "
                    "output against the input)"
                    + (" and ‖∂c_T/∂c_t‖ (each layer's cell state against its own past)" if own else "") +
                    ", by steps back from the end. **Vanishing** (< 1e-3 of the last step's) or **exploding** (> 1e3) "
                    "is flagged. It takes one backward pass per unit, so it runs only when you ask, bounded.")
        P = m.proj_size or m.hidden_size
        c1, c2, c3 = st.columns([1, 1, 2], vertical_alignment="bottom")
        d_units = dr.GradientSpec().max_units  # the command line's `diagnose`: the same flow on both
        units = c1.number_input("units of h_T and c_T" if own else "units of h_T", 1, max(min(64, P),
                                min(d_units, P)), min(d_units, P),
                                key="dbg_grad_units",
                                help="spread evenly over the layer; the norm sums over them")
        nseq = c2.number_input("sequences", 1, seqs.batch_size, seqs.batch_size, key="dbg_grad_seqs",
                               help="the first ones of the batch; the curve is their mean, the band their range")
        passes = int(units) * (ctx.directions + (m.num_layers * ctx.directions if own else 0))
        if c3.button(f"Compute the gradient flow ({passes} backward passes)", key="dbg_grad_run", type="primary"):
            ctx.ask_gradients(dr.GradientSpec(int(units), int(nseq)))
            report = ctx.report()
        gspec = ctx.gradient_spec()
        if gspec is None:
            st.info("Not computed yet. On this machine one pass over 100 steps of a 2-layer bidirectional model "
                    "with 64 units takes about 70 ms.")
        else:
            st.caption(f"Computed with {gspec.max_units} unit(s) and the first "
                       f"{min(gspec.max_sequences or seqs.batch_size, seqs.batch_size)} sequence(s); "
                       f"its findings are on the Findings page.")
            st.plotly_chart(dfig.gradient_flow(report.gradient_flow), key="dbg_grad_fig", config=CONFIG)
            st.dataframe(report.gradients, hide_index=True, placeholder="", key="dbg_grad_table")

if tabs[3].open:
    with tabs[3]:
        _, kept_text, written_text, equation = update
        if roles.bounded:  # a GRU's h: a mix of h_{t-1} and n, both in −1..1
            st.markdown(f"{tr.declaration.title}: {equation} mixes {mem_name}_{{t−1}} and the candidate, both in "
                        f"−1..1, so {mem_name} cannot grow without bound; nothing to flag here. The chosen unit's "
                        f"{mem_name} split into what was kept ({kept_text}) and what was written ({written_text}):")
        else:
            st.markdown("A cell state that keeps growing is not forgetting: once |c| is past 2, tanh(c) is at ±0.96 "
                        "and h is stuck at ±o. The fastest-growing units of the layer (solid: flagged as growing), "
                        f"then the chosen unit's {mem_name} split into what was kept ({kept_text}) and what was "
                        f"written ({written_text}).")
            c = tr.get(mem_name, layer, d).numpy()  # (T, B, H), NaN on padding
            st.plotly_chart(dfig.cell_state_growth(c, report.cell_growth, layer, d), key="dbg_growth", config=CONFIG)
            growth = report.cell_growth
            growing = growth[(growth.layer == layer) & (growth.direction == d) & growth.growing]
            st.markdown(f"**Growing in {where}**: {len(growing)} unit(s)"
                        + (": " + ", ".join(map(str, growing.unit)) if len(growing) else "."))
        c_u, kept, written, _ = ctx.subject.cell_parts(layer, d, seq, unit)
        st.plotly_chart(lines.cell_update(c_u, kept, written, unit, update=update),
                        key="dbg_cell_update", config=CONFIG)
