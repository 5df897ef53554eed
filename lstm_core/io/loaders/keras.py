"""Keras LSTM layers from .keras, .weights.h5 and legacy .h5 files, read with h5py (no TensorFlow).

A Keras LSTM layer computes, with its one bias b and gate order i, f, c, o
(c is our g) along the 4H columns of

    kernel (I, 4H), recurrent_kernel (H, 4H), bias (4H,):
    [z_i | z_f | z_c | z_o] = x_t kernel + h_{t-1} recurrent_kernel + b

so weight_ih = kernel^T, weight_hh = recurrent_kernel^T, bias_ih = b, bias_hh = 0.
The gates use `recurrent_activation` and g and tanh(c) use `activation`, read from
the model config: "hard_sigmoid" is clip(0.2 z + 0.5, 0, 1) in Keras 2 (and tf.keras)
but relu6(z + 3) / 6 = clip(z / 6 + 0.5, 0, 1) in Keras 3, told apart by the file's
keras_version. `activation` must be tanh.

Where the weights are, by file:
    .keras (zip: config.json, metadata.json, model.weights.h5) and .weights.h5 (Keras 3):
        <path>/cell/vars/0, 1, 2 = kernel, recurrent_kernel, bias; <path>/vars has attribute
        name = the layer's name; Bidirectional: <path>/forward_layer/..., <path>/backward_layer/...
    legacy .h5 (Keras 2, tf.keras, Keras 3 model.save("x.h5")): [model_weights/]<layer>
        with attribute weight_names such as "lstm/lstm_cell/kernel:0" or
        "bidirectional_1/forward_lstm_1/kernel:0": matched on the kernel / recurrent_kernel /
        bias suffix, direction on a "forward" or "backward" path component; model_config
        and keras_version are attributes of the file.
Consecutive LSTM layers of the same size (Dropout between them is the identity at
inference) stack into one model with num_layers > 1.

A Keras GRU layer (an `lstm_core.GRU`) keeps its blocks in the order z, r, h (h is our n)
along the 3H columns of kernel (I, 3H) and recurrent_kernel (H, 3H), z the fraction of
h_{t-1} kept as in torch. reset_after=True (Keras 3's and tf.keras's default, cuDNN's
form) has bias (2, 3H) = (input bias, recurrent bias): our reset="after" with
bias_ih = bias[0], bias_hh = bias[1]. reset_after=False (Keras 2's default, Cho et al.
2014) has one bias (3H,) outside the reset: our reset="before" with bias_hh = 0.
Keras 2's CuDNNGRU keeps both biases in one (6H,). The gates must use the sigmoid and
the candidate tanh: lstm_core.GRU computes no other. In a file without a config, the
3H columns tell a GRU from an LSTM (Keras has no LSTM with a gate less) and the bias
shape tells reset_after.
"""
import io
import json
import re
import zipfile
from dataclasses import dataclass

import torch

from .common import (ZIP_FAILURES, Budget, Candidate, LoadError, LoadInfo, as_tensor, build, build_gru, describe,
                     listing_of, pick, zrh_as_rzn)

TRANSPARENT = {"Dropout", "SpatialDropout1D", "GaussianNoise", "GaussianDropout", "AlphaDropout",
               "ActivityRegularization"}  # the identity at inference
LSTM_CLASSES = {"LSTM", "CuDNNLSTM"}
GRU_CLASSES = {"GRU", "CuDNNGRU"}


@dataclass
class KerasLayer:
    """One LSTM or GRU layer (or Bidirectional one) found in a file."""

    name: str
    directions: list  # per direction: {"kernel"|"recurrent_kernel"|"bias": (tensor, key)}
    config: dict | None = None  # the LSTM's config (a Bidirectional's inner layer), if the file has one
    class_name: str = "LSTM"
    backward_config: dict | None = None
    wrapper: dict | None = None  # the Bidirectional's config
    previous: str | None = None  # the layer feeding it, Dropout-like layers skipped

    @property
    def cell(self):
        """"gru" or "lstm"."""
        return "gru" if self.class_name in GRU_CLASSES else "lstm"

    @property
    def sizes(self):
        k = self.directions[0]["kernel"][0]
        return k.shape[0], self.directions[0]["recurrent_kernel"][0].shape[0]  # I, H


