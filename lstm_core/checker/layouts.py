"""Our weights written into a student's module: the Ref and Layout that do it, the tensors
reachable from its attributes, and the explicit `layout=` mapping (command line: --layout NAME=PATH)
for modules the checker cannot read on its own (those it can: `readings`). A mapping goes from our
names to attribute paths, e.g.
    {"W_ii": "params.3", "W_hi": "params.4", "b_ii": "params.5", ...}   (".T" after a path:
    the tensor is stored transposed, (I, H) instead of (H, I)); a GRU's W_ir, W_hr, b_ir, b_hr,
    ... for r, z, n (b_i· is added on x's side, b_h· on h's); or the fused names
    {"weight_ih": ..., "weight_hh": ..., "bias_ih": ..., "bias_hh": ...}.
"""
from dataclasses import dataclass, field

import torch
from torch import nn


class CheckError(ValueError):
    """Something about the student's module or the arguments that stops the check; says what to do."""


PASS_LAYOUT = "pass layout= (command line: --layout NAME=PATH)"  # every error that needs the mapping says so
FUSED_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")  # the names layout= takes
PER_GATE_NAMES = tuple(f"{p}_{s}{k}" for k in "ifgorzn" for p in ("W", "b") for s in "ih")  # LSTM's, GRU's


@dataclass
class Ref:
    """One tensor of the student's module and how to replace it."""

    path: str  # e.g. "W_f.weight", "params.3"
    owner: object
    key: object  # attribute name, or list index
    tensor: torch.Tensor

    def write(self, value):
        old = self.tensor
        if tuple(old.shape) != tuple(value.shape):
            raise CheckError(f"{self.path}: has shape {tuple(old.shape)}, the layout expects {tuple(value.shape)}")
        value = value.detach().clone()
        if isinstance(self.owner, list):
            self.owner[self.key] = value
        elif isinstance(old, nn.Parameter) or self.key in getattr(self.owner, "_parameters", {}):
            value = nn.Parameter(value, requires_grad=old.requires_grad)
            setattr(self.owner, self.key, value)
        else:
            setattr(self.owner, self.key, value)
        self.tensor = value


@dataclass
class Layout:
    """A detected layout: which tensor receives which of our weights."""

    name: str  # what a student reads, e.g. "per-gate nn.Linear (W_k on h, U_k on x)"
    gates: str  # the weight blocks in order: "ifgo", "fgo" for the coupled cell, "rzn" for a GRU
    slots: list  # of (Ref, function Weights -> tensor in the student's shape)
    bias_labels: tuple  # the bias vectors of each gate, as the student names them
    others: list = field(default_factory=list)  # float tensors of the module the layout leaves alone
    bias_sides: tuple = ()  # "x" or "h" for each bias vector: the matmul it sits beside (a GRU's b_hn)

    def write(self, w):
        for ref, value in self.slots:
            ref.write(value(w).to(torch.float64))

    def paths(self):
        return [ref.path for ref, _ in self.slots]


def tensors(obj, prefix="", depth=0, out=None, linears=None, seen=None):
    """Every tensor reachable from obj's attributes: path -> Ref, and every nn.Linear: path -> module."""
    out, linears, seen = ({} if out is None else out), ({} if linears is None else linears), seen or set()
    if id(obj) in seen or depth > 6:
        return out, linears
    seen.add(id(obj))
    if isinstance(obj, nn.Module):
        if isinstance(obj, nn.Linear):
            linears[prefix.rstrip(".")] = obj
        for name, p in obj._parameters.items():
            if p is not None:
                out[prefix + name] = Ref(prefix + name, obj, name, p)
        for name, b in obj._buffers.items():
            if b is not None:
                out[prefix + name] = Ref(prefix + name, obj, name, b)
        for name, m in obj._modules.items():
            if m is not None:
                tensors(m, f"{prefix}{name}.", depth + 1, out, linears, seen)
    items = vars(obj).items() if hasattr(obj, "__dict__") else ()
    for name, v in items:
        if name.startswith("_") or callable(v) and not isinstance(v, nn.Module):
            continue
        if isinstance(v, torch.Tensor):
            out.setdefault(prefix + name, Ref(prefix + name, obj, name, v))
        elif isinstance(v, list):
            for j, e in enumerate(v):
                if isinstance(e, torch.Tensor):
                    out[f"{prefix}{name}.{j}"] = Ref(f"{prefix}{name}.{j}", v, j, e)
                elif isinstance(e, nn.Module):
                    tensors(e, f"{prefix}{name}.{j}.", depth + 1, out, linears, seen)
        elif isinstance(v, nn.Module) and name not in getattr(obj, "_modules", {}):
            tensors(v, f"{prefix}{name}.", depth + 1, out, linears, seen)
    return out, linears


def plain_name(path):
    """The last part of an attribute path as names are compared: "cell.W_ih" -> "wih"."""
    return path.rsplit(".", 1)[-1].replace("_", "").lower()


