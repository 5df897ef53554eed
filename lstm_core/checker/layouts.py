"""Where a student's module keeps its weights, found from its attributes, and how to write ours there.

Understood without help (G gates: 4, or 3 for the coupled cell without i):
    torch-style fused   weight_ih (G*H, I), weight_hh (G*H, H), bias_ih, bias_hh (G*H,) (also *_l0)
    needle-style fused  W_ih (I, G*H), W_hh (H, G*H), bias_ih, bias_hh (G*H,)
    a fused nn.Linear   pair   W = nn.Linear(I, G*H) on x, U = nn.Linear(H, G*H) on h, whatever
                        their names, told apart by in_features (both tried when I = H);
                        or one nn.Linear(I + H, G*H) on the concatenation [x, h] or [h, x]
    per-gate nn.Linear  W_f, U_f, b_f, ... (c or g for the candidate), W on h and U on x or the
                        reverse, told apart by the Linear's in_features
    per-gate tensors    W_xf (I, H) or (H, I), W_hf (H, H), b_f, ...
Plain tensors that are not nn.Parameters count too; so do lists of modules.
Anything else: an explicit `layout=` mapping (command line: --layout) from our names to attribute paths, e.g.
    {"W_ii": "params.3", "W_hi": "params.4", "b_ii": "params.5", ...}   (".T" after a path:
    the tensor is stored transposed, (I, H) instead of (H, I)); or the fused names
    {"weight_ih": ..., "weight_hh": ..., "bias_ih": ..., "bias_hh": ...}.
"""
from dataclasses import dataclass, field

import torch
from torch import nn


class CheckError(ValueError):
    """Something about the student's module or the arguments that stops the check; says what to do."""


PASS_LAYOUT = "pass layout= (command line: --layout NAME=PATH)"  # every error that needs the mapping says so
FUSED_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")  # the names layout= takes
PER_GATE_NAMES = tuple(f"{p}_{s}{k}" for k in "ifgo" for p in ("W", "b") for s in "ih")


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
    gates: str  # "ifgo", or "fgo" for the coupled cell
    slots: list  # of (Ref, function Weights -> tensor in the student's shape)
    bias_labels: tuple  # the bias vectors of each gate, as the student names them
    others: list = field(default_factory=list)  # float tensors of the module the layout leaves alone

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


def _norm(path):
    return path.rsplit(".", 1)[-1].replace("_", "").lower()


_FUSED = {"ih": {"weightih", "weightihl0", "wih", "wx"}, "hh": {"weighthh", "weighthhl0", "whh", "wh"},
          "bih": {"biasih", "biasihl0", "bih", "bx"}, "bhh": {"biashh", "biashhl0", "bhh", "bh"},
          "b": {"bias", "b"}}


