"""PyTorch weights: .pt/.pth state dicts and checkpoints, safetensors files, nn.Module objects.

Files are read with torch.load(weights_only=True) and nothing else: a file that needs
arbitrary unpickling (a whole pickled nn.Module, a custom class) is refused before
any of its code can run. Even weights_only unpickling has had holes, fixed in
torch 2.6.0 (CVE-2025-32434, remote code execution) and 2.10.0 (CVE-2026-24747,
memory corruption): older torch versions are refused and pointed at safetensors,
whose format holds no code at all.

Checkpoints nest state dicts ({"model": state_dict, "optimizer": ..., "epoch": 3});
they are flattened to dotted keys ("model.encoder.rnn.weight_ih_l0") and every
LSTM found by its keys (`lstm_core.find_lstms`) is a candidate, named by its prefix.

nn.GRU's keys are nn.LSTM's (weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, _reverse);
the rows of weight_hh tell them apart: 4H rows an LSTM, 3H rows a GRU or an LSTM
variant with a gate less (coupled, no_input_gate, ...). Nothing in a state dict says
which of those, so such a file is asked about (`three_blocks_question`): variant="gru"
loads an `lstm_core.GRU` (reset="after", nn.GRU's, unless reset="before" is passed), a
variant name an LSTM. An nn.Module holding an nn.GRU or nn.GRUCell says it itself.
"""
import io
import json
import pickle
import re
import struct
import warnings
import zipfile

import torch
from torch import nn

from ... import limits as _limits
from ..convert import _KEY, find_lstms, from_state_dict, from_torch
from ...gru import GRU
from ...model import LSTM
from ...cells.variants import REGISTRY
from .common import (ZIP_FAILURES, Budget, Candidate, LoadError, LoadInfo, build_gru, check_weight, describe,
                     listing_of)

MIN_TORCH = (2, 10)  # weights_only unpickling without known holes (module doc)
_WHOLE_MODULE = ("batch_first", "dropout", "bidirectional", "proj_size", "num_layers", "bias")
GRU_CHOICE = "gru"  # the variant= that reads 3 gate blocks as a GRU (module doc)
_LSTM_ONLY = ("weight_hr", "weight_peephole", "weight_gg")  # keys no GRU has


def torch_version(version=None):
    """(major, minor) of the installed torch, or of `version` (a string such as "2.13.0+cpu")."""
    m = re.match(r"(\d+)\.(\d+)", version or torch.__version__)
    return int(m[1]), int(m[2])


def require_safe_torch(label, version=None):
    """LoadError unless this torch's weights_only unpickler has the fixes of MIN_TORCH."""
    if torch_version(version) < MIN_TORCH:
        raise LoadError(f"{label}: refused: torch {version or torch.__version__} has known holes in "
                        f"torch.load(weights_only=True) (CVE-2025-32434, CVE-2026-24747); upgrade to torch >= "
                        f"{'.'.join(map(str, MIN_TORCH))}, or convert the file to safetensors on a machine you trust")


def flatten(obj, prefix="", limits=None, label="state_dict"):
    """Nested dicts and lists of tensors as one flat {dotted key: tensor}; other leaves are dropped.

    Walked without recursion and within `Limits` max_depth, max_items (containers and
    leaves visited: a 2 KB pickle can share one list 10^9 times) and max_keys (tensors).
    """
    lim = _limits.current(limits)
    flat, visited = {}, 0
    stack = [(obj, prefix, 0)]
    while stack:
        o, p, depth = stack.pop()
        if isinstance(o, torch.Tensor):
            flat[p[:-1]] = o
            if len(flat) > lim.max_keys:
                lim.check("max_keys", len(flat), f"{label}: tensors in the file", LoadError)
            continue
        if not isinstance(o, (dict, list, tuple)):  # a file holding a bare number, say
            continue
        items = list(o.items()) if isinstance(o, dict) else list(enumerate(o))
        visited += len(items)  # counted before anything below them is looked at
        if visited > lim.max_items:
            lim.check("max_items", visited, f"{label}: containers and values in the file", LoadError)
        if depth >= lim.max_depth:
            lim.check("max_depth", depth + 1, f"{label}: nesting depth of dicts and lists", LoadError)
        for k, v in reversed(items):
            if isinstance(v, (torch.Tensor, dict, list, tuple)):  # other leaves are dropped
                stack.append((v, f"{p}{k}.", depth + 1))
    return flat


