"""ONNX `LSTM` nodes, their weights read from the graph's constants.

ONNX's LSTM (operator doc, opset 7 to 22) stores, per direction d, gate order i, o, f, c:
    W (D, 4H, I), R (D, 4H, H), B (D, 8H) = [Wb | Rb], P (D, 3H) peepholes in order i, o, f
and computes i = f(z_i + P_i ⊙ C_{t-1}), f = f(z_f + P_f ⊙ C_{t-1}), o = f(z_o + P_o ⊙ C_t):
our peephole cell with peephole_output="current". Mapped to our layout:
    weight_ih = W[d] reordered to i, f, g, o; weight_hh = R[d] likewise; bias_ih = Wb, bias_hh = Rb;
    weight_peephole = (P_i, P_f, P_o).
input_forget=1 couples the gates as ONNX Runtime computes them, f = 1 - i (with i's
peephole). Since 1 - σ(z) = σ(-z), that is our "coupled" variant (i = 1 - f) with the
f-gate weights, bias and peephole set to minus ONNX's i-gate ones; ONNX's f weights are unused.
Activations: f may be Sigmoid or HardSigmoid(alpha, beta) (our hard_sigmoid); g and h must
be Tanh. direction="reverse" (a lone backward pass) becomes go_backwards=True. `clip` and
other activations are refused.
Tensors stored as external data (a `location` file beside the model) are never read for
bytes or uploads (embed the weights), and for a path only with allow_external_data=True
and only from files inside the model's own directory: a relative location such as
".streamlit/config.toml" would otherwise turn any file near the server into "weights".
LSTM nodes fed one by another through layout-only ops (Transpose, Reshape, ...: what
torch.onnx.export puts between layers) stack into one model with num_layers > 1.

ONNX's GRU (an `lstm_core.GRU`) stores, per direction, gate order z, r, h (h is our n):
    W (D, 3H, I), R (D, 3H, H), B (D, 6H) = [Wb | Rb]
and computes z, r = f(...), h_t = (1 - z) ⊙ n + z ⊙ h_{t-1} (z keeps, as in torch), with
the candidate n = g(W_h x + Wb_h + (r ⊙ h_{t-1}) R_h^T + Rb_h) for linear_before_reset=0
(the default; Cho et al. 2014: our reset="before") or g(W_h x + Wb_h + r ⊙ (h_{t-1} R_h^T +
Rb_h)) for linear_before_reset=1 (torch's: reset="after"). Mapped: weight_ih = W[d],
weight_hh = R[d], bias_ih = Wb, bias_hh = Rb, each reordered to r, z, n. f must be
Sigmoid and g Tanh. GRU nodes stack like LSTM nodes; a GRU never stacks on an LSTM.
"""
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .common import (Budget, Candidate, LoadError, LoadInfo, as_tensor, build, build_gru, describe, expect_shape,
                     listing_of, pick, zrh_as_rzn)

LAYOUT_OPS = {"Transpose", "Reshape", "Squeeze", "Unsqueeze", "Identity", "Dropout", "Flatten", "Cast"}
_NEEDS_ALPHA = {"hardsigmoid", "affine", "leakyrelu", "thresholdedrelu", "scaledtanh", "elu"}
_NEEDS_BETA = {"hardsigmoid", "affine", "scaledtanh"}
_SLOTS = {"LSTM": "_WRB___P", "GRU": "_WRB__"}  # the constant inputs read, by position (X, sequence_lens,
# initial_h and initial_c are "_"); the gate blocks per direction: LSTM 4, GRU 3
_BLOCKS = {"LSTM": 4, "GRU": 3}


@dataclass
class OnnxLSTM:
    """One LSTM or GRU node (op) with its weights as tensors and the names they came from."""

    name: str
    attrs: dict
    tensors: dict  # "W", "R", "B", "P" -> tensor (absent if the input is)
    keys: dict  # the same keys -> the initializer name
    inputs: list  # the node's input names
    previous: str | None = None  # the LSTM node feeding X through layout-only ops
    notes: list = field(default_factory=list)
    initial: dict = field(default_factory=dict)  # constant, non-zero "initial_h" / "initial_c" (D, B, H)
    problem: str | None = None  # why its weights cannot be read, raised only if it is chosen
    op: str = "LSTM"  # "LSTM" or "GRU"

    @property
    def D(self):
        return self.tensors["W"].shape[0]

    @property
    def H(self):
        return self.tensors["R"].shape[-1]

    @property
    def I(self):
        return self.tensors["W"].shape[-1]