@dataclass
class KerasFile:
    layers: list
    version: str | None  # keras_version the file was written with
    has_config: bool


def _text(v):
    return v.decode("utf8") if isinstance(v, bytes) else str(v)


def _attr_list(group, name):
    """A list attribute that Keras may have split into name0, name1, ... (HDF5 header limit)."""
    if name in group.attrs:
        return [_text(n) for n in group.attrs[name]]
    out, k = [], 0
    while f"{name}{k}" in group.attrs:
        out += [_text(n) for n in group.attrs[f"{name}{k}"]]
        k += 1
    return out


# --- the model config: every layer's class and config, and what feeds it -------------------------

def _inbound(layer):
    """Names of the layers feeding a functional-model layer (Keras 2 lists, Keras 3 keras_history)."""
    names = []

    def walk(x):
        if isinstance(x, dict):
            history = x.get("keras_history")
            if isinstance(history, list) and history and isinstance(history[0], str):
                names.append(history[0])
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            if len(x) >= 3 and isinstance(x[0], str) and isinstance(x[1], int):
                names.append(x[0])
            else:
                for v in x:
                    walk(v)
    walk(layer.get("inbound_nodes", []))
    return names


class _BadConfig(Exception):
    """Inside the config walk: the model config is not the shape Keras writes (say where)."""


def _walk_config(cfg, out, previous=None, depth=0, limits=None):
    """Fill out[name] = (class_name, config, previous layer name) for every layer, nested models too."""
    if depth > limits.max_depth:
        raise _BadConfig(f"models nested more than {limits.max_depth} deep (max_depth)")
    inner = cfg.get("config", cfg) if isinstance(cfg, dict) else cfg
    if not isinstance(inner, (dict, list)):
        raise _BadConfig(f"a model's config is a {type(inner).__name__}, expected an object")
    layers = inner if isinstance(inner, list) else inner.get("layers", [])  # Keras 2.0 Sequential: a list
    if not isinstance(layers, list):
        raise _BadConfig(f"'layers' is a {type(layers).__name__}, expected a list")
    sequential = isinstance(inner, list) or (isinstance(cfg, dict) and cfg.get("class_name") == "Sequential")
    for layer in layers:
        if not isinstance(layer, dict):
            raise _BadConfig(f"a layer is a {type(layer).__name__}, expected an object with class_name and config")
        c = layer.get("config", {})
        if not isinstance(c, dict):
            raise _BadConfig(f"a layer's config is a {type(c).__name__}, expected an object")
        name = layer.get("name") or c.get("name")
        if not isinstance(name, str) or not isinstance(layer.get("class_name"), (str, type(None))):
            raise _BadConfig(f"a layer has name {str(name)[:40]!r} and class_name "
                             f"{str(layer.get('class_name'))[:40]!r}, expected strings")
        if sequential:
            prev = previous
        else:
            feeding = _inbound(layer)
            prev = feeding[0] if feeding else None
        if "layers" in c:  # a nested model
            previous = _walk_config(layer, out, prev, depth + 1, limits)
            continue
        out[name] = (layer.get("class_name"), c, prev)
        if layer.get("class_name") != "InputLayer":
            previous = name
    return previous


def _layer_configs(config, label, limits):
    out = {}
    if config:
        try:
            _walk_config(config, out, limits=limits)
        except _BadConfig as e:
            raise LoadError(f"{label}: the model config is not one Keras writes: {e}") from None
    for name, (cls, c, prev) in out.items():  # skip what is the identity at inference
        while prev in out and out[prev][0] in TRANSPARENT:
            prev = out[prev][2]
        out[name] = (cls, c, prev)
    return out


# --- reading the files ---------------------------------------------------------------------------

