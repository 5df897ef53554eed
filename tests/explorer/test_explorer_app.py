"""The app through streamlit.testing.v1.AppTest: every page, every control by key, every bad input.

Each test asserts on what the page holds (the figures' data, the walk-through's
numbers, the messages) against references computed here with lstm_core and
explorer.signals directly, not merely that no exception was raised.
"""
import base64
import json
import re

import numpy as np
import pytest
import torch

import lstm_core
from explorer.logic import inputs, models
from explorer.logic.settings import ModelSettings
from explorer.ui import state

from helpers import app, csv_bytes, ok


def rerun(at):
    return ok(at.run())


def problems(at):
    return [e.value for e in at.error]


def decode(v):
    """A plotly JSON value: a typed array ({dtype, bdata, shape}) as numpy, a list as numpy, else itself."""
    if isinstance(v, dict) and "bdata" in v:
        a = np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
        shape = v.get("shape")
        return a.reshape([int(s) for s in str(shape).split(",")]) if shape else a
    if isinstance(v, list):
        return np.array([np.nan if e is None else e for e in v], dtype=float) if v and not isinstance(v[0], (list, str)) \
            else np.array(v, dtype=object)
    return v


def charts(at):
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def heatmap_data(at):
    """{field: z (U, S)} of the gate heatmap figure (exact representation)."""
    spec = charts(at)[0]
    return {t["name"]: decode(t["z"]).astype(float) for t in spec["data"] if t["type"] == "heatmap"}


def input_lines(at):
    spec = charts(at)[0]
    return [decode(t["y"]) for t in spec["data"] if t["type"] == "scatter" and t.get("yaxis", "y") == "y"
            and t.get("mode") == "lines"]


def reference(ms, x, lengths=None):
    """The trace of ModelSettings `ms` on x (T, B, I), built here, independently of the app's caches."""
    model = models.build(ms)
    with torch.no_grad():
        return model.trace(torch.as_tensor(x, dtype=model.dtype), lengths=lengths)


def texts(at):
    return " ".join([m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info])


# --- the first screen ---------------------------------------------------------------------------

def test_the_hand_wired_demo():
    at = app()
    assert at.title[0].value == "What the gates of an LSTM do, step by step"
    assert "Unit 0 is a memory" in texts(at) and at.latex and r"c_t &= f_t \odot c_{t-1}" in at.latex[0].value
    maps = heatmap_data(at)
    assert list(maps) == list("ifgoch")
    sig = inputs.generate("recall", 120, 4, 3)
    tr = reference(ModelSettings(), sig.x)
    for name, z in maps.items():
        np.testing.assert_allclose(z, tr.get(name)[:, 0].T.numpy(), atol=1e-6)  # (H, T) of sequence 0
    lines = input_lines(at)
    np.testing.assert_allclose(np.stack(lines, 1), sig.x[:, 0], atol=1e-6)
    assert maps["i"][0].max() > 0.99 and maps["o"][0].min() < 0.01  # the wired memory unit opens and closes
    assert "Hover a cell for its step, unit and exact value." in texts(at)


@pytest.mark.parametrize("page,what", [("units", "Saturation"), ("step", "Step through a cell"),
                                       ("export", "Share this view")])
def test_every_page_opens(page, what):
    at = app(page)
    assert what in [h.value for h in at.header] and not problems(at)


# --- input controls -----------------------------------------------------------------------------

NEW_PARAMS = {"recall": dict(delay=7, gap=3, distractors=0.0), "sine": dict(period=25, amplitude=2.0, noise=0.0),
              "square": dict(period=10, duty=0.3, amplitude=0.5), "impulses": dict(period=9, amplitude=2.0),
              "step": dict(position=0.3, amplitude=1.5), "random_walk": dict(step_size=0.5),
              "noise": dict(std=0.2), "brackets": dict(max_depth=2, p_open=0.7)}


