"""Checkpoints: the round trip, every error message, and every shipped model against its threshold."""
import hashlib
import json
import re

import pytest
import torch

from lstm_core import zoo
from lstm_core.io.checkpoint import (MODELS_DIR, SHIPPED_VARIANTS, checkpoint_paths, list_checkpoints,
                                  load_checkpoint, read_meta, save_checkpoint, shipped_checkpoint)
from lstm_core.tasks import TASKS, TaskModel, get_task

FRESH_SEED = 20240  # never the eval batch the sidecar's metric was measured on (seed 0)

# What proves a shipped model learned: on fresh eval data its metric must pass this test
# against the task's baseline (measured in the same batch). The margins are far from both
# the baseline and the shipped metrics (README.md, "Shipped checkpoints", lists both).
THRESHOLDS = {
    "recall": ("MSE below 2% of always answering 0", lambda m, b: m < 0.02 * b),
    "dyck": ("depth accuracy above 95%", lambda m, b: m > 0.95),
    "adding": ("MSE below 2% of always answering 1", lambda m, b: m < 0.02 * b),
    "sine": ("MSE below 25% of repeating the last value", lambda m, b: m < 0.25 * b),
    "charlm": ("bits per character below 60% of the unigram model's", lambda m, b: m < 0.6 * b),
}
EVAL_BATCH = {"charlm": 32}  # sequences per fresh evaluation; 256 elsewhere


def small_model(variant="coupled"):
    return TaskModel(3, 4, 1, variant=variant, seed=0)


@pytest.fixture
def saved(tmp_path):
    """A checkpoint written to tmp_path/m: (model, stem)."""
    model = small_model()
    save_checkpoint(tmp_path / "m", model, {"task": "recall", "note": "test"})
    return model, tmp_path / "m"


def test_round_trip(saved):
    model, stem = saved
    loaded, meta = load_checkpoint(stem)
    x = torch.randn(7, 2, 3)
    assert torch.equal(loaded(x), model(x)) and not loaded.training
    assert meta["task"] == "recall" and meta["note"] == "test"
    assert meta["model"] == dict(input_size=3, hidden_size=4, output_size=1, num_layers=1, variant="coupled")
    for path in (stem, f"{stem}.json", f"{stem}.safetensors"):  # any of the three names it
        assert load_checkpoint(path)[1]["weights"]["sha256"] == meta["weights"]["sha256"]


def test_paths_and_listing(saved, tmp_path):
    _, stem = saved
    assert checkpoint_paths(stem) == (tmp_path / "m.safetensors", tmp_path / "m.json")
    assert [m["path"] for m in list_checkpoints(tmp_path)] == [str(stem)]
    assert shipped_checkpoint("recall", "coupled") == MODELS_DIR / "recall-coupled"


def corrupt(stem, how):
    """Damage a saved checkpoint in one way; returns nothing, the files change."""
    weights, sidecar = checkpoint_paths(stem)
    meta = json.loads(sidecar.read_text())
    if how == "no sidecar":
        sidecar.unlink()
    elif how == "no weights":
        weights.unlink()
    elif how == "bad json":
        sidecar.write_text("{ not json")
    elif how == "not an object":
        sidecar.write_text("[1, 2]")
    elif how == "no model key":
        del meta["model"]
        sidecar.write_text(json.dumps(meta))
    elif how == "other format":
        meta["version"] = 99
        sidecar.write_text(json.dumps(meta))
    elif how == "other weights":
        weights.write_bytes(weights.read_bytes()[:-4] + b"\0\0\0\0")
    elif how in ("garbage", "other shape", "bad model"):
        if how == "garbage":
            weights.write_bytes(b"\xff" * 64)
        elif how == "other shape":
            meta["model"]["hidden_size"] = 5
        else:
            meta["model"]["variant"] = "lstm2"
        meta["weights"]["sha256"] = hashlib.sha256(weights.read_bytes()).hexdigest()
        sidecar.write_text(json.dumps(meta))


# How a checkpoint can be broken, the error it gives, and its message.
BROKEN = [
    ("no sidecar", FileNotFoundError, r"checkpoint: no sidecar .*m\.json"),
    ("no weights", FileNotFoundError, r"checkpoint: weights .*m\.safetensors not found \(named by .*m\.json\)"),
    ("bad json", ValueError, r"checkpoint .*m\.json: not valid JSON"),
    ("not an object", ValueError, r"checkpoint .*m\.json: expected a JSON object, got list"),
    ("no model key", ValueError, r"checkpoint .*m\.json: missing 'model'; expected the keys format, version"),
    ("other format", ValueError, r"format 'lstm-gate-explorer/checkpoint' version 99; expected .* version 1"),
    ("other weights", ValueError, r"SHA-256 .* does not match the sidecar's .*: the files come from different runs"),
    ("garbage", ValueError, r"checkpoint .*m\.safetensors: not a readable safetensors file"),
    ("other shape", ValueError, r"tensor 'lstm.weight_ih_l0' has shape \(12, 3\), the model .* expects \(15, 3\)"),
    ("bad model", ValueError, r"cannot build the model .*: variant: unknown name 'lstm2'"),
]