def _model(src):
    import onnx
    from google.protobuf.message import DecodeError

    try:  # never onnx.load(path): it resolves external data itself (see the module doc)
        return onnx.load_model_from_string(src.data())
    except (DecodeError, OSError, ValueError, RuntimeError, RecursionError) as e:
        raise LoadError(f"{src.label}: not an ONNX model onnx can read ({type(e).__name__}: "
                        f"{str(e)[:300] or 'damaged'})") from None


def _external(t, src):
    """Read an external-data tensor's bytes into it, if the caller allows it (module doc)."""
    from onnx import TensorProto

    info = {e.key: e.value for e in t.external_data}
    location = info.get("location", "")
    embed = ("embed the weights in the model file: onnx.save(onnx.load('model.onnx'), 'embedded.onnx', "
             "save_as_external_data=False)")
    if src.path is None:
        raise LoadError(f"{src.label}: tensor {t.name!r} keeps its data in an external file {location!r}; "
                        f"uploads and bytes never read other files: {embed}")
    if not src.allow_external_data:
        raise LoadError(f"{src.label}: tensor {t.name!r} keeps its data in an external file {location!r}, "
                        f"which is not read unless you pass allow_external_data=True (command line: "
                        f"--allow-external-data; only files inside the model's directory are read); or {embed}")
    if not isinstance(location, str) or "\0" in location:  # found by fuzzing: bytes, an embedded NUL
        raise LoadError(f"{src.label}: tensor {t.name!r}: external data location {location!r} is not a file name")
    base = src.path.resolve().parent
    where = Path(location)
    target = (base / where).resolve()
    if not location or where.is_absolute() or ".." in where.parts or not target.is_relative_to(base):
        raise LoadError(f"{src.label}: tensor {t.name!r}: external data location {location!r} is outside the "
                        f"model's directory {base}; only files inside it are read")
    if not target.is_file():
        raise LoadError(f"{src.label}: tensor {t.name!r}: external data file {location!r} not found in {base}")
    try:
        offset, length = int(info.get("offset", 0)), info.get("length")
        length = None if length is None else int(length)
    except ValueError:
        raise LoadError(f"{src.label}: tensor {t.name!r}: external data offset / length are not numbers") from None
    size = target.stat().st_size
    if offset < 0 or offset > size or (length is not None and (length < 0 or offset + length > size)):
        raise LoadError(f"{src.label}: tensor {t.name!r}: external data offset {offset}, length {length} do not "
                        f"fit the file {location!r} of {size} bytes")
    with open(target, "rb") as f:
        f.seek(offset)
        t.raw_data = f.read(size - offset if length is None else length)
    t.data_location = TensorProto.DEFAULT
    del t.external_data[:]


class _Consts:
    """The graph's constants (initializers, Constant nodes) as numpy arrays, each converted on first
    use after its declared dims and dtype are checked against the budget (the rest are never read)."""

    def __init__(self, src, budget):
        self.src, self.budget, self.protos, self.arrays = src, budget, {}, {}

    def __contains__(self, name):
        return name in self.protos

    def __getitem__(self, name):
        if name not in self.arrays:
            self.arrays[name] = self._array(self.protos[name])
        return self.arrays[name]

    def _array(self, t):
        from onnx import TensorProto, helper, numpy_helper

        label = self.src.label
        try:
            itemsize = np.dtype(helper.tensor_dtype_to_np_dtype(t.data_type)).itemsize
        except (KeyError, TypeError, ValueError):
            raise LoadError(f"{label}: tensor {t.name!r} has data type {t.data_type}, which is not a number type "
                            f"numpy knows") from None
        self.budget.take(t.dims, itemsize, f"tensor {t.name!r}")
        if t.data_location == TensorProto.EXTERNAL:
            _external(t, self.src)
        try:
            return numpy_helper.to_array(t)
        except (ValueError, TypeError, OSError, RuntimeError) as e:  # data that does not fit its dims
            raise LoadError(f"{label}: tensor {t.name!r} cannot be read: {str(e)[:300]}") from None