def _dataset(obj, key, budget):
    """The weights of an h5 dataset as a tensor, its declared shape and dtype checked before reading
    (a chunked dataset that was never written, or a compressed one, is small on disk at any shape)."""
    import h5py

    if not isinstance(obj, h5py.Dataset):
        raise LoadError(f"{key}: expected a dataset of weights, found a {type(obj).__name__}")
    if obj.shape is None or obj.dtype.kind != "f" or obj.dtype.itemsize not in (2, 4, 8):
        raise LoadError(f"{key}: expected floating-point weights with a shape, found dtype {obj.dtype}, "
                        f"shape {obj.shape}")
    budget.take(obj.shape, obj.dtype.itemsize, key)
    return as_tensor(obj[()], key)


def _read_vars(group, key, budget):
    """kernel, recurrent_kernel, bias from a Keras 3 cell/vars group (datasets 0, 1, 2)."""
    names = ("kernel", "recurrent_kernel", "bias")
    ds = sorted(group, key=lambda s: int(s) if s.isdecimal() and len(s) < 10 else 99)  # not '²': int() fails
    if len(ds) < 2:
        raise LoadError(f"{key}: expected datasets 0, 1 (and 2) = kernel, recurrent_kernel (and bias), "
                        f"found {ds}")
    return {n: (_dataset(group[d], f"{key}/{d}", budget), f"{key}/{d} ({n})") for n, d in zip(names, ds)}


def _group_name(group, path):
    """A Keras 3 layer's own name: the attribute on its vars group (the path uses class names)."""
    if "vars" in group and "name" in group["vars"].attrs:
        return _text(group["vars"].attrs["name"])
    return path.rsplit("/", 1)[-1]


def _natural(name):
    """Sort key of lstm, lstm_2, lstm_10 in numeric order. \\d and isdecimal agree ('²' is neither:
    isdigit() would pass it to int(), which fails); 19 digits or more sort as text."""
    return [(0, int(p), "") if p.isdecimal() and len(p) < 19 else (1, 0, p) for p in re.split(r"(\d+)", name)]


def _scan_v3(group, path, found, budget, seen, depth=0):
    """Find LSTM-like groups in a Keras 3 weights file: append (name, [directions]) to found.
    seen counts the groups visited, against max_keys (an h5 file may link a group into itself)."""
    lim = budget.limits
    seen.append(path)
    lim.check("max_keys", len(seen), f"{budget.label}: groups in the weights file", LoadError)
    lim.check("max_depth", depth, f"{budget.label}: nesting depth of groups at {path}", LoadError)
    if "forward_layer" in group and "backward_layer" in group:
        found.append((_group_name(group, path), [_read_vars(group[f"{d}/cell/vars"], f"{path}/{d}/cell/vars", budget)
                                                 for d in ("forward_layer", "backward_layer")]))
    elif "cell" in group and "vars" in group["cell"]:
        found.append((_group_name(group, path), [_read_vars(group["cell/vars"], f"{path}/cell/vars", budget)]))
    else:  # lstm, lstm_1, ..., lstm_10: Keras numbers layers of a class in the order it made them
        for k, v in sorted(group.items(), key=lambda kv: _natural(kv[0])):
            if hasattr(v, "items"):
                _scan_v3(v, f"{path}/{k}" if path else k, found, budget, seen, depth + 1)


def _legacy_owner(parts):
    """The layer a legacy weight belongs to: its path without the leaf, the cell and the direction,
    e.g. bidirectional/forward_lstm/lstm_cell_1/kernel:0 -> bidirectional."""
    rest = [p for p in parts[:-1] if not re.fullmatch(r"(\w+_)?cell(_\d+)?", p)
            and not p.startswith(("forward", "backward"))]
    return rest[-1] if rest else ""


