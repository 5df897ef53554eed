"""explorer/task_models.py, explorer/trainer.py and heatmaps.mark_unit as plain functions.

References: lstm_core.io.checkpoint and lstm_core.tasks directly; every refusal with its message.
"""
from dataclasses import replace

import numpy as np
import pytest
import torch

from explorer.figures import heatmaps, style
from explorer.logic import models as task_models
from explorer.logic import trainer
from explorer.logic.settings import InputSettings, TrainLimits
from lstm_core.io.checkpoint import load_checkpoint, read_meta, shipped_checkpoint
from lstm_core.tasks import get_task
from lstm_core.train import TrainConfig

TINY = TrainConfig.for_task("recall", "coupled", hidden=4, steps=30)


# --- models that know their task ---------------------------------------------------------------

def test_describe_a_shipped_model_reads_its_sidecar():
    info = task_models.describe("shipped", "dyck-coupled")
    meta = read_meta(shipped_checkpoint("dyck", "coupled"))
    assert (info.task, info.variant, info.hidden_size, info.input_size) == (
        "dyck", "coupled", meta["model"]["hidden_size"], meta["model"]["input_size"])
    assert info.metric == meta["metric"]["value"] and info.steps == meta["training"]["steps"]
    assert "depth accuracy 100.0% (baseline 17.8%)" in info.summary()


def test_build_gives_the_checkpoints_weights():
    ms = task_models.settings_for(task_models.describe("shipped", "recall-peephole"))
    lstm = task_models.build(ms)
    reference, _ = load_checkpoint(shipped_checkpoint("recall", "peephole"))
    for (name, a), (_, b) in zip(lstm.state_dict().items(), reference.lstm.state_dict().items()):
        assert torch.equal(a, b), name
    assert not lstm.training


@pytest.mark.parametrize("source,checkpoint,message", [
    ("shipped", "recall-vanilla", "no shipped model is named 'recall-vanilla'"),
    ("shipped", "poetry-coupled", "no shipped model is named 'poetry-coupled'"),
    ("trained", "nosuchrun@0", "the model 'nosuchrun' was trained in another session"),
    ("random", "", "source 'random' has no task"),
])
def test_describe_refusals(source, checkpoint, message):
    with pytest.raises(task_models.ModelError, match=message):
        task_models.describe(source, checkpoint)


def test_a_missing_shipped_file_says_how_to_regenerate(monkeypatch, tmp_path):
    monkeypatch.setattr(task_models, "shipped_checkpoint", lambda t, v: tmp_path / f"{t}-{v}")
    with pytest.raises(task_models.ModelError, match=r"python -m lstm_core.train --task sine --variant standard"):
        task_models.describe("shipped", "sine-standard")


def test_a_task_sample_as_the_views_signal():
    spec = InputSettings("task", 30, 3, False, 5, task="dyck",
                         task_config=task_models.freeze({**get_task("dyck").config(), "length": 30}))
    s = task_models.sample(spec)
    reference = get_task("dyck", {"length": 30}).sample(3, 5, split="eval")
    assert torch.equal(s.x, reference.x)
    sig = task_models.to_signal(s, task_models.make_task(spec))
    assert sig.x.shape == (30, 3, 2) and sig.feature_names == ("'('", "')'")
    assert "".join(sig.labels[:, 1]) == task_models.text_of(s, task_models.make_task(spec), 1)
    assert set(task_models.text_of(s, task_models.make_task(spec), 0)) <= set("()")


def test_a_task_without_symbols_has_no_text():
    spec = InputSettings("task", 20, 1, False, 0, task="sine", task_config=task_models.freeze(get_task("sine").config()))
    s = task_models.sample(spec)
    assert task_models.text_of(s, task_models.make_task(spec), 0) is None
    assert task_models.to_signal(s, task_models.make_task(spec)).feature_names == ("value",)


@pytest.mark.parametrize("task,config,message", [
    ("poetry", (), "task: expected one of recall, dyck, adding, sine, charlm, got 'poetry'"),
    ("recall", (("colour", "red"),), "recall: "),
])
def test_bad_task_inputs(task, config, message):
    with pytest.raises(task_models.InputError, match=message):
        task_models.make_task(InputSettings("task", 10, 1, False, 0, task=task, task_config=config))


def test_freeze_and_format():
    assert task_models.freeze({"b": [1, 2], "a": 3}) == (("a", 3), ("b", (1, 2)))
    spec = InputSettings("task", task_config=task_models.freeze({"b": [1, 2]}))
    assert spec.task_dict() == {"b": [1, 2]}
    assert task_models.format_metric("depth accuracy", 0.9934) == "99.3%"
    assert task_models.format_metric("recall MSE", 0.000123456) == "0.000123"


# --- the trainer --------------------------------------------------------------------------------