def _check_archive(src, lim):
    """LoadError for a torch zip archive whose members declare more than the limits allow, read or not."""
    try:
        with zipfile.ZipFile(io.BytesIO(src.data())) as z:
            infos = z.infolist()
    except ZIP_FAILURES as e:
        raise LoadError(f"{src.label}: a damaged zip archive, not a PyTorch file torch.load can read: {e}") from None
    lim.check("max_keys", len(infos), f"{src.label}: members of the archive", LoadError)
    lim.check("max_unzipped_bytes", sum(i.file_size for i in infos),
              f"{src.label}: bytes of the archive's members once unzipped", LoadError)


# What torch.load raises for a file that is damaged or not a PyTorch file at all (found by
# fuzzing it with mutated checkpoints): the library's failures, translated into a LoadError.
_TORCH_LOAD_FAILURES = (NotImplementedError, RuntimeError, EOFError, ValueError, OSError, KeyError, IndexError, AssertionError,
                        UnicodeDecodeError, struct.error, TypeError, AttributeError, OverflowError, MemoryError)


def read_torch(src, limits=None):
    """The flat state dict of a .pt/.pth file, read with weights_only=True only, within `Limits`."""
    require_safe_torch(src.label)
    lim = _limits.current(limits)
    if src.data()[:2] == b"PK":
        _check_archive(src, lim)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's notice about TorchScript archives: we say it below
            obj = torch.load(io.BytesIO(src.data()), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        found = re.search(r"GLOBAL ([\w.]+)", str(e))
        if found is None:  # not a class or function: a broken or foreign file
            detail = re.search(r"WeightsUnpickler error: (.*)", str(e))
            detail = detail[1].strip() if detail else ""
            raise LoadError(f"{src.label}: not a PyTorch file torch.load(weights_only=True) can read"
                            f"{' (' + detail + ')' if detail else ''}; is it a file saved with torch.save?") from None
        raise LoadError(
            f"{src.label}: refused: this file needs arbitrary unpickling (it holds {found[1]}), which could run "
            f"code from the file, so it was not loaded. Files are read with torch.load(weights_only=True) only. "
            f"Save the weights alone where the model was trained: torch.save(model.state_dict(), 'weights.pt'), "
            f"or safetensors.torch.save_file(model.state_dict(), 'weights.safetensors')") from None
    except RuntimeError as e:
        if "TorchScript" in str(e):
            raise LoadError(f"{src.label}: refused: a TorchScript archive (torch.jit.save) holds code; save "
                            f"its weights instead: torch.save(scripted.state_dict(), 'weights.pt')") from None
        raise LoadError(f"{src.label}: not a PyTorch file torch.load can read: {_first_line(e)}") from None
    except _TORCH_LOAD_FAILURES as e:
        raise LoadError(f"{src.label}: not a PyTorch file torch.load can read ({type(e).__name__}: "
                        f"{_first_line(e) or 'the file ends early'}); is it a file saved with torch.save?") from None
    flat = flatten(obj, limits=lim, label=src.label)
    if not flat:
        raise LoadError(f"{src.label}: holds {type(obj).__name__} with no tensors, not a state dict")
    return flat


def _first_line(e):
    lines = str(e).strip().splitlines()
    return lines[0][:300] if lines else ""


# safetensors dtype -> bytes per element; torch has all of these (others, e.g. F4, are refused)
_SAFETENSORS_DTYPES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "F8_E5M2": 1, "I64": 8, "I32": 4,
                       "I16": 2, "I8": 1, "U8": 1, "BOOL": 1, "U16": 2, "U32": 4, "U64": 8}


def safetensors_header(src, limits=None):
    """The JSON header of a safetensors file, every entry checked against the format and `Limits`
    before any tensor is read: a dict of {key: {dtype, shape, data_offsets}} and __metadata__."""
    lim = _limits.current(limits)
    data = src.data()
    bad = f"{src.label}: not a safetensors file"
    if len(data) < 8:
        raise LoadError(f"{bad}: {len(data)} bytes, shorter than the 8-byte header length")
    n = struct.unpack("<Q", data[:8])[0]
    if n > len(data) - 8:
        raise LoadError(f"{bad}: the header declares {n:,} bytes, the file has {len(data) - 8:,} after the length")
    try:
        header = json.loads(data[8:8 + n])
    except RecursionError:
        raise LoadError(f"{bad}: its JSON header is nested too deeply") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise LoadError(f"{bad}: its header is not JSON: {e}") from None
    if not isinstance(header, dict):
        raise LoadError(f"{bad}: its header is a JSON {type(header).__name__}, expected an object "
                        f"{{name: {{dtype, shape, data_offsets}}}}")
    lim.check("max_keys", len(header), f"{src.label}: entries in the header", LoadError)
    budget = Budget(src.label, lim)
    for key, entry in header.items():
        if key == "__metadata__":
            if entry is not None and not (isinstance(entry, dict) and all(isinstance(v, str) for v in entry.values())):
                raise LoadError(f"{bad}: __metadata__ must map names to strings")
            continue
        if not isinstance(entry, dict) or not {"dtype", "shape", "data_offsets"} <= set(entry):
            raise LoadError(f"{bad}: entry {key!r} must be an object with dtype, shape and data_offsets")
        dtype, shape = entry["dtype"], entry["shape"]
        if dtype not in _SAFETENSORS_DTYPES:
            raise LoadError(f"{src.label}: {key}: dtype {dtype!r} is not one torch reads here; expected one of "
                            f"{', '.join(_SAFETENSORS_DTYPES)}")
        if not (isinstance(shape, list) and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                                for d in shape)) or len(shape) > lim.max_depth:
            raise LoadError(f"{bad}: entry {key!r} has shape {str(shape)[:80]}, expected a list of sizes >= 0")
        budget.take(shape, _SAFETENSORS_DTYPES[dtype], key)
    return header


