"""The app's demo-task features (issue 5) through AppTest: the shipped models, the unit finder,
the text view and live training.

References are computed here from lstm_core directly (load_checkpoint, Task.sample,
units.rank_units), never from the app's caches.
"""
import time

import numpy as np
import pytest
import torch

from explorer.logic import claims, trainer
from explorer.logic.models import DEFAULT_INPUT
from explorer.ui import state
from lstm_core.analysis import units
from lstm_core.io.checkpoint import load_checkpoint, shipped_checkpoint
from lstm_core.tasks import TASKS, get_task
import helpers as conftest
from helpers import ok
from test_explorer_app import charts, decode, heatmap_data, problems, texts

def app(page=None, query=None):
    """The app as it opens (no hand-wired query), optionally on another page (conftest.app)."""
    return conftest.app(page, query, defaults={})


def shipped_reference(task_name, variant, batch=DEFAULT_INPUT.batch, seed=DEFAULT_INPUT.seed):
    """(task, sample, trace) of the shipped checkpoint on a fresh eval sample, built here."""
    model, meta = load_checkpoint(shipped_checkpoint(task_name, variant))
    task = get_task(meta["task"], meta["task_config"])
    s = task.sample(batch, seed, split="eval")
    with torch.no_grad():
        tr, _ = model.trace(s.x)
    return task, s, tr


# --- the demo picker --------------------------------------------------------------------------

def test_the_cell_update_opens_on_the_captions_unit():
    """Issue 10, item 9: the Units page's cell-update plot opened on unit 0, not the caption's unit."""
    at = app("units")
    task, s, tr = shipped_reference("recall", "coupled")
    unit = units.caption_values(task, tr, s)["unit"]
    assert unit != 0 and at.selectbox(key="cell_unit").value == unit
    title = charts(at)[-1]["layout"]["title"]["text"]
    assert title.startswith(f"unit {unit}:")


def test_opens_on_the_shipped_recall_coupled_model():
    at = app()
    assert at.selectbox(key="source").value == "shipped"
    assert (at.selectbox(key="task").value, at.selectbox(key="shipped_variant").value) == ("recall", "coupled")
    task, s, tr = shipped_reference("recall", "coupled")
    maps = heatmap_data(at)
    assert list(maps) == list("ifgoch")
    for name, z in maps.items():
        np.testing.assert_allclose(z, tr.get(name)[:, 0].T.numpy(), atol=1e-5)  # (H, T) of sequence 0
    caption = units.caption(task, tr, s)
    assert caption.startswith("Unit ") and caption in texts(at)
    unit = units.caption_values(task, tr, s)["unit"]
    marks = [a["text"] for a in charts(at)[0]["layout"].get("annotations", []) if a["text"] == f"unit {unit}"]
    assert marks, "the heatmaps frame the unit the caption names"
    assert not problems(at)


@pytest.mark.parametrize("task_name,variant", [("dyck", "standard"), ("adding", "peephole"),
                                               ("sine", "coupled"), ("charlm", "coupled")])
def test_picking_a_task_and_variant_loads_its_checkpoint(task_name, variant):
    at = app()
    at.selectbox(key="task").set_value(task_name)
    at.selectbox(key="shipped_variant").set_value(variant)
    ok(at.run())
    task, s, tr = shipped_reference(task_name, variant)
    assert f"{variant} LSTM, I={task.input_size}, H={tr.hidden_size}" in texts(at)
    maps = heatmap_data(at)
    if maps:  # exact heatmaps (small models)
        np.testing.assert_allclose(maps["c"], tr.c[0, :, 0].T.numpy(), atol=1e-5)
    text, values = claims.checked_caption(task, tr, s)  # the caption whose numbers hold (issue 21)
    assert f"nit {values['unit']}" in texts(at) and text in texts(at)
    assert TASKS[task_name].title in texts(at) and not problems(at)


def test_the_input_seed_draws_another_sample():
    at = app()
    at.number_input(key="iseed").set_value(7)
    ok(at.run())
    _, _, tr = shipped_reference("recall", "coupled", seed=7)
    np.testing.assert_allclose(heatmap_data(at)["c"], tr.c[0, :, 0].T.numpy(), atol=1e-5)


def test_a_missing_checkpoint_is_a_message(monkeypatch, tmp_path):
    import explorer.logic.models as tm
    monkeypatch.setattr(tm, "shipped_checkpoint", lambda task, variant: tmp_path / f"{task}-{variant}")
    at = app()
    assert any("no shipped model for recall / coupled" in p for p in problems(at))


# --- the unit finder ------------------------------------------------------------------------

