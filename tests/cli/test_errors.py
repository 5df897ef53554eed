"""Every error at the package's boundary, with its message (einops-style table)."""
import pytest
import torch
from torch import nn

import lstm_core
from lstm_core import Clamp


def model(**kw):
    return lstm_core.LSTM(3, 4, **kw)


X = torch.randn(5, 2, 3)

CONSTRUCTION = [
    (dict(input_size=0, hidden_size=4), ValueError, r"input_size: expected an int >= 1, got 0"),
    (dict(input_size=3, hidden_size=2.5), ValueError, r"hidden_size: expected an int >= 1, got 2.5"),
    (dict(input_size=3, hidden_size=4, num_layers=0), ValueError, r"num_layers: expected an int >= 1"),
    (dict(input_size=3, hidden_size=4, proj_size=4), ValueError, r"proj_size: expected less than hidden_size=4, got 4"),
    (dict(input_size=3, hidden_size=4, dropout=1.5), ValueError, r"dropout: expected a probability in \[0, 1\], got 1.5"),
    (dict(input_size=3, hidden_size=4, variant="vanilla"), ValueError, r"variant: unknown name 'vanilla'; expected one of standard, coupled"),
    (dict(input_size=3, hidden_size=4, variant=3), TypeError, r"variant: expected a name \(str\), got int"),
    (dict(input_size=3, hidden_size=4, init="kaiming"), ValueError, r"init: expected one of pytorch, normal, scaled_normal, xavier, orthogonal, got 'kaiming'"),
    (dict(input_size=3, hidden_size=4, variant="peephole", peephole=False), ValueError, r"peephole=False contradicts variant 'peephole'"),
    (dict(input_size=3, hidden_size=4, peephole_output="next"), ValueError, r"peephole_output: expected 'current' or 'previous', got 'next'"),
    (dict(input_size=3, hidden_size=4, variant="no_forget_gate", forget_bias=1.0), ValueError, r"forget_bias: variant 'no_forget_gate' has no forget gate"),
    (dict(input_size=3, hidden_size=4, bias=False, forget_bias=1.0), ValueError, r"forget_bias: the model has no biases"),
    (dict(input_size=3, hidden_size=4, forget_bias=1.0, chrono=10), ValueError, r"forget_bias and chrono both set"),
    (dict(input_size=3, hidden_size=4, chrono=1), ValueError, r"chrono: expected the longest dependency T_max, a number > 2, got 1"),
    (dict(input_size=3, hidden_size=4, forget_bias=float("nan")), ValueError, r"forget_bias: expected a finite number"),
    (dict(input_size=3, hidden_size=4, seed="7"), TypeError, r"seed: expected an int or None, got str"),
    (dict(input_size=3, hidden_size=4, dtype=torch.int32), TypeError, r"dtype: expected a floating-point torch.dtype"),
    (dict(input_size=3, hidden_size=4, device="tpu"), ValueError, r"device: expected a device name such as 'cpu' or 'cuda', got 'tpu'"),
    (dict(input_size=3, hidden_size=4, gate_activation="relu"), ValueError, r"gate_activation: expected 'sigmoid', 'hard_sigmoid' or \('hard_sigmoid', alpha, beta\), got 'relu'"),
]


@pytest.mark.parametrize("kwargs,error,message", CONSTRUCTION)
def test_construction_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        lstm_core.LSTM(**kwargs)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_unavailable_device():
    with pytest.raises(ValueError, match=r"device: 'cuda' is not available on this machine; available: cpu"):
        model(device="cuda")


