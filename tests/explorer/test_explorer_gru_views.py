"""The Explore pages read the cell's declaration (issue 20): a GRU shows r, z, n, h wherever an LSTM
shows i, f, g, o, c, h, and the landing page shows the equations of the model it shows.

References are computed here with lstm_core (the model built from the same settings, its trace, its
declaration), not read back from the app's caches."""
import numpy as np
import pytest
import torch

import lstm_core
from explorer.figures import diagram, heatmaps
from explorer.logic import inputs, models, subject, walkthrough
from explorer.logic.models import DEFAULT_INPUT
from explorer.logic.settings import ModelSettings
from lstm_core.analysis import units as unit_finder

from helpers import app
from test_explorer_app import charts, decode, heatmap_data, problems, texts

RANDOM_GRU = {"source": "random", "variant": "gru"}


def gru_trace(**kw):
    """The app's random GRU (ModelSettings) on the default recall input, and its trace."""
    ms = ModelSettings(source="random", variant="gru", **kw)
    model = models.build(ms)
    x = torch.from_numpy(inputs.generate("recall", DEFAULT_INPUT.steps, DEFAULT_INPUT.batch, 3, DEFAULT_INPUT.seed).x)
    with torch.no_grad():
        return model, x, model.trace(x).detach()


# --- gate heatmaps and the landing page's equations ------------------------------------------------

def test_the_heatmaps_of_a_gru_are_its_fields_with_their_scales():
    at = app(query={**RANDOM_GRU, "layers": "2", "layer": "1", "seq": "2"})
    _, _, tr = gru_trace(num_layers=2)
    assert at.multiselect(key="fields").options == ["r", "z", "n", "h"]  # the panel chooser lists the model's fields
    maps = heatmap_data(at)
    assert list(maps) == ["r", "z", "n", "h"]
    np.testing.assert_allclose(maps["z"], tr.get("z", 1, 0)[:, 2].T.numpy(), atol=1e-6)  # layer 1, sequence 2
    spec = charts(at)[0]
    heat = {t["name"]: t for t in spec["data"] if t["type"] == "heatmap"}
    assert (heat["z"]["zmin"], heat["z"]["zmax"]) == (0, 1) and (heat["n"]["zmin"], heat["n"]["zmax"]) == (-1, 1)
    titles = [spec["layout"][f"yaxis{k}"]["title"]["text"] for k in range(2, 6)]
    assert titles[0].startswith("<b>r</b> reset gate") and titles[1].startswith("<b>z</b> update gate")
    assert "z keeps" in titles[1]  # z is the fraction kept: said wherever z is shown
    bars = [t["marker"]["colorbar"]["title"]["text"] for t in spec["data"] if t.get("marker", {}).get("colorbar")]
    assert bars == ["r, z", "n, h: ±r"]


def test_panels_chosen_for_an_lstm_fall_back_to_the_grus():
    at = app(query={"source": "random", "fields": ["i", "c"]})
    assert list(heatmap_data(at)) == ["i", "c"]
    at.selectbox(key="variant").set_value("gru")
    at.run()
    assert not at.exception and list(heatmap_data(at)) == ["r", "z", "n", "h"]


@pytest.mark.parametrize("query, variant", [({}, "coupled"), (RANDOM_GRU, "gru"), ({"source": "random"}, "standard")])
def test_the_landing_page_shows_the_equations_of_its_model(query, variant):
    at = app(query=query, defaults={})  # {}: as a user opens it, on the shipped coupled model
    cell = lstm_core.zoo.declaration(variant)
    body = at.get("latex")[0].body
    for line in cell.latex:
        assert line.replace(" = ", " &= ", 1) in body  # aligned at its "="
    assert body.count(r"\\") == len(cell.latex) - 1  # no line of another cell
    if variant == "coupled":
        assert "i_t &= 1 - f_t" in body and r"i_t &= \sigma" not in body  # it showed the standard cell's i
    if variant == "gru":
        assert "z keeps: h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}" in texts(at) and "c_t" not in body
        intro = next(m.value for m in at.markdown if m.value.startswith("The GRU reads"))
        assert "$r$, $z$" in intro and "cell state" not in intro and "four gates" not in intro
        assert at.title[0].value == "What the gates of a GRU do, step by step"


def test_equations_tex_is_the_declarations():
    for d in (lstm_core.cells.lstm.declaration("no_forget_gate"), lstm_core.cells.gru.declaration("before")):
        tex = subject.equations_tex(d)
        assert all(line.replace(" = ", " &= ", 1) in tex for line in d.latex)
    assert r"\text{forget gate: the fraction of $c_{t-1}$ kept}" in subject.equations_tex(
        lstm_core.cells.lstm.declaration())


