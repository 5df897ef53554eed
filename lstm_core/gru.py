"""`GRU`: torch.nn.GRU's interface and numbers, Cho et al.'s original reset too, and a trace of r, z, n, h."""
import functools

import torch
from torch import nn

from . import inputs
from .cells import gru as cell
from .engine import generic
from .init import copy_weights, initialize
from .options import check_options
from .trace import Trace


class GRU(nn.Module):
    r"""A multi-layer GRU that matches torch.nn.GRU and records its gates.

    For each element of the input sequence each layer computes

        r_t = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
        z_t = σ(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
        n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{t-1} + b_hn))
        h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}

    where h_t is the hidden state at time t, x_t the input (for layers l >= 1, the h_t
    of layer l-1, with dropout in training), h_{-1} the initial state, r_t, z_t, n_t the
    reset gate, update gate and candidate, σ the sigmoid and ⊙ the element-wise product.
    z_t is the fraction of h_{t-1} kept, as in torch, ONNX and Keras. With reset="before"
    (Cho et al. 2014; ONNX linear_before_reset=0, Keras reset_after=False) the candidate is
    n_t = tanh(W_in x_t + b_in + W_hn (r_t ⊙ h_{t-1}) + b_hn).

    Args:
        input_size: features of x, I.
        hidden_size: features of h, H.
        num_layers: stacked layers, L. Default 1.
        bias: use b_ih and b_hh. Default True.
        batch_first: input and output as (B, T, feature). Default False.
        dropout: dropout on the outputs of every layer but the last, in training. Default 0.
        bidirectional: add a reverse direction, D = 2. Default False.
        reset: "after" (torch.nn.GRU, cuDNN) or "before" (Cho et al. 2014). Default "after".
        seed: an int makes the initialisation reproducible on every device.
        init: one of `lstm_core.init.INITS`. Default "pytorch" (as nn.GRU).
        go_backwards: the one direction runs from each sequence's end to its start (ONNX
            direction="reverse", Keras go_backwards); outputs stay in input time order.
        device, dtype: of the parameters; the device must be available here.

    Inputs: x, h0, lengths
        x: (T, B, I), (B, T, I) with batch_first, (T, I) unbatched, or a PackedSequence.
        h0: (L*D, B, H) ((L*D, H) unbatched); zeros if None.
        lengths: (B,) valid steps per sequence: PackedSequence semantics on padded x.

    Outputs: output, h_n, as torch.nn.GRU
        output: (T, B, D*H) (batch_first: (B, T, D*H)), h_t of the last layer, zeros on padding.
        h_n: (L*D, B, H): the state after each sequence's last valid step.

    `trace(x, h0, lengths)` returns a `lstm_core.Trace` with fields r, z, n, h of every
    layer and direction, (L*D, T, B, H); `trace.fields == ("r", "z", "n", "h")`.

    Attributes (layer k, suffix "_reverse" for the reverse direction), nn.GRU's:
        weight_ih_l{k}: (3H, I) for k = 0, else (3H, D*H); rows (W_ir|W_iz|W_in)
        weight_hh_l{k}: (3H, H), rows (W_hr|W_hz|W_hn); bias_ih_l{k}, bias_hh_l{k}: (3H,)

    Note: by default every parameter is drawn from U(-1/sqrt(H), 1/sqrt(H)) in nn.GRU's
    order, so after the same torch.manual_seed the two modules hold the same weights.

    Example:
        >>> model = GRU(10, 20, num_layers=2)
        >>> x = torch.randn(5, 3, 10)
        >>> output, h_n = model(x)
        >>> trace = model.trace(x)
        >>> trace.z.shape
        torch.Size([2, 5, 3, 20])
    """

    state_names = ("h0",)  # `inputs.prepare`: a GRU carries h alone
    proj_size = 0

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, *, reset="after", seed=None, init="pytorch", go_backwards=False,
                 device=None, dtype=None):
        super().__init__()
        cell.declaration(reset)  # checks reset

        def bound():
            D, widest = 2 if bidirectional else 1, max(input_size, (2 if bidirectional else 1) * hidden_size)
            return num_layers * D * 3 * hidden_size * (widest + hidden_size + 2)

        device = check_options(f"GRU({input_size}, {hidden_size}, num_layers={num_layers}): parameters", input_size,
                               hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                               go_backwards=go_backwards, seed=seed, device=device, dtype=dtype,
                               parameter_bound=bound)
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bool(bias), bool(batch_first), float(dropout)
        self.bidirectional, self.reset, self.go_backwards = bool(bidirectional), reset, bool(go_backwards)
        kw = dict(device=device, dtype=dtype)
        for k in range(num_layers):
            for s in self._suffixes():
                n_in = input_size if k == 0 else self.num_directions * hidden_size
                for name, shape in cell.parameter_shapes(n_in, hidden_size, bias).items():
                    self.register_parameter(f"{name}_l{k}{s}", nn.Parameter(torch.empty(shape, **kw)))
        self.reset_parameters(init, seed=seed)

    @property
    def declaration(self):
        """The cell's `lstm_core.cells.Declaration`: fields r, z, n, h, weight blocks and equations."""
        return cell.declaration(self.reset)

    @property
    def variant(self):
        """The reset's place: "after" (torch) or "before" (Cho et al. 2014)."""
        return self.reset

    @property
    def num_directions(self):
        return 2 if self.bidirectional else 1

    @property
    def device(self):
        return self.weight_ih_l0.device

    @property
    def dtype(self):
        return self.weight_ih_l0.dtype

    def _suffixes(self):
        return ("", "_reverse") if self.bidirectional else ("",)

    def reset_parameters(self, init="pytorch", *, seed=None):
        """Re-initialise every parameter; see `lstm_core.init` for the schemes."""
        initialize(self, init, seed=seed)

    def layer_weights(self, layer, direction=0):
        """The parameters of one layer and direction: {"weight_ih", "weight_hh", "bias_ih", "bias_hh"}."""
        s = f"_l{layer}{self._suffixes()[direction]}"
        return {name: self._parameters.get(name + s) for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}

    def forward(self, x, h0=None, lengths=None, *, check_finite=True):
        """output, h_n for x: the same shapes and semantics as torch.nn.GRU (see class doc)."""
        p = inputs.prepare(self, x, h0, lengths, check_finite)
        r = self._run(p, record=False)
        return inputs.finish(p, r.output, r.states[0], None)

    def trace(self, x, h0=None, lengths=None, *, store_dtype=None, method="auto", check_finite=True,
              interventions=None):
        """Run on x like `forward` and record r, z, n and h of every layer and step: a `lstm_core.Trace`.

        store_dtype: keep the record in this dtype (computation stays in the model's dtype).
        method: "auto", "replay" (torch's fused GRU, then every gate at once; reset="after"),
            "loop" or "reference" (autograd, interventions); all give the same numbers to rounding.
        interventions: a list of `lstm_core.Clamp` on r, z, n or h.
        """
        if store_dtype is not None and not (isinstance(store_dtype, torch.dtype) and store_dtype.is_floating_point):
            raise TypeError(f"store_dtype: expected a floating-point torch.dtype, got {store_dtype!r}")
        if interventions is not None and not isinstance(interventions, (list, tuple)):
            raise TypeError(f"interventions: expected a list of lstm_core.Clamp, got {type(interventions).__name__}")
        p = inputs.prepare(self, x, h0, lengths, check_finite)
        T, B = p.x.shape[:2]
        clamps = None
        if interventions:
            from .analysis.interventions import compile_clamps
            clamps = compile_clamps(list(interventions), T=T, B=B, H=self.hidden_size, P=self.hidden_size,
                                    num_layers=self.num_layers, num_directions=self.num_directions,
                                    device=p.x.device, dtype=p.x.dtype, fields=self.declaration.names)
        r = self._run(p, record=True, store_dtype=store_dtype, method=method, clamps=clamps)
        output, h_n = inputs.finish(p, r.output, r.states[0], None)
        lengths = p.lengths if p.lengths is not None else torch.full((B,), T, dtype=torch.int64)
        mask = r.mask if r.mask is not None else torch.ones(T, B, dtype=torch.bool, device=p.x.device)
        return Trace(self.declaration, r.record, output, h_n, None, mask, lengths, self.num_layers,
                     self.num_directions, r.method, meta={"go_backwards": True} if self.go_backwards else {})

    def _run(self, p, record, store_dtype=None, method="auto", clamps=None):
        methods = ("auto",) + self.declaration.paths
        if method not in methods:
            raise ValueError(f"method: expected one of {', '.join(methods)} for this {self.declaration.title}, "
                             f"got {method!r}")
        weights = [self.layer_weights(k, d) for k in range(self.num_layers) for d in range(self.num_directions)]
        return generic.run(functools.partial(cell.run_layer, reset=self.reset), weights, p.x, (p.h0,), p.lengths,
                           num_layers=self.num_layers, bidirectional=self.bidirectional,
                           go_backwards=self.go_backwards, dropout=self.dropout, training=self.training,
                           record=record, store_dtype=store_dtype, method=method, clamps=clamps)

    @classmethod
    def from_torch(cls, module, **options):
        """A GRU with the weights and settings of a torch.nn.GRU or torch.nn.GRUCell.

        Same parameters, device and dtype; `options` are passed on to `GRU` (e.g. seed)."""
        if not isinstance(module, (nn.GRU, nn.GRUCell)):
            raise TypeError(f"module: expected torch.nn.GRU or torch.nn.GRUCell, got {type(module).__name__}")
        p = next(module.parameters())
        kw = dict(device=p.device, dtype=p.dtype, **options)
        if isinstance(module, nn.GRUCell):
            model = cls(module.input_size, module.hidden_size, bias=module.bias, **kw)
            return model.copy_weights({f"{k}_l0": v for k, v in module.state_dict().items()})
        model = cls(module.input_size, module.hidden_size, module.num_layers, bias=module.bias,
                    batch_first=module.batch_first, dropout=module.dropout, bidirectional=module.bidirectional, **kw)
        model.train(module.training)
        return model.copy_weights(dict(module.state_dict()))

    def to_torch(self):
        """A torch.nn.GRU with this model's weights (reset="after" only: nn.GRU has no other)."""
        if self.reset != "after":
            raise ValueError("to_torch: torch.nn.GRU resets after the matmul; this model resets before it "
                             "(Cho et al. 2014), which nn.GRU cannot compute")
        if self.go_backwards:
            raise ValueError("to_torch: torch.nn.GRU has no go_backwards; reverse each sequence "
                             "(lstm_core.engine.reverse_time) before and after it instead")
        out = nn.GRU(self.input_size, self.hidden_size, self.num_layers, bias=self.bias, batch_first=self.batch_first,
                     dropout=self.dropout, bidirectional=self.bidirectional, device=self.device, dtype=self.dtype)
        out.load_state_dict(self.state_dict())
        out.train(self.training)
        return out

    def copy_weights(self, tensors):
        """Copy `tensors` (name -> tensor) into the parameters, checking names and shapes; returns self."""
        return copy_weights(self, tensors, "this GRU")

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        for name, default in (("bias", True), ("batch_first", False), ("dropout", 0.0), ("bidirectional", False),
                              ("reset", "after"), ("go_backwards", False)):
            if getattr(self, name) != default:
                s += f", {name}={getattr(self, name)!r}"
        return s