CALLS = [
    (lambda m: m(torch.randn(5, 2, 7)), ValueError, r"x: expected input_size=3 features in the last dimension, got 7 \(x.shape=\(5, 2, 7\)\)"),
    (lambda m: m(torch.randn(5, 7)), ValueError, r"x: expected input_size=3 .* got 7 \(x.shape=\(5, 7\)\)"),
    (lambda m: m(torch.randn(5)), ValueError, r"x: expected a 3-D batch \(T, B, input_size\) or a 2-D sequence \(T, input_size\), got shape \(5,\)"),
    (lambda m: m(torch.randn(1, 5, 2, 3)), ValueError, r"x: expected a 3-D batch .* got shape \(1, 5, 2, 3\)"),
    (lambda m: m([[1.0, 2.0, 3.0]]), TypeError, r"x: expected a torch.Tensor or PackedSequence, got list"),
    (lambda m: m(torch.ones(5, 2, 3, dtype=torch.int64)), TypeError, r"x: expected a floating-point tensor of the model's dtype torch.float32, got torch.int64"),
    (lambda m: m(X.double()), TypeError, r"x: dtype torch.float64 does not match the model's dtype torch.float32"),
    (lambda m: m(torch.randn(0, 2, 3)), ValueError, r"x: needs at least one time step and one sequence, got shape \(0, 2, 3\)"),
    (lambda m: m(X.to("meta")), ValueError, r"x: is on meta but the model is on cpu"),
    (lambda m: m(X, lengths=[5]), ValueError, r"lengths: expected shape \(2,\), one length per sequence, got \(1,\)"),
    (lambda m: m(X, lengths=[5, 0]), ValueError, r"lengths: every length must be in 1..5 \(the padded length T\), got lengths\[1\]=0"),
    (lambda m: m(X, lengths=[6, 2]), ValueError, r"lengths: every length must be in 1..5 .* got lengths\[0\]=6"),
    (lambda m: m(X, lengths=torch.tensor([2.0, 3.0])), TypeError, r"lengths: expected integers, got dtype torch.float32"),
    (lambda m: m(X, lengths="5"), TypeError, r"lengths: expected a 1-D tensor or list of ints, got str"),
    (lambda m: m(X, lengths=torch.tensor([5, 3], device="meta")), ValueError,
     r"lengths: is on the meta device, which holds no values; pass lengths on the CPU or the model's device \(cpu\)"),
    (lambda m: m(X[:, 0], lengths=[5]), ValueError, r"lengths: only batched \(3-D\) input takes lengths"),
    (lambda m: m(nn.utils.rnn.pack_padded_sequence(X, [5, 3]), lengths=[5, 3]), ValueError, r"lengths: a PackedSequence carries its own lengths"),
    (lambda m: m(X, torch.zeros(1, 2, 4)), TypeError, r"state: expected a pair \(h0, c0\) of tensors, got Tensor"),
    (lambda m: m(X, (torch.zeros(1, 3, 4), torch.zeros(1, 2, 4))), ValueError, r"state: h0 expected shape \(1, 2, 4\) \(num_layers\*num_directions, batch, hidden_size\), got \(1, 3, 4\)"),
    (lambda m: m(X, (torch.zeros(1, 2, 4), torch.zeros(2, 4))), ValueError, r"state: c0 expected shape \(1, 2, 4\)"),
    (lambda m: m(X[:, 0], (torch.zeros(1, 2, 4), torch.zeros(1, 2, 4))), ValueError, r"state: h0 expected shape \(1, 4\) \(num_layers\*num_directions, hidden_size\)"),
    (lambda m: m(X, (torch.zeros(1, 2, 4, dtype=torch.float64), torch.zeros(1, 2, 4))), ValueError, r"state: h0 is torch.float64 on cpu, expected torch.float32 on cpu like x"),
    (lambda m: m(X, (torch.zeros(1, 2, 4), torch.full((1, 2, 4), float("inf")))), ValueError, r"state c0: non-finite value inf at layer=0, b=0, unit=0"),
    (lambda m: m.trace(X, store_dtype="half"), TypeError, r"store_dtype: expected a floating-point torch.dtype, got 'half'"),
    (lambda m: m.trace(X, method="fast"), ValueError, r"method: expected one of auto, compiled, workspace, replay, loop, reference, got 'fast'"),
    (lambda m: m.trace(X, interventions=[Clamp("f", 1.0)], method="loop"), ValueError, r"interventions and probes run on method='reference' \(or 'auto'\), got 'loop'"),
    (lambda m: m.trace(X, interventions=[Clamp("z", 1.0)]), ValueError, r"Clamp target: this model's cell records i, f, g, o, c, h, got 'z'"),
    (lambda m: m.trace(X, interventions=[Clamp("q", 1.0)]), ValueError, r"Clamp target: expected a field of a cell \(i, f, g, o, c, h, r, z, n\), got 'q'"),
    (lambda m: m.trace(X, interventions=[Clamp("f", 1.0, units=[4])]), ValueError, r"Clamp units: 4 is out of range 0..3"),
    (lambda m: m.trace(X, interventions=[Clamp("f", 1.0, steps=range(3, 9))]), ValueError, r"Clamp steps: 5 is out of range 0..4"),
    (lambda m: m.trace(X, interventions=[Clamp("f", 1.0, layer=1)]), ValueError, r"Clamp layer: expected 0..0, got 1"),
    (lambda m: m.trace(X, interventions=[Clamp("f", float("nan"))]), ValueError, r"Clamp value: expected a finite number, got nan"),
    (lambda m: m.trace(X, interventions=[Clamp("f", 1.0, units="abc")]), TypeError, r"Clamp units: expected indices"),
    (lambda m: m.trace(X, interventions=[Clamp("c", 1e308)]), ValueError,
     r"Clamp value: 1e\+308 does not fit the model's dtype torch.float32 \(finite values lie within ±3.40282e\+38\); "
     r"pass a smaller value or run the model in torch.float64"),
    (lambda m: m.trace(X, interventions=["f=1"]), TypeError, r"interventions: expected lstm_core.Clamp items, got str"),
]