def read_safetensors(src, limits=None):
    """The tensors and the header's __metadata__ of a safetensors file, within `Limits`."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    header = safetensors_header(src, limits)
    try:
        loaded = load(src.data())
    except SafetensorError as e:
        raise LoadError(f"{src.label}: not a safetensors file: {e}") from None
    # load() returns its tensors in an order that changes from process to process (a Rust
    # HashMap), and with it the order of the candidates shown to the user: keep the header's
    tensors = {k: loaded[k] for k in header if k != "__metadata__"}
    return tensors, header.get("__metadata__") or {}


def _by_prefix(flat):
    """{prefix: {parameter name: tensor}} for every LSTM parameter key, in one pass over the keys."""
    groups = {}
    for k, v in flat.items():
        m = _KEY.match(k)
        if m:
            groups.setdefault(m["prefix"], {})[k[len(m["prefix"]):]] = v
    return groups


def three_block_choices():
    """(variant=, summary) for each thing 3 gate blocks per layer may be: a GRU, then every LSTM
    variant with a gate less. What a state dict with 3H rows in weight_hh is asked about."""
    return ((GRU_CHOICE, "GRU: reset gate r, update gate z, candidate n (torch.nn.GRU)"),) + tuple(
        (name, f"LSTM {name}: {v.summary}") for name, v in REGISTRY.items() if len(v.gates) == 3)


def cell_of(keys):
    """"either" for the weights of one prefix (parameter name -> tensor) that fit a GRU and an LSTM
    with a gate less (3H rows in weight_hh, no key only an LSTM has), else "lstm"."""
    if any(k.startswith(_LSTM_ONLY) for k in keys):
        return "lstm"
    w_hh = keys.get("weight_hh_l0", keys.get("weight_hh"))
    if w_hh is not None and w_hh.dim() == 2 and w_hh.shape[1] and w_hh.shape[0] == 3 * w_hh.shape[1]:
        return "either"
    return "lstm"


def summarize(flat, prefix, keys=None):
    """The Candidate for the LSTM (or GRU) weights under `prefix` of a flat state dict
    (keys: its parameters without the prefix, if already grouped)."""
    if keys is None:
        keys = _by_prefix(flat).get(prefix, {})
    w_ih = keys.get("weight_ih_l0", keys.get("weight_ih"))
    w_hh = keys.get("weight_hh_l0", keys.get("weight_hh"))
    layers = {int(m[1]) for k in keys if (m := re.fullmatch(r"weight_ih_l(\d+)(_reverse)?", k))}
    w_hr = keys.get("weight_hr_l0")
    H = w_hr.shape[1] if w_hr is not None and w_hr.dim() == 2 else (
        w_hh.shape[1] if w_hh is not None and w_hh.dim() == 2 else "?")
    I = w_ih.shape[1] if w_ih is not None and w_ih.dim() == 2 else "?"
    either = cell_of(keys) == "either"
    extra = "peephole" if "weight_peephole_l0" in keys else "3 gate blocks" if either else ""
    return Candidate(prefix, describe(I, H, max(layers, default=0) + 1, "weight_ih_l0_reverse" in keys, extra,
                                      "GRU or LSTM" if either else "LSTM"))


def flat_candidates(flat):
    """A Candidate per LSTM (or GRU) found in a flat state dict."""
    groups = _by_prefix(flat)  # linear in the keys however many LSTMs there are (issue 11)
    return [summarize(flat, p, groups[p]) for p in find_lstms(flat)]


def lstm_submodules(module):
    """(name, submodule) for every recurrent layer we load inside module: nn.LSTM, nn.LSTMCell,
    lstm_core.LSTM, nn.GRU, nn.GRUCell and lstm_core.GRU."""
    return [(n, m) for n, m in module.named_modules() if isinstance(m, _MODULES)]


_MODULES = (LSTM, nn.LSTM, nn.LSTMCell, GRU, nn.GRU, nn.GRUCell)


def _check_gate_count(flat, prefix, variant):
    """LoadError for a weight_hh whose rows are no whole number of 3 or 4 gate blocks."""
    key = next((prefix + k for k in ("weight_hh_l0", "weight_hh") if prefix + k in flat), None)
    if key is None:
        raise LoadError(f"{prefix}weight_hh_l0: missing (found {prefix}weight_ih_l0 without it)")
    w_hh, w_hr = flat[key], flat.get(prefix + "weight_hr_l0")
    if w_hh.dim() != 2:
        raise LoadError(f"{key}: expected a matrix (G*H, P), found shape {tuple(w_hh.shape)}")
    if w_hr is not None and w_hr.dim() != 2:
        raise LoadError(f"{prefix}weight_hr_l0: expected a matrix (P, H), found shape {tuple(w_hr.shape)}")
    H = w_hr.shape[1] if w_hr is not None else w_hh.shape[1]
    if variant is None and (w_hh.shape[0] % H or w_hh.shape[0] // H not in (3, 4)):
        raise LoadError(f"{key}: expected (G*H, P) with G = 4 gate blocks (3 for a variant with a gate less) "
                        f"and H = {H}, found shape {tuple(w_hh.shape)}, which fits no LSTM variant")


def from_flat(flat, prefix, options, fmt, label, extras=None):
    """The LSTM under `prefix` (None: the only one) of a flat state dict, and its LoadInfo."""
    found = find_lstms(flat)
    cands = flat_candidates(flat)
    if not found:
        raise LoadError(f"{label}: no LSTM weights found: no key ends in weight_ih_l0 or weight_ih "
                        f"(keys: {', '.join(list(flat)[:8])}{' ...' if len(flat) > 8 else ''})")
    if prefix is None:
        if len(found) > 1:
            listing = listing_of(cands)
            raise LoadError(f"{label}: holds {len(found)} LSTMs: {listing}; choose one with prefix= "
                            f"(command line: --prefix)")
        prefix = found[0]
    elif prefix not in found and prefix + "." in found:
        prefix += "."
    if prefix not in found:
        raise LoadError(f"{label}: no LSTM weights under prefix {prefix!r}; found {found[:12]}"
                        f"{f' and {len(found) - 12} more' if len(found) > 12 else ''}")
    keys = {}  # the chosen prefix's parameters, without the prefix
    for k, v in flat.items():  # the chosen LSTM's weights: the rules of every loader (common.check_weight)
        m = _KEY.match(k)
        if m and m["prefix"] == prefix:
            keys[k[len(prefix):]] = check_weight(torch.as_tensor(v), f"{label}: {k}")
    variant = options.get("variant")
    if variant == GRU_CHOICE:
        return _gru_from_flat(keys, prefix, options, fmt, label, cands, extras)
    _check_gate_count(flat, prefix, variant)
    if variant is None and cell_of(keys) == "either":
        raise LoadError(_three_blocks(keys, prefix, label))
    try:
        model = from_state_dict(flat, prefix, **options)
    except (TypeError, ValueError) as e:
        raise LoadError(f"{label}, prefix {prefix!r}: {e}") from None
    model.eval()
    assumed = {} if "batch_first" in options else {"batch_first": False}  # nn.LSTM's default
    return model, LoadInfo(fmt, label, cands, (prefix,), [], extras or {}, assumed)


def _three_blocks(keys, prefix, label):
    """The question for weights that fit a GRU and an LSTM with a gate less: what to pass."""
    key = "weight_hh_l0" if "weight_hh_l0" in keys else "weight_hh"
    rows, H = keys[key].shape
    where = f"{label}, prefix {prefix!r}" if prefix else label
    lstms = ", ".join(repr(n) for n, _ in three_block_choices()[1:])
    return (f"{where}: {prefix}{key} has 3 gate blocks ({rows} rows for H = {H}): the weights of a GRU "
            f"(torch.nn.GRU) or of an LSTM with a gate less, and a state dict does not say which. Choose with "
            f"variant='gru' for a GRU, or an LSTM variant: {lstms} (command line: --variant gru)")


def _gru_from_flat(keys, prefix, options, fmt, label, cands, extras):
    """A GRU from one prefix's parameters (variant="gru"), and its LoadInfo."""
    lstm_only = sorted(k for k in keys if k.startswith(_LSTM_ONLY))
    if lstm_only:
        raise LoadError(f"{label}: variant='gru', but {prefix}{lstm_only[0]} is an LSTM's weight (a GRU has "
                        f"weight_ih, weight_hh, bias_ih, bias_hh only); choose an LSTM variant")
    params, names = {}, {}
    for k, t in keys.items():  # nn.GRUCell's bare weight_ih, ... are layer 0's
        m = _KEY.match(k)
        ours = f"{m['name']}{m['layer'] or '_l0'}{m['rev'] or ''}"
        params[ours], names[ours] = t, f"{label}: {prefix}{k}"
    if "weight_ih_l0" not in params:  # find_lstms also takes a file whose layers start past 0
        raise LoadError(f"{label}: {prefix}weight_ih_l0: missing (found {', '.join(prefix + k for k in keys)})")
    w_ih, w_hh = params["weight_ih_l0"], params.get("weight_hh_l0")
    if w_hh is None:
        raise LoadError(f"{label}: {prefix}weight_hh_l0: missing (found {prefix}weight_ih_l0 without it)")
    if w_hh.dim() != 2 or w_hh.shape[0] != 3 * w_hh.shape[1] or w_ih.dim() != 2:
        raise LoadError(f"{names['weight_hh_l0']}: variant='gru' needs weight_hh of shape (3H, H) and weight_ih "
                        f"(3H, I), found {tuple(w_hh.shape)} and {tuple(w_ih.shape)}")
    num_layers = 1 + max(int(re.search(r"_l(\d+)", k)[1]) for k in params)
    options = {"dtype": w_ih.dtype, **{k: v for k, v in options.items() if k != "variant"}}
    model = build_gru(params, names, input_size=w_ih.shape[1], hidden_size=w_hh.shape[1], num_layers=num_layers,
                      bidirectional="weight_ih_l0_reverse" in params, bias="bias_ih_l0" in params, **options)
    notes = [f"read as a GRU (variant='gru'): nn.GRU's rows r, z, n, reset {model.reset} the matmul"]
    assumed = {} if "batch_first" in options else {"batch_first": False}  # nn.GRU's default
    return model, LoadInfo(fmt, label, cands, (prefix,), notes, extras or {}, assumed)