def _scan_legacy(f, found, budget):
    """Find LSTM weights in a legacy .h5 file by their weight_names suffixes. A layer group holds
    one layer's weights, or a nested model's: those are told apart by their path."""
    root = f["model_weights"] if "model_weights" in f else f
    prefix = "model_weights/" if "model_weights" in f else ""
    layer_names = _attr_list(root, "layer_names")
    budget.limits.check("max_keys", len(layer_names), f"{budget.label}: layer_names", LoadError)
    for lname in layer_names:
        if lname not in root:
            raise LoadError(f"{budget.label}: layer_names lists {lname!r}, which the file does not hold")
        g = root[lname]
        owners = {}  # owner -> direction -> {"kernel" | "recurrent_kernel" | "bias": (tensor, key)}
        weight_names = _attr_list(g, "weight_names")
        budget.limits.check("max_keys", len(weight_names), f"{budget.label}: weight_names of {lname}", LoadError)
        for wn in weight_names:
            parts = wn.split("/")
            leaf = parts[-1].split(":")[0]
            if leaf not in ("kernel", "recurrent_kernel", "bias"):
                continue
            d = 1 if any(p.startswith("backward") for p in parts[:-1]) else 0
            key = f"{prefix}{lname}/{wn}"
            if wn not in g:
                raise LoadError(f"{budget.label}: {key}: listed in weight_names but not in the file")
            owners.setdefault(_legacy_owner(parts), {}).setdefault(d, {})[leaf] = (_dataset(g[wn], key, budget), key)
        for owner, dirs in owners.items():
            if all("kernel" in v and "recurrent_kernel" in v for v in dirs.values()):
                found.append((lname if len(owners) == 1 else owner, [dirs[d] for d in sorted(dirs)]))


def _json(raw, what, label):
    """A JSON document of a Keras file (config.json, metadata.json, the model_config attribute)."""
    try:
        return json.loads(raw)
    except RecursionError:
        raise LoadError(f"{label}: {what} is nested too deeply to be a Keras config") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise LoadError(f"{label}: {what} is not JSON: {e}") from None


def _member(z, name, label, limits):
    """A zip member's bytes, its declared size checked against max_unzipped_bytes before unzipping."""
    size = z.getinfo(name).file_size
    limits.check("max_unzipped_bytes", size, f"{label}: {name} unzips to bytes", LoadError)
    return z.read(name)


def read(src):
    """A KerasFile from a .keras zip, a Keras 3 .weights.h5 or a legacy .h5 file."""
    import h5py

    data, lim = src.data(), src.limits
    budget, seen = Budget(src.label, lim), []
    config, version, found = None, None, []
    try:
        if data[:2] == b"PK":
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                infos = z.infolist()
                lim.check("max_keys", len(infos), f"{src.label}: members of the zip", LoadError)
                lim.check("max_unzipped_bytes", sum(i.file_size for i in infos),
                          f"{src.label}: bytes of the zip's members once unzipped", LoadError)
                names = z.namelist()
                if "model.weights.h5" not in names:
                    raise LoadError(f"{src.label}: a zip without model.weights.h5, not a .keras file "
                                    f"(it holds {', '.join(names[:6])})")
                if "config.json" in names:
                    config = _json(_member(z, "config.json", src.label, lim), "config.json", src.label)
                if "metadata.json" in names:
                    meta = _json(_member(z, "metadata.json", src.label, lim), "metadata.json", src.label)
                    version = meta.get("keras_version") if isinstance(meta, dict) else None
                weights = _member(z, "model.weights.h5", src.label, lim)
            with h5py.File(io.BytesIO(weights), "r") as f:
                _scan_v3(f, "", found, budget, seen)
        else:
            with h5py.File(io.BytesIO(data), "r") as f:
                if "model_config" in f.attrs:
                    config = _json(_text(f.attrs["model_config"]), "the model_config attribute", src.label)
                if "keras_version" in f.attrs:
                    version = _text(f.attrs["keras_version"])
                elif "model_weights" in f and "keras_version" in f["model_weights"].attrs:
                    version = _text(f["model_weights"].attrs["keras_version"])
                if "layer_names" in f.attrs or "model_weights" in f or "layer_names0" in f.attrs:
                    _scan_legacy(f, found, budget)
                else:
                    _scan_v3(f, "", found, budget, seen)
    # what zipfile and h5py raise for damaged files (h5py: OSError, KeyError, ValueError, TypeError, and
    # OverflowError for a mutated size field, found by benchmarks/hostile_inputs.py)
    except ZIP_FAILURES + (KeyError, TypeError, RuntimeError, UnicodeDecodeError, OverflowError) as e:
        if isinstance(e, LoadError):
            raise
        raise LoadError(f"{src.label}: not a Keras file h5py can read ({type(e).__name__}: "
                        f"{str(e).splitlines()[0][:300] if str(e) else 'damaged'})") from None
    if config is not None and not isinstance(config, (dict, list)):
        raise LoadError(f"{src.label}: the model config is a JSON {type(config).__name__}, expected an object")
    if not isinstance(version, (str, type(None))):
        version = str(version)
    configs = _layer_configs(config, src.label, lim)
    order = list(configs)
    found.sort(key=lambda f: order.index(f[0]) if f[0] in order else len(order))  # model order
    layers = []
    for name, dirs in found:
        cls, c, prev = configs.get(name, (None, None, None))
        if cls is not None and cls not in LSTM_CLASSES | GRU_CLASSES | {"Bidirectional"}:
            continue  # a SimpleRNN has the same three weights
        layer = KerasLayer(name, dirs, previous=prev)
        if cls == "Bidirectional":
            inner, back = c.get("layer"), c.get("backward_layer") or {}
            if not (isinstance(inner, dict) and isinstance(inner.get("config"), dict) and isinstance(back, dict)
                    and isinstance(back.get("config") or {}, dict)):
                raise LoadError(f"{src.label}: Bidirectional layer {name!r} has no layer= config (the wrapped LSTM) "
                                f"in the model config; is the file damaged?")
            layer.wrapper = c
            layer.class_name = inner.get("class_name")
            layer.config = inner["config"]
            layer.backward_config = back.get("config")
            if layer.class_name not in LSTM_CLASSES | GRU_CLASSES:
                continue
        elif cls is not None:
            layer.class_name, layer.config = cls, c
        elif _fits(dirs, 3):  # no config: 3H columns are a GRU's
            layer.class_name = "GRU"
        elif not _fits(dirs, 4):
            continue
        layers.append(layer)
    return KerasFile(layers, version, config is not None)