@pytest.mark.parametrize("how, error, message", BROKEN)
def test_broken_checkpoints(saved, how, error, message):
    _, stem = saved
    corrupt(stem, how)
    with pytest.raises(error, match=message):
        load_checkpoint(stem)


def test_save_refuses():
    with pytest.raises(TypeError, match=r"model: expected an lstm_core.tasks.TaskModel, got LSTM"):
        save_checkpoint("x", small_model().lstm, {})
    with pytest.raises(ValueError, match=r"meta: keys model, weights are written by save_checkpoint"):
        save_checkpoint("x", small_model(), {"model": 1, "weights": 2})
    with pytest.raises(ValueError, match=r"meta: not JSON-serialisable"):
        save_checkpoint("x", small_model(), {"tensor": torch.zeros(1)})


# --- the shipped models ------------------------------------------------------------------------

SHIPPED = [(task, variant) for task in TASKS for variant in SHIPPED_VARIANTS]


def test_every_shipped_checkpoint_is_there():
    missing = [f"{t}-{v}" for t, v in SHIPPED if not checkpoint_paths(shipped_checkpoint(t, v))[0].is_file()]
    assert not missing, f"shipped checkpoints missing from {MODELS_DIR}: {missing}"


@pytest.mark.parametrize("task_name, variant", SHIPPED)
def test_shipped_model_learned(task_name, variant):
    stem = shipped_checkpoint(task_name, variant)
    model, meta = load_checkpoint(stem)
    assert (meta["task"], meta["variant"], zoo.architecture_of(model.lstm)) == (task_name, variant, variant)
    assert meta["command"].startswith(f"python -m lstm_core.train --task {task_name} --variant {variant} ")
    assert meta["training"]["steps"] > 0 and "seed" in meta["training"]
    task = get_task(task_name, meta["task_config"])
    assert meta["vocabulary"] == (None if task.vocabulary is None else list(task.vocabulary))
    s = task.sample(EVAL_BATCH.get(task_name, 256), FRESH_SEED, split="eval")
    with torch.no_grad():
        metric = task.metric(model(s.x), s)
    baseline = task.baseline(s)
    what, passes = THRESHOLDS[task_name]
    assert passes(metric, baseline), f"{stem.name}: {task.metric_name} {metric:.4g} vs baseline {baseline:.4g}: not {what}"


def test_the_docs_table_lists_every_shipped_model_with_its_metric():
    """docs/demos.md's table of shipped checkpoints: a row per model, its H, steps and metric the sidecar's."""
    rows = {}
    for line in (MODELS_DIR.parent.parent / "docs" / "demos.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 7 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = cells
    for task, variant in SHIPPED:
        meta = read_meta(shipped_checkpoint(task, variant))
        name, H, steps, metric = rows[f"{task}-{variant}"][:4]
        value = float(re.search(r"\d+(\.\d+)?", metric.replace(meta["metric"]["name"], "")).group())
        value /= 100 if metric.endswith("%") else 1
        assert (int(H), int(steps)) == (meta["model"]["hidden_size"], meta["training"]["steps"]), name
        assert value == pytest.approx(meta["metric"]["value"], rel=0.06), f"{name}: {metric}"


def test_shipped_assets_stay_small():
    total = sum(p.stat().st_size for p in MODELS_DIR.parent.rglob("*") if p.is_file())
    assert total < 20 * 2**20, f"assets/ holds {total / 2**20:.1f} MiB; the limit is 20 MiB"


def test_shipped_sidecars_read_without_weights():
    names = {re.sub(r".*/", "", m["path"]) for m in list_checkpoints()}
    assert {f"{t}-{v}" for t, v in SHIPPED} <= names
    assert read_meta(shipped_checkpoint("charlm", "standard"))["vocabulary"][0] == "\n"


@pytest.mark.parametrize("text,message", [
    ("[" * 100000 + "]" * 100000, r"its JSON is nested too deeply"),
    ('{"format": "lstm-gate-explorer/checkpoint", "version": 1, "model": [], "weights": {}}',
     r"'model' must be a JSON object, got list"),
])
def test_hostile_sidecars_are_messages(tmp_path, text, message):
    (tmp_path / "c.json").write_text(text)
    with pytest.raises(ValueError, match=message):
        read_meta(tmp_path / "c")
