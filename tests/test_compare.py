"""The Compare page's logic: its URL, the columns against the shipped models' known units, the
unit alignment against a model with its units permuted, and the difference view (issue 13)."""
import numpy as np
import pytest
import torch

from explorer.logic import compare
from explorer.logic.compare import CompareError, CompareSpec, align_units, column, difference, parse_query, to_query
from lstm_core.tasks import TaskModel, get_task

BAD = [
    ({"task": "chess"}, r"task: 'chess' is not a task; expected one of recall, dyck, adding, sine, charlm"),
    ({"variants": "standard,no_forget_gate"}, r"variants: 'no_forget_gate' not available for shipped models; "
                                              r"expected some of standard, coupled, peephole \(models=random offers"),
    ({"variants": "standard"}, r"variants: expected 2 to 4 different names separated by commas, got standard"),
    ({"variants": "standard,standard"}, r"expected 2 to 4 different names"),
    ({"models": "random", "variants": "standard,coupled,peephole,no_input_gate,no_forget_gate"}, r"expected 2 to 4"),
    ({"models": "uploaded"}, r"models: 'uploaded'; expected one of shipped, random"),
    ({"T": "ten"}, r"T: expected a whole number, got 'ten'"),
    ({"T": "100000"}, r"T: 100000 is out of range; expected 1..2000"),
    ({"B": "0"}, r"B: 0 is out of range; expected 1..64"),
    ({"models": "random", "H": "5000"}, r"H: 5000 is out of range; expected 1..256"),
]


@pytest.mark.parametrize("query, message", BAD)
def test_a_bad_link_says_what_is_allowed(query, message):
    with pytest.raises(CompareError, match=message):
        parse_query(query)


def test_the_link_round_trips():
    assert parse_query({}) == CompareSpec()
    assert parse_query({"task": "recall", "variants": "standard, coupled,peephole"}).variants == \
        ("standard", "coupled", "peephole")
    spec = CompareSpec("adding", ("no_forget_gate", "standard"), "random", 6, 3, 30, 2, 9)
    assert parse_query(to_query(spec)) == spec
    assert to_query(CompareSpec()) == {"task": "recall", "variants": "standard,coupled,peephole"}


def test_recall_columns_name_the_memory_unit_of_each_shipped_model():
    cols = compare.columns(parse_query({"task": "recall", "input_seed": "1"}))
    assert [c.variant for c in cols] == ["standard", "coupled", "peephole"]
    assert [c.unit for c in cols] == [0, 2, 0]  # as tests/test_units.py and the variants lesson find
    for c in cols:
        assert abs(c.r) > 0.97 and c.latent == "value" and c.field == "c"
        assert c.metric < 0.01 * c.baseline
        f = c.subject.trace.f[0, :, :, c.unit]
        assert c.time_constant == pytest.approx(1 / (1 - float(f.double().mean())), rel=2e-3)  # 1/(1-f) magnifies rounding
        assert c.longest[1] >= c.time_constant
        assert f"unit {c.unit} tracks value" in compare.summary(c)
    x = [c.subject.sample.x for c in cols]
    assert torch.equal(x[0], x[1]) and torch.equal(x[0], x[2])  # the same input in every column


def _permuted(model, perm):
    """A copy of a standard TaskModel whose hidden units are renumbered: new unit k is old perm[k]."""
    H = model.lstm.hidden_size
    rows = torch.cat([perm + j * H for j in range(4)])  # (4H,): every gate block of W_ih, W_hh, b
    state = {}
    for name, p in model.state_dict().items():
        if name.startswith("lstm.weight_hh"):
            p = p[rows][:, perm]
        elif name.startswith("lstm."):
            p = p[rows]
        elif name == "head.weight":
            p = p[:, perm]
        state[name] = p
    copy = TaskModel.for_task(get_task("recall"), H, seed=99)
    copy.load_state_dict(state)
    return copy.eval()


def test_alignment_finds_a_renumbering_and_the_difference_is_then_zero():
    spec = CompareSpec("recall", ("standard", "coupled"), "random", hidden=6, model_seed=1, batch=8)
    model = TaskModel.for_task(get_task("recall"), 6, seed=1).eval()
    perm = torch.tensor([3, 0, 5, 1, 4, 2])
    a = column(spec, "standard", model, {})
    b = column(spec, "standard", _permuted(model, perm), {})
    assert torch.allclose(b.subject.trace.c[0], a.subject.trace.c[0][..., perm], atol=1e-6)
    pairs = align_units(a, b)
    assert list(pairs[perm.numpy()]) == list(range(6))  # a's unit perm[k] is b's unit k
    assert np.abs(difference(a, b, "f", sequence=3, pairs=pairs)).max() < 1e-5
    plain = difference(a, b, "f", sequence=3, pairs=np.arange(6))  # without alignment they differ
    assert np.abs(plain).max() > 0.01


def test_difference_of_two_variants_and_of_different_sizes():
    spec = CompareSpec("recall", ("standard", "coupled"), "random", hidden=4, batch=2)
    a, b = column(spec, "standard"), column(spec, "coupled")
    d = difference(a, b, "i", sequence=1)
    pairs = align_units(a, b)
    expected = a.subject.trace.i[0, :, 1].numpy().T - b.subject.trace.i[0, :, 1].numpy()[:, pairs].T
    assert d.shape == (4, a.subject.trace.T) and np.allclose(d, expected)
    other = column(CompareSpec("recall", ("standard", "coupled"), "random", hidden=5, batch=2), "standard")
    assert align_units(a, other) is None and difference(a, other) is None