# --- units, saturation and the memory update --------------------------------------------------------

def test_units_page_of_a_gru():
    at = app("units", query={**RANDOM_GRU, "cell_unit": "3"})
    assert not problems(at) and not at.exception
    _, _, tr = gru_trace()
    sat, units, cell = charts(at)
    assert [a["text"] for a in sat["layout"]["annotations"][:2]] == ["reset gate r", "update gate z (keeps h)"]
    rows = [units["layout"][k]["title"]["text"] for k in ("yaxis", "yaxis2", "yaxis3", "yaxis4")]
    assert rows == ["r", "z", "n", "h"]
    kept, written = tr.cell_parts()  # z·h_{t-1} and (1 − z)·n
    w, k, h = (decode(t["y"]) for t in cell["data"])
    np.testing.assert_allclose(h, tr.h[0, :, 0, 3].numpy(), atol=1e-6)
    np.testing.assert_allclose(k, kept[:, 0, 3].numpy(), atol=1e-6)
    np.testing.assert_allclose(w, written[:, 0, 3].numpy(), atol=1e-6)
    assert [t["name"] for t in cell["data"]] == ["written  (1 − z) ⊙ n", "kept  z ⊙ h<sub>t−1</sub>", "h  = kept + written"]
    assert any(h.value == "State update" for h in at.header)
    assert any(c.value.startswith("z keeps: h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}") for c in at.caption)


def test_memory_update_reads_the_declaration():
    assert subject.memory_update(lstm_core.cells.lstm.declaration("coupled"))[1:3] == ("f ⊙ c_{t−1}", "(1 − f) ⊙ g")
    assert subject.memory_update(lstm_core.GRU(2, 3))[:3] == ("h", "z ⊙ h_{t−1}", "(1 − z) ⊙ n")


def test_fixed_notes_keep_the_lstms_and_say_z_keeps():
    assert subject.fixed_notes(lstm_core.cells.lstm.declaration("coupled")) == {"i": "= 1 − f in this variant"}
    assert subject.fixed_notes(lstm_core.cells.lstm.declaration("no_forget_gate")) == {"f": "fixed at 1 in this variant"}
    assert subject.fixed_notes(lstm_core.GRU(2, 3)) == {"z": "z keeps"}


# --- step through a cell ------------------------------------------------------------------------------