def _fits(dirs, G):
    """True if the first direction's kernel and recurrent kernel hold G gate blocks (4: LSTM, 3: GRU)."""
    if "kernel" not in dirs[0] or "recurrent_kernel" not in dirs[0]:
        return False
    k, r = dirs[0]["kernel"][0], dirs[0]["recurrent_kernel"][0]
    return k.dim() == 2 and r.dim() == 2 and r.shape[1] == G * r.shape[0] == k.shape[1]


# --- from layers to our parameters ---------------------------------------------------------------

def _version_major(version):
    m = re.match(r"(\d+)", version or "")
    return int(m[1]) if m else None


def _activations(layer, kf, notes, given=False):
    """Our gate_activation for a layer, or a LoadError for activations we cannot compute.
    given: the caller passes gate_activation= itself (only `activation` is then checked)."""
    if layer.class_name == "CuDNNLSTM":
        return "sigmoid"  # cuDNN's LSTM has fixed activations
    if layer.config is None:
        notes.append(f"layer {layer.name!r}: the file has no model config; assumed Keras's defaults "
                     f"activation='tanh', recurrent_activation='sigmoid' (pass gate_activation= otherwise)")
        return "sigmoid"
    result = None
    for c in (layer.config, layer.backward_config):
        if c is None:
            continue
        act, rec = c.get("activation", "tanh"), c.get("recurrent_activation", "sigmoid")
        if act != "tanh":
            raise LoadError(f"layer {layer.name!r}: activation={act!r} is not supported: lstm_core.LSTM "
                            f"computes g and h with tanh")
        if rec == "sigmoid":
            spec = "sigmoid"
        elif rec == "hard_sigmoid":
            major = _version_major(kf.version)
            if major is None and given:
                spec = "given"
            elif major is None:
                raise LoadError(f"layer {layer.name!r}: recurrent_activation='hard_sigmoid' differs between "
                                f"Keras 2 (0.2 z + 0.5) and Keras 3 (z / 6 + 0.5) and the file does not say which "
                                f"wrote it: pass gate_activation=('hard_sigmoid', alpha, 0.5)")
            else:
                spec = ("hard_sigmoid", 0.2 if major < 3 else 1 / 6, 0.5)
                notes.append(f"layer {layer.name!r}: recurrent_activation='hard_sigmoid' of Keras {kf.version} is "
                             f"clip({'0.2' if major < 3 else '1/6'} z + 0.5, 0, 1)")
        else:
            raise LoadError(f"layer {layer.name!r}: recurrent_activation={rec!r} is not supported: expected "
                            f"'sigmoid' or 'hard_sigmoid'")
        if result is not None and spec != result:
            raise LoadError(f"layer {layer.name!r}: the forward and backward layers use different activations")
        result = spec
    return result


