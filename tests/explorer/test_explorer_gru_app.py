"""A GRU chosen in the app (issue 20): shipped, random and hand-wired, by widget and by link, and
trained on the Train page. References are built here with lstm_core, not the app's caches."""
import numpy as np
import pytest
import torch

import lstm_core
from explorer.logic import claims, inputs
from explorer.logic.models import DEFAULT_INPUT
from explorer.logic.settings import ModelSettings
from explorer.ui import state
from lstm_core.io.checkpoint import load_checkpoint, shipped_checkpoint
from lstm_core.tasks import get_task
import helpers as conftest
from helpers import app, ok
from test_explorer_app import charts, heatmap_data, problems, reference, texts

GRU_FIELDS = ["r", "z", "n", "h"]


def test_a_shipped_gru_is_described_and_built_as_a_gru():
    from explorer.logic import models
    info = models.describe("shipped", "recall-gru")
    assert info.variant == "gru" and info.summary().startswith("GRU, H=4, 1 layer(s); trained 2,000 steps")
    assert models.describe("shipped", "recall-coupled").summary().startswith("coupled LSTM, H=4")
    assert "recall-gru" in models.shipped_names()
    assert isinstance(models.build(models.settings_for(info)), lstm_core.GRU)


def test_the_shipped_recall_gru_shows_a_gru():
    at = conftest.app(defaults={})  # as a user opens it: the shipped models
    assert "gru" in at.selectbox(key="shipped_variant").options
    at.selectbox(key="shipped_variant").set_value("gru")
    ok(at.run())
    model, meta = load_checkpoint(shipped_checkpoint("recall", "gru"))
    task = get_task(meta["task"], meta["task_config"])
    s = task.sample(DEFAULT_INPUT.batch, DEFAULT_INPUT.seed, split="eval")
    with torch.no_grad():
        tr, _ = model.trace(s.x)
    maps = heatmap_data(at)
    assert list(maps) == GRU_FIELDS
    for name, z in maps.items():
        np.testing.assert_allclose(z, tr.get(name)[:, 0].T.numpy(), atol=1e-5)  # (H, T) of sequence 0
    shown = texts(at)
    assert f"GRU, I=3, H={model.lstm.hidden_size}, 1 layer(s)" in shown and "gru LSTM" not in shown
    assert "GRU: two gates and no cell state" in shown  # the declaration's summary under the pickers
    assert f"GRU, H={model.lstm.hidden_size}, 1 layer(s); trained 2,000 steps: recall MSE" in shown
    # the task's caption names an LSTM's c and gates: a GRU's is its memory h's, checked the same way
    text, values = claims.checked_caption(task, tr, s)
    assert values["holds"] and values["field"] == "h" and abs(values["r"]) > 0.9
    assert text.startswith(f"Unit {values['unit']}'s h tracks value best") and "z (update gate) keeps" in text
    assert text in shown
    assert not problems(at)


def test_a_random_gru_builds_and_its_link_round_trips():
    at = app(query={"source": "random", "variant": "gru", "proj": "2"})  # a stale P from an LSTM
    assert at.selectbox(key="variant").value == "gru" and at.query_params["variant"] in ("gru", ["gru"])
    assert at.number_input(key="proj_none").disabled and at.number_input(key="proj_none").value == 0
    ms = ModelSettings(source="random", variant="gru")
    x = inputs.generate("recall", DEFAULT_INPUT.steps, DEFAULT_INPUT.batch, 3, DEFAULT_INPUT.seed).x
    tr = reference(ms, x)
    assert isinstance(lstm_core.zoo.build("gru", 3, 8), lstm_core.GRU)
    maps = heatmap_data(at)
    assert list(maps) == GRU_FIELDS
    np.testing.assert_allclose(maps["z"], tr.z[0, :, 0].T.numpy(), atol=1e-5)
    assert "A GRU has no forget gate: the forget bias is not used." in texts(at)  # the default ticks it
    by_hand = app(query={"source": "random"})  # the same model chosen with the widget: the link holds all of it
    by_hand.selectbox(key="variant").set_value("gru")
    ok(by_hand.run())
    assert by_hand.session_state[state.CHOICE].model == at.session_state[state.CHOICE].model