def test_unit_finder_ranking_equals_lstm_core():
    at = app("unit_finder")
    task, s, tr = shipped_reference("recall", "coupled")
    at.selectbox(key="uf_latent").set_value("value")
    at.multiselect(key="uf_fields").set_value(["c", "h"])
    at.number_input(key="uf_top").set_value(5)
    ok(at.run())
    expected = units.rank_units(tr, s.latents["value"], fields=("c", "h"), top=5)
    bars = charts(at)[0]["data"][0]
    assert list(decode(bars["y"])) == [e.label for e in expected]
    np.testing.assert_allclose(decode(bars["x"]).astype(float), [e.r for e in expected], atol=1e-5)
    assert abs(expected[0].r) > 0.9  # the shipped model has a memory unit
    traces = charts(at)[1]["data"]  # the top 3 units beside the latent, sequence 0
    assert [t["name"] for t in traces] == [e.label for e in expected[:3]] + ["value"]
    top = expected[0]
    np.testing.assert_allclose(decode(traces[0]["y"]).astype(float),
                               tr.get(top.field)[:, 0, top.unit].numpy(), atol=1e-5)
    np.testing.assert_allclose(decode(traces[-1]["y"]).astype(float), s.latents["value"][:, 0].numpy(),
                               atol=1e-6)


def test_unit_finder_follows_a_new_task_and_keeps_a_clicked_choice():
    """The units beside the latent are the new ranking's top units after the task changes, not the
    previous task's (h[2] of recall plotted against dyck's depth: issue 21, item 8)."""
    at = app("unit_finder")
    at.multiselect(key="uf_units").set_value(["h[2]"])  # the user's own choice, on recall
    ok(at.run())
    assert at.multiselect(key="uf_units").value == ["h[2]"]
    at.number_input(key="uf_top").set_value(5)  # not a new ranking: the choice stays
    ok(at.run())
    assert at.multiselect(key="uf_units").value == ["h[2]"]
    at.selectbox(key="task").set_value("dyck")
    ok(at.run())
    task, s, tr = shipped_reference("dyck", "coupled")
    expected = [e.label for e in units.rank_units(tr, s.latents["depth"], top=3)]
    assert at.selectbox(key="uf_latent").value == "depth"
    assert at.multiselect(key="uf_units").value == expected
    assert [t["name"] for t in charts(at)[1]["data"]] == expected + ["depth"]


def test_unit_finder_asks_for_a_task_input():
    at = app("unit_finder", query={"source": "demo", "input": "recall"})
    assert "needs an input whose latent signals are known" in texts(at)
    at.button(key="uf_use_task").click()
    ok(at.run())
    assert at.selectbox(key="input").value == "task" and charts(at)


# --- the text view ----------------------------------------------------------------------------

def test_text_view_colours_the_char_models_text():
    at = app()
    at.selectbox(key="task").set_value("charlm")
    ok(at.run())
    at.switch_page(state.TEXT)
    ok(at.run())
    task, s, tr = shipped_reference("charlm", "coupled")
    values = claims.checked_caption(task, tr, s)[1]  # the unit of the caption shown
    assert at.selectbox(key="tv_field").value == values["field"] and at.number_input(key="tv_unit").value == values["unit"]
    heat = charts(at)[0]["data"][0]
    z = decode(heat["z"]).astype(float).ravel()
    expected = tr.get(values["field"])[:, 0, values["unit"]].numpy()
    np.testing.assert_allclose(z[np.isfinite(z)], expected, atol=1e-5)
    assert len(expected) == len(s.text[0])
    at.number_input(key="tv_unit").set_value(5)
    at.selectbox(key="tv_field").set_value("f")
    ok(at.run())
    z = decode(charts(at)[0]["data"][0]["z"]).astype(float).ravel()
    np.testing.assert_allclose(z[np.isfinite(z)], tr.f[0, :, 0, 5].numpy(), atol=1e-5)


def test_text_view_says_when_the_input_has_no_characters():
    at = app("text_view")  # recall: values, not characters
    assert any("needs an input of characters" in i.value for i in at.info) and not charts(at)
    at.button(key="tv_to_dyck").click()  # one click to a model that reads characters (issue 21)
    ok(at.run())
    assert (at.selectbox(key="source").value, at.selectbox(key="task").value) == ("shipped", "dyck")
    assert charts(at) and set(decode(charts(at)[0]["data"][0]["text"]).ravel()) <= {"(", ")", None, ""}
    at = app("text_view", query={"source": "demo", "input": "sine"})  # a random model on a generated wave
    at.button(key="tv_to_charlm").click()
    ok(at.run())
    assert (at.selectbox(key="source").value, at.selectbox(key="input").value, at.selectbox(key="task").value) == (
        "shipped", "task", "charlm")
    assert charts(at) and any(": c[" in b.label for b in at.button)  # the unit-finder shortcuts