def _gru_activations(layer, notes):
    """LoadError unless a GRU layer computes r, z with the sigmoid and n with tanh (all lstm_core.GRU does)."""
    if layer.class_name == "CuDNNGRU":
        return  # cuDNN's GRU has fixed activations
    if layer.config is None:
        notes.append(f"layer {layer.name!r}: the file has no model config; assumed Keras's defaults "
                     f"activation='tanh', recurrent_activation='sigmoid'")
        return
    for c in (layer.config, layer.backward_config):
        if c is None:
            continue
        act, rec = c.get("activation", "tanh"), c.get("recurrent_activation", "sigmoid")
        if act != "tanh":
            raise LoadError(f"layer {layer.name!r}: activation={act!r} is not supported: lstm_core.GRU computes "
                            f"the candidate n with tanh")
        if rec != "sigmoid":
            raise LoadError(f"layer {layer.name!r}: recurrent_activation={rec!r} is not supported: lstm_core.GRU "
                            f"computes the gates r and z with the sigmoid")


def _bias_reset(H, tensors):
    """The reset a GRU direction's bias shape says: "after" for (2, 3H) or CuDNNGRU's (6H,), "before"
    for (3H,), None without a bias; LoadError for another shape."""
    if "bias" not in tensors:
        return None
    b, key = tensors["bias"]
    if tuple(b.shape) in ((2, 3 * H), (6 * H,)):
        return "after"
    if tuple(b.shape) == (3 * H,):
        return "before"
    raise LoadError(f"{key}: expected a GRU bias of shape (2, {3 * H}) (reset_after=True) or ({3 * H},) "
                    f"(reset_after=False), found {tuple(b.shape)}")


def _reset(layer, given=None):
    """Our reset for a GRU layer: "after" (reset_after=True) or "before", from its config and its bias
    shapes, which must agree; `given` (the caller's reset=) where the file tells neither."""
    told = {}
    if layer.class_name == "CuDNNGRU":
        told["CuDNNGRU"] = "after"
    for c in (layer.config, layer.backward_config):
        if c is not None and "reset_after" in c:
            told[f"reset_after={c['reset_after']}"] = "after" if c["reset_after"] else "before"
    H = layer.sizes[1]
    for tensors in layer.directions:
        r = _bias_reset(H, tensors)
        if r is not None:
            told[f"bias of shape {tuple(tensors['bias'][0].shape)}"] = r
    if given is not None:
        told[f"reset={given!r}"] = given
    if len(set(told.values())) > 1:
        raise LoadError(f"layer {layer.name!r}: the reset's place is told two ways: "
                        f"{', '.join(f'{k} ({v})' for k, v in told.items())}")
    if not told:
        raise LoadError(f"layer {layer.name!r}: a GRU without a bias or a model config does not say where its "
                        f"reset gate acts: pass reset='after' (Keras reset_after=True, Keras 3's default) or "
                        f"reset='before' (reset_after=False)")
    return next(iter(told.values()))


def _backwards(layer):
    """A lone layer with go_backwards=True (inside Bidirectional it is the backward half)."""
    return bool(layer.config and layer.config.get("go_backwards")) and layer.wrapper is None


def _kernels(tensors, I, H, G):
    """(W_ih (G*H, I), its key, W_hh (G*H, H), its key) of one direction, from Keras's kernel (I, G*H)
    and recurrent kernel (H, G*H), shapes checked; G gate blocks: 4 for an LSTM, 3 for a GRU."""
    kernel, kkey = tensors["kernel"]
    rec, rkey = tensors["recurrent_kernel"]
    if tuple(rec.shape) != (H, G * H):
        raise LoadError(f"{rkey}: expected shape ({H}, {G * H}) (H, {G}H), found {tuple(rec.shape)}")
    if tuple(kernel.shape) != (I, G * H):
        raise LoadError(f"{kkey}: expected shape ({I}, {G * H}) (input size, {G}H), found {tuple(kernel.shape)}")
    return kernel.T, kkey, rec.T, rkey