def _attrs(node):
    from onnx import helper

    out = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        if isinstance(v, bytes):
            v = v.decode("utf8", "replace")
        elif isinstance(v, list) and v and isinstance(v[0], bytes):
            v = [x.decode("utf8", "replace") for x in v]
        out[a.name] = v
    return out


def read(src):
    """Every LSTM and GRU node of the main graph as an OnnxLSTM, in graph order."""
    graph = _model(src).graph
    lim = src.limits
    lim.check("max_keys", len(graph.initializer), f"{src.label}: initializers in the graph", LoadError)
    lim.check("max_keys", len(graph.node), f"{src.label}: nodes in the graph", LoadError)
    consts, producer = _Consts(src, Budget(src.label, lim)), {}
    for t in graph.initializer:
        consts.protos[t.name] = t
    for n in graph.node:
        for o in n.output:
            producer[o] = n
        if n.op_type == "Constant" and n.output and n.attribute and n.attribute[0].name == "value":
            consts.protos[n.output[0]] = n.attribute[0].t
    lstms, by_output = [], {}
    for k, n in enumerate(n for n in graph.node if n.op_type in _SLOTS):
        name = n.name or (n.output[0] if n.output else "") or f"{n.op_type}_{k}"
        inputs = list(n.input) + [""] * (8 - len(n.input))
        node = OnnxLSTM(name, _attrs(n), {}, {}, inputs, op=n.op_type)
        for slot, key in zip(_SLOTS[n.op_type], inputs):  # X, W, R, B, sequence_lens, initial_h, initial_c, P
            if slot == "_" or not key:
                continue
            if key not in consts:
                node.problem = node.problem or (
                    f"{n.op_type} node {name!r}: input {slot} ({key!r}) is computed in the graph, not a constant "
                    f"(initializer or Constant node): its weights cannot be read")
                continue
            node.tensors[slot], node.keys[slot] = as_tensor(consts[key].copy(), key), key
        node.previous = _fed_by(inputs[0], producer, by_output)
        _note_inputs(node, consts, producer)
        by_output[n.output[0] if n.output else None] = name
        lstms.append(node)
    return lstms


def _fed_by(x, producer, by_output):
    """The LSTM node whose Y reaches input x through layout-only ops, or None."""
    seen = set()  # a hostile graph may feed a node its own output
    while x in producer and x not in seen:
        seen.add(x)
        if x in by_output:
            return by_output[x]
        n = producer[x]
        if n.op_type not in LAYOUT_OPS or not n.input:
            return None
        x = n.input[0]
    return by_output.get(x)


def _is_zero(x, consts, producer):
    """True if x is a constant or an Expand / ConstantOfShape of zeros (torch.onnx.export's initial states)."""
    if x in consts:
        return not np.any(consts[x])
    n = producer.get(x)
    if n is not None and n.op_type == "Expand":
        return bool(n.input) and n.input[0] in consts and not np.any(consts[n.input[0]])
    if n is not None and n.op_type == "ConstantOfShape":
        return not n.attribute or not np.any(consts._array(n.attribute[0].t))
    return False


def _note_inputs(node, consts, producer):
    gru = node.op == "GRU"
    seq, h0, c0 = node.inputs[4:7]
    if seq:
        node.notes.append(f"{node.op} node {node.name!r} takes sequence_lens: pass lengths= to trace padded batches")
    for key, what in ((h0, "initial_h"),) + (() if gru else ((c0, "initial_c"),)):
        if key and not _is_zero(key, consts, producer):
            if key in consts:
                node.initial[what] = torch.as_tensor(consts[key].copy())
                node.notes.append(f"{node.op} node {node.name!r}: {what} is a constant, kept in load_info.extras; "
                                  f"pass {'h0=initial_h' if gru else 'state=(initial_h, initial_c)'} to "
                                  f"reproduce it")
            else:
                node.notes.append(f"{node.op} node {node.name!r}: {what} comes from the graph; the loaded model "
                                  f"starts from zeros unless you pass {'h0' if gru else 'state'}=")


def _per_activation(acts, values, needs):
    """The alpha (or beta) of each activation. ONNX Runtime reads the list either as one value
    per activation or as one value per activation that takes one, in order."""
    if len(values) == len(acts):
        return list(values)
    rest = iter(values)
    return [next(rest, None) if a.lower() in needs else None for a in acts]


