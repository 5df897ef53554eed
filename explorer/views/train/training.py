"""Page: train a model on a demo task in the background, and watch its loss and its gates as it learns.

The run lives in a thread (explorer/logic/trainer.py) whose handle is kept in session state, so
reruns and page switches find it again; a fragment polls it once a second while it runs,
so the page never waits on training. One run per session at a time (Start is disabled
while one runs, and a second click finds it running); TRAIN_LIMITS bounds the rest.
"""
import io
import tempfile
import zipfile
from pathlib import Path

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from explorer.figures import lines, saturation
from explorer.logic import budget, models, trainer
from explorer.logic.settings import TRAIN_LIMITS
from explorer.ui import cache, state
from lstm_core import zoo
from lstm_core.io.checkpoint import save_checkpoint
from lstm_core.tasks import TASKS
from lstm_core.train import TrainConfig

Q = dict(bind="query-params")
POLL_SECONDS = 1.0  # how often the page looks at a running run
KEEP_RUNS = 3  # finished runs a session keeps (their snapshots stay in memory)
CURVE_POINTS = 1500  # training losses drawn; longer runs are thinned to this many
RUN = state.RUN


def session_alive():
    """A function that says whether this browser session is still connected, or None outside a server."""
    from streamlit.runtime import Runtime
    ctx = get_script_run_ctx()
    if ctx is None or not Runtime.exists():
        return None
    runtime, session = Runtime.instance(), ctx.session_id
    return lambda: runtime.is_active_session(session)


def task_changed():
    """A new task or variant: its own default size and steps (TrainConfig.for_task)."""
    d = TrainConfig.for_task(st.session_state["tr_task"], st.session_state["tr_variant"])
    st.session_state["tr_hidden"], st.session_state["tr_steps"] = d.hidden, d.steps


def start():
    run = st.session_state.get(RUN)
    if run is not None and run.view().active:
        return  # a second click on Start: this session's run is already going
    get = st.session_state.get
    config = TrainConfig.for_task(get("tr_task"), get("tr_variant"), hidden=int(get("tr_hidden")),
                                  steps=int(get("tr_steps")), seed=int(get("tr_seed")))
    try:
        run = trainer.start(config, alive=session_alive())
    except ValueError as e:  # trainer.TrainError and lstm_core's config checks
        st.session_state["tr_problem"] = str(e)
        return
    st.session_state[RUN] = run
    kept = [r for r in st.session_state.get(state.RUNS, []) if r.id != run.id]
    st.session_state[state.RUNS] = [run] + kept[:KEEP_RUNS - 1]
    st.session_state.pop("tr_snap", None)


def stop():
    run = st.session_state.get(RUN)
    if run is not None:
        run.request_stop("you pressed Stop")


def open_in_explorer(run_id, step):
    """Make the run the sidebar's model (source "trained"), on a sample of its task, and go to the heatmaps.

    The button's on_click: a callback may set the sidebar's widgets (the script has not drawn them
    yet), and `live` then switches page. Switching at the top of the page script, as before, never
    happened: the button sits in a fragment, whose click reruns the fragment only (issue 10, item 2).
    """
    st.session_state.update(source="trained", input="task", trained_run=run_id, trained_step=step,
                            tr_goto=True)


def go_to_explorer():
    """After open_in_explorer: the gate heatmaps, now on the trained model. query_params={}: the
    default (None) clears the URL, which Streamlit refuses while widgets are bound to it; the
    sidebar's widgets write their values back on the next page."""
    if st.session_state.pop("tr_goto", False):
        st.switch_page(state.GATES, query_params={})


def checkpoint_zip(run):
    """The final model as lstm_core.io.checkpoint writes it (safetensors + JSON sidecar), zipped."""
    buf = io.BytesIO()
    with tempfile.TemporaryDirectory() as d, zipfile.ZipFile(buf, "w") as z:
        for path in save_checkpoint(Path(d) / run.id, run.result.model, run.result.meta()):
            z.write(path, path.name)
    return buf.getvalue()