@pytest.mark.parametrize("kind", list(inputs.GENERATORS))
def test_every_generator_and_its_parameters(kind):
    at = app()
    at.selectbox(key="input").set_value(kind)
    rerun(at)
    for name, value in NEW_PARAMS[kind].items():
        at.number_input(key=f"p_{kind}_{name}").set_value(value)
    at.number_input(key="steps").set_value(60)
    rerun(at)
    I = at.number_input(key="input_size").value
    sig = inputs.generate(kind, 60, 4, I, **NEW_PARAMS[kind])
    if kind == "brackets":  # characters: drawn as a one-hot image with the brackets as tick labels
        assert I == 2 and charts(at)[0]["layout"]["xaxis"]["ticktext"] == sig.labels[:, 0].tolist()
    else:
        np.testing.assert_allclose(np.stack(input_lines(at), 1), sig.x[:, 0], atol=1e-6)
    tr = reference(ModelSettings(input_size=I), sig.x)
    np.testing.assert_allclose(heatmap_data(at)["c"], tr.c[0, :, 0].T.numpy(), atol=1e-5)


def test_steps_batch_seed_lengths_and_sequence():
    at = app()
    at.number_input(key="steps").set_value(50)
    at.number_input(key="batch").set_value(3)
    at.number_input(key="iseed").set_value(5)
    at.checkbox(key="vary").check()
    rerun(at)
    at.selectbox(key="seq").set_value(2)
    rerun(at)
    sig = inputs.generate("recall", 50, 3, 3, seed=5, vary_lengths=True)
    assert sig.lengths.tolist() == [50, 38, 25]
    tr = reference(ModelSettings(), sig.x, lengths=torch.from_numpy(sig.lengths))
    z = heatmap_data(at)["h"]
    assert z.shape == (8, 50)
    assert np.isnan(z[:, 25:]).all()  # padding is blank, not zeros
    np.testing.assert_allclose(z[:, :25], tr.h[0, :25, 2].T.numpy(), atol=1e-6)
    assert "Blank cells are padding" in texts(at)


def warnings(at):
    return [w.value for w in at.warning]


def test_steps_outside_their_range_are_brought_in_and_said():
    """steps T above the maximum or under a task's minimum: the box shows what runs, and says why
    (issue 21, item 9: the box kept 5000 in red while 1,000 ran; under the minimum the task's
    internal check "expected more than store_before - 1 + min_delay = 12 steps" was the message)."""
    at = app(defaults={})  # the shipped recall model, on a sample of its task
    at.number_input(key="len_recall").set_value(5000)
    rerun(at)
    assert at.number_input(key="len_recall").value == 2000
    assert warnings(at) == ["steps T: at most 2,000 steps here; showing 2,000."]
    assert "; 2,000 steps x 4 sequence(s);" in texts(at)  # what runs
    at.number_input(key="len_recall").set_value(10)
    rerun(at)
    assert at.number_input(key="len_recall").value == 13
    assert warnings(at) == ["steps T: at least 13 steps for this task; showing 13."]
    assert not problems(at) and heatmap_data(at)["c"].shape[1] == 13
    rerun(at)  # said once, where it happened
    assert not warnings(at) and at.number_input(key="len_recall").value == 13
    at = app()  # a generated input: 1 to 200,000 steps
    at.number_input(key="steps").set_value(300_000)
    rerun(at)
    assert at.number_input(key="steps").value == 200_000
    assert warnings(at) == ["steps T: at most 200,000 steps here; showing 200,000."]
    at = app(defaults={}, query={"len_recall": "5"})  # a link under the minimum
    assert not problems(at) and heatmap_data(at)["c"].shape[1] == 13
    assert warnings(at) == ["steps T: at least 13 steps for this task; showing 13."]


def test_typed_text_and_the_vocabulary_fix():
    at = app()
    at.selectbox(key="input").set_value("text")
    rerun(at)
    at.text_area(key="text").input("abc\nab")
    at.text_input(key="vocab").input("abc")
    rerun(at)
    assert at.number_input(key="input_size").value == 3 and not problems(at)
    spec = charts(at)[0]
    assert spec["data"][0]["type"] == "image" and spec["layout"]["xaxis"]["ticktext"] == ["a", "b", "c"]
    at.text_area(key="text").input("abz")
    rerun(at)
    assert problems(at) == ["Input problem: text: 1 character(s) not in the vocabulary: 'z' (line 1, column 3)."]
    at.button(key="fix_vocab").click()
    rerun(at)
    assert at.text_input(key="vocab").value == "abcz" and not problems(at)
    assert at.number_input(key="input_size").value == 4