def _gate_activation(node):
    """Our gate_activation for a node, or a LoadError for one we cannot compute."""
    a = node.attrs
    D = 2 if a.get("direction", "forward") == "bidirectional" else 1
    gru = node.op == "GRU"
    defaults = ["Sigmoid", "Tanh"] if gru else ["Sigmoid", "Tanh", "Tanh"]
    acts = a.get("activations") or defaults * D
    for what, want in (("activations", str), ("activation_alpha", float), ("activation_beta", float)):
        v = a.get(what, [])
        if not isinstance(v, list) or not all(isinstance(x, want) for x in v):
            raise LoadError(f"{node.op} node {node.name!r}: attribute {what} must be a list of "
                            f"{'strings' if want is str else 'floats'}, found {str(v)[:80]}")
    if len(acts) != len(defaults) * D:
        raise LoadError(f"{node.op} node {node.name!r}: activations lists {len(acts)} functions, expected "
                        f"{len(defaults) * D} ({'f, g' if gru else 'f, g, h'} per direction)")
    if gru:  # lstm_core.GRU computes only the defaults
        for j, act in enumerate(acts):
            if act.lower() != defaults[j % 2].lower():
                what = "f (r, z)" if j % 2 == 0 else "g (n)"
                raise LoadError(f"GRU node {node.name!r}: activation {act!r} for {what} is not supported: "
                                f"lstm_core.GRU computes r and z with Sigmoid, n with Tanh")
        return ("sigmoid",)
    alphas = _per_activation(acts, a.get("activation_alpha", []), _NEEDS_ALPHA)
    betas = _per_activation(acts, a.get("activation_beta", []), _NEEDS_BETA)
    specs = set()
    for j, act in enumerate(acts):
        low = act.lower()
        if j % 3 == 0:  # f: the gates i, f, o
            if low == "sigmoid":
                specs.add(("sigmoid",))
            elif low == "hardsigmoid":
                specs.add(("hard_sigmoid", 0.2 if alphas[j] is None else float(alphas[j]),
                           0.5 if betas[j] is None else float(betas[j])))
            else:
                raise LoadError(f"LSTM node {node.name!r}: gate activation {act!r} is not supported: expected "
                                f"Sigmoid or HardSigmoid")
        elif low != "tanh":
            raise LoadError(f"LSTM node {node.name!r}: activation {act!r} for {'g' if j % 3 == 1 else 'h'} is "
                            f"not supported: lstm_core.LSTM computes g and h with Tanh")
    if len(specs) > 1:
        raise LoadError(f"LSTM node {node.name!r}: the two directions use different gate activations {acts}")
    return specs.pop()


def _check(node):
    """LoadError for attributes and shapes we cannot reproduce; returns the gate activation."""
    if node.problem:
        raise LoadError(node.problem)
    a = node.attrs
    op, G = node.op, _BLOCKS[node.op]
    if "clip" in a:
        raise LoadError(f"{op} node {node.name!r}: clip={a['clip']} is not supported: ONNX clips the gate "
                        f"pre-activations to [-clip, clip], lstm_core.{op} does not")
    direction = a.get("direction", "forward")
    if direction not in ("forward", "reverse", "bidirectional"):
        raise LoadError(f"{op} node {node.name!r}: unknown direction {direction!r}")
    if a.get("linear_before_reset", 0) not in (0, 1):
        raise LoadError(f"GRU node {node.name!r}: linear_before_reset must be 0 or 1, found "
                        f"{str(a['linear_before_reset'])[:40]}")
    for slot in "WR":
        if slot not in node.tensors:
            raise LoadError(f"{op} node {node.name!r}: input {slot} is missing")
    D = 2 if direction == "bidirectional" else 1
    W, R = node.tensors["W"], node.tensors["R"]
    if R.dim() != 3 or R.shape[0] != D or R.shape[1] != G * R.shape[2]:
        raise LoadError(f"{node.keys['R']}: expected R of shape ({D}, {G}H, H) (num_directions={D}), "
                        f"found {tuple(R.shape)}")
    H = R.shape[2]
    if "hidden_size" in a and not isinstance(a["hidden_size"], int):
        raise LoadError(f"{op} node {node.name!r}: hidden_size must be an int, found {str(a['hidden_size'])[:40]}")
    if "hidden_size" in a and a["hidden_size"] != H:
        raise LoadError(f"{node.keys['R']}: expected shape ({D}, {G * a['hidden_size']}, {a['hidden_size']}) "
                        f"for hidden_size={a['hidden_size']}, found {tuple(R.shape)}")
    if W.dim() != 3:
        raise LoadError(f"{node.keys['W']}: expected W of shape ({D}, {G * H}, input_size), found {tuple(W.shape)}")
    expect_shape(W, (D, G * H, W.shape[2]), node.keys["W"], f"(num_directions, {G}H, input_size)")
    if "B" in node.tensors:
        expect_shape(node.tensors["B"], (D, 2 * G * H), node.keys["B"], f"(num_directions, {2 * G}H)")
    if "P" in node.tensors:
        expect_shape(node.tensors["P"], (D, 3 * H), node.keys["P"], "(num_directions, 3H)")
    spec = _gate_activation(node)
    if a.get("input_forget", 0) and spec[0] == "hard_sigmoid" and spec[2] != 0.5:
        raise LoadError(f"LSTM node {node.name!r}: input_forget=1 with HardSigmoid beta={spec[2]} is not "
                        f"supported: 1 - HardSigmoid(z) equals HardSigmoid(-z) only for beta=0.5")
    return spec