@pytest.mark.parametrize("call,error,message", CALLS)
def test_call_errors(call, error, message):
    with pytest.raises(error, match=message):
        call(model())


@pytest.mark.parametrize("layout,x,where", [
    (dict(), (5, 2, 3), (3, 1, 2)),
    (dict(batch_first=True), (2, 5, 3), (1, 3, 2)),
])
def test_first_non_finite_position_is_named_in_the_callers_layout(layout, x, where):
    m = model(**layout)
    x = torch.randn(*x)
    x[where] = float("nan")
    x[-1, -1, -1] = float("inf")  # a later one is not the one named
    names = ("b", "t", "feature") if layout else ("t", "b", "feature")
    expect = ", ".join(f"{n}={p}" for n, p in zip(names, where))
    with pytest.raises(ValueError, match=rf"x: non-finite value nan at {expect} .*check_finite=False"):
        m(x)
    with torch.no_grad():
        out = m(x, check_finite=False)[0]
    assert torch.isnan(out).any()


def test_padding_is_not_checked_for_finiteness():
    x = X.clone()
    x[4, 1] = float("nan")  # beyond sequence 1's length
    out, _ = model()(x, lengths=[5, 4])
    assert torch.isfinite(out).all()


def test_replay_refused_for_cells_the_fused_kernel_cannot_run():
    with pytest.raises(ValueError, match=r"method='replay' needs a cell the fused kernel can run; one with peepholes cannot"):
        model(variant="peephole").trace(X, method="replay")
    with pytest.raises(ValueError, match=r"one with variant 'no_output_activation' cannot"):
        model(variant="no_output_activation").trace(X, method="replay")
    with pytest.raises(ValueError, match=r"one with hard-sigmoid gates cannot"):
        model(gate_activation="hard_sigmoid").trace(X, method="replay")


def test_probes_need_autograd():
    with torch.no_grad(), pytest.raises(ValueError, match=r"probes: need autograd, but it is off"):
        model().trace(X, probes=True)


def test_dropout_with_one_layer_warns():
    with pytest.warns(UserWarning, match=r"dropout=0.5 acts between layers, and num_layers=1 has none"):
        model(dropout=0.5)