def test_a_run_trains_like_lstm_core_and_keeps_snapshots():
    from lstm_core.train import train
    run = trainer.start(TINY)
    assert run.join(60)
    view = run.view()
    assert view.status == "done" and view.step == 30 and len(view.losses) == 30
    assert [s for s, _ in view.snapshots] == [0] + list(range(1, 31))  # 30 steps // 20 snapshots -> every 1
    reference = train(replace(TINY, snapshot_every=1))
    assert [loss for _, loss in view.losses] == pytest.approx([loss for _, loss in reference.losses])
    model = run.model_at(30)
    for (name, a), (_, b) in zip(model.state_dict().items(), reference.model.state_dict().items()):
        assert torch.allclose(a, b), name
    assert trainer.lookup(run.id) is run and trainer.running() == 0
    info = task_models.describe("trained", f"{run.id}@30")
    assert info.steps == 30 and info.metric == view.metrics[-1][1] and info.baseline == run.baseline


def test_a_trained_checkpoint_whose_step_is_a_superscript_digit_is_refused(monkeypatch):
    """'²'.isdigit() is True, yet int('²') fails: a ModelError, not a ValueError (issue 21)."""
    class Run:  # a run that kept steps 0 and 30
        def view(self):
            return type("View", (), {"snapshots": [(0, None), (30, None)]})()

    monkeypatch.setattr(trainer, "lookup", lambda run_id: Run())
    with pytest.raises(task_models.ModelError, match=r"run r kept no weights at step '²'; it kept steps 0, 30"):
        task_models.describe("trained", "r@\u00b2")


@pytest.mark.parametrize("change,message", [
    (dict(hidden=257), "hidden size 257 is over this page's limit of 256"),
    (dict(steps=10_001), "10,001 steps is over this page's limit of 10,000"),
    (dict(hidden=0), "hidden: expected >= 1, got 0"),
    (dict(lr=0.0), "lr: expected > 0, got 0.0"),
])
def test_limits_refuse_with_a_message(change, message):
    with pytest.raises(ValueError, match=message):
        trainer.start(replace(TINY, **change))


def test_too_many_runs_at_once():
    with pytest.raises(trainer.TrainError, match=r"0 training run\(s\) are already going on this server"):
        trainer.start(TINY, limits=TrainLimits(max_runs=0))


def test_a_run_stops_itself_on_its_time_limit():
    run = trainer.start(replace(TINY, steps=10_000), limits=TrainLimits(max_seconds=0.0))
    assert run.join(60)
    assert run.view().status == "stopped" and run.view().reason == "the page's time limit of 0 s"


def test_a_run_whose_page_is_gone_stops():
    run = trainer.start(replace(TINY, steps=10_000), alive=lambda: False, limits=TrainLimits(grace_seconds=0.0))
    assert run.join(60)
    assert run.view().reason == "the page was closed" and run.view().step < 10_000


def test_a_failing_run_reports_its_error(monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("out of memory")
    monkeypatch.setattr(trainer, "train", boom)
    run = trainer.start(TINY)
    assert run.join(30)
    assert run.view().status == "failed" and run.view().error == "RuntimeError: out of memory"
    assert trainer.running() == 0


# --- the caption's unit on the heatmaps ---------------------------------------------------------------

def test_mark_unit_frames_one_row_in_every_panel():
    fields = {k: np.random.default_rng(0).random((5, 12)) for k in "ifc"}
    fig = heatmaps.gate_heatmaps(fields, np.zeros((12, 1), np.float32), ("x",))
    marked = heatmaps.mark_unit(fig, 3, "unit 3")
    rects = [s for s in marked.layout.shapes if s.type == "rect" and s.line.color == style.MARK]
    assert sorted(r.yref for r in rects) == ["y2", "y3", "y4"]
    assert all((r.y0, r.y1) == (2.5, 3.5) for r in rects)
    assert [a.text for a in marked.layout.annotations if a.text == "unit 3"] == ["unit 3"]
    assert len(fig.layout.shapes) == len(marked.layout.shapes) - 3  # the original is untouched


def test_mark_unit_points_at_a_row_of_many_without_covering_it():
    fields = {k: np.zeros((40, 12)) for k in "ic"}
    fig = heatmaps.gate_heatmaps(fields, np.zeros((12, 1), np.float32), ("x",))
    marked = heatmaps.mark_unit(fig, 31, "unit 31", units=40)
    ticks = [s for s in marked.layout.shapes if s.line.color == style.MARK and s.type == "line"]
    assert [(t.xref, t.yref, t.y0, t.y1) for t in ticks] == [("x2 domain", "y2", 31, 31)] * 2 + [
        ("x3 domain", "y3", 31, 31)] * 2
    assert all(min(t.x0, t.x1) > 1 or max(t.x0, t.x1) < 0 for t in ticks)  # outside the panel, on both sides
    assert sorted(t.x0 > 1 for t in ticks) == [False, False, True, True]
    frames = [s for s in marked.layout.shapes if s.line.color == style.MARK and s.type == "rect"]
    # a frame along the row's edges, thin enough to leave the row's own colours visible
    assert [(f.yref, f.y0, f.y1, f.line.width) for f in frames] == [("y2", 30.5, 31.5, 1), ("y3", 30.5, 31.5, 1)]
