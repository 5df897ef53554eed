"""`LSTM`: torch.nn.LSTM's interface, its numbers, every variant, and a trace of every gate."""
import torch
from torch import nn

from . import engine, inputs
from .cells.lstm import declaration as _declaration
from .cells.lstm_cell import Cell, LayerWeights, gate_activation as _gate_activation
from .init import copy_weights, initialize
from .analysis.interventions import compile_clamps
from .options import check_options
from .trace import Trace
from .cells.variants import get_variant, sigmoid_gates


class LSTM(nn.Module):
    r"""A multi-layer LSTM that matches torch.nn.LSTM and records its gates.

    For each element of the input sequence each layer computes (standard variant)

        i_t = σ(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)
        f_t = σ(W_if x_t + b_if + W_hf h_{t-1} + b_hf)
        g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)
        o_t = σ(W_io x_t + b_io + W_ho h_{t-1} + b_ho)
        c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
        h_t = o_t ⊙ tanh(c_t)

    where h_t is the hidden state at time t, c_t the cell state, x_t the input
    (for layers l >= 1, the h_t of layer l-1, with dropout in training), h_{-1}
    and c_{-1} the initial states, i_t, f_t, g_t, o_t the input, forget, cell and
    output gates, σ the sigmoid and ⊙ the element-wise product. The other variants
    change these equations as their docstrings in `lstm_core.cells.variants` say.

    Args:
        input_size: features of x, I.
        hidden_size: features of c (and of h without projection), H.
        num_layers: stacked layers, L. Default 1.
        variant: one of `lstm_core.VARIANTS`. Default "standard".
        bias: use b_ih and b_hh. Default True.
        batch_first: input and output as (B, T, feature). Default False.
        dropout: dropout on the outputs of every layer but the last, in training. Default 0.
        bidirectional: add a reverse direction, D = 2. Default False.
        proj_size: if > 0, h_t = W_hr h_t with P = proj_size features. Default 0.
        init: one of `lstm_core.init.INITS`. Default "pytorch" (as nn.LSTM).
        device, dtype: of the parameters; the device must be available here.
        peephole: add peephole weights to any variant (variant "peephole" implies it).
        peephole_output: "current" (o_t sees c_t, Gers & Schmidhuber 2000) or
            "previous" (o_t sees c_{t-1}, the simplification of the notebook course text).
        gate_activation: σ of the gates i, f, o: "sigmoid" (default), "hard_sigmoid"
            (clip(0.2 z + 0.5, 0, 1): Keras 2, ONNX) or ("hard_sigmoid", alpha, beta)
            (Keras 3: alpha = 1/6).
        forget_bias, chrono: set the gate biases, see `lstm_core.init`.
        seed: an int makes the initialisation reproducible on every device.
        go_backwards: every layer's one direction runs from each sequence's end to its start
            (ONNX direction="reverse", Keras go_backwards); output, h and the trace stay in
            input time order, h_n/c_n are the states after each sequence's first step.
            Not with bidirectional. Default False.

    Inputs: x, state, lengths
        x: (T, B, I), (B, T, I) with batch_first, (T, I) unbatched, or a PackedSequence.
        state: (h_0, c_0), (L*D, B, P) and (L*D, B, H) ((L*D, P), (L*D, H) unbatched);
            zeros if None.
        lengths: (B,) valid steps per sequence: PackedSequence semantics on padded x.

    Outputs: output, (h_n, c_n), as torch.nn.LSTM
        output: (T, B, D*P) (batch_first: (B, T, D*P)), h_t of the last layer, zeros on padding.
        h_n: (L*D, B, P), c_n: (L*D, B, H): the states after each sequence's last valid step.

    `trace(x, state, lengths)` returns a `lstm_core.Trace` with i, f, g, o, c, h of
    every layer and direction, (L*D, T, B, H).

    Attributes (layer k, suffix "_reverse" for the reverse direction), G gates with parameters:
        weight_ih_l{k}: (G*H, I) for k = 0, else (G*H, D*P); rows (W_ii|W_if|W_ig|W_io)
            for the standard cell, only the rows of the gates a variant has otherwise
        weight_hh_l{k}: (G*H, P); bias_ih_l{k}, bias_hh_l{k}: (G*H,)
        weight_hr_l{k}: (P, H), only with proj_size > 0
        weight_peephole_l{k}: (number of i, f, o gates present, H), only with peepholes
        weight_gg_l{k}: (3H, 3H), only for full_gate_recurrence
    The standard variant's names and shapes are nn.LSTM's, so state dicts load both ways.

    Note: by default every parameter is drawn from U(-1/sqrt(H), 1/sqrt(H)) in
    nn.LSTM's order, so after the same torch.manual_seed the two modules hold the
    same weights. Other schemes: `lstm_core.init`.

    Example:
        >>> model = LSTM(10, 20, num_layers=2, variant="coupled")
        >>> x = torch.randn(5, 3, 10)
        >>> output, (h_n, c_n) = model(x)
        >>> trace = model.trace(x)
        >>> trace.f.shape
        torch.Size([2, 5, 3, 20])
    """

    state_names = ("h0", "c0")  # `inputs.prepare`: the states a call may pass, h first

    def __init__(self, input_size, hidden_size, num_layers=1, variant="standard", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, proj_size=0, init="pytorch",
                 device=None, dtype=None, *, peephole=None, peephole_output="current",
                 gate_activation="sigmoid", forget_bias=None, chrono=None, seed=None, go_backwards=False):
        super().__init__()
        def bound():
            P_, D_ = proj_size or hidden_size, 2 if bidirectional else 1
            widest = max(input_size, D_ * P_)  # the input of any layer
            return num_layers * D_ * (4 * hidden_size * (widest + P_ + 2) + P_ * hidden_size + 12 * hidden_size ** 2)

        device = check_options(f"LSTM({input_size}, {hidden_size}, num_layers={num_layers}): parameters (an upper "
                               f"bound over the variants)", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                               bidirectional, proj_size=proj_size, go_backwards=go_backwards, seed=seed,
                               device=device, dtype=dtype, parameter_bound=bound)
        v = get_variant(variant)
        if peephole is None:
            peephole = v.peephole
        elif not peephole and v.peephole:
            raise ValueError(f"peephole=False contradicts variant {variant!r}, which is peepholes")
        if peephole_output not in ("current", "previous"):
            raise ValueError(f"peephole_output: expected 'current' or 'previous', got {peephole_output!r}")

        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.variant, self.bias, self.batch_first = variant, bool(bias), bool(batch_first)
        self.dropout, self.bidirectional, self.proj_size = float(dropout), bool(bidirectional), proj_size
        self.peephole, self.peephole_output = bool(peephole), peephole_output
        self.go_backwards = bool(go_backwards)
        self.gate_activation = _gate_activation(gate_activation)
        self.cell = Cell(v, self.peephole, peephole_output, self.gate_activation)

        G, H, P = len(v.gates), hidden_size, proj_size or hidden_size
        kw = dict(device=device, dtype=dtype)
        for k in range(num_layers):
            for s in self._suffixes():
                n_in = input_size if k == 0 else self.num_directions * P
                shapes = {"weight_ih": (G * H, n_in), "weight_hh": (G * H, P)}
                if bias:
                    shapes.update(bias_ih=(G * H,), bias_hh=(G * H,))
                if proj_size:
                    shapes["weight_hr"] = (P, H)
                if peephole:
                    shapes["weight_peephole"] = (len(sigmoid_gates(v)), H)
                if v.gate_recurrence:
                    shapes["weight_gg"] = (3 * H, 3 * H)
                for name, shape in shapes.items():
                    self.register_parameter(f"{name}_l{k}{s}", nn.Parameter(torch.empty(shape, **kw)))
        self.reset_parameters(init, seed=seed, forget_bias=forget_bias, chrono=chrono)

    def _suffixes(self):
        return ("", "_reverse") if self.bidirectional else ("",)

    @property
    def declaration(self):
        """The cell's `lstm_core.cells.Declaration`: its fields, weight blocks and equations."""
        return _declaration(self.variant, self.peephole, self.peephole_output)

    @property
    def num_directions(self):
        return 2 if self.bidirectional else 1

    @property
    def device(self):
        return self._first_weight().device

    @property
    def dtype(self):
        return self._first_weight().dtype

    def _first_weight(self):  # weight_ih_l0 without Module.__getattr__ (per call, issue 15)
        return self._parameters.get("weight_ih_l0") if "weight_ih_l0" in self._parameters else self.weight_ih_l0

    def reset_parameters(self, init="pytorch", *, seed=None, forget_bias=None, chrono=None):
        """Re-initialise every parameter; see `lstm_core.init` for the schemes."""
        initialize(self, init, seed=seed, forget_bias=forget_bias, chrono=chrono)

    def layer_weights(self, layer, direction=0):
        """The parameters of one layer and direction as a `LayerWeights`."""
        s = f"_l{layer}{self._suffixes()[direction]}"
        params = self._parameters  # read directly: Module.__getattr__ cost ~20 us a call (issue 15)
        get = lambda name: params.get(name + s) if name + s in params else getattr(self, name + s, None)  # noqa: E731
        return LayerWeights(get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh"),
                            get("weight_hr"), get("weight_peephole"), get("weight_gg"))

    def _all_weights(self):
        return [self.layer_weights(k, d) for k in range(self.num_layers) for d in range(self.num_directions)]

    def forward(self, x, state=None, lengths=None, *, check_finite=True):
        """output, (h_n, c_n) for x: the same shapes and semantics as torch.nn.LSTM (see class doc)."""
        if not isinstance(check_finite, bool):
            raise TypeError(f"check_finite: expected True or False, got {check_finite!r}")
        p = inputs.prepare(self, x, state, lengths, check_finite)
        r = self._run(p, record=False)
        return inputs.finish(p, r.output, r.h_n, r.c_n)

    def trace(self, x, state=None, lengths=None, *, store_dtype=None, method="auto", check_finite=True,
              interventions=None, probes=False):
        """Run on x like `forward` and record every gate and state: a `lstm_core.Trace`.

        store_dtype: keep the record in this dtype, e.g. torch.float16 to halve its memory
            (computation stays in the model's dtype). Default: the model's dtype.
        method: "auto", "compiled", "workspace", "replay", "loop" or "reference" (see `lstm_core.engine`);
            all give the same numbers to rounding. "auto" takes "reference" when autograd is on
            and something requires grad, so every step is a node of the graph, else the
            compiled kernel where it is built (float32 on the CPU; docs/kernel.md).
        interventions: a list of `lstm_core.Clamp`: force gates or states of chosen units
            at chosen steps and let the rest of the run follow (see `lstm_core.analysis.interventions`).
        probes: if True, trace.probes holds zero tensors "c" (L*D, T, B, H) and "h"
            (L*D, T, B, P), added to every c_t and h_t, so that
            torch.autograd.grad(y, trace.probes["c"]) is dy/dc_t for every step t.
            Needs autograd on.
        """
        for name, value in (("check_finite", check_finite), ("probes", probes)):
            if not isinstance(value, bool):
                raise TypeError(f"{name}: expected True or False, got {value!r}")
        if interventions is not None and not isinstance(interventions, (list, tuple)):
            raise TypeError(f"interventions: expected a list of lstm_core.Clamp, got {type(interventions).__name__}")
        if store_dtype is not None and not (isinstance(store_dtype, torch.dtype) and store_dtype.is_floating_point):
            raise TypeError(f"store_dtype: expected a floating-point torch.dtype, got {store_dtype!r}")
        p = inputs.prepare(self, x, state, lengths, check_finite)
        T, B = p.x.shape[:2]
        LD, H, P = self.num_layers * self.num_directions, self.hidden_size, self.proj_size or self.hidden_size
        clamps = None
        if interventions:
            clamps = compile_clamps(list(interventions), T=T, B=B, H=H, P=P, num_layers=self.num_layers,
                                    num_directions=self.num_directions, device=p.x.device, dtype=p.x.dtype)
        probe_tensors = None
        if probes:
            if not torch.is_grad_enabled():
                raise ValueError("probes: need autograd, but it is off (torch.no_grad()); "
                                 "call trace outside no_grad")
            probe_tensors = {"c": p.x.new_zeros(LD, T, B, H, requires_grad=True),
                             "h": p.x.new_zeros(LD, T, B, P, requires_grad=True)}
        r = self._run(p, record=True, store_dtype=store_dtype, method=method, clamps=clamps,
                      probes=None if probe_tensors is None else list(zip(probe_tensors["c"], probe_tensors["h"])))
        output, (h_n, c_n) = inputs.finish(p, r.output, r.h_n, r.c_n)
        lengths = p.lengths if p.lengths is not None else torch.full((B,), T, dtype=torch.int64)
        mask = r.mask if r.mask is not None else torch.ones(T, B, dtype=torch.bool, device=p.x.device)
        return Trace.lstm(r.record["gates"], r.record["c"], r.record["h"], output, h_n, c_n, mask, lengths,
                          self.num_layers, self.num_directions, self.variant, r.method, probes=probe_tensors,
                          meta={"go_backwards": True} if self.go_backwards else {}, declaration=self.declaration)

    def _run(self, p, record, store_dtype=None, method="auto", clamps=None, probes=None):
        """`lstm_core.engine.run` on a call prepared by `inputs.prepare`: an `engine.Result`."""
        return engine.run(self.cell, self._all_weights(), p.x, p.h0, p.c0, p.lengths,
                          num_layers=self.num_layers, bidirectional=self.bidirectional,
                          go_backwards=self.go_backwards, dropout=self.dropout, training=self.training, record=record,
                          store_dtype=store_dtype, method=method, clamps=clamps, probes=probes)

    @classmethod
    def from_torch(cls, module, *, variant="standard", **options):
        """An LSTM holding the weights of a torch.nn.LSTM or torch.nn.LSTMCell.

        Every nn.LSTM option carries over (layers, bias, batch_first, dropout,
        bidirectional, proj_size, device, dtype); `options` are passed on to `LSTM`
        (e.g. seed). `variant` must be "standard": nn.LSTM has no other.
        """
        if variant != "standard":
            raise ValueError(f"variant: torch.nn.LSTM computes the standard cell, got {variant!r}")
        if not isinstance(module, (nn.LSTM, nn.LSTMCell)):
            raise TypeError(f"module: expected torch.nn.LSTM or torch.nn.LSTMCell, got {type(module).__name__}")
        p = next(module.parameters())
        kw = dict(device=p.device, dtype=p.dtype, **options)
        if isinstance(module, nn.LSTMCell):
            model = cls(module.input_size, module.hidden_size, bias=module.bias, **kw)
            return model.copy_weights({f"{k}_l0": v for k, v in module.state_dict().items()})
        model = cls(module.input_size, module.hidden_size, module.num_layers, bias=module.bias,
                    batch_first=module.batch_first, dropout=module.dropout,
                    bidirectional=module.bidirectional, proj_size=module.proj_size, **kw)
        model.train(module.training)
        return model.copy_weights(dict(module.state_dict()))

    def to_torch(self):
        """A torch.nn.LSTM with this model's weights (standard variant only)."""
        if self.variant != "standard" or self.peephole:
            raise ValueError(f"to_torch: torch.nn.LSTM only computes the standard cell; this model is "
                             f"{self.variant!r}{' with peepholes' if self.peephole else ''}")
        if self.go_backwards:
            raise ValueError("to_torch: torch.nn.LSTM has no go_backwards; reverse each sequence "
                             "(lstm_core.engine.reverse_time) before and after it instead")
        out = nn.LSTM(self.input_size, self.hidden_size, self.num_layers, bias=self.bias,
                      batch_first=self.batch_first, dropout=self.dropout,
                      bidirectional=self.bidirectional, proj_size=self.proj_size,
                      device=self.device, dtype=self.dtype)
        out.load_state_dict(self.state_dict())
        out.train(self.training)
        return out

    def copy_weights(self, tensors):
        """Copy `tensors` (name -> tensor) into the parameters, checking names and shapes; returns self."""
        return copy_weights(self, tensors, repr(self.variant))

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        s += f", variant={self.variant!r}"
        for name, default in (("bias", True), ("batch_first", False), ("dropout", 0.0),
                              ("bidirectional", False), ("go_backwards", False), ("proj_size", 0),
                              ("peephole", self.cell.variant.peephole)):
            if getattr(self, name) != default:
                s += f", {name}={getattr(self, name)}"
        if self.peephole and self.peephole_output != "current":
            s += f", peephole_output={self.peephole_output!r}"
        if self.gate_activation != ("sigmoid",):
            s += f", gate_activation={self.gate_activation!r}"
        return s

