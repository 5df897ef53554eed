"""Load a trained LSTM or GRU from PyTorch, safetensors, Keras or ONNX: `load(path_or_object)`.

    model = load("tagger.pt")                        # state dict or checkpoint, weights_only=True
    model = load("tagger.pt", prefix="encoder.rnn.") # one of several LSTMs in the file
    model = load("gru.pt", variant="gru")            # 3 gate blocks: a GRU (or variant="coupled", ...)
    model = load("model.keras")                      # .keras, .weights.h5, legacy .h5; LSTM or GRU layers
    model = load("model.onnx", layer="/lstm/LSTM")   # an LSTM or GRU node (consecutive ones stack)
    model = load(my_module)                          # an nn.Module holding an nn.LSTM or nn.GRU
    model.load_info                                  # LoadInfo: format, candidates, notes

The result is an `lstm_core.LSTM` or `lstm_core.GRU` in eval mode whose forward matches
the framework's own (tests/test_load_*.py check each against it). Options the file
cannot tell (batch_first for a state dict, variant for 3 gate blocks, device, dtype) are
keyword arguments passed on to the model. Every refusal is a `LoadError` (a
ValueError) that says what was found and what to do.

LSTM or GRU: Keras layers, ONNX nodes and nn.Modules name their class. A state dict
does not: nn.GRU's keys are nn.LSTM's, and 3H rows in weight_hh fit a GRU as well as
an LSTM with a gate less. Such a file is never taken as either: the LoadError lists
`three_block_choices()` ("gru" first) and variant= picks one; variant="gru" builds a
GRU with nn.GRU's reset="after" unless reset="before" is passed too.

Modules: pytorch (.pt/.pth, safetensors, nn.Module), keras, onnx; common (shared).
"""
import io
import os
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from ... import limits as _limits
from ..paths import file_problem
from . import keras, onnx, pytorch
from .common import ZIP_FAILURES, Candidate, LoadError, LoadInfo
from .pytorch import GRU_CHOICE, three_block_choices

FORMATS = ("torch", "safetensors", "keras", "onnx")
_SUFFIXES = {".pt": "torch", ".pth": "torch", ".bin": "torch", ".ckpt": "torch", ".tar": "torch",
             ".safetensors": "safetensors", ".keras": "keras", ".h5": "keras", ".hdf5": "keras",
             ".onnx": "onnx"}
_HDF5 = b"\x89HDF\r\n\x1a\n"

__all__ = ["load", "find_candidates", "detect_format", "three_block_choices", "GRU_CHOICE", "LoadInfo", "Candidate",
           "LoadError", "FORMATS"]


@dataclass
class Source:
    """A model file: a path on disk, or bytes (an upload) with the name it came under."""

    label: str  # for messages: the path or the upload's name
    path: Path | None
    raw: bytes | None = None
    limits: _limits.Limits = None  # what the file may make us read and allocate; None: Limits.from_env()
    allow_external_data: bool = False  # ONNX: may tensors be read from files beside the model (path only)

    def __post_init__(self):
        self.limits = _limits.current(self.limits)

    def data(self):
        if self.raw is None:
            try:
                size = self.path.stat().st_size
                self.limits.check("max_file_bytes", size, f"{self.label}: bytes in the file", LoadError)
                self.raw = self.path.read_bytes()
            except OSError as e:
                raise LoadError(f"{self.label}: cannot read the file: {e.strerror}") from None
        return self.raw

    @property
    def suffix(self):
        return Path(self.label).suffix.lower()


def _source(obj, limits=None, allow_external_data=False):
    limits = _limits.current(limits)
    if not isinstance(allow_external_data, bool):
        raise LoadError(f"allow_external_data: expected True or False, got {allow_external_data!r}")
    if isinstance(obj, (str, os.PathLike)):
        path = Path(obj)
        problem = file_problem(path)
        if problem:
            raise LoadError(f"{obj}: {problem}")
        return Source(str(obj), path, None, limits, allow_external_data)
    if allow_external_data:
        raise LoadError("allow_external_data=True needs a path: bytes and uploads never read other files; "
                        "embed the weights in the model (onnx.save(model, path, save_as_external_data=False))")
    if isinstance(obj, (bytes, bytearray, memoryview)):
        limits.check("max_file_bytes", len(obj), "<bytes>: bytes given", LoadError)
        return Source("<bytes>", None, bytes(obj), limits)
    if hasattr(obj, "read"):  # a binary file object, e.g. Streamlit's UploadedFile
        name = str(getattr(obj, "name", "<upload>"))
        data = obj.read(limits.max_file_bytes + 1)
        if isinstance(data, str):
            raise LoadError(f"{name}: opened in text mode; open it with 'rb'")
        if not isinstance(data, (bytes, bytearray)):
            raise LoadError(f"{name}: read() returned {type(data).__name__}, expected bytes")
        limits.check("max_file_bytes", len(data), f"{name}: bytes in the file", LoadError)
        return Source(name, None, bytes(data), limits)
    raise LoadError(f"expected a path, bytes, a binary file object or an nn.Module, got {type(obj).__name__}")