def from_module(module, name, options):
    """The LSTM inside an nn.Module (nn.LSTM, nn.LSTMCell or lstm_core.LSTM submodule), and its LoadInfo."""
    label = type(module).__name__
    found = lstm_submodules(module)
    if not found:  # an LSTM of its own making, with nn.LSTM's parameter names
        return from_flat(dict(module.state_dict()), name, options, "module", label)
    cands = [Candidate(n, module_summary(m)) for n, m in found]
    if name is None:
        if len(found) > 1:
            listing = listing_of(cands)
            raise LoadError(f"{label}: holds {len(found)} LSTMs: {listing}; choose one with layer=")
        name = found[0][0]
    name = name[:-1] if name.endswith(".") else name
    chosen = dict(found).get(name)
    if chosen is None:
        raise LoadError(f"{label}: no LSTM submodule named {name!r}; found {[n for n, _ in found]}")
    if isinstance(chosen, (LSTM, GRU)):
        if options:
            raise LoadError(f"{label}: {name or 'the module'} is already an lstm_core.{type(chosen).__name__}; "
                            f"options {sorted(options)} apply only when building one")
        model = chosen
    else:
        gru = isinstance(chosen, (nn.GRU, nn.GRUCell))
        clash = sorted(set(options) & set(_WHOLE_MODULE + (("reset", "variant") if gru else ())))
        if clash:
            raise LoadError(f"{label}: {', '.join(clash)} come from the {type(chosen).__name__} itself; "
                            f"leave them out")
        model = (GRU.from_torch if gru else from_torch)(chosen, **options)
    return model, LoadInfo("module", label, cands, (name,), [], {})


def module_summary(m):
    gru = isinstance(m, (GRU, nn.GRU, nn.GRUCell))
    cell = "GRU" if gru else "LSTM"
    if isinstance(m, (nn.LSTMCell, nn.GRUCell)):
        return describe(m.input_size, m.hidden_size, extra=type(m).__name__, cell=cell)
    extra = "" if isinstance(m, (nn.LSTM, nn.GRU)) else (
        "reset before" if m.reset == "before" else "") if gru else m.variant
    return describe(m.input_size, m.hidden_size, m.num_layers, m.bidirectional, extra, cell)
