"""The Compare page's logic: its URL, the columns against the shipped models' known units, the
unit alignment against a model with its units permuted, and the difference view (issue 13)."""
import numpy as np
import pytest
import torch

from explorer.logic import compare, roles
from lstm_core import zoo
from lstm_core.analysis import diagnostics
from explorer.logic.compare import CompareError, CompareSpec, align_units, column, difference, parse_query, to_query
from lstm_core.tasks import TaskModel, get_task

BAD = [
    ({"task": "chess"}, r"task: 'chess' is not a task; expected one of recall, dyck, adding, sine, charlm"),
    ({"variants": "standard,no_forget_gate"}, r"variants: 'no_forget_gate' not available for shipped models; "
                                              r"expected some of standard, coupled, peephole, gru \(models=random offers"),
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


def test_a_shipped_link_names_no_random_model_and_a_page_being_set_up_has_a_link_too():
    """Shipped models have their own sizes: H and model_seed neither go into their link nor come
    out of it (issue 21, item 3); one variant or none is a link the page itself can reopen."""
    random = CompareSpec("recall", ("standard", "coupled"), "random", 5, 3)
    shipped = CompareSpec("recall", ("standard", "coupled"), "shipped", 5, 3)
    assert {"models", "H", "model_seed"} <= set(to_query(random))
    assert to_query(shipped) == {"task": "recall", "variants": "standard,coupled"}
    assert parse_query({"variants": "standard,coupled", "H": "5", "model_seed": "3"}) == \
        CompareSpec(variants=("standard", "coupled"))
    assert parse_query(to_query(CompareSpec(variants=("standard",))), fewest=0).variants == ("standard",)
    assert parse_query({"variants": ""}, fewest=0).variants == ()
    with pytest.raises(CompareError, match="expected 2 to 4 different names separated by commas, got none"):
        parse_query({"variants": ""})


def test_recall_columns_name_the_memory_unit_of_each_shipped_model():
    cols = compare.columns(parse_query({"task": "recall", "input_seed": "1"}))
    assert [c.variant for c in cols] == ["standard", "coupled", "peephole"]
    assert [c.unit for c in cols] == [0, 2, 0]  # as tests/analysis/test_units.py and the variants lesson find
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


def test_the_shipped_gru_column_keeps_its_value_in_h_with_z():
    """An LSTM beside the GRU on recall: the GRU's memory unit is searched in h (it has no c), its
    time constant is 1/(1 - mean z), and the difference subtracts the GRU's z from the LSTM's f
    on units aligned by their memories (c against h)."""
    lstm, gru = compare.columns(parse_query({"task": "recall", "variants": "standard,gru", "input_seed": "1"}))
    assert (gru.field, gru.unit, gru.latent) == ("h", 1, "value") and gru.r < -0.95  # as the lstm-gru lesson says
    z = gru.subject.trace.z[0, :, :, gru.unit]
    assert gru.time_constant == pytest.approx(1 / (1 - float(z.double().mean())), rel=2e-3)
    assert "(r = -0.97, in h)" in compare.summary(gru)
    assert [(r.key, r.names) for r in compare.grid_rows([lstm, gru])] == [
        ("i", ("i", None)), ("r", (None, "r")), ("f/z", ("f", "z")), ("g/n", ("g", "n")), ("o", ("o", None)),
        ("c/h", ("c", "h")), ("h", ("h", None))]
    pairs = align_units(lstm, gru)
    d = difference(lstm, gru, "f", "z", sequence=2, pairs=pairs)
    expected = lstm.subject.trace.f[0, :, 2].numpy().T - gru.subject.trace.z[0, :, 2].numpy()[:, pairs].T
    assert np.allclose(d, expected)
    with pytest.raises(ValueError, match="expected one of r, z, n, h, got 'f'"):
        difference(lstm, gru, "f", sequence=2)  # the same name in both: the GRU has no f


def test_random_models_may_be_a_gru_too():
    spec = parse_query({"models": "random", "variants": "peephole,gru", "H": "3", "task": "adding"})
    p, g = compare.columns(spec)
    assert (p.declaration.family, g.declaration.family, g.field, g.hidden_size) == ("lstm", "gru", "h", 3)
    assert torch.equal(p.subject.sample.x, g.subject.sample.x)


@pytest.mark.parametrize("architecture", zoo.ARCHITECTURES)
def test_the_declared_keep_gate_is_what_the_cell_keeps_with(architecture):
    """The declaration's roles against the numbers: the kept part of the memory (trace.cell_parts) is
    keep ⊙ memory_{t-1}, or memory_{t-1} itself where no gate keeps, and where the keep gate also
    writes, the written part is (1 − keep) ⊙ candidate. The time constants of an LSTM are
    diagnostics.memory's, to the bit."""
    model = zoo.build(architecture, 3, 5, seed=0)
    tr = model.trace(torch.randn(12, 2, 3, generator=torch.Generator().manual_seed(0))).detach()
    d = tr.declaration
    mem, keep = d.memory, roles.keep_gate(d)
    kept, written = tr.cell_parts()
    prev = torch.cat([torch.zeros_like(tr.get(mem)[:1]), tr.get(mem)[:-1]])  # memory_{t-1}, h0 = c0 = 0: (T, B, H)
    assert torch.allclose(kept, (tr.get(keep) if keep else 1) * prev, atol=1e-6)
    assert d.keep_writes == (architecture in ("gru", "coupled"))
    if d.keep_writes:
        assert torch.allclose(written, (1 - tr.get(keep)) * tr.get(d.candidate), atol=1e-6)
    assert roles.role(d, mem) == "memory" and (keep is None) == (architecture == "no_forget_gate")
    if d.family == "lstm":
        assert roles.time_constants(tr) == list(diagnostics.memory(tr).time_constant)
    assert roles.memory_equation(d) in d.equations and roles.memory_latex(d) in d.latex


def _cells(fig):
    """{(column, step, unit): (value, y)} of the grid's pick markers, from its JSON as the browser gets it."""
    out = {}
    for t in fig.data:
        if t.name == "pick":
            for (j, step, unit, value), y in zip(np.asarray(t.customdata), np.asarray(t.y)):
                out[(int(j), int(step), int(unit))] = (float(value), float(y))
    return out


def test_the_grid_draws_every_column_and_a_click_on_any_cell_names_its_step_and_unit():
    from explorer.figures.compare import PICK_POINTS, compare_grid, rows_of
    rng = np.random.default_rng(0)
    H, T, panels = 4, 40, ["i", "f", "o", "c"]
    columns = [(name, {k: rng.random((H, T)) for k in panels}, own) for name, own in (("a", 0), ("b", 2), ("c", None))]
    fig = compare_grid(columns, panels, step=12, start=5)
    heat = [t for t in fig.data if t.type == "heatmap"]
    assert len(heat) == 12 and len({t.xaxis for t in fig.data}) == 3  # one axis pair per model
    for t, (j, r) in zip(heat, [(j, r) for j in range(3) for r in range(4)]):
        assert np.array_equal(np.asarray(t.z), columns[j][1][panels[r]].astype(np.float32))
        assert t.y0 == rows_of(r, 0, H) and t.x0 == 5
    cells = _cells(fig)
    assert len(cells) == 3 * H * T  # all four panels' cells share (column, step, unit): the last panel's kept
    j, step, unit = 2, 17, 3
    value, y = cells[(j, step, unit)]
    assert y == pytest.approx(rows_of(3, unit, H)) and value == pytest.approx(columns[j][1]["c"][unit, step - 5])
    lines = [s for s in fig.layout.shapes if s.type == "line"]
    assert [s.x0 for s in lines] == [12, 12, 12] and [s.xref for s in lines] == ["x", "x2", "x3"]
    frames = [s for s in fig.layout.shapes if s.type == "rect"]
    assert [(s.xref, s.y0 + 0.5) for s in frames] == [("x", rows_of(r, 0, H)) for r in range(4)] + \
        [("x2", rows_of(r, 2, H)) for r in range(4)]  # column c names no unit: no frame
    marked = compare_grid(columns, panels, unit=1)
    assert {s.y0 + 0.5 for s in marked.layout.shapes} == {rows_of(r, 1, H) for r in range(4)}
    assert len(marked.layout.shapes) == 12
    # beyond PICK_POINTS invisible markers, the first panels only, and then none
    big = [(n, {k: np.zeros((8, PICK_POINTS // 10)) for k in panels}, None) for n in "ab"]
    picked = [t for t in compare_grid(big, panels).data if t.name == "pick"]
    assert sum(len(t.x) for t in picked) == 8 * (PICK_POINTS // 10) and len(picked) == 1
    assert not [t for t in compare_grid(big, panels, pick=False).data if t.name == "pick"]


def test_a_click_on_the_difference_view_names_the_step_and_the_first_models_unit():
    from explorer.figures.compare import difference as difference_figure
    d = np.arange(12, dtype=np.float64).reshape(3, 4) - 6  # (H, T)
    fig = difference_figure(d, "standard", "coupled", pairs=np.array([2, 0, 1]), start=10, step=11, unit=1)
    (pick,) = [t for t in fig.data if t.name == "pick"]
    rows = {(int(s), int(u)): v for _, s, u, v in np.asarray(pick.customdata)}
    assert rows[(12, 1)] == d[1, 2] and len(rows) == 12
    assert list(fig.layout.yaxis.ticktext) == ["0 − 2", "1 − 0", "2 − 1"]
    assert [(s.type, s.x0 if s.type == "line" else s.y0) for s in fig.layout.shapes] == [("line", 11), ("rect", 0.5)]


@pytest.mark.parametrize("point, expected", [
    ({"customdata": [2, 17, 3, 0.5]}, (2, 17, 3)),
    ({"customdata": {"0": 1, "1": 4.0, "2": 0, "3": 0.1}}, (1, 4, 0)),  # a typed array, as the browser sends it
    ({"customdata": [0, 1]}, None), ({"customdata": None}, None), ({"x": 3, "y": 1}, None),
    ({"customdata": ["a", 1, 2]}, None), ({"customdata": [0, -1, 2]}, None), ("junk", None),
])
def test_a_pick_from_the_browser_is_read_or_refused(point, expected):
    assert compare.pick_of(point) == expected
