"""Page: one step of the cell, with the needle homework's "split Z into stripes" walk-through in real numbers
(an LSTM's one Z; a GRU's input and recurrent parts, kept apart because r multiplies only the second)."""
import pandas as pd
import streamlit as st

from explorer.figures import diagram
from explorer.logic import walkthrough
from explorer.ui import cache, sidebar

PLAY_SECONDS = 0.8  # between steps while playing
MAX_COLUMNS = 12  # of a walk-through table; the rest is in the exports

choice = sidebar.current()
st.header("Step through a cell")
tr = sidebar.run_or_stop(choice)
GRU = tr.declaration.family == "gru"
if GRU:
    st.markdown("One step of one layer, the way `torch.nn.GRU` computes it: the input part "
                "$A = x W_{ih}^T + b_{ih}$ and the recurrent part $R = h W_{hh}^T + b_{hh}$, each split into "
                "stripes $r, z, n$; then $r = \\sigma(A_r + R_r)$, $z = \\sigma(A_z + R_z)$, "
                + ("$n = \\tanh(A_n + r \\odot R_n)$" if tr.declaration.variant == "after" else
                   "$n = \\tanh(A_n + W_{hn} (r \\odot h) + b_{hn})$ (the reset before the matmul, Cho et al. 2014)")
                + " and $h' = (1 - z) \\odot n + z \\odot h$: **z keeps** the old $h$, $1 - z$ writes $n$. With the "
                "real numbers of this model for a small slice you choose.")
else:
    st.markdown("One step of one layer, the way the needle library's `LSTMCell` (homework of CMU's Deep Learning "
                "Systems course) computes it: "
                "$Z = x W_{ih}^T + h W_{hh}^T + b$, split into one stripe per gate, activated, then "
                "$c' = f \\cdot c + i \\cdot g$ and $h' = o \\cdot \\tanh(c')$, with the real numbers of this "
                "model for a small slice you choose (the homework's example: batch 2, hidden 3).")

choice = sidebar.view_controls(choice, ("layer",))  # the View row: sidebar.py
m, v = choice.model, choice.view
T, B, H = tr.T, tr.batch_size, m.hidden_size
model = cache.model(m)
x = cache.signal(choice.input, m.input_size, choice.upload).x  # (T, B, I)


if st.session_state.get("t", 0) > T - 1:
    st.session_state["t"] = T - 1
playing = st.session_state.get("playing", False)


def nudge(delta):
    st.session_state["t"] = min(max(st.session_state.get("t", 0) + delta, 0), T - 1)



def keep_valid(key, n):
    """Drop choices >= n (the batch or hidden size shrank) before the widget is drawn."""
    if key in st.session_state and any(v >= n for v in st.session_state[key]):
        st.session_state[key] = [v for v in st.session_state[key] if v < n] or [0]


def table(where, a, rows, cols, caption=None):
    """A small static table (readable on a projector); wide ones show their first MAX_COLUMNS."""
    frame = pd.DataFrame(a, index=[f"b={b}" for b in rows], columns=cols)
    if caption:
        where.caption(caption + (f" (first {MAX_COLUMNS} of {len(cols)} columns)" if len(cols) > MAX_COLUMNS else ""))
    where.table(frame.iloc[:, :MAX_COLUMNS])


@st.fragment(run_every=PLAY_SECONDS if playing else None)
def stepper():
    if st.session_state.get("playing"):
        if st.session_state.get("t", 0) >= T - 1:
            st.session_state["playing"] = False
            st.rerun()  # the whole page, to stop the timer
        st.session_state["t"] = st.session_state.get("t", 0) + 1
    # a row, not columns: a column is a share of the page, and at 1280 px the ◀ and ▶ buttons of
    # 0.6 shares were narrower than their labels, drawn as "·" and "ı" (issue 21, item 4)
    row = st.container(horizontal=True, vertical_alignment="bottom")
    if row.button("⏸ pause" if playing else "▶ play", key="play", help=f"one step every {PLAY_SECONDS} s"):
        st.session_state["playing"] = not playing
        if not playing and st.session_state.get("t", 0) >= T - 1:
            st.session_state["t"] = 0
        st.rerun()  # the whole page, so the fragment's timer starts or stops
    row.button("◀", key="step_back", on_click=nudge, args=(-1,), help="previous step")
    row.button("▶", key="step_fwd", on_click=nudge, args=(1,), help="next step")
    t = row.slider("step t", 0, T - 1, 0, key="t", bind="query-params", width="stretch") if T > 1 else 0
    c1, c2 = st.columns(2)
    keep_valid("wt_rows", B)
    rows = c1.multiselect("batch rows b", range(B), list(range(min(2, B))), key="wt_rows", bind="query-params",
                          max_selections=8)
    keep_valid("wt_units", H)
    units = c2.multiselect("units", range(H), list(range(min(3, H))), key="wt_units", bind="query-params",
                           max_selections=8)
    if not rows or not units:
        st.info("Pick at least one batch row and one unit.")
        return
    rows, units = sorted(rows), sorted(units)
    wt = walkthrough.walk(model, tr, x, t, rows, units, v.layer, v.direction)
    (show_gru if GRU else show)(wt)