st.header("Train a model and watch its gates")
st.markdown(
    "Train an LSTM or a GRU on one of the demo tasks right here, on this machine's CPU. The loss falls as it learns; "
    "copies of the weights are kept along the way, and the slider below shows **the gates at any of those "
    "steps**: noise at step 0, then units that open, hold and close for a reason. The shipped models were "
    "trained the same way (`python -m lstm_core.train`).")
c = st.columns(5)
task = c[0].selectbox("task", tuple(TASKS), index=0, key="tr_task", on_change=task_changed, **Q)
variant = c[1].selectbox("variant", zoo.ARCHITECTURES, index=zoo.ARCHITECTURES.index("coupled"),
                         key="tr_variant", on_change=task_changed, **Q, help="an LSTM variant, or a GRU")
d = TrainConfig.for_task(task, variant)
c[2].number_input("hidden size H", 1, TRAIN_LIMITS.max_hidden, d.hidden, key="tr_hidden", **Q)
c[3].number_input("training steps", 1, TRAIN_LIMITS.max_steps, d.steps, step=100, key="tr_steps", **Q)
c[4].number_input("seed", 0, 2**31 - 1, 0, key="tr_seed", **Q)
no_bias = models.without_forget_gate(variant)
st.caption(f"{models.task_line(task)} {zoo.declaration(variant).summary} Batches of {d.batch} sequences, Adam "
           f"with learning rate {d.lr}, {f'no forget bias ({no_bias})' if no_bias else f'forget bias {d.forget_bias}'}"
           f"; at most {TRAIN_LIMITS.max_seconds / 60:.0f} minutes a run.")

run = st.session_state.get(RUN)
active = run is not None and run.view().active
b1, b2, _ = st.columns([1, 1, 6])
b1.button("Start", key="tr_start", on_click=start, disabled=active, type="primary", icon=":material/play_arrow:",
          width="stretch")
b2.button("Stop", key="tr_stop", on_click=stop, disabled=not active, icon=":material/stop:", width="stretch")
if problem := st.session_state.pop("tr_problem", None):
    st.error(f"Training did not start: {problem}.")
if run is None:
    st.info("Press **Start**: the remember-and-recall task trains in seconds.")
    st.stop()


def status(view, baseline, shipped):
    """The progress bar while running; the outcome once finished."""
    c = run.config
    name = TASKS[c.task].metric_name
    metric = view.metrics[-1][1] if view.metrics else None
    parts = [f"step {view.step:,} of {view.steps:,}", f"{view.seconds:.1f} s", f"{view.steps_per_second:.0f} steps/s"]
    if view.losses:
        parts.append(f"loss {view.losses[-1][1]:.4g}")
    if metric is not None:
        parts.append(f"{name} {metric:.4g}")
    line = " · ".join(parts)
    st.progress(view.step / max(view.steps, 1), text=f"**{c.task} / {c.variant}, H={c.hidden}**: {line}")
    if view.status == "failed":
        st.error(f"Training failed: {view.error}")
    elif not view.active and metric is not None:
        better = shipped is not None and (
            metric >= shipped if TASKS[c.task].higher_is_better else metric <= shipped)
        against = "" if shipped is None else (
            f" The shipped {c.task}-{c.variant} model has {shipped:.4g}: "
            + ("this run matches it." if better else "this run has not reached it (more steps, or another seed)."))
        how = f"Stopped ({view.reason})" if view.status == "stopped" else "Done"
        st.success(f"{how} after {view.step:,} steps in {view.seconds:.1f} s: {name} {metric:.4g} "
                   f"(baseline {baseline:.4g}).{against}")