def test_upload_csv_runs_on_the_file():
    data = np.round(np.random.default_rng(0).standard_normal((30, 4)), 3)
    at = app()
    at.selectbox(key="input").set_value("upload")
    rerun(at)
    assert not problems(at) and at.info[0].value.startswith("Choose a CSV or NPY file in the sidebar")
    at.file_uploader(key="upload").upload("series.csv", b"a,b,c,d\n" + csv_bytes(data), "text/csv")
    rerun(at)
    assert not problems(at) and at.number_input(key="input_size").value == 4
    np.testing.assert_allclose(np.stack(input_lines(at), 1), data, atol=1e-6)
    tr = reference(ModelSettings(input_size=4), data[:, None, :].astype(np.float32))
    np.testing.assert_allclose(heatmap_data(at)["f"], tr.f[0, :, 0].T.numpy(), atol=1e-6)


BAD_FILES = [  # read by lstm_core.io.data, as on the Debug pages
    ("words.csv", b"1,2\n3,x\n", r"Input problem: words.csv: row 2, column 2: 'x' is not a number."),
    ("ragged.csv", b"1,2\n3\n4,5\n", r"Input problem: ragged.csv: row 2 has 1 fields, expected 2 like row 1"),
    ("empty.csv", b"", r"Input problem: empty.csv: the file is empty."),
    ("nan.csv", b"1,2\nnan,3\n", r"Input problem: nan.csv: row 2, column 1: 'nan' is not finite"),
    ("inf.csv", b"1,inf\n", r"Input problem: inf.csv: row 1, column 2: 'inf' is not finite"),
    ("bad.npy", b"\x93NUMPY garbage", r"Input problem: bad.npy: x is not an NPY array numpy can read"),
]