def _params(layer, k, I, H, params, keys):
    """Fill params/keys with layer k's weights in our names, checking every shape."""
    for d, tensors in enumerate(layer.directions):
        s = f"_l{k}{'_reverse' if d else ''}"
        w_ih, kkey, w_hh, rkey = _kernels(tensors, I, H, 4)
        params["weight_ih" + s], keys["weight_ih" + s] = w_ih, kkey
        params["weight_hh" + s], keys["weight_hh" + s] = w_hh, rkey
        if "bias" in tensors:
            b, bkey = tensors["bias"]
            if tuple(b.shape) == (8 * H,):  # CuDNNLSTM keeps both cuDNN biases
                params["bias_ih" + s], params["bias_hh" + s] = b[:4 * H], b[4 * H:]
            elif tuple(b.shape) == (4 * H,):
                params["bias_ih" + s], params["bias_hh" + s] = b, torch.zeros_like(b)
            else:
                raise LoadError(f"{bkey}: expected shape ({4 * H},) (4H), found {tuple(b.shape)}")
            keys["bias_ih" + s] = keys["bias_hh" + s] = bkey


def _gru_params(layer, k, I, H, params, keys):
    """Fill params/keys with GRU layer k's weights in nn.GRU's names and r, z, n order (module doc)."""
    for d, tensors in enumerate(layer.directions):
        s = f"_l{k}{'_reverse' if d else ''}"
        w_ih, kkey, w_hh, rkey = _kernels(tensors, I, H, 3)
        params["weight_ih" + s], keys["weight_ih" + s] = zrh_as_rzn(w_ih), kkey
        params["weight_hh" + s], keys["weight_hh" + s] = zrh_as_rzn(w_hh), rkey
        if "bias" in tensors:
            b, bkey = tensors["bias"]
            if _bias_reset(H, tensors) == "after":  # (2, 3H) or (6H,): input bias, then recurrent bias
                b_ih, b_hh = b.reshape(2, 3 * H)
            else:  # one bias, outside the reset: all of it is the input's
                b_ih, b_hh = b, torch.zeros_like(b)
            params["bias_ih" + s], params["bias_hh" + s] = zrh_as_rzn(b_ih), zrh_as_rzn(b_hh)
            keys["bias_ih" + s] = keys["bias_hh" + s] = bkey


def _choose(kf, which, label):
    """The layers to load: a name, an index, a list of names (stacked) or None (the only one or the chain)."""
    names = [layer.name for layer in kf.layers]
    if not names:
        raise LoadError(f"{label}: no LSTM or GRU layer found (looked for kernel / recurrent_kernel weights of "
                        f"shapes (I, 4H), (H, 4H), or (I, 3H), (H, 3H))")
    if which is None:  # without a config, whether layers feed each other is a guess: ask
        problem = _chain_problem(kf, kf.layers) if kf.has_config else ""
        if len(names) == 1 or problem is None:
            return kf.layers
        listing = listing_of(candidates_of(kf))
        why = (f"that do not stack ({problem})" if problem else
               "and the file has no model config to tell whether they stack")
        raise LoadError(f"{label}: holds {len(names)} LSTM layers {why}: {listing}; "
                        f"choose with layer= (a name, or a list of consecutive names; command line: --layer)")
    chosen = pick(kf.layers, names, which, label, "layer")
    problem = _chain_problem(kf, chosen)
    if problem:
        raise LoadError(f"{label}: layers {[c.name for c in chosen]} cannot be stacked: {problem}")
    return chosen


