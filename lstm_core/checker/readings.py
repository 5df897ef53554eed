"""Where a student's module keeps its weights, read from its attributes' names and shapes.

Understood without help (G gate blocks: 4 for an LSTM, 3 for the coupled cell without i or
for a GRU's r, z, n; 3 blocks are read both ways unless cell= says which):
    torch-style fused   weight_ih (G*H, I), weight_hh (G*H, H), bias_ih, bias_hh (G*H,) (also *_l0)
    needle-style fused  W_ih (I, G*H), W_hh (H, G*H), bias_ih, bias_hh (G*H,)
    a fused nn.Linear   pair   W = nn.Linear(I, G*H) on x, U = nn.Linear(H, G*H) on h, whatever
                        their names, told apart by in_features (both tried when I = H);
                        or one nn.Linear(I + H, G*H) on the concatenation [x, h] or [h, x]
    per-gate nn.Linear  W_f, U_f, b_f, ... (c or g for the candidate), W on h and U on x or the
                        reverse, told apart by the Linear's in_features
    per-gate tensors    W_xf (I, H) or (H, I), W_hf (H, H), b_f, ...
    a GRU per gate      the same names with r, z and n (or h, as in Cho et al. 2014 and d2l's
                        W_xh, W_hh, b_h for the candidate; or c, g)
Each bias vector is read as added on x's side or on h's side (`Layout.bias_sides`): an LSTM
sums them, but a GRU's b_hn sits inside r ⊙ (W_hn h + b_hn).
Plain tensors that are not nn.Parameters count too; so do lists of modules. Anything else takes
an explicit mapping (`layouts.explicit`).
"""
import torch

from .layouts import PASS_LAYOUT, CheckError, Layout, explicit, plain_name, tensors


_FUSED = {"ih": {"weightih", "weightihl0", "wih", "wx"}, "hh": {"weighthh", "weighthhl0", "whh", "wh"},
          "bih": {"biasih", "biasihl0", "bih", "bx"}, "bhh": {"biashh", "biashhl0", "bhh", "bh"},
          "b": {"bias", "b"}}


def _block_gates(G, cell):
    """The gate blocks G rows of H can hold: ["ifgo"], ["fgo"], ["rzn"] or, unsaid, ["fgo", "rzn"]."""
    if G == 4:
        return ["ifgo"]
    return {"lstm": ["fgo"], "gru": ["rzn"]}.get(cell, ["fgo", "rzn"])