@pytest.mark.parametrize("name,data,message", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_files_get_a_message(name, data, message):
    at = app()
    at.selectbox(key="input").set_value("upload")
    rerun(at)
    at.file_uploader(key="upload").upload(name, data)
    rerun(at)
    (msg,) = problems(at)
    assert re.match(message, msg), msg
    assert not at.get("plotly_chart")


def test_wrong_feature_count_offers_the_files():
    at = app()
    at.checkbox(key="match").uncheck()
    at.selectbox(key="input").set_value("upload")
    rerun(at)
    at.file_uploader(key="upload").upload("two.csv", csv_bytes(np.ones((10, 2))))
    rerun(at)
    assert problems(at) == ["Input size mismatch: the input has 2 feature(s) per step but the model's input "
                            "size is 3."]
    at.button(key="fix_input_size").click()
    rerun(at)
    assert not problems(at) and at.number_input(key="input_size").value == 2
    assert "with fewer the model is random" in texts(at)


# --- model controls -----------------------------------------------------------------------------

def test_every_model_control_against_lstm_core():
    at = app()
    at.selectbox(key="source").set_value("random")
    at.selectbox(key="variant").set_value("peephole")
    at.number_input(key="hidden").set_value(5)
    at.number_input(key="layers").set_value(2)
    at.checkbox(key="bidir").check()
    at.number_input(key="proj").set_value(2)
    at.selectbox(key="init").set_value("xavier")
    at.number_input(key="fbias").set_value(2.0)
    at.number_input(key="seed").set_value(3)
    at.selectbox(key="dtype").set_value("float64")
    rerun(at)
    at.selectbox(key="layer").set_value(1)
    at.radio(key="direction").set_value("reverse")
    rerun(at)
    assert not problems(at)
    model = lstm_core.LSTM(3, 5, num_layers=2, variant="peephole", bidirectional=True, proj_size=2, init="xavier",
                           forget_bias=2.0, seed=3, dtype=torch.float64)
    x = torch.from_numpy(inputs.generate("recall", 120, 4, 3).x).double()
    with torch.no_grad():
        tr = model.trace(x)
    maps = heatmap_data(at)
    for name in "ifgoc":
        np.testing.assert_allclose(maps[name], tr.get(name, 1, 1)[:, 0].T.numpy(), atol=1e-12)
    np.testing.assert_allclose(maps["h"], tr.get("h", 1, 1)[:, 0].T.numpy(), atol=1e-12)  # P = 2 rows
    assert maps["h"].shape == (2, 120)
    assert "peephole LSTM, I=3, H=5, 2 layer(s), bidirectional" in texts(at)
    at.checkbox(key="fbias_on").uncheck()
    rerun(at)
    model.reset_parameters("xavier", seed=3)  # no forget bias
    with torch.no_grad():
        tr = model.trace(x)
    np.testing.assert_allclose(heatmap_data(at)["f"], tr.get("f", 1, 1)[:, 0].T.numpy(), atol=1e-12)


def test_every_variant_with_its_description():
    at = app()
    for name in lstm_core.VARIANTS:
        at.selectbox(key="variant").set_value(name)
        rerun(at)
        v = lstm_core.cells.variants.REGISTRY[name]
        assert v.summary in [c.value for c in at.caption]
        spec = charts(at)[0]
        titles = " ".join(spec["layout"][f"yaxis{k}"]["title"]["text"] for k in range(2, 8))
        for k in "ifo":
            title = titles.split(f"<b>{k}</b>")[1].split("<b>")[0]
            tied = k == "i" and v.coupled  # coupled: i = 1 - f, no parameters of its own, not "fixed at 1"
            assert ("fixed at 1" in title) == (k not in v.gates and not tied)
            assert ("1 − f" in title) == tied
        tr = reference(ModelSettings(variant=name), inputs.generate("recall", 120, 4, 3).x)
        np.testing.assert_allclose(heatmap_data(at)["c"], tr.c[0, :, 0].T.numpy(), atol=1e-5)
    assert "This variant has no forget gate (f = 1): the forget bias is not used." not in texts(at)
    at.selectbox(key="variant").set_value("no_forget_gate")
    rerun(at)
    assert "This variant has no forget gate (f = 1): the forget bias is not used." in texts(at)


def test_input_size_by_hand_for_generators_of_any_width():
    at = app()
    at.selectbox(key="input").set_value("sine")
    rerun(at)
    at.number_input(key="input_size").set_value(5)
    rerun(at)
    assert len(input_lines(at)) == 5 and not problems(at)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_a_device_that_disappeared(monkeypatch):
    monkeypatch.setattr(lstm_core, "available_devices", lambda: ["cpu", "cuda:0"])
    at = app()
    at.selectbox(key="device").set_value("cuda:0")
    rerun(at)
    assert problems(at) == ["The model could not run: device: 'cuda:0' is not available on this machine; "
                            "available: cpu"]
    monkeypatch.setattr(lstm_core, "available_devices", lambda: ["cpu"])
    rerun(at)
    assert [w.value for w in at.warning] == ["Device 'cuda:0' is no longer available on this machine; using cpu."]
    assert not problems(at) and at.selectbox(key="device").value == "cpu" and heatmap_data(at)


def test_sizes_over_the_budget_are_refused():
    at = app()
    at.selectbox(key="input").set_value("noise")
    rerun(at)
    at.number_input(key="steps").set_value(200_000)
    at.number_input(key="batch").set_value(64)
    at.number_input(key="hidden").set_value(1024)
    rerun(at)
    (msg,) = problems(at)
    assert msg.startswith("Too big for this app: this trace would need 300,146 MiB (T=200,000, B=64, H=1024, "
                          "1 layer(s) x 1 direction(s)), over the budget of 512 MiB")
    assert not at.get("plotly_chart")


def test_too_many_text_lines():
    at = app()
    at.selectbox(key="input").set_value("text")
    rerun(at)
    at.text_area(key="text").input("ab\n" * 70)
    rerun(at)
    assert problems(at) == ["Input problem: text lines (sequences): expected 1..64, got 70."]


# --- view controls ------------------------------------------------------------------------------

def test_panels_window_and_exact_hover():
    at = app()
    at.multiselect(key="fields").set_value(["o", "c"])
    at.slider(key="window").set_value((10, 59))
    rerun(at)
    spec = charts(at)[0]
    maps = [t for t in spec["data"] if t["type"] == "heatmap"]
    assert [t["name"] for t in maps] == ["o", "c"] and maps[0]["x0"] == 10
    tr = reference(ModelSettings(), inputs.generate("recall", 120, 4, 3).x)
    np.testing.assert_allclose(decode(maps[1]["z"]), tr.c[0, 10:60, 0].T.numpy(), atol=1e-6)
    at.number_input(key="hidden").set_value(128)
    at.number_input(key="steps").set_value(500)
    rerun(at)
    assert at.slider(key="window").value == (10, 59)
    # the maps show the window's 50 steps (2 x 128 x 50 cells: exact); they showed more than the
    # window before issue 10, item 1, and were drawn as images
    maps = [t for t in charts(at)[0]["data"] if t["type"] == "heatmap"]
    assert [decode(m["z"]).shape for m in maps] == [(128, 50)] * 2 and maps[0]["x0"] == 10
    at.slider(key="window").set_value((0, 499))
    rerun(at)
    assert charts(at)[0]["layout"]["meta"]["representation"] == "image"
    at.checkbox(key="exact").check()
    rerun(at)
    assert charts(at)[0]["layout"]["meta"]["representation"] == "heatmap"


def test_a_window_to_the_end_follows_a_longer_input():
    """Issue 10, item 1: T 40 -> 80 -> 120 showed steps 0-39 under a caption of 120 steps; back to 40
    turned the page into a StreamlitValueAboveMaxError."""
    at = app()
    for T in (40, 80, 120, 40):
        at.number_input(key="steps").set_value(T)
        rerun(at)
        assert at.slider(key="window").value == (0, T - 1) and not problems(at)
        maps = [tr for tr in charts(at)[0]["data"] if tr["type"] == "heatmap"]
        assert {decode(m["z"]).shape[1] for m in maps} == {T}
    at.slider(key="window").set_value((5, 20))  # a window inside the input stays put
    rerun(at)
    at.number_input(key="steps").set_value(100)
    rerun(at)
    assert at.slider(key="window").value == (5, 20)


def test_a_link_with_a_window_past_the_input():
    at = app(query={"steps": "40", "window": ["0", "119"]})
    assert at.slider(key="window").value == (0, 39) and not problems(at)


def test_window_follows_a_shorter_input():
    at = app()
    at.slider(key="window").set_value((50, 110))
    rerun(at)
    at.number_input(key="steps").set_value(40)
    rerun(at)
    assert at.slider(key="window").value == (39, 39) and not problems(at)


# --- units page ---------------------------------------------------------------------------------

def test_units_page_saturation_traces_and_cell_update():
    at = app("units")
    sat, units, cell = charts(at)
    sig = inputs.generate("recall", 120, 4, 3)
    tr = reference(ModelSettings(), sig.x)
    f = tr.f[0].numpy()  # (T, B, H)
    points = sat["data"][1]  # gate f, layer 0
    np.testing.assert_allclose(decode(points["x"]), (f < 0.1).mean(axis=(0, 1)))
    np.testing.assert_allclose(decode(points["y"]), (f > 0.9).mean(axis=(0, 1)))
    assert [c[:3] for c in decode(points["customdata"]).tolist()[:2]] == [[0, 0, 0], [0, 0, 1]]  # [layer, direction, unit, on its spot]
    at.multiselect(key="units").set_value([1, 3])
    at.selectbox(key="cell_unit").set_value(2)
    rerun(at)
    sat, units, cell = charts(at)
    assert [t["name"] for t in units["data"][:2]] == ["unit 1", "unit 3"]
    np.testing.assert_allclose(decode(units["data"][1]["y"]), tr.i[0, :, 0, 3].numpy(), atol=1e-6)
    kept, written = tr.cell_parts()
    w, k, c = (decode(t["y"]) for t in cell["data"])
    np.testing.assert_allclose(c, tr.c[0, :, 0, 2].numpy(), atol=1e-6)
    np.testing.assert_allclose(k, kept[:, 0, 2].numpy(), atol=1e-6)
    np.testing.assert_allclose(w, written[:, 0, 2].numpy(), atol=1e-6)
    assert decode(sat["data"][0]["marker"]["line"]["width"]).tolist()[:4] == [0, 3, 0, 3]  # 1 and 3 ringed


@pytest.mark.parametrize("variant, line", [
    ("coupled", "In this variant, i = 1 − f."),  # it read "i is = 1 − f" (issue 21)
    ("no_forget_gate", "In this variant, f is fixed at 1."),
])
def test_units_page_says_what_the_variant_fixes(variant, line):
    at = app("units", query={"variant": variant})
    assert line in [c.value for c in at.caption]


def test_the_sidebar_names_every_box_and_why_there_is_no_gpu(monkeypatch):
    """The forget bias's box has a label (it was an unnamed "1.00" under init), and a device
    list of the CPU alone says why (issue 21)."""
    at = app()
    assert at.number_input(key="fbias").label == "b_f" and at.number_input(key="fbias").proto.label_visibility.value == 0
    monkeypatch.setattr(lstm_core, "available_devices", lambda: ["cpu"])
    monkeypatch.setattr(torch.version, "cuda", None)
    rerun(at)
    assert f"device: the CPU only; this PyTorch ({torch.__version__}) is built without CUDA." in texts(at)
    monkeypatch.setattr(torch.version, "cuda", "12.4")
    rerun(at)
    assert "has CUDA but finds no GPU (none in this machine, or no driver)." in texts(at)
    monkeypatch.setattr(lstm_core, "available_devices", lambda: ["cpu", "cuda:0"])
    rerun(at)
    assert "device: the CPU only" not in texts(at)


def test_byte_sizes_read_in_kib_under_a_mib():
    from explorer.logic.budget import size
    assert [size(n) for n in (0, 5_000, 999 * 2**10, 2**20 - 1, 2**20, 3 * 2**30)] == [
        "0.0 KiB", "4.9 KiB", "999.0 KiB", "1.0 MiB", "1.0 MiB", "3,072.0 MiB"]  # a small trace said "0.0 MiB"


# --- step page ----------------------------------------------------------------------------------

def test_step_page_walkthrough_numbers():
    at = app("step", query={"t": "37"})
    assert at.slider(key="t").value == 37
    sig = inputs.generate("recall", 120, 4, 3)
    model = models.build(ModelSettings())
    with torch.no_grad():
        tr = model.trace(torch.from_numpy(sig.x))
    w_ih, w_hh = model.weight_ih_l0.detach().double().numpy(), model.weight_hh_l0.detach().double().numpy()
    b = (model.bias_ih_l0 + model.bias_hh_l0).detach().double().numpy()
    Z = sig.x[37, :2] @ w_ih.T + tr.h[0, 36, :2].double().numpy() @ w_hh.T + b  # (2, 4H), rows 0 and 1
    H = 8
    cols = [j * H + u for j in range(4) for u in (0, 1, 2)]
    z_table = at.table[2].value
    assert list(z_table.index) == ["b=0", "b=1"] and list(z_table.columns)[:2] == ["i u0 (col 0)", "i u1 (col 1)"]
    np.testing.assert_allclose(z_table.to_numpy(dtype=float), Z[:, cols], atol=1e-5)
    i_act = next(d.value for d in at.table if list(d.value.columns) == ["i u0", "i u1", "i u2"])
    np.testing.assert_allclose(i_act.to_numpy(dtype=float), tr.i[0, 37, :2, :3].numpy(), atol=1e-6)
    c_table = next(d.value for d in at.table if list(d.value.columns)[0] == "c' u0")
    c37 = tr.c[0, 37, 0, 0].item()
    assert c_table.iloc[0, 0].endswith(f"= {c37:.4f}")
    assert [s.value for s in at.success][0].startswith("Every number above matches what the trace recorded")
    assert any(f"{tr.f[0, 37, 0, 0].item():.3f}" in m.value for m in at.markdown if m.value.startswith("<svg"))
    # "the course text's LSTMCell": which text? (issue 21) The stripes walk-through is the needle homework's.
    intro = next(m.value for m in at.markdown if m.value.startswith("One step of one layer"))
    assert "course text" not in intro and "the needle library's `LSTMCell`" in intro


def test_step_buttons_play_and_slice():
    at = app("step")
    at.button(key="step_fwd").click()
    rerun(at)
    at.button(key="step_fwd").click()
    rerun(at)
    assert at.slider(key="t").value == 2
    at.button(key="step_back").click()
    rerun(at)
    assert at.slider(key="t").value == 1
    at.button(key="play").click()
    rerun(at)  # the click restarts the page with the timer on; every further run is one tick
    t0 = at.slider(key="t").value
    rerun(at)
    assert at.slider(key="t").value == t0 + 1 and at.button(key="play").label == "⏸ pause"
    at.button(key="play").click()
    rerun(at)
    t1 = at.slider(key="t").value
    rerun(at)
    assert at.slider(key="t").value == t1 and at.button(key="play").label == "▶ play"
    at.multiselect(key="wt_rows").set_value([1, 3])
    at.multiselect(key="wt_units").set_value([0, 5])
    rerun(at)
    z_table = at.table[2].value
    assert list(z_table.index) == ["b=1", "b=3"] and list(z_table.columns)[:2] == ["i u0 (col 0)", "i u5 (col 5)"]
    assert z_table.shape == (2, 8)


# --- links and export ---------------------------------------------------------------------------

QUERY = {"input": "sine", "p_sine_period": "25", "hidden": "6", "variant": "coupled", "layers": "2",
         "layer": "1", "seq": "2", "window": ["5", "60"], "fields": ["f", "c"]}


def test_a_link_reproduces_the_view():
    linked = app(query=QUERY)
    by_hand = app()
    by_hand.selectbox(key="input").set_value("sine")
    rerun(by_hand)
    by_hand.number_input(key="p_sine_period").set_value(25)
    by_hand.number_input(key="hidden").set_value(6)
    by_hand.selectbox(key="variant").set_value("coupled")
    by_hand.number_input(key="layers").set_value(2)
    rerun(by_hand)
    by_hand.selectbox(key="layer").set_value(1)
    by_hand.selectbox(key="seq").set_value(2)
    by_hand.slider(key="window").set_value((5, 60))
    by_hand.multiselect(key="fields").set_value(["f", "c"])
    rerun(by_hand)
    a, b = charts(linked)[0], charts(by_hand)[0]
    assert a["data"] == b["data"] and [t["name"] for t in a["data"] if t["type"] == "heatmap"] == ["f", "c"]
    assert "coupled LSTM, I=3, H=6, 2 layer(s)" in texts(linked)


def test_a_link_with_minimum_and_false_values():
    """Values equal to a widget's implicit default (its minimum, False) must survive a link too."""
    at = app(query={"batch": "1", "fbias_on": "false", "match": "false", "steps": "1"})
    assert at.number_input(key="batch").value == 1 and at.number_input(key="steps").value == 1
    assert at.checkbox(key="fbias_on").value is False and at.checkbox(key="match").value is False
    assert heatmap_data(at)["f"].shape == (8, 1) and not problems(at)
    at.switch_page(state.STEP).run()
    assert not at.exception and at.success  # one step: no slider, the walk-through of step 0


def test_links_use_names_not_labels():
    at = app(query={"input": "text", "source": "random", "bidir": "true", "direction": "reverse"})
    assert at.selectbox(key="input").value == "text" and at.selectbox(key="source").value == "random"
    assert at.radio(key="direction").value == "reverse" and "showing layer 0 reverse" in texts(at)


def test_nonsense_in_the_link_is_ignored():
    at = app(query={"hidden": "many", "variant": "vanilla", "layer": "9"})
    assert at.number_input(key="hidden").value == 8 and at.selectbox(key="variant").value == "standard"
    assert not problems(at) and heatmap_data(at)


def test_export_page():
    at = app("export", query={"hidden": "5"})
    code = at.code[0].value
    assert code.endswith("hidden=5") and "source=demo" in code
    keys = {b.key for b in at.get("download_button")} if at.get("download_button") else set()
    assert {"dl_settings", "dl_npz", "dl_csv", "dl_parquet", "dl_heatmaps", "dl_units", "dl_saturation",
            "dl_cell"} <= keys
    assert "rows in the long format" in texts(at)