def test_another_cell_shows_all_its_panels():
    """LSTM -> GRU -> LSTM: each shows every panel of its cell (the LSTM's six panels kept only the h
    the two share), while a choice of panels stays across variants of one cell."""
    at = app(query={"source": "random"})
    at.multiselect(key="fields").set_value(["f", "c", "h"])
    ok(at.run())
    at.selectbox(key="variant").set_value("peephole")
    ok(at.run())
    assert list(heatmap_data(at)) == ["f", "c", "h"]
    at.selectbox(key="variant").set_value("gru")
    ok(at.run())
    assert list(heatmap_data(at)) == GRU_FIELDS
    at.selectbox(key="variant").set_value("coupled")
    ok(at.run())
    assert list(heatmap_data(at)) == ["i", "f", "g", "o", "c", "h"]


def test_the_hand_wired_gru_holds_the_value():
    at = app(query={"variant": "gru"})  # source "demo" on the recall input
    x = inputs.generate("recall", DEFAULT_INPUT.steps, DEFAULT_INPUT.batch, 3, DEFAULT_INPUT.seed).x
    maps = heatmap_data(at)
    np.testing.assert_allclose(maps["h"], reference(ModelSettings(variant="gru"), x).h[0, :, 0].T.numpy(), atol=1e-5)
    store = np.flatnonzero(x[:, 0, 1])
    np.testing.assert_allclose(maps["z"][0, store], 1 / (1 + np.exp(7.0)), rtol=1e-4)  # unit 0 writes at the marker
    assert not problems(at)


# --- the Train page ------------------------------------------------------------------------------

def test_a_gru_trains_on_the_page_and_opens_in_the_explorer():
    at = conftest.app("training", defaults={})
    at.selectbox(key="tr_task").set_value("recall")
    at.selectbox(key="tr_variant").set_value("gru")
    ok(at.run())
    assert "no forget bias (a GRU has no forget gate)" in texts(at)
    at.number_input(key="tr_hidden").set_value(4)
    at.number_input(key="tr_steps").set_value(10)
    at.button(key="tr_start").click()
    ok(at.run())
    run = at.session_state["tr_run"]
    assert run.join(60), "the run did not finish"
    ok(at.run())
    assert run.config.variant == "gru" and run.view().status == "done"
    assert isinstance(run.model_at(10).lstm, lstm_core.GRU)
    snapshot = charts(at)[1]  # the gates at the slider's step (10), after the loss curve
    assert [t["name"] for t in snapshot["data"] if t["type"] == "heatmap"] == GRU_FIELDS
    at.button(key="tr_open").click()
    ok(at.run())
    assert at.selectbox(key="source").value == "trained"
    spec = get_task("recall").sample(DEFAULT_INPUT.batch, DEFAULT_INPUT.seed, split="eval")
    with torch.no_grad():
        tr, _ = run.model_at(10).trace(spec.x)
    maps = heatmap_data(at)
    assert list(maps) == GRU_FIELDS
    np.testing.assert_allclose(maps["n"], tr.n[0, :, 0].T.numpy(), atol=1e-5)
    assert not problems(at)


@pytest.mark.parametrize("task", ["dyck", "adding", "sine", "charlm"])
def test_a_gru_trains_on_every_task(task):
    """The Train page's runs (explorer/logic/trainer.py) with variant gru: two steps of each task."""
    from explorer.logic import trainer
    from lstm_core.train import TrainConfig
    run = trainer.start(TrainConfig.for_task(task, "gru", hidden=4, steps=2, batch=4, eval_batch=4))
    assert run.join(120) and run.view().status == "done", run.view().error
    model = run.model_at(2)
    assert isinstance(model.lstm, lstm_core.GRU) and model.lstm.input_size == get_task(task).input_size