def _fused(found, I, H, cell=None):
    named = {}
    for path, ref in found.items():
        for role, names in _FUSED.items():
            if plain_name(path) in names:
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
    counts = (3,) if cell == "gru" else (3, 4)
    G = next((n // H for n in (rows, cols) if n and n % H == 0 and n // H in counts and n != H), None)
    if G is None:
        g = 3 if cell == "gru" else 4
        raise CheckError(f"{hh.path}: shape {tuple(hh.tensor.shape)}; for hidden_size={H} expected ({g}H, H) = "
                         f"({g * H}, {H}) (torch) or (H, {g}H) = ({H}, {g * H}) (needle)")
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
    biases = [(r[0], "h" if role == "bhh" else "x") for role in ("bih", "bhh", "b") for r in [named.get(role)] if r]
    labels = []
    for j, (ref, _) in enumerate(biases):
        if ref.tensor.numel() != G * H:
            raise CheckError(f"{ref.path}: {ref.tensor.numel()} values; expected {G}H = {G * H}")
        shape = tuple(ref.tensor.shape)
        slots.append((ref, lambda w, j=j, shape=shape: w.biases[j].reshape(shape)))
        labels.append(ref.path)
    sides = tuple(side for _, side in biases)
    return [Layout(name, gates, slots, tuple(labels), bias_sides=sides) for gates in _block_gates(G, cell)]


def _gate_count(n, H):
    """G when n outputs hold G = 3 or 4 gate blocks of H, else None."""
    return n // H if n % H == 0 and n // H in (3, 4) else None


def _fused_linear(found, linears, I, H, cell=None):
    """Every gate in nn.Linear modules: a pair, one on x (in_features I) and one on h (H), or one
    on the concatenation of x and h. Told apart by in_features, not by name: courses call the pair
    W / U, U / W, x2h / h2h, i2h / h2h, ... (issue 21)."""
    wide = {p: lin for p, lin in linears.items() if _gate_count(lin.out_features, H)}
    if len(wide) > 2:
        raise CheckError(f"found {len(wide)} nn.Linear modules with 3H or 4H outputs ({', '.join(wide)}); "
                         f"{PASS_LAYOUT} to say which acts on x and which on h, e.g. weight_ih=W,weight_hh=U")
    if len(wide) == 1:  # a GRU's n needs h apart from x (r acts on it): no GRU is one Linear on [x, h]
        return _concatenated(found, *next(iter(wide.items())), I, H) if cell != "gru" else []
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
        on_h = (pa, pb) if plain_name(pb) in ("u", "uh", "wh", "whh", "h2h", "hh") else (pb, pa)
        pairs = [on_h, on_h[::-1]]
    G = _gate_count(a.out_features, H)
    out = []
    for px, ph in pairs:
        slots = [(found[px + ".weight"], lambda w: w.Wx.reshape(-1, w.Wx.shape[2])),  # (G*H, I)
                 (found[ph + ".weight"], lambda w: w.Wh.reshape(-1, w.Wh.shape[2]))]  # (G*H, H)
        labels = [p + ".bias" for p in (px, ph) if linears[p].bias is not None]
        sides = tuple("x" if label == px + ".bias" else "h" for label in labels)
        for j, label in enumerate(labels):
            slots.append((found[label], lambda w, j=j: w.biases[j].reshape(-1)))  # (G*H,)
        out += [Layout(f"fused nn.Linear pair {px} ({G}H, I) on x, {ph} ({G}H, H) on h", gates, slots, tuple(labels),
                       bias_sides=sides) for gates in _block_gates(G, cell)]
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


_LETTERS = {"lstm": {"i": ("i",), "f": ("f",), "g": ("g", "c"), "o": ("o",)},
            # the GRU's candidate: n (torch), h (Cho et al. 2014, d2l's W_xh, W_hh, b_h), c or g
            "gru": {"r": ("r",), "z": ("z", "u"), "n": ("n", "h", "c", "g")}}


def _gate_entries(found, linears, q):
    """Matrices (path, side from the name: x, h or ? for W/U) and biases of gate letter q."""
    mats, biases = [], []
    names = {f"wx{q}": "x", f"wi{q}": "x", f"w{q}x": "x", f"ux{q}": "x",
             f"wh{q}": "h", f"w{q}h": "h", f"uh{q}": "h", f"w{q}": "?W", f"u{q}": "?U", f"v{q}": "?V"}
    for path, lin in linears.items():
        side = names.get(plain_name(path))
        if side:
            mats.append(("linear", path, side, lin))
            if lin.bias is not None:
                biases.append((path + ".bias", path))  # its side: the Linear's, once placed
    for path, ref in found.items():
        if any(path.startswith(p + ".") for p in linears):
            continue
        side = names.get(plain_name(path))
        if side:
            mats.append(("raw", path, side, ref))
        elif plain_name(path) in (f"b{q}", f"bx{q}", f"bi{q}", f"b{q}x", f"b{q}i"):
            biases.append((path, "x"))
        elif plain_name(path) in (f"bh{q}", f"b{q}h"):
            biases.append((path, "h"))
    return mats, biases


def _per_gate(found, linears, I, H, cell=None):
    out = []
    for family in ("lstm", "gru") if cell is None else (cell,):
        out += _per_gate_of(family, found, linears, I, H)
    return out


def _per_gate_of(family, found, linears, I, H):
    per, letters = {}, {}
    for k, qs in _LETTERS[family].items():
        for q in qs:
            if family == "gru" and k == "n" and q == "h" and ("wih" in map(plain_name, found)):
                continue  # W_ih, W_hh of a fused layout are not a candidate h's
            mats, biases = _gate_entries(found, linears, q)
            if mats:
                per[k], letters[k] = (mats, biases), q
                break
    needed = "fgo" if family == "lstm" else "rzn"
    if not all(k in per for k in needed):
        return []
    gates = "rzn" if family == "gru" else "ifgo" if "i" in per else "fgo"
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


GATE = {"i": "the input gate i", "f": "the forget gate f", "g": "the candidate g", "o": "the output gate o",
        "r": "the reset gate r", "z": "the update gate z", "n": "the candidate n"}


def _fits(kind, obj, side, I, H):
    if kind == "linear":
        return (obj.in_features, obj.out_features) == ((I, H) if side == "x" else (H, H))
    shape = tuple(obj.tensor.shape)
    return shape in ((I, H), (H, I)) if side == "x" else shape == (H, H)


def _assign(per, gates, letters, sides, raw_orient, found, I, H):
    slots, labels, sides_of_bias, kinds = [], None, None, set()
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
        linear_side = {p: sd for sd, (kd, p, _) in placed.items() if kd == "linear"}
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
        names, bias_sides = [], []
        for j, (path, where) in enumerate(sorted(biases)):
            bias_sides.append(linear_side.get(where, where if where in ("x", "h") else "x"))
            ref = found[path]
            if ref.tensor.numel() != H:
                raise CheckError(f"{path}: {ref.tensor.numel()} values; a gate's bias has hidden_size={H}")
            shape = tuple(ref.tensor.shape)
            slots.append((ref, lambda w, j=j, g=g_idx, shape=shape: w.biases[j][g].reshape(shape)))
            names.append(path.replace(letters[k], "·", 1) if len(path) > 1 else path)
        if labels is None:
            labels, sides_of_bias = names, tuple(bias_sides)
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
    return Layout(name, gates, slots, tuple(labels), bias_sides=sides_of_bias)


def detect(module, I, H, layout=None, cell=None):
    """The layouts the module's attributes fit, most likely first; CheckError when none does.

    cell: "lstm", "gru" or None; with None, 3 gate blocks are read both ways (a GRU's r, z, n
    and a coupled LSTM's f, g, o) and `Layout.gates` tells them apart."""
    if layout is not None:
        return [explicit(module, layout, I, H, cell)]
    found, linears = tensors(module)
    layouts = (_fused(found, I, H, cell) or _fused_linear(found, linears, I, H, cell)
               or _per_gate(found, linears, I, H, cell))
    if not layouts:
        listed = ", ".join(f"{p} {tuple(r.tensor.shape)}" for p, r in list(found.items())[:12]) or "no tensors"
        raise CheckError(f"cannot tell where your module keeps its weights (found: {listed}). Name them like "
                         "torch (weight_ih, weight_hh, bias_ih, bias_hh), needle (W_ih, W_hh), a pair of "
                         "nn.Linear on x and h (W, U), or per gate (W_f/U_f, W_xf/W_hf, b_f, ...; a GRU's "
                         "W_r/U_r, W_xr/W_hr, b_r, ...), or "
                         f"{PASS_LAYOUT}, e.g. {{'W_ii': 'path', ...}} or --layout W_ii=path,W_hi=path,...")
    for lay in layouts:
        known = {id(ref.tensor) for ref, _ in lay.slots}
        lay.others = [p for p, r in found.items() if id(r.tensor) not in known and r.tensor.is_floating_point()]
    return layouts