def snapshots(view):
    """The slider over the steps whose weights were kept, and the gates of the model at that step."""
    kept = [step for step, _ in view.snapshots]
    if not kept:
        return None
    st.subheader("The gates as the model learns")
    follow = view.active and st.toggle("follow the training", True, key="tr_follow",
                                       help="show the latest weights as they come; off: the slider stays put")
    # a run followed to its end shows its last weights, not those of the last poll before it ended
    finished_following = not view.active and st.session_state.pop("tr_following", False)
    if follow or finished_following or st.session_state.get("tr_snap") not in kept:
        st.session_state["tr_snap"] = kept[-1]
    if view.active:
        st.session_state["tr_following"] = follow

    step = kept[0]
    if len(kept) > 1:
        # disabled while following, and no on_change: a poll that changes the options while the
        # browser still shows the old value reported a "change", which turned following off at a
        # random step, so the run ended on those weights, not its last (issue 10, item 2)
        step = st.select_slider("training step", kept, key="tr_snap", disabled=follow,
                                help=f"weights kept every {run.config.snapshot_every:,} steps"
                                     + ("; turn off 'follow the training' to pick one" if follow else ""))
    fig, groups, text = cache.snapshot_view(run, run.id, step)
    st.info(f"**At step {step:,}.** {text}", icon=":material/lightbulb:")
    st.plotly_chart(fig, key="tr_heatmaps", config={"displaylogo": False})
    st.caption(f"Sequence 0 of a fresh sample (split 'eval', seed {cache.SNAPSHOT_SEED}): the same input at "
               f"every step of the slider, so what changes is the model.")
    st.plotly_chart(saturation.saturation(groups), key="tr_saturation", config={"displaylogo": False})
    st.caption("Saturation (Karpathy et al. 2015): per unit, the fraction of steps each gate is below 0.1 "
               "against above 0.9. Untrained gates sit near 0.5, at the bottom left; trained ones move out.")
    return step


@st.fragment(run_every=POLL_SECONDS if active else None)
def live():
    go_to_explorer()  # inside the fragment: its button's click reruns only this function
    view = run.view()
    if active and not view.active:
        st.rerun()  # it has just finished: the whole page, to enable Start and stop this timer
    baseline, shipped = cache.train_reference(run.config.task, run.config.variant)
    status(view, baseline, shipped)
    every = max(1, len(view.losses) // CURVE_POINTS)
    name = TASKS[run.config.task].metric_name
    st.plotly_chart(lines.loss_curve(view.losses[::every], view.metrics, metric_name=name,
                                            baseline=baseline, target=shipped,
                                            log_metric=TASKS[run.config.task].kind == "regression",
                                            title="training loss (left) and the eval metric (right)"),
                    key="tr_curve", config={"displaylogo": False})
    step = snapshots(view)
    planned = max(1, run.config.steps // run.config.snapshot_every)
    if view.snapshots and planned < TRAIN_LIMITS.snapshots:
        st.caption(f"{planned} copies of the weights are kept along this run, not {TRAIN_LIMITS.snapshots}: a copy "
                   f"takes {budget.size(getattr(run, 'snapshot_bytes', 0))} and a run keeps at most {TRAIN_LIMITS.snapshot_mib:g} MiB of them, so a "
                   f"class of students fits in the server's memory.")
    if not view.active and view.snapshots and view.status != "failed":
        c1, c2, _ = st.columns([2, 2, 3])
        c1.button(state.OPEN_TRAINED.format(f"{step:,}"), key="tr_open", on_click=open_in_explorer,
                  args=(run.id, step), type="primary", icon=":material/open_in_new:", width="stretch",
                  help="the sidebar's model becomes this one (Weights: trained), on a sample of its task")
        c2.download_button("Download the checkpoint (.zip)", lambda: checkpoint_zip(run),
                           file_name=f"{run.id}.zip", mime="application/zip", key="tr_download",
                           on_click="ignore", icon=":material/download:", width="stretch",
                           help="the final weights (safetensors) and their JSON sidecar, as "
                                "lstm_core.io.checkpoint.load_checkpoint reads them")


live()