@pytest.mark.parametrize("reset", ["after", "before"])
def test_the_gru_walkthrough_matches_its_trace(reset):
    model = lstm_core.GRU(3, 5, num_layers=2, bidirectional=True, reset=reset, seed=0)
    x = torch.randn(9, 3, 3, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        tr = model.trace(x, lengths=[9, 5, 2]).detach()
    for layer in (0, 1):
        for d in (0, 1):
            for t in (0, 4, 8):
                wt = walkthrough.walk(model, tr, x, t, [0, 1, 2], [1, 4], layer, d)
                assert wt.max_error < 1e-6
                np.testing.assert_array_equal(wt.valid, [t < 9, t < 5, t < 2])
    # against the cell's own step in float64, independent of the walk's arithmetic
    wt = walkthrough.walk(model, tr, x, 4, [0], [0, 1, 2, 3, 4], 0, 0)
    w = {k: v.double() for k, v in model.layer_weights(0, 0).items()}
    r, z, n, h = lstm_core.cells.gru.step(w, x[4, :1].double(), tr.h[0, 3, :1].double(), reset)
    np.testing.assert_allclose(wt.act["z"], z.detach().numpy(), atol=1e-6)
    np.testing.assert_allclose(wt.h, h.detach().numpy(), atol=1e-6)
    lines = walkthrough.describe(wt)
    assert lines[1].startswith(f"r lets {wt.act['r'][0, 0]:.0%} of the past into the candidate")
    assert f"z keeps {wt.act['z'][0, 0]:.0%} of h and writes {1 - wt.act['z'][0, 0]:.0%} of n" in lines[2]


def test_a_wrong_weight_shows_in_max_error():
    model = lstm_core.GRU(3, 4, seed=0)
    x = torch.randn(5, 2, 3)
    with torch.no_grad():
        tr = model.trace(x).detach()
        model.weight_hh_l0[4:8] += 0.5  # z's recurrent rows: the walk no longer matches the recorded trace
    assert walkthrough.walk(model, tr, x, 3, [0, 1], [0, 1], 0, 0).max_error > 1e-3


def test_the_gru_diagram_shows_the_steps_numbers():
    v = dict(r=0.3, z=0.8, n=-0.5, h=0.2, h_prev=0.35, a_r=-0.85, a_z=1.39, a_n=-0.55, rpart=0.1, x=[1.0, 0.0],
             reset="after")
    svg = diagram.gru_svg(v, title="layer 0, step 3", footer="note <b>")
    assert "${" not in svg and svg.startswith("<svg")
    for shown in ("0.300", "0.800", "−0.500", "= 0.280", "written (1 − z)·n = −0.100", "0.200", "σ(1.390)",
                  "r · (W_hn h + b_hn)", "note &lt;b&gt;"):
        assert shown in svg
    assert "W_hn (r ⊙ h) + b_hn" in diagram.gru_svg({**v, "reset": "before"})


def test_the_step_page_of_a_gru():
    at = app("step", query={**RANDOM_GRU, "t": "37"})
    assert not at.exception and not problems(at)
    model, x, tr = gru_trace()
    w = {k: v.detach().double() for k, v in model.layer_weights(0, 0).items()}
    A = x[37, :2].double() @ w["weight_ih"].T + w["bias_ih"]  # (2, 3H): the input part of rows 0 and 1
    cols = [j * 8 + u for j in range(3) for u in (0, 1, 2)]
    a_table = at.table[2].value
    assert list(a_table.columns)[:2] == ["r u0 (col 0)", "r u1 (col 1)"]
    np.testing.assert_allclose(a_table.to_numpy(dtype=float), A[:, cols].numpy(), atol=1e-5)
    z_act = next(d.value for d in at.table if list(d.value.columns) == ["z u0", "z u1", "z u2"])
    np.testing.assert_allclose(z_act.to_numpy(dtype=float), tr.z[0, 37, :2, :3].numpy(), atol=1e-6)
    h_table = next(d.value for d in at.table if list(d.value.columns)[0] == "h' u0")
    assert h_table.iloc[0, 0].endswith(f"= {tr.h[0, 37, 0, 0].item():.4f}")
    assert [s.value for s in at.success][0].startswith("Every number above matches what the trace recorded")
    svg = next(m.value for m in at.markdown if m.value.startswith("<svg"))
    assert "1 − z" in svg and f"{tr.z[0, 37, 0, 0].item():.3f}" in svg and "LSTM" not in svg
    said = " ".join(m.value for m in at.markdown)
    assert f"z keeps {tr.z[0, 37, 0, 0].item():.0%} of h" in said and "r lets" in said
    assert "LSTMCell" not in said and "c' = f" not in " ".join(h.value for h in at.subheader)


# --- unit finder and text view ------------------------------------------------------------------------

def test_the_unit_finder_on_a_gru():
    at = app("unit_finder", query={**RANDOM_GRU, "input": "task", "input_task": "recall"})
    assert not at.exception and not problems(at)
    assert at.multiselect(key="uf_fields").options == ["h", "r", "z", "n"]
    bars = charts(at)[0]["data"][0]
    labels = list(decode(bars["y"]) if isinstance(bars["y"], dict) else bars["y"])
    assert labels and all(label[0] in "hrzn" for label in labels)


def test_rank_units_looks_in_the_traces_fields():
    _, _, tr = gru_trace()
    assert unit_finder.fields_of(tr) == ("h", "r", "z", "n")
    latent = torch.randn(tr.T, tr.batch_size)
    assert {s.field for s in unit_finder.rank_units(tr, latent, top=None)} == {"h", "r", "z", "n"}
    with pytest.raises(ValueError, match=r"fields: expected some of h, r, z, n, got \['c'\]"):
        unit_finder.rank_units(tr, latent, fields=("c",))


def test_the_text_view_on_a_gru():
    at = app("text_view", query={**RANDOM_GRU, "input": "text", "text": "hello world", "tv_field": "z"})
    assert not at.exception and not problems(at)
    assert at.selectbox(key="tv_field").options == ["h", "r", "z", "n"] and at.selectbox(key="tv_field").value == "z"
    fig = charts(at)[0]
    assert "coloured by z[0]" in fig["layout"]["title"]["text"]
    scales = [t.get("marker", {}).get("cmin") for t in fig["data"]] + [t.get("zmin") for t in fig["data"]]
    assert 0 in scales  # a gate on 0..1


def test_the_hand_wired_gru_is_described_by_its_own_gates():
    at = app(query={"variant": "gru"})  # source "demo" on the recall input
    note = at.info[0].value
    assert note.startswith("**Demo**") and "$z$ (the fraction of $h$ kept) drops to 0" in note and "$i$" not in note
    z0 = heatmap_data(at)["z"][0]  # unit 0, the memory: z keeps except at the store marker
    store = inputs.generate("recall", DEFAULT_INPUT.steps, DEFAULT_INPUT.batch, 3, DEFAULT_INPUT.seed).x[:, 0, 1] > 0.5
    assert z0[store].max() < 0.01 and z0[~store].min() > 0.99
