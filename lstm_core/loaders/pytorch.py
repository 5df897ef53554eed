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
"""
import io
import json
import pickle
import re
import struct
import warnings

import torch
from torch import nn

from ..convert import find_lstms, from_state_dict, from_torch
from ..model import LSTM
from .common import Candidate, LoadError, LoadInfo, describe

MIN_TORCH = (2, 10)  # weights_only unpickling without known holes (module doc)
_WHOLE_MODULE = ("batch_first", "dropout", "bidirectional", "proj_size", "num_layers", "bias")


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


def flatten(obj, prefix=""):
    """Nested dicts and lists of tensors as one flat {dotted key: tensor}; other leaves are dropped."""
    flat = {}
    if isinstance(obj, torch.Tensor):
        flat[prefix[:-1]] = obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            flat.update(flatten(v, f"{prefix}{k}."))
    elif isinstance(obj, (list, tuple)):
        for k, v in enumerate(obj):
            flat.update(flatten(v, f"{prefix}{k}."))
    return flat


def read_torch(src):
    """The flat state dict of a .pt/.pth file, read with weights_only=True only."""
    require_safe_torch(src.label)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's notice about TorchScript archives: we say it below
            obj = torch.load(io.BytesIO(src.data()), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        found = re.search(r"GLOBAL ([\w.]+)", str(e))
        if found is None:  # not a class or function: a broken or foreign file
            detail = re.search(r"WeightsUnpickler error: (.*)", str(e))
            raise LoadError(f"{src.label}: not a PyTorch file torch.load(weights_only=True) can read"
                            f"{': ' + detail[1] if detail else ''}") from None
        raise LoadError(
            f"{src.label}: refused: this file needs arbitrary unpickling (it holds {found[1]}), which could run "
            f"code from the file, so it was not loaded. Files are read with torch.load(weights_only=True) only. "
            f"Save the weights alone where the model was trained: torch.save(model.state_dict(), 'weights.pt'), "
            f"or safetensors.torch.save_file(model.state_dict(), 'weights.safetensors')") from None
    except RuntimeError as e:
        if "TorchScript" in str(e):
            raise LoadError(f"{src.label}: refused: a TorchScript archive (torch.jit.save) holds code; save "
                            f"its weights instead: torch.save(scripted.state_dict(), 'weights.pt')") from None
        raise LoadError(f"{src.label}: not a PyTorch file torch.load can read: {str(e).splitlines()[0]}") from None
    except (EOFError, ValueError, OSError) as e:
        raise LoadError(f"{src.label}: not a PyTorch file torch.load can read: {e}") from None
    flat = flatten(obj)
    if not flat:
        raise LoadError(f"{src.label}: holds {type(obj).__name__} with no tensors, not a state dict")
    return flat


def read_safetensors(src):
    """The tensors and the header's __metadata__ of a safetensors file."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    data = src.data()
    try:
        n = struct.unpack("<Q", data[:8])[0]
        header = json.loads(data[8:8 + n])
        metadata = header.get("__metadata__") or {}
        loaded = load(data)
        # load() returns its tensors in an order that changes from process to process (a Rust
        # HashMap), and with it the order of the candidates shown to the user: keep the header's
        tensors = {k: loaded[k] for k in header if k != "__metadata__"}
    except (struct.error, json.JSONDecodeError, UnicodeDecodeError, SafetensorError) as e:
        raise LoadError(f"{src.label}: not a safetensors file: {e}") from None
    return tensors, metadata


def summarize(flat, prefix):
    """The Candidate for the LSTM weights under `prefix` of a flat state dict."""
    keys = {k[len(prefix):]: v for k, v in flat.items() if k.startswith(prefix)}
    w_ih = keys.get("weight_ih_l0", keys.get("weight_ih"))
    w_hh = keys.get("weight_hh_l0", keys.get("weight_hh"))
    layers = {int(m[1]) for k in keys if (m := re.fullmatch(r"weight_ih_l(\d+)(_reverse)?", k))}
    w_hr = keys.get("weight_hr_l0")
    H = w_hr.shape[1] if w_hr is not None else (w_hh.shape[1] if w_hh is not None and w_hh.dim() == 2 else "?")
    I = w_ih.shape[1] if w_ih.dim() == 2 else "?"
    extra = "peephole" if "weight_peephole_l0" in keys else ""
    return Candidate(prefix, describe(I, H, max(layers, default=0) + 1, "weight_ih_l0_reverse" in keys, extra))