# Issue 11: arguments that slipped through or failed deep inside torch.
ARGUMENTS = [
    (lambda: Clamp("f", 1.0, units="12"), TypeError, r"Clamp units: expected indices: None \(all\), an int, a range or a list of ints, got '12'"),
    (lambda: Clamp("f", 1.0, steps=[]), ValueError, r"Clamp steps: \[\] is empty; pass None for all, or at least one index"),
    (lambda: Clamp("f", 1.0, steps=range(4, 4)), ValueError, r"Clamp steps: range\(4, 4\) is empty"),
    (lambda: Clamp("f", 1.0, units=[1.5]), TypeError, r"Clamp units: .* got \[1.5\] \(holds 1.5\)"),
    (lambda: Clamp("f", True), ValueError, r"Clamp value: expected a finite number, got True"),
    (lambda: Clamp("f", "1"), ValueError, r"Clamp value: expected a finite number, got '1'"),
    (lambda: Clamp("f", 10 ** 400), ValueError, r"Clamp value: expected a finite number, got an int of 401 digits"),
    (lambda: Clamp("f", 1.0, layer=-1), ValueError, r"Clamp layer: expected an int >= 0, got -1"),
    (lambda: Clamp(["f"], 1.0), ValueError, r"Clamp target: expected a field of a cell \(i, f, g, o, c, h, r, z, n\), got \['f'\]"),
    (lambda: model(chrono=float("inf")), ValueError, r"chrono: expected the longest dependency T_max, a number > 2, got inf \(finite"),
    (lambda: model(forget_bias=1e300), ValueError, r"forget_bias: expected a finite number that torch.float32 can hold \(\|b\| <= 3.403e\+38\), got 1e\+300"),
    (lambda: model(forget_bias=10 ** 400), ValueError, r"forget_bias: expected a finite number"),
    (lambda: lstm_core.LSTM(10 ** 30, 3), ValueError, r"LSTM\(1000000000000000000000000000000, 3, num_layers=1\): parameters \(an upper bound over the variants\): .* is over the limit of 1,073,741,824 \(max_parameters; set the environment variable LSTM_CORE_MAX_PARAMETERS"),
    (lambda: model(bias="no"), TypeError, r"bias: expected True or False, got 'no'"),
    (lambda: model(batch_first="yes"), TypeError, r"batch_first: expected True or False, got 'yes'"),
    (lambda: model(seed=10 ** 30), ValueError, r"seed: expected an int in -2\*\*63..2\*\*64-1"),
    (lambda: model().trace(X, check_finite="no"), TypeError, r"check_finite: expected True or False, got 'no'"),
    (lambda: model()(X, check_finite=None), TypeError, r"check_finite: expected True or False, got None"),
    (lambda: model().trace(X, interventions=Clamp("f", 1.0)), TypeError, r"interventions: expected a list of lstm_core.Clamp, got Clamp"),
    (lambda: lstm_core.load(b"abc", format="zip"), lstm_core.LoadError, r"format: expected one of torch, safetensors, keras, onnx, got 'zip'"),
    (lambda: lstm_core.load(b"abc", format="onnx", allow_external_data=True), lstm_core.LoadError, r"allow_external_data=True needs a path: bytes and uploads never read other files"),
    (lambda: lstm_core.load(b"abc", layer=[]), lstm_core.LoadError, r"layer: an empty list names no layer"),
    (lambda: lstm_core.load(b"abc", layer=1.5), lstm_core.LoadError, r"layer: expected a name \(str\), an index \(int\) or a list of them, got 1.5"),
    (lambda: lstm_core.load(b"abc", prefix=3), lstm_core.LoadError, r"prefix: expected a str such as 'encoder.rnn.', got int"),
    (lambda: _diagnose(max_units=1), ValueError, r"max_units: expected an int >= 2 \(units spread over the layer\), got 1"),
    (lambda: _diagnose(low=1.5), ValueError, r"low: expected a number in \[0, 1\], got 1.5"),
    (lambda: _diagnose(min_abs=float("nan")), ValueError, r"min_abs: expected a finite number >= 0, got nan"),
    (lambda: _diagnose(gradients="no"), TypeError, r"gradients: expected True or False, got 'no'"),
    (lambda: lstm_core.analysis.diagnostics.diagnose(nn.LSTM(3, 4), X), TypeError, r"model: expected an lstm_core.LSTM or lstm_core.GRU, got LSTM"),
    (lambda: lstm_core.analysis.diagnostics.diagnose(model(), [[1.0]]), TypeError, r"data: expected lstm_core.io.data.Sequences or a tensor x, got list"),
]


def _diagnose(**kw):
    import lstm_core.analysis.diagnostics
    return lstm_core.analysis.diagnostics.diagnose(model(), X, **kw)


@pytest.mark.parametrize("call,error,message", ARGUMENTS)
def test_argument_errors(call, error, message):
    import lstm_core.analysis.diagnostics  # noqa: F401  (the table's lambdas use it)
    with pytest.raises(error, match=message):
        call()


def test_clamp_ranges_are_checked_without_listing_them():
    with pytest.raises(ValueError, match=r"Clamp steps: 5 is out of range 0..4"):
        model().trace(X, interventions=[Clamp("f", 1.0, steps=range(10 ** 12))])


def test_clamp_value_that_fits_float64_runs_in_float64():
    m = model(dtype=torch.float64)
    trace = m.trace(X.double(), interventions=[Clamp("g", 1e308, steps=[0])])
    assert trace.g[0].max().item() == 1e308


def test_limit_variables_are_checked(monkeypatch):
    from lstm_core.limits import Limits
    monkeypatch.setenv("LSTM_CORE_MAX_PARAMETERS", "lots")
    with pytest.raises(ValueError, match=r"LSTM_CORE_MAX_PARAMETERS: expected a whole number >= 1, got 'lots'"):
        model()
    monkeypatch.setenv("LSTM_CORE_MAX_PARAMETERS", "1_000")
    assert Limits.from_env().max_parameters == 1000
    with pytest.raises(ValueError, match=r"is over the limit of 1,000 \(max_parameters"):
        lstm_core.LSTM(10, 20)
    with pytest.raises(ValueError, match=r"Limits.max_rows: expected an int >= 1, got 0"):
        Limits(max_rows=0)