def heading(wt):
    """Where the step is, the diagram (left) and the cell's sentences (right)."""
    b, u = wt.rows[0], wt.units[0]
    # no-break spaces inside "unit 0": the heading beside the diagram wraps between its parts, never
    # leaving a number alone on a line (issue 21)
    where = ", ".join(part.replace(" ", "\u00a0") for part in (
        f"layer {wt.layer}{' reverse' if wt.direction else ''}", f"step {wt.t}", f"sequence b={b}", f"unit {u}"))
    left, right = st.columns([3, 2])
    if wt.valid[0]:
        footer = "reverse direction: the previous step is t+1" if wt.direction else ""
        svg = diagram.draw(tr.declaration, walkthrough.diagram_values(wt), where, footer)
        # st.html sanitises with DOMPurify's HTML-only profile, which drops SVG; markdown keeps it
        left.markdown(diagram.one_line(svg), unsafe_allow_html=True)
    else:
        left.info(f"Step {wt.t} is padding for sequence {b}: the {tr.declaration.title} did not run it.")
    right.subheader(where)
    right.markdown("\n".join(f"- {s}" for s in walkthrough.describe(wt)))


def matches(wt):
    err = wt.max_error
    if err < 1e-4:
        st.success(f"Every number above matches what the trace recorded (largest difference {err:.1e}).")
    else:
        st.warning(f"The recomputed numbers differ from the trace by up to {err:.1e}.")


def step_inputs(wt):
    """The step's x and previous h, side by side, for rows wt.rows."""
    c1, c2 = st.columns(2)
    table(c1, wt.x, wt.rows, [f"x{k}" for k in range(wt.x.shape[1])],
          "x, the layer's input at step t" + (" (h of the layer below)" if wt.layer else ""))
    table(c2, wt.h_prev, wt.rows, [f"h{k}" for k in range(wt.h_prev.shape[1])],
          f"h from the previous step ({'t+1' if wt.direction else 't−1'}; zeros before the first)")