def flat_candidates(flat):
    """A Candidate per LSTM found in a flat state dict."""
    return [summarize(flat, p) for p in find_lstms(flat)]


def lstm_submodules(module):
    """(name, submodule) for every nn.LSTM, nn.LSTMCell and lstm_core.LSTM inside module."""
    return [(n, m) for n, m in module.named_modules() if isinstance(m, (LSTM, nn.LSTM, nn.LSTMCell))]


def _check_gate_count(flat, prefix, variant):
    """LoadError for a weight_hh whose rows are no whole number of 3 or 4 gate blocks."""
    key = next((prefix + k for k in ("weight_hh_l0", "weight_hh") if prefix + k in flat), None)
    if key is None:
        raise LoadError(f"{prefix}weight_hh_l0: missing (found {prefix}weight_ih_l0 without it)")
    w_hh, w_hr = flat[key], flat.get(prefix + "weight_hr_l0")
    if w_hh.dim() != 2:
        raise LoadError(f"{key}: expected a matrix (G*H, P), found shape {tuple(w_hh.shape)}")
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
            listing = "; ".join(f"{c.name!r} {c.summary}" for c in cands)
            raise LoadError(f"{label}: holds {len(found)} LSTMs: {listing}; choose one with prefix= "
                            f"(command line: --prefix)")
        prefix = found[0]
    elif prefix not in found and prefix + "." in found:
        prefix += "."
    if prefix not in found:
        raise LoadError(f"{label}: no LSTM weights under prefix {prefix!r}; found {found}")
    _check_gate_count(flat, prefix, options.get("variant"))
    try:
        model = from_state_dict(flat, prefix, **options)
    except (TypeError, ValueError) as e:
        raise LoadError(f"{label}, prefix {prefix!r}: {e}") from None
    model.eval()
    assumed = {} if "batch_first" in options else {"batch_first": False}  # nn.LSTM's default
    return model, LoadInfo(fmt, label, cands, (prefix,), [], extras or {}, assumed)


def from_module(module, name, options):
    """The LSTM inside an nn.Module (nn.LSTM, nn.LSTMCell or lstm_core.LSTM submodule), and its LoadInfo."""
    label = type(module).__name__
    found = lstm_submodules(module)
    if not found:  # an LSTM of its own making, with nn.LSTM's parameter names
        return from_flat(dict(module.state_dict()), name, options, "module", label)
    cands = [Candidate(n, module_summary(m)) for n, m in found]
    if name is None:
        if len(found) > 1:
            listing = "; ".join(f"{c.name!r} {c.summary}" for c in cands)
            raise LoadError(f"{label}: holds {len(found)} LSTMs: {listing}; choose one with layer=")
        name = found[0][0]
    name = name[:-1] if name.endswith(".") else name
    chosen = dict(found).get(name)
    if chosen is None:
        raise LoadError(f"{label}: no LSTM submodule named {name!r}; found {[n for n, _ in found]}")
    if isinstance(chosen, LSTM):
        if options:
            raise LoadError(f"{label}: {name or 'the module'} is already an lstm_core.LSTM; "
                            f"options {sorted(options)} apply only when building one")
        model = chosen
    else:
        clash = sorted(set(options) & set(_WHOLE_MODULE))
        if clash:
            raise LoadError(f"{label}: {', '.join(clash)} come from the {type(chosen).__name__} itself; "
                            f"leave them out")
        model = from_torch(chosen, **options)
    return model, LoadInfo("module", label, cands, (name,), [], {})


def module_summary(m):
    if isinstance(m, nn.LSTMCell):
        return describe(m.input_size, m.hidden_size, extra="LSTMCell")
    return describe(m.input_size, m.hidden_size, m.num_layers, m.bidirectional,
                    "" if isinstance(m, nn.LSTM) else m.variant)