# --- live training ----------------------------------------------------------------------------

def wait_finished(at, timeout=60):
    run = at.session_state["tr_run"]
    assert run.join(timeout), "the run did not finish"
    return ok(at.run())


def train_page(hidden=4, steps=40):
    at = app("training")
    at.selectbox(key="tr_task").set_value("recall")
    at.selectbox(key="tr_variant").set_value("coupled")
    ok(at.run())
    at.number_input(key="tr_hidden").set_value(hidden)
    at.number_input(key="tr_steps").set_value(steps)
    at.button(key="tr_start").click()
    return ok(at.run())


def test_training_runs_in_the_background_and_keeps_snapshots():
    at = train_page(steps=40)
    run = at.session_state["tr_run"]
    assert (run.config.task, run.config.variant, run.config.hidden, run.config.steps) == ("recall", "coupled", 4, 40)
    wait_finished(at)
    view = run.view()
    assert view.status == "done" and view.step == 40
    curve = charts(at)[0]["data"]
    assert len(decode(curve[0]["x"])) == 40  # one training loss per step
    assert [s for s, _ in view.snapshots] == [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34,
                                              36, 38, 40]
    slider = at.select_slider(key="tr_snap")
    assert slider.value == 40
    slider.set_value(0)
    ok(at.run())
    assert "At step 0." in texts(at) and any(s.value.startswith("Done after 40 steps") for s in at.success)
    s = get_task("recall").sample(4, 1, split="eval")  # cache.SNAPSHOT_SEED, SNAPSHOT_BATCH
    with torch.no_grad():
        tr, _ = run.model_at(0).trace(s.x)
    np.testing.assert_allclose(heatmap_data_at(at, 1)["f"], tr.f[0, :, 0].T.numpy(), atol=1e-5)
    # the message for "trained" weights without a run names this button as it is called (issue 21, item 11)
    label = at.button(key="tr_open").label
    assert label == "Open step 0 in the explorer"  # the slider is at 0
    (message,) = problems(app(query={"source": "trained"}))
    assert "press 'Open step N in the explorer'" in message
    # the trained model in the explorer views
    at.button(key="tr_open").click()
    ok(at.run())
    assert at.selectbox(key="source").value == "trained"
    maps = heatmap_data(at)
    spec = get_task("recall").sample(DEFAULT_INPUT.batch, DEFAULT_INPUT.seed, split="eval")
    with torch.no_grad():
        tr, _ = run.model_at(0).trace(spec.x)
    np.testing.assert_allclose(maps["c"], tr.c[0, :, 0].T.numpy(), atol=1e-5)


def heatmap_data_at(at, index):
    spec = charts(at)[index]
    return {t["name"]: decode(t["z"]).astype(float) for t in spec["data"] if t["type"] == "heatmap"}


def test_stop_ends_a_run():
    at = train_page(steps=10_000)
    run = at.session_state["tr_run"]
    assert at.button(key="tr_stop").disabled is False and at.button(key="tr_start").disabled is True
    at.button(key="tr_stop").click()
    ok(at.run())
    wait_finished(at)
    view = run.view()
    assert view.status == "stopped" and view.step < 10_000 and view.snapshots[-1][0] == view.step
    assert any("Stopped (you pressed Stop)" in s.value for s in at.success)
    assert at.button(key="tr_start").disabled is False


def test_a_refused_run_is_a_message(monkeypatch):
    def refuse(config, alive=None):
        raise trainer.TrainError("2 training run(s) are already going on this server")
    monkeypatch.setattr(trainer, "start", refuse)
    at = train_page()
    assert any(p.startswith("Training did not start: 2 training run(s)") for p in problems(at))


def test_the_train_page_has_its_own_controls_only():
    """No Explore sidebar beside the Train page's own task, variant and hidden size (issue 21, item 11)."""
    at = app("training")
    assert [w.key for w in at.selectbox] == ["tr_task", "tr_variant"]
    assert not at.sidebar.selectbox and not at.sidebar.number_input
    assert [w.key for w in at.number_input] == ["tr_hidden", "tr_steps", "tr_seed"]


def test_trained_source_without_a_run_says_where_to_train():
    at = app(query={"source": "trained"})
    assert any("no model has been trained in this session yet" in p for p in problems(at))
    assert not at.exception


def test_training_waits_for_nothing():
    """Start returns at once: the page is drawn while the run trains."""
    at = app("training")
    at.number_input(key="tr_steps").set_value(3000)
    at.button(key="tr_start").click()
    t = time.perf_counter()
    ok(at.run())
    took = time.perf_counter() - t
    run = at.session_state["tr_run"]
    assert run.view().active and took < 5
    run.request_stop()
    assert run.join(30)