def _ours(x, coupled):
    """Rows (4H, ...) in ONNX's order i, o, f, c as our gate rows: i, f, g, o, or for
    input_forget the coupled cell's f, g, o with f := -(ONNX i), since σ(-z_i) = 1 - i."""
    i, o, f, c = x.chunk(4)
    return torch.cat([-i, c, o] if coupled else [i, f, c, o])


def _params(node, k, params, keys):
    """Layer k's parameters in our names (module doc for the mapping)."""
    coupled = bool(node.attrs.get("input_forget", 0))
    ours = zrh_as_rzn if node.op == "GRU" else lambda x: _ours(x, coupled)
    t = node.tensors
    for d in range(node.D):
        s = f"_l{k}{'_reverse' if d else ''}"
        params["weight_ih" + s], keys["weight_ih" + s] = ours(t["W"][d]), node.keys["W"]
        params["weight_hh" + s], keys["weight_hh" + s] = ours(t["R"][d]), node.keys["R"]
        if "B" in t:
            wb, rb = t["B"][d].chunk(2)  # (GH,) each
            params["bias_ih" + s], params["bias_hh" + s] = ours(wb), ours(rb)
            keys["bias_ih" + s] = keys["bias_hh" + s] = node.keys["B"]
        if "P" in t:
            p_i, p_o, p_f = t["P"][d].chunk(3)  # (H,) each
            params["weight_peephole" + s] = torch.stack([-p_i, p_o] if coupled else [p_i, p_f, p_o])
            keys["weight_peephole" + s] = node.keys["P"]


def _reverse(node):
    return node.attrs.get("direction", "forward") == "reverse"


def candidates_of(lstms):
    out = []
    for n in lstms:
        if "W" not in n.tensors or "R" not in n.tensors:
            out.append(Candidate(n.name, f"{n.op}(weights not readable)"))
            continue
        extra = ", ".join(x for x in ("reverse" if _reverse(n) else "", "peephole" if "P" in n.tensors else "",
                                      "input_forget" if n.attrs.get("input_forget") else "",
                                      "linear_before_reset=1" if n.attrs.get("linear_before_reset") else "") if x)
        out.append(Candidate(n.name, describe(n.I, n.H, 1, n.D == 2, extra, n.op)))
    return out


def _choose(lstms, which, label):
    names = [n.name for n in lstms]
    if not lstms:
        raise LoadError(f"{label}: no LSTM or GRU node in the graph")
    if which is None:
        if len(lstms) == 1 or _chain_problem(lstms) is None:
            return lstms
        listing = listing_of(candidates_of(lstms))
        raise LoadError(f"{label}: holds {len(lstms)} LSTM nodes that do not stack: {listing}; choose with "
                        f"layer= (a name or index, or a list of consecutive names; command line: --layer)")
    chosen = pick(lstms, names, which, label, "node")
    problem = _chain_problem(chosen)
    if problem:
        raise LoadError(f"{label}: nodes {[c.name for c in chosen]} cannot be stacked: {problem}")
    return chosen


