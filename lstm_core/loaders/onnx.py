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
LSTM nodes fed one by another through layout-only ops (Transpose, Reshape, ...: what
torch.onnx.export puts between layers) stack into one model with num_layers > 1.
"""
from dataclasses import dataclass, field

import numpy as np
import torch

from .common import Candidate, LoadError, LoadInfo, as_tensor, build, describe, expect_shape, pick

LAYOUT_OPS = {"Transpose", "Reshape", "Squeeze", "Unsqueeze", "Identity", "Dropout", "Flatten", "Cast"}
_NEEDS_ALPHA = {"hardsigmoid", "affine", "leakyrelu", "thresholdedrelu", "scaledtanh", "elu"}
_NEEDS_BETA = {"hardsigmoid", "affine", "scaledtanh"}


@dataclass
class OnnxLSTM:
    """One LSTM node with its weights as tensors and the names they came from."""

    name: str
    attrs: dict
    tensors: dict  # "W", "R", "B", "P" -> tensor (absent if the input is)
    keys: dict  # the same keys -> the initializer name
    inputs: list  # the node's input names
    previous: str | None = None  # the LSTM node feeding X through layout-only ops
    notes: list = field(default_factory=list)
    initial: dict = field(default_factory=dict)  # constant, non-zero "initial_h" / "initial_c" (D, B, H)
    problem: str | None = None  # why its weights cannot be read, raised only if it is chosen

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

    try:
        return onnx.load(str(src.path)) if src.path is not None else onnx.load_model_from_string(src.data())
    except (DecodeError, OSError, ValueError) as e:
        raise LoadError(f"{src.label}: not an ONNX model onnx can read: {e}") from None


def _attrs(node):
    from onnx import helper

    out = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        if isinstance(v, bytes):
            v = v.decode()
        elif isinstance(v, list) and v and isinstance(v[0], bytes):
            v = [x.decode() for x in v]
        out[a.name] = v
    return out


def read(src):
    """Every LSTM node of the main graph as an OnnxLSTM, in graph order."""
    from onnx import numpy_helper

    graph = _model(src).graph
    consts, producer = {}, {}
    try:
        for t in graph.initializer:
            consts[t.name] = numpy_helper.to_array(t)
        for n in graph.node:
            for o in n.output:
                producer[o] = n
            if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value":
                consts[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
    except (ValueError, OSError) as e:  # external data that is not next to the model
        raise LoadError(f"{src.label}: cannot read the weights: {e}") from None
    lstms, by_output = [], {}
    for k, n in enumerate(n for n in graph.node if n.op_type == "LSTM"):
        name = n.name or n.output[0] or f"LSTM_{k}"
        inputs = list(n.input) + [""] * (8 - len(n.input))
        node = OnnxLSTM(name, _attrs(n), {}, {}, inputs)
        for slot, key in zip("_WRB___P", inputs):  # X, W, R, B, sequence_lens, initial_h, initial_c, P
            if slot == "_" or not key:
                continue
            if key not in consts:
                node.problem = node.problem or (
                    f"LSTM node {name!r}: input {slot} ({key!r}) is computed in the graph, not a constant "
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
    while x in producer:
        if x in by_output:
            return by_output[x]
        n = producer[x]
        if n.op_type not in LAYOUT_OPS:
            return None
        x = n.input[0]
    return by_output.get(x)


def _is_zero(x, consts, producer):
    """True if x is a constant or an Expand / ConstantOfShape of zeros (torch.onnx.export's initial states)."""
    if x in consts:
        return not np.any(consts[x])
    n = producer.get(x)
    if n is not None and n.op_type == "Expand":
        return n.input[0] in consts and not np.any(consts[n.input[0]])
    if n is not None and n.op_type == "ConstantOfShape":
        from onnx import numpy_helper
        return not n.attribute or not np.any(numpy_helper.to_array(n.attribute[0].t))
    return False


def _note_inputs(node, consts, producer):
    seq, h0, c0 = node.inputs[4:7]
    if seq:
        node.notes.append(f"LSTM node {node.name!r} takes sequence_lens: pass lengths= to trace padded batches")
    for key, what in ((h0, "initial_h"), (c0, "initial_c")):
        if key and not _is_zero(key, consts, producer):
            if key in consts:
                node.initial[what] = torch.as_tensor(consts[key].copy())
                node.notes.append(f"LSTM node {node.name!r}: {what} is a constant, kept in load_info.extras; "
                                  f"pass state=(initial_h, initial_c) to reproduce it")
            else:
                node.notes.append(f"LSTM node {node.name!r}: {what} comes from the graph; the loaded model "
                                  f"starts from zeros unless you pass state=")


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
    acts = a.get("activations") or ["Sigmoid", "Tanh", "Tanh"] * D
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
    if "clip" in a:
        raise LoadError(f"LSTM node {node.name!r}: clip={a['clip']} is not supported: ONNX clips the gate "
                        f"pre-activations to [-clip, clip], lstm_core.LSTM does not")
    direction = a.get("direction", "forward")
    if direction not in ("forward", "reverse", "bidirectional"):
        raise LoadError(f"LSTM node {node.name!r}: unknown direction {direction!r}")
    for slot in "WR":
        if slot not in node.tensors:
            raise LoadError(f"LSTM node {node.name!r}: input {slot} is missing")
    D = 2 if direction == "bidirectional" else 1
    W, R = node.tensors["W"], node.tensors["R"]
    if R.dim() != 3 or R.shape[0] != D or R.shape[1] != 4 * R.shape[2]:
        raise LoadError(f"{node.keys['R']}: expected R of shape ({D}, 4H, H) (num_directions={D}), "
                        f"found {tuple(R.shape)}")
    H = R.shape[2]
    if "hidden_size" in a and a["hidden_size"] != H:
        raise LoadError(f"{node.keys['R']}: expected shape ({D}, {4 * a['hidden_size']}, {a['hidden_size']}) "
                        f"for hidden_size={a['hidden_size']}, found {tuple(R.shape)}")
    if W.dim() != 3:
        raise LoadError(f"{node.keys['W']}: expected W of shape ({D}, {4 * H}, input_size), found {tuple(W.shape)}")
    expect_shape(W, (D, 4 * H, W.shape[2]), node.keys["W"], "(num_directions, 4H, input_size)")
    if "B" in node.tensors:
        expect_shape(node.tensors["B"], (D, 8 * H), node.keys["B"], "(num_directions, 8H)")
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
    t = node.tensors
    for d in range(node.D):
        s = f"_l{k}{'_reverse' if d else ''}"
        params["weight_ih" + s], keys["weight_ih" + s] = _ours(t["W"][d], coupled), node.keys["W"]
        params["weight_hh" + s], keys["weight_hh" + s] = _ours(t["R"][d], coupled), node.keys["R"]
        if "B" in t:
            wb, rb = t["B"][d].chunk(2)  # (4H,) each
            params["bias_ih" + s], params["bias_hh" + s] = _ours(wb, coupled), _ours(rb, coupled)
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
            out.append(Candidate(n.name, "LSTM(weights not readable)"))
            continue
        extra = ", ".join(x for x in ("reverse" if _reverse(n) else "", "peephole" if "P" in n.tensors else "",
                                      "input_forget" if n.attrs.get("input_forget") else "") if x)
        out.append(Candidate(n.name, describe(n.I, n.H, 1, n.D == 2, extra)))
    return out


def _choose(lstms, which, label):
    names = [n.name for n in lstms]
    if not lstms:
        raise LoadError(f"{label}: no LSTM node in the graph")
    if which is None:
        if len(lstms) == 1 or _chain_problem(lstms) is None:
            return lstms
        listing = "; ".join(f"{c.name!r} {c.summary}" for c in candidates_of(lstms))
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
        if b.previous != a.name:
            return f"{b.name!r} is not fed by {a.name!r} (only layout ops may sit between them)"
        if (b.H, b.D) != (a.H, a.D) or b.I != a.D * a.H:
            return f"{a.name!r} and {b.name!r} differ in size or direction"
        if _reverse(a) != _reverse(b):
            return f"one of {a.name!r} and {b.name!r} runs forward, the other in reverse"
        for what in ("input_forget", "activations", "activation_alpha", "activation_beta"):
            if a.attrs.get(what) != b.attrs.get(what):
                return f"{a.name!r} and {b.name!r} differ in {what}"
        if ("P" in a.tensors) != ("P" in b.tensors):
            return f"only one of {a.name!r} and {b.name!r} has peepholes"
    return None


def load(src, which, options, fmt="onnx"):
    """The LSTM of an ONNX model, and its LoadInfo."""
    lstms = read(src)
    chosen = _choose(lstms, which, src.label)
    specs = {_check(n) for n in chosen}
    params, keys, notes = {}, {}, []
    for k, n in enumerate(chosen):
        _params(n, k, params, keys)
        notes += n.notes
    first = chosen[0]
    coupled = bool(first.attrs.get("input_forget", 0))
    if coupled:
        notes.append("input_forget=1: loaded as the 'coupled' variant with f = 1 - ONNX's i "
                     "(f-gate weights = minus ONNX's i-gate weights)")
    if _reverse(first):
        notes.append("direction='reverse': loaded with go_backwards=True (Y stays in input time order, as in ONNX)")
    if len(chosen) > 1:
        notes.append(f"nodes {[c.name for c in chosen]} stacked as num_layers={len(chosen)}")
    options = {"batch_first": first.attrs.get("layout", 0) == 1, "gate_activation": specs.pop(),
               "variant": "coupled" if coupled else "standard", "go_backwards": _reverse(first), **options}
    if "P" in first.tensors:
        options.setdefault("peephole", True)
        options.setdefault("peephole_output", "current")
    model = build(params, keys, input_size=first.I, hidden_size=first.H, num_layers=len(chosen),
                  bidirectional=first.D == 2, bias="bias_ih_l0" in params, **options)
    extras = {"initial_state": {n.name: n.initial for n in chosen if n.initial}}
    return model, LoadInfo(fmt, src.label, candidates_of(lstms), tuple(c.name for c in chosen), notes, extras)


def candidates(src):
    return candidates_of(read(src))