def show_gru(wt):
    """A GRU's step: the two parts, the stripes r, z, n activated, and h' = (1 − z) n + z h."""
    heading(wt)
    U, R, H = len(wt.units), len(wt.rows), wt.H
    In = wt.x.shape[1]
    st.subheader("1. A = x W_ihᵀ + b_ih and R = h W_hhᵀ + b_hh")
    st.markdown(f"For the whole batch each is (B, 3·H) = ({tr.batch_size}, 3·{H}) = ({tr.batch_size}, {3 * H}): x is "
                f"(B, {In}), W_ih is ({3 * H}, {In}), h is (B, {H}), W_hh is ({3 * H}, {H}). Below: rows {wt.rows} "
                f"and, of each stripe, units {wt.units}.")
    step_inputs(wt)
    cols = [f"{k} u{uu} (col {j})" for k, uu, j in zip([k for k in wt.blocks for _ in wt.units], wt.units * 3,
                                                        wt.columns)]
    table(st, wt.a, wt.rows, cols, "A: the chosen units' columns of every stripe")
    table(st, wt.rec, wt.rows, cols, "R: the same columns" + (
        "" if wt.reset == "after" else " (its n stripe: W_hn (r ⊙ h) + b_hn, the reset before the matmul)"))

    st.subheader("2. Split into stripes r, z, n; activate")
    rule = {"r": "σ(A_r + R_r)", "z": "σ(A_z + R_z)",
            "n": "tanh(A_n + r ⊙ R_n)" if wt.reset == "after" else "tanh(A_n + W_hn (r ⊙ h) + b_hn)"}
    for col, k in zip(st.columns(3), wt.blocks):
        j = wt.blocks.index(k)
        col.markdown(f"**{k}** = {rule[k]}, stripe [:, {j * H}:{(j + 1) * H}]")
        table(col, wt.pre[k], wt.rows, [f"arg u{uu}" for uu in wt.units])
        table(col, wt.act[k], wt.rows, [f"{k} u{uu}" for uu in wt.units])
    st.caption(tr.declaration.describe("r") + ". " + tr.declaration.describe("z") + ".")

    st.subheader("3. h' = (1 − z) · n + z · h")
    z, n = wt.act["z"], wt.act["n"]
    hid = [[f"(1 − {z[r, q]:.4f}) × {n[r, q]:.4f} + {z[r, q]:.4f} × {wt.h_prev[r, wt.units[q]]:.4f} = {wt.h[r, q]:.4f}"
            for q in range(U)] for r in range(R)]
    table(st, hid, wt.rows, [f"h' u{uu}" for uu in wt.units], "h' = (1 − z) · n + z · h, with h from the previous step")
    matches(wt)


def show(wt):
    heading(wt)
    G, U = len(wt.gates), len(units := wt.units)
    st.subheader("1. Z = x W_ihᵀ + h W_hhᵀ + b")
    In, P = wt.x.shape[1], wt.h_prev.shape[1]
    st.markdown(f"For the whole batch Z is (B, G·H) = ({tr.batch_size}, {G}·{wt.H}) = ({tr.batch_size}, "
                f"{G * wt.H}): x is (B, {In}), W_ih is ({G * wt.H}, {In}), h is (B, {P}), W_hh is "
                f"({G * wt.H}, {P}). Below: rows {wt.rows} and, of each gate's stripe, units {units}.")
    step_inputs(wt)
    cols = [f"{k} u{uu} (col {j})" for k, uu, j in
            zip([k for k in wt.gates for _ in units], units * G, wt.z_columns)]
    table(st, wt.z, wt.rows, cols, "Z: the chosen units' columns of every stripe")

    st.subheader("2. Split Z into stripes, activate")
    gate_cols = st.columns(4)
    for col, k in zip(gate_cols, "ifgo"):
        if k in wt.stripes:
            j = wt.gates.index(k)
            col.markdown(f"**{k}** = {wt.rule[k]}, stripe Z[:, {j * wt.H}:{(j + 1) * wt.H}]")
            z = wt.stripes[k] + (wt.extra[k][1] if k in wt.extra else 0)
            if k in wt.extra:
                col.caption(f"z = stripe + {wt.extra[k][0]}")
            table(col, z, wt.rows, [f"z u{uu}" for uu in units])
        else:
            col.markdown(f"**{k}** = {wt.rule[k]}: no stripe in this variant")
        table(col, wt.act[k], wt.rows, [f"{k} u{uu}" for uu in units])

    st.subheader("3. c' = f · c + i · g and h' = o · tanh(c')")
    f, i, g, o = (wt.act[k] for k in "figo")
    cell = [[f"{f[r, q]:.4f} × {wt.c_prev[r, q]:.4f} + {i[r, q]:.4f} × {g[r, q]:.4f} = {wt.c[r, q]:.4f}"
             for q in range(U)] for r in range(len(wt.rows))]
    squash = "tanh" if "tanh" in wt.h_rule else ""
    hid = [[f"{o[r, q]:.4f} × {squash}({wt.c[r, q]:.4f}) = {wt.h[r, q]:.4f}" for q in range(U)]
           for r in range(len(wt.rows))]
    table(st, cell, wt.rows, [f"c' u{uu}" for uu in units], "c' = f · c + i · g, with c from the previous step")
    table(st, hid, wt.rows, [f"h' u{uu}" for uu in units], f"h' = {wt.h_rule}")
    matches(wt)
    if wt.projected:
        st.caption("With a projection the trace's h is W_hr h', so h' is not compared unit by unit.")


stepper()
