"""Loading ONNX LSTM nodes, checked against ONNX Runtime running the same model.

The ONNX reference evaluator ignores input_forget and sequence_lens, so ONNX Runtime
is the reference here (issue 6).
"""
import numpy as np
import pytest
import torch

from lstm_core.io.loaders import LoadError, find_candidates, load

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

T, B, I, H = 6, 3, 4, 5


def lstm_model(*, D=1, peephole=False, bias=True, seq_lens=False, layout=0, initial=None, opset=14, rng=None,
               inputs_from_graph=False, reverse=False, **attrs):
    """An ONNX model of one LSTM node with random constant weights: (model bytes, weights)."""
    rng = rng or np.random.default_rng(0)
    w = {"W": rng.normal(size=(D, 4 * H, I)), "R": rng.normal(size=(D, 4 * H, H)) * 0.5}
    if bias:
        w["B"] = rng.normal(size=(D, 8 * H))
    if peephole:
        w["P"] = rng.normal(size=(D, 3 * H))
    w = {k: v.astype(np.float32) for k, v in w.items()}
    names = ["X", "W", "R", "B" if bias else "", "seq" if seq_lens else "", "h0" if initial is not None else "",
             "c0" if initial is not None else "", "P" if peephole else ""]
    inits = [numpy_helper.from_array(v, k) for k, v in w.items()]
    if initial is not None:
        inits += [numpy_helper.from_array(initial[0], "h0"), numpy_helper.from_array(initial[1], "c0")]
    x_shape = [B, T, I] if layout else [T, B, I]
    graph_inputs = [helper.make_tensor_value_info("X", TensorProto.FLOAT, x_shape)]
    if seq_lens:
        graph_inputs.append(helper.make_tensor_value_info("seq", TensorProto.INT32, [B]))
    nodes = [helper.make_node("LSTM", names, ["Y", "Y_h", "Y_c"], hidden_size=H, layout=layout,
                              direction="bidirectional" if D == 2 else "reverse" if reverse else "forward",
                              name="lstm", **attrs)]
    if inputs_from_graph:  # W computed by an op, not a constant
        nodes.insert(0, helper.make_node("Identity", ["W0"], ["W"]))
        inits[0].name = "W0"
    graph = helper.make_graph(nodes, "g", graph_inputs,
                              [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("Y", "Y_h", "Y_c")],
                              inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    return model.SerializeToString(), w


def run_ort(data, x, seq=None):
    s = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    feeds = {"X": x}
    if seq is not None:
        feeds["seq"] = seq
    return s.run(None, feeds)


def compare(data, *, lengths=None, state=None, ours_data=None):
    """Our model of `ours_data` (default: data) against ONNX Runtime running `data`: Y (all h),
    Y_h and Y_c to 1e-5. Returns our model."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(T, B, I)).astype(np.float32)
    Y, Y_h, Y_c = run_ort(data, x, None if lengths is None else np.asarray(lengths, np.int32))
    model = load(ours_data or data, format="onnx")
    xt = torch.from_numpy(x)
    out, (h, c) = model(xt.transpose(0, 1) if model.batch_first else xt, state, lengths=lengths)
    if model.batch_first:
        out = out.transpose(0, 1)
    D = 2 if model.bidirectional else 1
    want = Y.transpose(0, 2, 1, 3).reshape(T, B, D * H)  # Y (T, D, B, H)
    np.testing.assert_allclose(out.detach().numpy(), want, atol=1e-5)
    np.testing.assert_allclose(h.detach().numpy(), Y_h, atol=1e-5)
    np.testing.assert_allclose(c.detach().numpy(), Y_c, atol=1e-5)
    return model


CASES = [
    dict(),
    dict(peephole=True),
    dict(D=2, peephole=True),
    dict(bias=False),
    dict(input_forget=1),
    dict(input_forget=1, peephole=True, D=2),
    dict(activations=["HardSigmoid", "Tanh", "Tanh"]),
    dict(activations=["HardSigmoid", "Tanh", "Tanh"], activation_alpha=[0.3], activation_beta=[0.45]),
    dict(activations=["HardSigmoid", "Tanh", "Tanh"] * 2, activation_alpha=[0.3, 0.3], activation_beta=[0.4, 0.4], D=2),
    dict(input_forget=1, activations=["HardSigmoid", "Tanh", "Tanh"], activation_alpha=[0.25]),
    dict(opset=22),
    dict(reverse=True),
    dict(reverse=True, peephole=True, input_forget=1),
    dict(reverse=True, activations=["HardSigmoid", "Tanh", "Tanh"]),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()) or "plain")
def test_matches_onnx_runtime(case):
    data, _ = lstm_model(**case)
    model = compare(data)
    assert model.peephole == case.get("peephole", False)
    assert model.variant == ("coupled" if case.get("input_forget") else "standard")
    assert model.go_backwards == case.get("reverse", False)


def test_reverse_with_sequence_lens():
    """direction="reverse" runs from each sequence's own end: ONNX Runtime's Y_h is the state after step 0."""
    data, _ = lstm_model(reverse=True, peephole=True, seq_lens=True)
    model = compare(data, lengths=[6, 2, 4])
    assert any("go_backwards=True" in n for n in model.load_info.notes)
    assert find_candidates(data, format="onnx")[0].summary == f"LSTM({I} -> {H}, reverse, peephole)"


def test_layout_1_is_batch_first():
    """ONNX Runtime runs only layout=0: the same weights with layout=1 must give the same numbers
    on the transposed input."""
    data, _ = lstm_model(D=2, peephole=True)
    batch_major, _ = lstm_model(D=2, peephole=True, layout=1)
    model = compare(data, ours_data=batch_major)
    assert model.batch_first


@pytest.mark.parametrize("D", [1, 2])
def test_sequence_lens(D):
    data, _ = lstm_model(D=D, peephole=True, seq_lens=True)
    model = compare(data, lengths=[6, 2, 4])
    assert "takes sequence_lens: pass lengths= to trace padded batches" in model.load_info.notes[0]


def test_constant_initial_state_is_kept():
    rng = np.random.default_rng(4)
    h0, c0 = rng.normal(size=(1, B, H)).astype(np.float32), rng.normal(size=(1, B, H)).astype(np.float32)
    data, _ = lstm_model(initial=(h0, c0))
    model = load(data, format="onnx")
    state = model.load_info.extras["initial_state"]["lstm"]
    assert "initial_h is a constant, kept in load_info.extras" in model.load_info.notes[0]
    compare(data, state=(state["initial_h"], state["initial_c"]))


def test_input_forget_is_the_coupled_cell_with_negated_weights():
    data, w = lstm_model(input_forget=1, peephole=True)
    model = load(data, format="onnx")
    Wi = torch.from_numpy(w["W"][0, :H])
    torch.testing.assert_close(model.weight_ih_l0[:H], -Wi)  # our f rows = -(ONNX i rows)
    torch.testing.assert_close(model.weight_peephole_l0[0], -torch.from_numpy(w["P"][0, :H]))
    tr = model.trace(torch.randn(T, B, I))
    torch.testing.assert_close(tr.i, 1 - tr.f)


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning", "ignore::torch.jit.TracerWarning")
def test_torch_export_of_a_two_layer_lstm_stacks(tmp_path):
    ref = torch.nn.LSTM(I, H, 2, bidirectional=True)
    torch.onnx.export(ref, (torch.randn(T, B, I),), tmp_path / "lstm.onnx", dynamo=False)
    model = load(tmp_path / "lstm.onnx")
    assert model.num_layers == 2 and len(model.load_info.chosen) == 2
    assert not any("initial" in n for n in model.load_info.notes)  # torch's zero states are recognised
    x = torch.randn(T, B, I)
    s = ort.InferenceSession(str(tmp_path / "lstm.onnx"), providers=["CPUExecutionProvider"])
    want = s.run(None, {s.get_inputs()[0].name: x.numpy()})[0]
    np.testing.assert_allclose(model(x)[0].detach().numpy(), want, atol=1e-5)
    assert [c.summary for c in find_candidates(tmp_path / "lstm.onnx")] == [
        f"LSTM({I} -> {H}, bidirectional)", f"LSTM({2 * H} -> {H}, bidirectional)"]
    one = load(tmp_path / "lstm.onnx", layer=0)
    assert one.num_layers == 1


def two_unconnected_nodes():
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.normal(size=s).astype(np.float32), n)
             for n, s in (("W", (1, 4 * H, I)), ("R", (1, 4 * H, H)))]
    nodes = [helper.make_node("LSTM", ["X", "W", "R"], [f"Y{k}"], hidden_size=H, name=f"n{k}") for k in (0, 1)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [T, B, I])],
                              [helper.make_tensor_value_info(f"Y{k}", TensorProto.FLOAT, None) for k in (0, 1)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)]).SerializeToString()


REFUSALS = [
    (dict(clip=3.0), r"LSTM node 'lstm': clip=3.0 is not supported: ONNX clips the gate pre-activations"),
    (dict(direction_override="sideways"), r"LSTM node 'lstm': unknown direction 'sideways'"),
    (dict(activations=["Relu", "Tanh", "Tanh"]), r"gate activation 'Relu' is not supported: expected Sigmoid or "
                                                 r"HardSigmoid"),
    (dict(activations=["Sigmoid", "Relu", "Tanh"]), r"activation 'Relu' for g is not supported"),
    (dict(activations=["Sigmoid", "Tanh", "Softsign"]), r"activation 'Softsign' for h is not supported"),
    (dict(activations=["Sigmoid", "Tanh", "Tanh", "HardSigmoid", "Tanh", "Tanh"], D=2),
     r"the two directions use different gate activations"),
    (dict(input_forget=1, activations=["HardSigmoid", "Tanh", "Tanh"], activation_beta=[0.3]),
     r"input_forget=1 with HardSigmoid beta=0.3\d* is not supported: 1 - HardSigmoid\(z\) equals HardSigmoid\(-z\) "
     r"only for beta=0.5"),
    (dict(inputs_from_graph=True), r"LSTM node 'lstm': input W \('W'\) is computed in the graph, not a constant"),
]


@pytest.mark.parametrize("kw,message", REFUSALS)
def test_refusals(kw, message):
    direction = kw.pop("direction_override", None)
    data, _ = lstm_model(**kw)
    if direction:
        m = onnx.load_model_from_string(data)
        for a in m.graph.node[0].attribute:
            if a.name == "direction":
                a.s = direction.encode()
        data = m.SerializeToString()
    with pytest.raises(LoadError, match=message):
        load(data, format="onnx")


def test_shape_mismatch_names_the_initializer():
    data, _ = lstm_model()
    m = onnx.load_model_from_string(data)
    for t in m.graph.initializer:
        if t.name == "B":
            t.CopyFrom(numpy_helper.from_array(np.zeros((1, 7 * H), np.float32), "B"))
    with pytest.raises(LoadError, match=r"B: expected shape \(1, 40\) \(num_directions, 8H\), found \(1, 35\)"):
        load(m.SerializeToString(), format="onnx")
    m = onnx.load_model_from_string(data)
    helper.get_attribute_value  # noqa: B018 (the attribute is edited below)
    for a in m.graph.node[0].attribute:
        if a.name == "hidden_size":
            a.i = 3
    with pytest.raises(LoadError, match=r"R: expected shape \(1, 12, 3\) for hidden_size=3, found \(1, 20, 5\)"):
        load(m.SerializeToString(), format="onnx")


def test_several_nodes_that_do_not_stack():
    data = two_unconnected_nodes()
    with pytest.raises(LoadError, match=r"holds 2 LSTM nodes that do not stack: 'n0' LSTM\(4 -> 5\); 'n1' "
                                        r"LSTM\(4 -> 5\); choose with layer="):
        load(data, format="onnx")
    with pytest.raises(LoadError, match=r"nodes \['n0', 'n1'\] cannot be stacked: 'n1' is not fed by 'n0'"):
        load(data, format="onnx", layer=["n0", "n1"])
    with pytest.raises(LoadError, match=r"no LSTM node named 'n2'; found \['n0', 'n1'\]"):
        load(data, format="onnx", layer="n2")
    assert load(data, format="onnx", layer="n1").load_info.chosen == ("n1",)


def test_upload_is_told_by_its_name():
    import io

    data, _ = lstm_model(peephole=True)
    upload = io.BytesIO(data)
    upload.name = "exported.onnx"  # as Streamlit's UploadedFile carries it
    model = load(upload)
    assert model.load_info.format == "onnx" and model.load_info.source == "exported.onnx" and model.peephole


def test_a_node_with_computed_weights_does_not_block_the_others():
    m = onnx.load_model_from_string(two_unconnected_nodes())
    m.graph.node.insert(0, helper.make_node("Identity", ["W"], ["W_computed"]))
    m.graph.node[1].input[1] = "W_computed"  # n0 reads its W from an op
    data = m.SerializeToString()
    assert [c.summary for c in find_candidates(data, format="onnx")] == ["LSTM(weights not readable)",
                                                                          f"LSTM({I} -> {H})"]
    assert load(data, format="onnx", layer="n1").load_info.chosen == ("n1",)
    with pytest.raises(LoadError, match=r"LSTM node 'n0': input W \('W_computed'\) is computed in the graph"):
        load(data, format="onnx", layer="n0")


def test_not_onnx():
    with pytest.raises(LoadError, match=r"<bytes>: not an ONNX model onnx can read"):
        load(b"\x08\x07garbage", format="onnx")
    graph = helper.make_graph([], "g", [], [])
    empty = helper.make_model(graph).SerializeToString()
    with pytest.raises(LoadError, match=r"<bytes>: no LSTM or GRU node in the graph"):
        load(empty, format="onnx")


def test_external_data_only_when_asked_and_only_beside_the_model(tmp_path):
    """Issue 11: external data is read for a path with allow_external_data=True, from the model's directory."""
    from onnx.external_data_helper import convert_model_to_external_data
    data, w = lstm_model()
    embedded = load(data, format="onnx")
    m = onnx.load_model_from_string(data)
    convert_model_to_external_data(m, all_tensors_to_one_file=True, location="weights.bin", size_threshold=0)
    (tmp_path / "sub").mkdir()
    onnx.save_model(m, str(tmp_path / "sub" / "m.onnx"))
    loaded = load(tmp_path / "sub" / "m.onnx", allow_external_data=True)
    for name, p in embedded.named_parameters():
        assert torch.equal(p, getattr(loaded, name)), name
    with pytest.raises(LoadError, match=r"keeps its data in an external file 'weights.bin', which is not read unless"):
        load(tmp_path / "sub" / "m.onnx")
    with pytest.raises(LoadError, match=r"uploads and bytes never read other files: embed the weights"):
        load((tmp_path / "sub" / "m.onnx").read_bytes(), format="onnx")
    for t in m.graph.initializer:  # point every tensor one directory up: refused
        for e in t.external_data:
            if e.key == "location":
                e.value = "../weights.bin"
    onnx.save_model(m, str(tmp_path / "sub" / "up.onnx"), save_as_external_data=False)
    (tmp_path / "weights.bin").write_bytes((tmp_path / "sub" / "weights.bin").read_bytes())
    with pytest.raises(LoadError, match=r"location '\.\./weights\.bin' is outside the model's directory"):
        load(tmp_path / "sub" / "up.onnx", allow_external_data=True)


def test_weights_are_checked_like_every_loader():
    data, w = lstm_model()
    m = onnx.load_model_from_string(data)
    R = next(t for t in m.graph.initializer if t.name == "R")
    bad = numpy_helper.to_array(R).copy()
    bad[0, 3, 1] = np.inf
    R.CopyFrom(numpy_helper.from_array(bad, "R"))
    with pytest.raises(LoadError, match=r"R: non-finite weight inf at index \(0, 3, 1\); every weight must be finite"):
        load(m.SerializeToString(), format="onnx")
