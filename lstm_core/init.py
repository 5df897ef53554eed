"""Named, seedable initialisations of a model's parameters, and copying given ones in.

    pytorch        every parameter ~ U(-1/sqrt(H), 1/sqrt(H)), as torch.nn.LSTM and the
                   needle course text; with the global seed, bit-identical to nn.LSTM
    normal         every parameter ~ N(0, 1), as the PyTorch notebook course text
    scaled_normal  weights ~ 0.1 N(0, 1), biases 0, as the from-scratch course text
    xavier         W_ih and W_hh per gate block Glorot-uniform (Glorot & Bengio 2010),
                   biases 0
    orthogonal     W_hh per gate block orthogonal (Saxe et al. 2014), W_ih per gate block
                   Glorot-uniform, biases 0: Keras's defaults
With xavier and orthogonal, peephole and gate-recurrence weights start at 0, so
those cells start out as the standard cell.

Then, on the gate biases, at most one of:
    forget_bias=b  b_f = b (Gers et al. 2000; Jozefowicz et al. 2015 recommend 1.0)
    chrono=T_max   b_f ~ log(U(1, T_max - 1)), b_i = -b_f (Tallec & Ollivier 2018)
Only b_ih + b_hh counts, so these set the bias_ih rows and zero the bias_hh rows.
"""
import math

import torch
from torch.nn import init as nn_init

INITS = ("pytorch", "normal", "scaled_normal", "xavier", "orthogonal")


def _kind(name):
    """Which kind of parameter a name such as 'weight_hh_l1_reverse' is."""
    for kind in ("weight_ih", "weight_hh", "weight_hr", "weight_peephole", "weight_gg", "bias_ih", "bias_hh"):
        if name.startswith(kind + "_l"):
            return kind
    raise ValueError(f"not an LSTM parameter name: {name}")


def _fill(p, H, scheme, kind, generator):
    """Initialise one parameter tensor in place (on the CPU when a generator is given)."""
    g = dict(generator=generator)
    if scheme == "pytorch":
        return nn_init.uniform_(p, -1 / math.sqrt(H), 1 / math.sqrt(H), **g)
    if scheme == "normal":
        return nn_init.normal_(p, 0.0, 1.0, **g)
    if kind.startswith("bias"):
        return nn_init.zeros_(p)
    if scheme == "scaled_normal":
        return nn_init.normal_(p, 0.0, 0.1, **g)
    if kind in ("weight_peephole", "weight_gg"):
        return nn_init.zeros_(p)
    blocks = p.split(H) if kind in ("weight_ih", "weight_hh") else (p,)  # (H, in) per gate
    for b in blocks:
        if scheme == "orthogonal" and kind in ("weight_hh", "weight_hr"):
            nn_init.orthogonal_(b, **g)
        else:
            nn_init.xavier_uniform_(b, **g)
    return p


def _real(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and (isinstance(v, int) or math.isfinite(v))


@torch.no_grad()
def initialize(model, init="pytorch", seed=None, forget_bias=None, chrono=None):
    """Initialise every parameter of `model` (an lstm_core.LSTM or GRU) in place.

    seed: an int makes the result the same on every device (drawn on the CPU from
    its own generator); None draws from the global generator on the parameters'
    device, as torch.nn.LSTM does.
    """
    if init not in INITS:
        raise ValueError(f"init: expected one of {', '.join(INITS)}, got {init!r}")
    if forget_bias is not None and chrono is not None:
        raise ValueError("forget_bias and chrono both set the forget-gate bias: pass one of them")
    gates = model.declaration.blocks  # the gate blocks of the weight rows, e.g. "ifgo", "rzn"
    if forget_bias is not None or chrono is not None:
        what = "forget_bias" if forget_bias is not None else "chrono"
        if "f" not in gates:
            raise ValueError(f"{what}: variant {model.variant!r} has no forget gate")
        if not model.bias:
            raise ValueError(f"{what}: the model has no biases (bias=False)")
    largest = torch.finfo(model.dtype).max  # a bias the model's dtype can hold (1e300 is inf in float32)
    if chrono is not None and not (_real(chrono) and 2 < chrono <= largest):
        raise ValueError(f"chrono: expected the longest dependency T_max, a number > 2, got {chrono!r} "
                         f"(finite, at most {largest:.4g} for {model.dtype})")
    if forget_bias is not None and not (_real(forget_bias) and abs(forget_bias) <= largest):
        raise ValueError(f"forget_bias: expected a finite number that {model.dtype} can hold (|b| <= {largest:.4g}), "
                         f"got {forget_bias!r}")
    generator = None
    if seed is not None:
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise TypeError(f"seed: expected an int or None, got {type(seed).__name__}")
        generator = torch.Generator(device="cpu").manual_seed(seed)
    H = model.hidden_size
    for name, p in model.named_parameters():
        kind = _kind(name)
        if generator is None:
            _fill(p, H, init, kind, None)
        else:
            p.copy_(_fill(torch.empty(p.shape, dtype=torch.float32), H, init, kind, generator))
    if forget_bias is None and chrono is None:
        return
    for name, p in model.named_parameters():
        kind = _kind(name)
        if kind not in ("bias_ih", "bias_hh"):
            continue
        rows = {k: p[j * H:(j + 1) * H] for j, k in enumerate(gates)}
        if kind == "bias_hh":
            rows["f"].zero_()
            if chrono is not None and "i" in rows:
                rows["i"].zero_()
            continue
        if forget_bias is not None:
            rows["f"].fill_(forget_bias)
        else:
            u = torch.rand(H, generator=generator) if generator is not None else torch.rand(H)
            b_f = torch.log(1 + u * (chrono - 2))  # log U(1, T_max - 1)
            rows["f"].copy_(b_f)
            if "i" in rows:
                rows["i"].copy_(-b_f)


@torch.no_grad()
def copy_weights(model, tensors, what):
    """Copy `tensors` (name -> tensor) into model's parameters, checking names and shapes; returns model.

    what: how the messages name the model, e.g. "'coupled'" or "this GRU"."""
    params = dict(model.named_parameters())
    missing, extra = sorted(set(params) - set(tensors)), sorted(set(tensors) - set(params))
    if missing or extra:
        raise ValueError(f"weights do not fit {what}: missing {missing or 'none'}, unexpected {extra or 'none'}")
    for name, p in params.items():
        t = torch.as_tensor(tensors[name])
        if tuple(t.shape) != tuple(p.shape):
            raise ValueError(f"{name}: expected shape {tuple(p.shape)}, found {tuple(t.shape)}")
        p.copy_(t)
    return model