def _chain_problem(nodes):
    for a, b in zip(nodes, nodes[1:]):
        if a.problem or b.problem:
            return a.problem or b.problem
        if a.op != b.op:
            return f"{a.name!r} is {_a(a.op)}, {b.name!r} {_a(b.op)}"
        if b.previous != a.name:
            return f"{b.name!r} is not fed by {a.name!r} (only layout ops may sit between them)"
        if (b.H, b.D) != (a.H, a.D) or b.I != a.D * a.H:
            return f"{a.name!r} and {b.name!r} differ in size or direction"
        if _reverse(a) != _reverse(b):
            return f"one of {a.name!r} and {b.name!r} runs forward, the other in reverse"
        for what in ("input_forget", "activations", "activation_alpha", "activation_beta", "linear_before_reset"):
            if a.attrs.get(what) != b.attrs.get(what):
                return f"{a.name!r} and {b.name!r} differ in {what}"
        if ("P" in a.tensors) != ("P" in b.tensors):
            return f"only one of {a.name!r} and {b.name!r} has peepholes"
    return None


def load(src, which, options, fmt="onnx"):
    """The LSTM or GRU of an ONNX model, and its LoadInfo."""
    lstms = read(src)
    chosen = _choose(lstms, which, src.label)
    specs = {_check(n) for n in chosen}
    params, keys, notes = {}, {}, []
    for k, n in enumerate(chosen):
        _params(n, k, params, keys)
        notes += n.notes
    first = chosen[0]
    if first.op == "GRU":
        return _gru(src, lstms, chosen, params, keys, notes, options, fmt)
    coupled = bool(first.attrs.get("input_forget", 0))
    if coupled:
        notes.append("input_forget=1: loaded as the 'coupled' variant with f = 1 - ONNX's i "
                     "(f-gate weights = minus ONNX's i-gate weights)")
    notes += _layout_notes(chosen)
    options = {"batch_first": first.attrs.get("layout", 0) == 1, "gate_activation": specs.pop(),
               "variant": "coupled" if coupled else "standard", "go_backwards": _reverse(first), **options}
    if "P" in first.tensors:
        options.setdefault("peephole", True)
        options.setdefault("peephole_output", "current")
    model = build(params, keys, input_size=first.I, hidden_size=first.H, num_layers=len(chosen),
                  bidirectional=first.D == 2, bias="bias_ih_l0" in params, **options)
    extras = {"initial_state": {n.name: n.initial for n in chosen if n.initial}}
    return model, LoadInfo(fmt, src.label, candidates_of(lstms), tuple(c.name for c in chosen), notes, extras)


def _a(op):
    return f"{'a' if op == 'GRU' else 'an'} {op}"


def _layout_notes(chosen):
    """What a load notes about the direction and stacking of the chosen nodes."""
    notes = []
    if _reverse(chosen[0]):
        notes.append("direction='reverse': loaded with go_backwards=True (Y stays in input time order, as in ONNX)")
    if len(chosen) > 1:
        notes.append(f"nodes {[c.name for c in chosen]} stacked as num_layers={len(chosen)}")
    return notes


def _gru(src, nodes, chosen, params, keys, notes, options, fmt):
    """The GRU of chosen GRU nodes (their parameters read into params), and its LoadInfo."""
    first = chosen[0]
    reset = "after" if first.attrs.get("linear_before_reset", 0) else "before"
    notes.append(f"GRU: ONNX's blocks z, r, h read as r, z, n; linear_before_reset="
                 f"{int(reset == 'after')} is reset={reset!r}; z keeps h_(t-1) in both: h_t = (1 - z) n + z h_(t-1)")
    notes += _layout_notes(chosen)
    options = {"batch_first": first.attrs.get("layout", 0) == 1, "reset": reset, "go_backwards": _reverse(first),
               **options}
    model = build_gru(params, keys, input_size=first.I, hidden_size=first.H, num_layers=len(chosen),
                      bidirectional=first.D == 2, bias="bias_ih_l0" in params, **options)
    extras = {"initial_state": {n.name: n.initial for n in chosen if n.initial}}
    return model, LoadInfo(fmt, src.label, candidates_of(nodes), tuple(c.name for c in chosen), notes, extras)


def candidates(src):
    return candidates_of(read(src))