def _chain_problem(kf, layers):
    """Why these layers cannot be one stacked model, or None if they can."""
    for a, b in zip(layers, layers[1:]):
        (_, Ha), (Ib, Hb) = a.sizes, b.sizes
        if kf.has_config and b.previous != a.name:
            return f"{b.name!r} is not fed by {a.name!r}" + (f" but by {b.previous!r}" if b.previous else "")
        if a.cell != b.cell:
            return f"{a.name!r} is {'a GRU' if a.cell == 'gru' else 'an LSTM'}, {b.name!r} is not"
        if Hb != Ha or len(b.directions) != len(a.directions):
            return f"{a.name!r} and {b.name!r} differ in size or direction"
        if Ib != len(a.directions) * Ha:
            return f"{b.name!r} takes {Ib} features, {a.name!r} gives {len(a.directions) * Ha}"
        if _backwards(a) or _backwards(b):
            return (f"{(a if _backwards(a) else b).name!r} has go_backwards=True: Keras hands the next layer its "
                    f"sequence reversed; load such a layer alone (layer=)")
        if a.config is not None and a.config.get("return_sequences") is False:
            return f"{a.name!r} returns only its last step (return_sequences=False)"
    return None


def candidates_of(kf):
    out = []
    for layer in kf.layers:
        I, H = layer.sizes
        extra = "" if layer.class_name in ("LSTM", "GRU") else layer.class_name
        if layer.cell == "gru" and (layer.config or {}).get("reset_after") is False:
            extra = "reset_after=False"
        out.append(Candidate(layer.name, describe(I, H, 1, len(layer.directions) == 2, extra,
                                                  "GRU" if layer.cell == "gru" else "LSTM")))
    return out


def load(src, which, options, fmt):
    """The LSTM or GRU of a Keras file, and its LoadInfo."""
    kf = read(src)
    chosen = _choose(kf, which, src.label)
    notes = []
    gru = chosen[0].cell == "gru"
    if gru:
        for layer in chosen:
            _gru_activations(layer, notes)
        resets = {_reset(layer, options.get("reset")) for layer in chosen}
        if len(resets) > 1:
            raise LoadError(f"{src.label}: layers {[c.name for c in chosen]} differ in reset_after; "
                            f"load them one at a time")
        cell_options = {"reset": resets.pop()}
    else:
        specs = {_freeze(_activations(layer, kf, notes, "gate_activation" in options)) for layer in chosen}
        if len(specs) > 1 and "gate_activation" not in options:
            raise LoadError(f"{src.label}: layers {[c.name for c in chosen]} use different gate activations; "
                            f"load them one at a time")
        cell_options = {"gate_activation": specs.pop()}
    I, H = chosen[0].sizes
    params, keys = {}, {}
    for k, layer in enumerate(chosen):
        (_gru_params if gru else _params)(layer, k, I if k == 0 else len(chosen[0].directions) * H, H, params, keys)
    for layer in chosen:
        if layer.wrapper and layer.wrapper.get("merge_mode", "concat") != "concat":
            notes.append(f"layer {layer.name!r}: merge_mode={layer.wrapper['merge_mode']!r}; the gates and states "
                         f"are Keras's, but our output concatenates the two directions")
    if len(chosen) > 1:
        notes.append(f"layers {[c.name for c in chosen]} stacked as num_layers={len(chosen)}")
    backwards = _backwards(chosen[0])
    if backwards:
        notes.append(f"layer {chosen[0].name!r}: go_backwards=True, loaded with go_backwards=True; Keras returns its "
                     f"sequence reversed (Keras output[:, t] = our output[:, T-1-t]), ours keeps the input's time "
                     f"order; {'h_n agrees' if gru else 'h_n and c_n agree'}")
    if gru:
        notes.append(f"GRU: Keras's blocks z, r, h read as r, z, n; reset_after="
                     f"{cell_options['reset'] == 'after'} is reset={cell_options['reset']!r}; z keeps h_(t-1) "
                     f"in both: h_t = (1 - z) n + z h_(t-1)")
    c0 = chosen[0].config or {}
    options = {"batch_first": not c0.get("time_major", False), **cell_options, "go_backwards": backwards, **options}
    model = (build_gru if gru else build)(params, keys, input_size=I, hidden_size=H, num_layers=len(chosen),
                                          bidirectional=len(chosen[0].directions) == 2, bias="bias_ih_l0" in params,
                                          **options)
    extras = {"keras_version": kf.version}
    return model, LoadInfo(fmt, src.label, candidates_of(kf), tuple(c.name for c in chosen), notes, extras)


def _freeze(spec):
    return tuple(spec) if isinstance(spec, list) else spec


def candidates(src):
    return candidates_of(read(src))
