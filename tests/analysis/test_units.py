"""The unit finder against numpy's correlation, planted units, padding, and the shipped demo's captions."""
import numpy as np
import pytest
import torch

import lstm_core
from lstm_core.io.checkpoint import load_checkpoint, shipped_checkpoint
from lstm_core.tasks import Recall, get_task
from lstm_core.analysis.units import FIELDS, caption, caption_values, correlations, rank_units, unit_mean


def test_correlations_match_numpy():
    g = torch.Generator().manual_seed(0)
    values = torch.randn(20, 3, 5, generator=g)
    latent = torch.randn(20, 3, generator=g)
    values[..., 2] = 2 * latent + 1  # r = 1
    values[..., 4] = 7.0  # constant: r = 0
    r, n = correlations(values, latent)
    assert n == 60
    for k in (0, 1, 3):
        expected = np.corrcoef(values[..., k].flatten().numpy(), latent.flatten().numpy())[0, 1]
        assert r[k].item() == pytest.approx(expected, abs=1e-6)
    assert r[2].item() == pytest.approx(1.0) and r[4].item() == 0.0


def test_correlations_leave_out_nan_and_invalid_steps():
    values = torch.tensor([[1.0], [2.0], [3.0], [10.0], [0.0]]).unsqueeze(1)  # (T=5, B=1, H=1)
    latent = torch.tensor([[1.0], [2.0], [3.0], [float("nan")], [5.0]])  # (T, B)
    valid = torch.tensor([[True], [True], [True], [True], [False]])
    r, n = correlations(values, latent, valid)
    assert n == 3 and r.item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"latent: expected shape \(5, 1\) \(T, B\) to match the values"):
        correlations(values, latent[:4])


def test_rank_finds_a_planted_unit_and_skips_padding():
    model = lstm_core.LSTM(3, 6, variant="peephole", seed=0)
    x = torch.randn(15, 4, 3, generator=torch.Generator().manual_seed(1))
    lengths = torch.tensor([15, 10, 8, 15])
    with torch.no_grad():
        tr = model.trace(x, lengths=lengths)
    latent = tr.c[0, :, :, 4].clone()  # NaN on padding, like the record
    scores = rank_units(tr, latent, top=3)
    assert (scores[0].field, scores[0].unit) == ("c", 4) and scores[0].r == pytest.approx(1.0)
    assert scores[0].n == int(lengths.sum()) and scores[0].label == "c[4]"
    assert len(rank_units(tr, latent, top=None)) == len(FIELDS) * 6
    assert all(abs(a.r) >= abs(b.r) for a, b in zip(scores, scores[1:]))
    only_f = rank_units(tr, latent, fields=("f",), top=None)
    assert {s.field for s in only_f} == {"f"}
    with pytest.raises(ValueError, match=r"fields: expected some of c, h, i, f, g, o, got \['z'\]"):
        rank_units(tr, latent, fields=("z",))


def test_unit_mean_over_chosen_steps():
    model = lstm_core.LSTM(3, 2, seed=0)
    x = torch.randn(5, 2, 3, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        tr = model.trace(x)
    where = torch.zeros(5, 2, dtype=torch.bool)
    where[1, 0] = where[3, 1] = True
    expected = (tr.f[0, 1, 0, 1] + tr.f[0, 3, 1, 1]) / 2
    assert unit_mean(tr, "f", 1, where) == pytest.approx(expected.item())
    assert np.isnan(unit_mean(tr, "f", 1, torch.zeros(5, 2, dtype=torch.bool)))


def test_caption_fields_refused_when_unknown():
    class Bad(Recall):
        captions = {"value": "unit {unit}: {q_holding}"}

    task = Bad()
    s = task.sample(4, seed=0)
    model = lstm_core.LSTM(3, 4, seed=0)
    with torch.no_grad():
        tr = model.trace(s.x)
    with pytest.raises(ValueError, match=r"caption field \{q_holding\}: expected <field>\[_\[not_\]<latent>\]"):
        caption(task, tr, s)


def shipped_trace(task_name, variant, batch=128):
    model, meta = load_checkpoint(shipped_checkpoint(task_name, variant))
    task = get_task(task_name, meta["task_config"])
    s = task.sample(batch, seed=11, split="eval")
    tr, _ = model.trace(s.x)
    return task, tr, s


@pytest.mark.parametrize("variant", ["standard", "coupled", "peephole"])
def test_recall_demo_shows_the_textbook_gates(variant):
    """The issue's "Remember and recall" picture, in the unit the data pick: one cell holds the value,
    its input gate opens at the marker, its forget gate holds near 1, its output gate opens at the cue."""
    task, tr, s = shipped_trace("recall", variant)
    v = caption_values(task, tr, s)
    assert abs(v["r"]) > 0.9
    assert v["f_holding"] > 0.9
    assert v["i_store"] > 0.5 > v["i_holding"] + 0.3
    assert v["o_recall"] > v["o_holding"] + 0.3
    text = caption(task, tr, s)
    assert text.startswith(f"Unit {v['unit']} holds the stored value") and "{" not in text


@pytest.mark.parametrize("task_name", ["dyck", "adding", "sine", "charlm"])
def test_other_captions_name_a_unit_that_tracks(task_name):
    task, tr, s = shipped_trace(task_name, "coupled", batch=32 if task_name == "charlm" else 128)
    v = caption_values(task, tr, s)
    assert abs(v["r"]) > 0.75, f"{task_name}: best unit's r = {v['r']:.2f}"
    assert f"Unit {v['unit']}" in caption(task, tr, s)