def _fused(found, I, H):
    named = {}
    for path, ref in found.items():
        for role, names in _FUSED.items():
            if _norm(path) in names:
                named.setdefault(role, []).append(ref)
    if "ih" not in named or "hh" not in named:
        return []
    for role, refs in named.items():
        if len(refs) > 1:
            raise CheckError(f"found several {role} weights: {', '.join(r.path for r in refs)}; "
                             f"{PASS_LAYOUT} to say which one the cell uses")
    ih, hh = named["ih"][0], named["hh"][0]
    rows = hh.tensor.shape[0] if hh.tensor.dim() == 2 and hh.tensor.shape[1] == H else None
    cols = hh.tensor.shape[1] if hh.tensor.dim() == 2 and hh.tensor.shape[0] == H else None
    G = next((n // H for n in (rows, cols) if n and n % H == 0 and n // H in (3, 4) and n != H), None)
    if G is None:
        raise CheckError(f"{hh.path}: shape {tuple(hh.tensor.shape)}; for hidden_size={H} expected (4H, H) = "
                         f"({4 * H}, {H}) (torch) or (H, 4H) = ({H}, {4 * H}) (needle)")
    gates = "ifgo" if G == 4 else "fgo"
    torch_style = tuple(hh.tensor.shape) == (G * H, H) and not (G * H == H)
    if torch_style:
        want_ih, name = (G * H, I), f"torch-style fused {ih.path} ({G}H, I), {hh.path} ({G}H, H)"
        slots = [(ih, lambda w: w.Wx.reshape(-1, w.Wx.shape[2])), (hh, lambda w: w.Wh.reshape(-1, w.Wh.shape[2]))]
    else:
        want_ih, name = (I, G * H), f"needle-style fused {ih.path} (I, {G}H), {hh.path} (H, {G}H)"
        slots = [(ih, lambda w: w.Wx.reshape(-1, w.Wx.shape[2]).T), (hh, lambda w: w.Wh.reshape(-1, w.Wh.shape[2]).T)]
    if tuple(ih.tensor.shape) != want_ih:
        raise CheckError(f"{ih.path}: shape {tuple(ih.tensor.shape)}; with input_size={I}, hidden_size={H} "
                         f"expected {want_ih}")
    biases = [r[0] for role in ("bih", "bhh", "b") for r in [named.get(role)] if r]
    labels = []
    for j, ref in enumerate(biases):
        if ref.tensor.numel() != G * H:
            raise CheckError(f"{ref.path}: {ref.tensor.numel()} values; expected {G}H = {G * H}")
        shape = tuple(ref.tensor.shape)
        slots.append((ref, lambda w, j=j, shape=shape: w.biases[j].reshape(shape)))
        labels.append(ref.path)
    return [Layout(name, gates, slots, tuple(labels))]


def _gate_count(n, H):
    """G when n outputs hold G = 3 or 4 gate blocks of H, else None."""
    return n // H if n % H == 0 and n // H in (3, 4) else None


def _fused_linear(found, linears, I, H):
    """Every gate in nn.Linear modules: a pair, one on x (in_features I) and one on h (H), or one
    on the concatenation of x and h. Told apart by in_features, not by name: courses call the pair
    W / U, U / W, x2h / h2h, i2h / h2h, ... (issue 21)."""
    wide = {p: lin for p, lin in linears.items() if _gate_count(lin.out_features, H)}
    if len(wide) > 2:
        raise CheckError(f"found {len(wide)} nn.Linear modules with 3H or 4H outputs ({', '.join(wide)}); "
                         f"{PASS_LAYOUT} to say which acts on x and which on h, e.g. weight_ih=W,weight_hh=U")
    if len(wide) == 1:
        return _concatenated(found, *next(iter(wide.items())), I, H)
    if len(wide) != 2:
        return []
    (pa, a), (pb, b) = wide.items()
    if a.out_features != b.out_features:
        raise CheckError(f"{pa} has {a.out_features} outputs and {pb} {b.out_features}; the pair of a fused "
                         f"LSTM has the same, 4H = {4 * H} (or 3H = {3 * H} in the coupled cell)")
    if I != H:
        for p, lin in ((pa, a), (pb, b)):
            if lin.in_features not in (I, H):
                raise CheckError(f"{p}: is nn.Linear({lin.in_features}, {lin.out_features}); acting on x it takes "
                                 f"input_size={I} inputs, on h hidden_size={H}")
        if a.in_features == b.in_features:
            raise CheckError(f"{pa} and {pb} both take {a.in_features} inputs; one acts on x (input_size={I}) "
                             f"and one on h (hidden_size={H})")
        pairs = [(pa, pb) if a.in_features == I else (pb, pa)]
    else:  # shapes cannot tell: both readings are tried, the one its name suggests on h first
        on_h = (pa, pb) if _norm(pb) in ("u", "uh", "wh", "whh", "h2h", "hh") else (pb, pa)
        pairs = [on_h, on_h[::-1]]
    G = _gate_count(a.out_features, H)
    out = []
    for px, ph in pairs:
        slots = [(found[px + ".weight"], lambda w: w.Wx.reshape(-1, w.Wx.shape[2])),  # (G*H, I)
                 (found[ph + ".weight"], lambda w: w.Wh.reshape(-1, w.Wh.shape[2]))]  # (G*H, H)
        labels = [p + ".bias" for p in (px, ph) if linears[p].bias is not None]
        for j, label in enumerate(labels):
            slots.append((found[label], lambda w, j=j: w.biases[j].reshape(-1)))  # (G*H,)
        out.append(Layout(f"fused nn.Linear pair {px} ({G}H, I) on x, {ph} ({G}H, H) on h",
                          "ifgo" if G == 4 else "fgo", slots, tuple(labels)))
    return out


def _concatenated(found, path, lin, I, H):
    """One nn.Linear(I + H, G*H) on torch.cat of x and h: both orders are tried ([x, h] first)."""
    if lin.in_features != I + H:
        return []
    G = _gate_count(lin.out_features, H)
    labels = (path + ".bias",) if lin.bias is not None else ()
    out = []
    for order in ("xh", "hx"):
        def weight(w, order=order):  # (G*H, I + H), the columns of x and h in the student's order
            parts = {"x": w.Wx.reshape(-1, w.Wx.shape[2]), "h": w.Wh.reshape(-1, w.Wh.shape[2])}
            return torch.cat([parts[s] for s in order], dim=1)
        slots = [(found[path + ".weight"], weight)]
        slots += [(found[lab], lambda w: w.biases[0].reshape(-1)) for lab in labels]  # (G*H,)
        out.append(Layout(f"fused nn.Linear {path} ({G}H, I + H) on [{order[0]}, {order[1]}]",
                          "ifgo" if G == 4 else "fgo", slots, labels))
    return out


_LETTERS = {"i": ("i",), "f": ("f",), "g": ("g", "c"), "o": ("o",)}


def _gate_entries(found, linears, q):
    """Matrices (path, side from the name: x, h or ? for W/U) and biases of gate letter q."""
    mats, biases = [], []
    names = {f"wx{q}": "x", f"wi{q}": "x", f"w{q}x": "x", f"ux{q}": "x",
             f"wh{q}": "h", f"w{q}h": "h", f"uh{q}": "h", f"w{q}": "?W", f"u{q}": "?U", f"v{q}": "?V"}
    for path, lin in linears.items():
        side = names.get(_norm(path))
        if side:
            mats.append(("linear", path, side, lin))
            if lin.bias is not None:
                biases.append((path + ".bias", "linear"))
    for path, ref in found.items():
        if any(path.startswith(p + ".") for p in linears):
            continue
        side = names.get(_norm(path))
        if side:
            mats.append(("raw", path, side, ref))
        elif _norm(path) in (f"b{q}", f"bx{q}", f"bi{q}", f"bh{q}", f"b{q}x", f"b{q}h"):
            biases.append((path, "raw"))
    return mats, biases


def _per_gate(found, linears, I, H):
    per, letters = {}, {}
    for k, qs in _LETTERS.items():
        for q in qs:
            mats, biases = _gate_entries(found, linears, q)
            if mats:
                per[k], letters[k] = (mats, biases), q
                break
    if not all(k in per for k in "fgo"):
        return []
    gates = "ifgo" if "i" in per else "fgo"
    for k in gates:
        if len(per[k][0]) != 2:
            got = ", ".join(m[1] for m in per[k][0])
            raise CheckError(f"{GATE[k]}: expected two weight matrices (one on x, one on h), found {got}; "
                             f"{PASS_LAYOUT} to say which is which")
    ambiguous = sorted({m[2][1] for k in gates for m in per[k][0] if m[2].startswith("?")})
    options = [{}]
    if ambiguous:
        a = ambiguous[0]  # "U" (or the first of the two letters) on h, or on x
        b = ambiguous[1] if len(ambiguous) > 1 else None
        votes = {"h": 0, "x": 0}  # the shapes of a's matrices, where they tell
        for k in gates:
            for kind, _, side, obj in per[k][0]:
                if side == "?" + a:
                    fits = [sd for sd in ("x", "h") if _fits(kind, obj, sd, I, H)]
                    if len(fits) == 1:
                        votes[fits[0]] += 1
        options = [{a: "h", b: "x"}, {a: "x", b: "h"}]
        if votes["x"] != votes["h"]:
            options = options[:1] if votes["h"] > votes["x"] else options[1:]
    layouts, errors = [], []
    for sides in options:
        for raw_orient in ("xW", "Wx"):
            try:
                lay = _assign(per, gates, letters, sides, raw_orient, found, I, H)
            except CheckError as e:
                errors.append(e)
                continue
            if lay.name not in [q.name for q in layouts]:
                layouts.append(lay)
    if not layouts:
        raise errors[0]
    return layouts


GATE = {"i": "the input gate i", "f": "the forget gate f", "g": "the candidate g", "o": "the output gate o"}


def _fits(kind, obj, side, I, H):
    if kind == "linear":
        return (obj.in_features, obj.out_features) == ((I, H) if side == "x" else (H, H))
    shape = tuple(obj.tensor.shape)
    return shape in ((I, H), (H, I)) if side == "x" else shape == (H, H)


def _assign(per, gates, letters, sides, raw_orient, found, I, H):
    slots, labels, kinds = [], None, set()
    for g_idx, k in enumerate(gates):
        mats, biases = per[k]
        placed = {}
        for kind, path, side, obj in mats:
            side = sides.get(side[1], None) if side.startswith("?") else side
            if side is None:  # decide by shape
                side = "x" if _fits(kind, obj, "x", I, H) and not _fits(kind, obj, "h", I, H) else "h"
            if not _fits(kind, obj, side, I, H):
                have = (f"nn.Linear({obj.in_features}, {obj.out_features})" if kind == "linear"
                        else f"shape {tuple(obj.tensor.shape)}")
                want = (f"nn.Linear({'input_size' if side == 'x' else 'hidden_size'}="
                        f"{I if side == 'x' else H}, hidden_size={H})" if kind == "linear"
                        else ("(I, H) = " + str((I, H)) if side == "x" else f"(H, H) = {(H, H)}"))
                raise CheckError(f"{path}: is {have}, but acting on {'x' if side == 'x' else 'h'} in "
                                 f"{GATE[k]} it must be {want}")
            if side in placed:
                raise CheckError(f"{GATE[k]}: {placed[side][1]} and {path} both act on {side}; "
                                 f"{PASS_LAYOUT} to say which is which")
            placed[side] = (kind, path, obj)
        for side, (kind, path, obj) in placed.items():
            kinds.add(kind)
            src = "Wx" if side == "x" else "Wh"
            if kind == "linear":
                ref = found[path + ".weight"]
                slots.append((ref, lambda w, s=src, j=g_idx: getattr(w, s)[j]))
            else:
                shape = tuple(obj.tensor.shape)
                if side == "x" and I != H:
                    stored_T = shape == (I, H)
                else:
                    stored_T = raw_orient == "xW"
                slots.append((obj, (lambda w, s=src, j=g_idx: getattr(w, s)[j].T) if stored_T
                              else (lambda w, s=src, j=g_idx: getattr(w, s)[j])))
        names = []
        for j, (path, _) in enumerate(sorted(biases)):
            ref = found[path]
            if ref.tensor.numel() != H:
                raise CheckError(f"{path}: {ref.tensor.numel()} values; a gate's bias has hidden_size={H}")
            shape = tuple(ref.tensor.shape)
            slots.append((ref, lambda w, j=j, g=g_idx, shape=shape: w.biases[j][g].reshape(shape)))
            names.append(path.replace(letters[k], "·", 1) if len(path) > 1 else path)
        if labels is None:
            labels = names
        elif len(names) != len(labels):
            raise CheckError(f"{GATE[k]} has {len(names)} bias vector(s) and {GATE[gates[0]]} {len(labels)}; "
                             f"{PASS_LAYOUT} to say which bias belongs where")
    kind = "nn.Linear" if kinds == {"linear"} else "tensors" if kinds == {"raw"} else "nn.Linear and tensors"
    sides_txt = ""
    if sides:
        sides_txt = ", " + ", ".join(f"{a}_k on {s}" for a, s in sorted(sides.items()) if a)
    orient = ", tensors used as x @ W" if "raw" in kinds and raw_orient == "xW" else \
        ", tensors used as W @ x" if "raw" in kinds else ""
    name = f"per-gate {kind} ({', '.join(letters[k] for k in gates)}{sides_txt}{orient})"
    return Layout(name, gates, slots, tuple(labels))


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


def explicit(module, layout, I, H):
    """The Layout an explicit mapping describes (see the module docstring)."""
    if not isinstance(layout, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in layout.items()):
        raise CheckError("layout: expected a dict of our names to attribute paths (str -> str), "
                         "e.g. {'weight_ih': 'cell.W', ...}")
    fused = [k for k in layout if k in FUSED_NAMES]
    bad = [k for k in layout if k not in FUSED_NAMES and k not in PER_GATE_NAMES]
    if bad:
        raise CheckError(f"layout: unknown name(s) {', '.join(map(repr, bad))}; expected weight_ih, weight_hh, "
                         "bias_ih, bias_hh, or per gate k in i f g o: W_ik, W_hk, b_ik, b_hk")
    if fused and len(fused) != len(layout):
        raise CheckError("layout: mix of fused names (weight_ih, ...) and per-gate names (W_ii, ...); use one kind")
    slots, labels = [], []
    if fused:
        for need in ("weight_ih", "weight_hh"):
            if need not in layout:
                raise CheckError(f"layout: {need!r} is missing")
        ref, _ = _resolve(module, layout["weight_hh"])
        G = ref.tensor.numel() // (H * H)
        gates = "ifgo" if G == 4 else "fgo"
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
            slots.append((ref, value))
        return Layout("explicit layout= (fused)", gates, slots, tuple(labels))
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
        for j, n in enumerate(names):
            ref, _ = _resolve(module, layout[n])
            shape = tuple(ref.tensor.shape)
            slots.append((ref, lambda w, j=j, g=g_idx, shape=shape: w.biases[j][g].reshape(shape)))
    return Layout("explicit layout= (per gate)", gates, slots, tuple(labels))


def detect(module, I, H, layout=None):
    """The layouts the module's attributes fit, most likely first; CheckError when none does."""
    if layout is not None:
        return [explicit(module, layout, I, H)]
    found, linears = tensors(module)
    layouts = _fused(found, I, H) or _fused_linear(found, linears, I, H) or _per_gate(found, linears, I, H)
    if not layouts:
        listed = ", ".join(f"{p} {tuple(r.tensor.shape)}" for p, r in list(found.items())[:12]) or "no tensors"
        raise CheckError(f"cannot tell where your module keeps its weights (found: {listed}). Name them like "
                         "torch (weight_ih, weight_hh, bias_ih, bias_hh), needle (W_ih, W_hh), a pair of "
                         "nn.Linear on x and h (W, U), or per gate (W_f/U_f, W_xf/W_hf, b_f, ...), or "
                         f"{PASS_LAYOUT}, e.g. {{'W_ii': 'path', ...}} or --layout W_ii=path,W_hi=path,...")
    for lay in layouts:
        known = {id(ref.tensor) for ref, _ in lay.slots}
        lay.others = [p for p, r in found.items() if id(r.tensor) not in known and r.tensor.is_floating_point()]
    return layouts