def _resolve(module, path):
    obj, owner, key = module, None, None
    spec = path[:-2] if path.endswith(".T") else path
    for part in spec.split("."):
        owner = obj
        try:
            index = part.lstrip("-")  # '²'.isdigit() is True, but int('²') fails: digits 0-9 only
            if isinstance(obj, (list, tuple, nn.ModuleList)) and index.isascii() and index.isdecimal():
                key, obj = int(part), obj[int(part)]
            else:
                key, obj = part, getattr(obj, part)
        except (AttributeError, IndexError, TypeError, ValueError):  # ValueError: int() of over 4,300 digits
            raise CheckError(f"layout: {path!r}: your module has no {part!r} there") from None
    if isinstance(obj, nn.Linear):
        owner, key, obj = obj, "weight", obj.weight
    if not isinstance(obj, torch.Tensor):
        raise CheckError(f"layout: {path!r} is a {type(obj).__name__}, not a tensor")
    if isinstance(owner, tuple):
        raise CheckError(f"layout: {path!r} sits in a tuple, which cannot be written; use a list")
    return Ref(spec, owner, key, obj), path.endswith(".T")


def explicit(module, layout, I, H, cell=None):
    """The Layout an explicit mapping describes (see the module docstring)."""
    if not isinstance(layout, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in layout.items()):
        raise CheckError("layout: expected a dict of our names to attribute paths (str -> str), "
                         "e.g. {'weight_ih': 'cell.W', ...}")
    fused = [k for k in layout if k in FUSED_NAMES]
    bad = [k for k in layout if k not in FUSED_NAMES and k not in PER_GATE_NAMES]
    if bad:
        raise CheckError(f"layout: unknown name(s) {', '.join(map(repr, bad))}; expected weight_ih, weight_hh, "
                         "bias_ih, bias_hh, or per gate k in i f g o (a GRU: r z n): W_ik, W_hk, b_ik, b_hk")
    if fused and len(fused) != len(layout):
        raise CheckError("layout: mix of fused names (weight_ih, ...) and per-gate names (W_ii, ...); use one kind")
    slots, labels = [], []
    if fused:
        for need in ("weight_ih", "weight_hh"):
            if need not in layout:
                raise CheckError(f"layout: {need!r} is missing")
        ref, _ = _resolve(module, layout["weight_hh"])
        G = ref.tensor.numel() // (H * H)
        gates = "ifgo" if G == 4 else "rzn" if cell == "gru" else "fgo"
        if cell == "gru" and G != 3:
            raise CheckError(f"layout: weight_hh {layout['weight_hh']!r} holds {ref.tensor.numel()} values; a GRU's "
                             f"is (3H, H) = ({3 * H}, {H})")
        sides = []
        for name in FUSED_NAMES:
            if name not in layout:
                continue
            ref, tr = _resolve(module, layout[name])
            if name.startswith("weight"):
                src = "Wx" if name == "weight_ih" else "Wh"
                value = (lambda w, s=src: getattr(w, s).reshape(-1, getattr(w, s).shape[2]).T) if tr else \
                    (lambda w, s=src: getattr(w, s).reshape(-1, getattr(w, s).shape[2]))
            else:
                j, shape = len(labels), tuple(ref.tensor.shape)
                value = lambda w, j=j, shape=shape: w.biases[j].reshape(shape)  # noqa: E731
                labels.append(layout[name])
                sides.append("h" if name == "bias_hh" else "x")
            slots.append((ref, value))
        return Layout("explicit layout= (fused)", gates, slots, tuple(labels), bias_sides=tuple(sides))
    if any(k[-1] in "rzn" for k in layout):
        gates = "rzn"
    else:
        gates = "ifgo" if any(k.endswith("i") for k in layout if k.startswith("W_")) else "fgo"
    for g_idx, k in enumerate(gates):
        for need in (f"W_i{k}", f"W_h{k}"):
            if need not in layout:
                raise CheckError(f"layout: {need!r} is missing (gates {', '.join(gates)} need W_ik and W_hk)")
        for side in "ih":
            ref, tr = _resolve(module, layout[f"W_{side}{k}"])
            src = "Wx" if side == "i" else "Wh"
            slots.append((ref, (lambda w, s=src, j=g_idx: getattr(w, s)[j].T) if tr
                          else (lambda w, s=src, j=g_idx: getattr(w, s)[j])))
        names = [f"b_{s}{k}" for s in "ih" if f"b_{s}{k}" in layout]
        if g_idx and len(names) != len(labels):
            raise CheckError(f"layout: every gate needs the same biases; gate {k} has {names or 'none'}")
        labels = [f"b_{n[2]}·" for n in names]
        sides = tuple("h" if n[2] == "h" else "x" for n in names)
        for j, n in enumerate(names):
            ref, _ = _resolve(module, layout[n])
            shape = tuple(ref.tensor.shape)
            slots.append((ref, lambda w, j=j, g=g_idx, shape=shape: w.biases[j][g].reshape(shape)))
    return Layout("explicit layout= (per gate)", gates, slots, tuple(labels), bias_sides=sides)