def detect_format(src):
    """One of FORMATS for a Source: by the file's first bytes, then by its suffix."""
    head = src.data()[:16]
    if head.startswith(_HDF5):
        return "keras"
    if head.startswith(b"PK"):  # a zip: torch.save's archive or a .keras file
        import zipfile
        try:
            with zipfile.ZipFile(io.BytesIO(src.data())) as z:
                return "keras" if "model.weights.h5" in z.namelist() else "torch"
        except ZIP_FAILURES:
            pass  # a damaged zip: the suffix decides, and that reader says what is wrong
    if len(head) >= 9 and head[8:9] == b"{" and src.suffix != ".onnx":
        return "safetensors"  # 8-byte little-endian header length, then the JSON header
    if head[:1] == b"\x80" and src.suffix != ".onnx":
        return "torch"  # a bare pickle (torch.save's legacy format)
    if src.suffix in _SUFFIXES:
        return _SUFFIXES[src.suffix]
    raise LoadError(f"{src.label}: cannot tell the format from its contents or name; pass format= one of "
                    f"{', '.join(FORMATS)}")


def _read(obj, format, limits=None, allow_external_data=False):
    if format is not None and format not in FORMATS:
        raise LoadError(f"format: expected one of {', '.join(FORMATS)}, got {format!r}")
    src = _source(obj, limits, allow_external_data)
    fmt = format or detect_format(src)
    return src, fmt


def load(source, *, format=None, prefix=None, layer=None, limits=None, allow_external_data=False, **options):
    """An `lstm_core.LSTM` or `lstm_core.GRU` with the weights of a trained one; see the module doc.

    source: a path, bytes, a binary file object, or an nn.Module (or state dict) in Python.
    format: "torch", "safetensors", "keras" or "onnx"; None tells it from the contents.
    prefix: which LSTM of a state dict, e.g. "encoder.rnn." (the keys before weight_ih_l0).
    layer: which LSTM of a module ("encoder.rnn"), Keras model (layer name) or ONNX graph
        (node name); a list of consecutive Keras layers or ONNX nodes stacks them.
        With several LSTMs and neither given, the error lists them.
    limits: an `lstm_core.limits.Limits`: what the file may make us read and allocate,
        checked before reading; None: the defaults with their environment overrides.
    allow_external_data: ONNX only, for a path: read tensors stored in files beside the
        model (inside its own directory only). Never for bytes or uploads.
    options: passed on to `lstm_core.LSTM` (batch_first, variant, device, dtype, ...) or `lstm_core.GRU`
        (batch_first, reset, go_backwards, device, dtype). variant="gru" reads a state dict's
        3 gate blocks as a GRU; without it such a file is a LoadError naming the choices.
    Returns the model, with `model.load_info` a LoadInfo (candidates, choice, notes).
    """
    if prefix is not None and layer is not None:
        raise LoadError("prefix and layer both choose the LSTM: pass one of them")
    if prefix is not None and not isinstance(prefix, str):
        raise LoadError(f"prefix: expected a str such as 'encoder.rnn.', got {type(prefix).__name__}")
    _check_layer(layer)
    which = prefix if prefix is not None else layer
    if isinstance(source, nn.Module):
        model, info = pytorch.from_module(source, which, options)
    elif isinstance(source, dict):
        model, info = pytorch.from_flat(pytorch.flatten(source, limits=limits), which, options, "torch",
                                        "state_dict")
    else:
        src, fmt = _read(source, format, limits, allow_external_data)
        if fmt == "torch":
            model, info = pytorch.from_flat(pytorch.read_torch(src, src.limits), which, options, fmt, src.label)
        elif fmt == "safetensors":
            tensors, metadata = pytorch.read_safetensors(src, src.limits)
            model, info = pytorch.from_flat(tensors, which, options, fmt, src.label, {"metadata": metadata})
        elif fmt == "keras":
            model, info = keras.load(src, which, options, fmt)
        else:
            model, info = onnx.load(src, which, options, fmt)
    model.load_info = info
    return model


def _check_layer(layer):
    items = layer if isinstance(layer, (list, tuple)) else [layer]
    if isinstance(layer, (list, tuple)) and not layer:
        raise LoadError("layer: an empty list names no layer; pass a name, an index or a list of them")
    for w in items:
        if w is not None and not isinstance(w, str) and not (isinstance(w, int) and not isinstance(w, bool)):
            raise LoadError(f"layer: expected a name (str), an index (int) or a list of them, got {w!r}")


def find_candidates(source, *, format=None, limits=None, allow_external_data=False):
    """Every LSTM and GRU in a file or object, as Candidates (name, summary), without building any.

    A summary starts with the cell: "LSTM(6 -> 8, ...)", "GRU(6 -> 8, ...)", or for a state
    dict with 3 gate blocks "GRU or LSTM(6 -> 8, 3 gate blocks)" (variant= decides, see `load`)."""
    if isinstance(source, nn.Module):
        found = pytorch.lstm_submodules(source)
        if found:
            return [Candidate(n, pytorch.module_summary(m)) for n, m in found]
        source = dict(source.state_dict())
    if isinstance(source, dict):
        return pytorch.flat_candidates(pytorch.flatten(source, limits=limits))
    src, fmt = _read(source, format, limits, allow_external_data)
    if fmt == "torch":
        return pytorch.flat_candidates(pytorch.read_torch(src, src.limits))
    if fmt == "safetensors":
        return pytorch.flat_candidates(pytorch.read_safetensors(src, src.limits)[0])
    return (keras if fmt == "keras" else onnx).candidates(src)
