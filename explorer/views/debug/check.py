"""Page: check your own LSTM or GRU implementation: a report file of lstm_core.check, where it first differs."""
import os

import streamlit as st

from explorer.figures import checking as check_figures
from explorer.figures import heatmaps
from explorer.logic import checking
from lstm_core.checker import CheckError

CONFIG = {"displaylogo": False}
KEY = "chk_report"
VIEW_KEYS = ("chk_row", "chk_step", "chk_error")  # a new report opens on its own first divergence


def fresh():
    for k in VIEW_KEYS:
        st.session_state.pop(k, None)


def take_upload():
    """on_change of the uploader: keep the loaded report (a page that is left forgets its uploader)."""
    up = st.session_state.get("chk_upload")
    fresh()
    if up is None:
        return
    try:
        st.session_state[KEY] = checking.load(up.getvalue())
    except CheckError as e:
        st.session_state.pop(KEY, None)
        st.session_state["chk_error"] = f"{up.name}: {e}"


def take_example():
    fresh()
    st.session_state[KEY] = checking.example()


st.title("Check your implementation")
st.markdown("Wrote your own LSTM or GRU cell for a course? In your notebook, run it beside the reference. "
            "`lstm_core.check` writes its own weights into your cell, runs it step by step, names the mistake if "
            "the numbers differ, and saves a report file. Upload the file here to see where your values leave ours.")
st.code(checking.NOTEBOOK_CALL, language="python")
c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
c1.file_uploader("report file (check.npz)", type=["npz"], key="chk_upload", on_change=take_upload,
                 help="Written by report.save; the app reads arrays only and runs no code from it.")
c2.button("Show an example report", key="chk_example", on_click=take_example, icon=":material/science:")

allowed, why = checking.run_code_allowed(os.environ, st.get_option("server.address"))
with st.expander("Paste a class instead (local only)"):
    if not allowed:
        st.caption(why)
    else:
        src = st.text_area("your class (torch and nn are imported)", key="chk_src", height=240)
        a, b, c = st.columns(3)
        name = a.text_input("class name", "LSTMCell", key="chk_name")
        I = b.number_input("input_size", 1, 512, 3, key="chk_I")
        H = c.number_input("hidden_size", 1, 512, 5, key="chk_H")
        if st.button("Check it", key="chk_run"):
            try:
                fresh()
                st.session_state[KEY] = checking.run_pasted(src, name, int(I), int(H))
            except CheckError as e:
                st.session_state["chk_error"] = str(e)

if "chk_error" in st.session_state:
    st.error(st.session_state["chk_error"])
report = st.session_state.get(KEY)
if report is None:
    st.info("No report yet: upload a check.npz, or look at the example.")
    st.stop()

if report.ok:
    st.success(f"Your {checking.cell_name(report)} matches the reference on every probe.",
               icon=":material/check_circle:")
else:
    title = report.bug.title if report.bug else "the values differ"
    st.error(f"Your {checking.cell_name(report)} differs from the reference: {title}"
             + (f" [{report.bug.code}]" if report.bug else ""), icon=":material/error:")
st.code(str(report), language=None, wrap_lines=True)

st.subheader("The equations")
st.markdown(checking.equations_markdown(report))

step0, row0 = checking.default_view(report)
T, B = report.trace.T, report.trace.batch_size
row = st.selectbox("batch row", range(B), index=row0, key="chk_row")
st.subheader("Yours, ours, and the difference")
x = report.x[:, row].numpy()
names = [f"x{k}" for k in range(x.shape[1])]
cols = st.columns(3)
mine, ours = checking.fields(report.trace, row), checking.fields(report.reference_trace, row)
for col, title, fig in ((cols[0], "yours", heatmaps.gate_heatmaps(mine, x, names, exact=True)),
                        (cols[1], "ours", heatmaps.gate_heatmaps(ours, x, names, exact=True)),
                        (cols[2], "difference", check_figures.difference_heatmaps(checking.differences(report, row)))):
    col.markdown(f"**{title}**")
    if report.first_divergence is not None:
        fig = check_figures.mark_step(fig, report.first_divergence.step)
    col.plotly_chart(fig, key=f"chk_map_{title}", config=CONFIG)
if report.first_divergence is not None:  # said here, not on the narrow figures (issue 21)
    st.caption(f"The dashed orange line marks step {report.first_divergence.step}, the first step where yours "
               f"differs from ours.")
if not checking.gates_known(report.trace):
    st.caption("Your gates cannot be recovered (no mistake of the library explains your values): only your "
               f"{' and '.join(report.trace.declaration.states)} are shown, the gate panels are blank.")

st.subheader("Step through")
t = st.slider("step t", 0, T - 1, step0, key="chk_step")
mine, ours, diff = checking.step_tables(report, t, row)
cols = st.columns(3)
cols[0].markdown(f"**yours**, step {t}")
cols[0].dataframe(mine, key="chk_yours")
cols[1].markdown(f"**ours**, step {t}")
cols[1].dataframe(ours, key="chk_ours")
cols[2].markdown("**difference** (red: differs by more than 1e-6)")
cols[2].dataframe(checking.highlight_differences(diff), key="chk_diff")
