"""Load a trained LSTM from PyTorch, safetensors, Keras or ONNX: `load(path_or_object)`.

    model = load("tagger.pt")                        # state dict or checkpoint, weights_only=True
    model = load("tagger.pt", prefix="encoder.rnn.") # one of several LSTMs in the file
    model = load("model.keras")                      # .keras, .weights.h5, legacy .h5
    model = load("model.onnx", layer="/lstm/LSTM")   # an LSTM node (consecutive ones stack)
    model = load(my_module)                          # an nn.Module holding an nn.LSTM
    model.load_info                                  # LoadInfo: format, candidates, notes

The result is an `lstm_core.LSTM` in eval mode whose forward matches the framework's
own (tests/test_load_*.py check each against it). Options the file cannot tell
(batch_first for a state dict, variant for 3 gate blocks, device, dtype) are keyword
arguments passed on to `lstm_core.LSTM`. Every refusal is a `LoadError` (a
ValueError) that says what was found and what to do.

Modules: pytorch (.pt/.pth, safetensors, nn.Module), keras, onnx; common (shared).
"""
import io
import os
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from . import keras, onnx, pytorch
from .common import Candidate, LoadError, LoadInfo

FORMATS = ("torch", "safetensors", "keras", "onnx")
_SUFFIXES = {".pt": "torch", ".pth": "torch", ".bin": "torch", ".ckpt": "torch", ".tar": "torch",
             ".safetensors": "safetensors", ".keras": "keras", ".h5": "keras", ".hdf5": "keras",
             ".onnx": "onnx"}
_HDF5 = b"\x89HDF\r\n\x1a\n"

__all__ = ["load", "find_candidates", "detect_format", "LoadInfo", "Candidate", "LoadError", "FORMATS"]


@dataclass
class Source:
    """A model file: a path on disk, or bytes (an upload) with the name it came under."""

    label: str  # for messages: the path or the upload's name
    path: Path | None
    raw: bytes | None = None

    def data(self):
        if self.raw is None:
            try:
                self.raw = self.path.read_bytes()
            except OSError as e:
                raise LoadError(f"{self.label}: cannot read the file: {e.strerror}") from None
        return self.raw

    @property
    def suffix(self):
        return Path(self.label).suffix.lower()


def _source(obj):
    if isinstance(obj, (str, os.PathLike)):
        path = Path(obj)
        if not path.is_file():
            raise LoadError(f"{obj}: no such file")
        return Source(str(obj), path)
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return Source("<bytes>", None, bytes(obj))
    if hasattr(obj, "read"):  # a binary file object, e.g. Streamlit's UploadedFile
        data = obj.read()
        if isinstance(data, str):
            raise LoadError(f"{getattr(obj, 'name', 'file')}: opened in text mode; open it with 'rb'")
        return Source(str(getattr(obj, "name", "<upload>")), None, data)
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
        except zipfile.BadZipFile:
            pass
    if len(head) >= 9 and head[8:9] == b"{" and src.suffix != ".onnx":
        return "safetensors"  # 8-byte little-endian header length, then the JSON header
    if head[:1] == b"\x80" and src.suffix != ".onnx":
        return "torch"  # a bare pickle (torch.save's legacy format)
    if src.suffix in _SUFFIXES:
        return _SUFFIXES[src.suffix]
    raise LoadError(f"{src.label}: cannot tell the format from its contents or name; pass format= one of "
                    f"{', '.join(FORMATS)}")


def _read(obj, format):
    src = _source(obj)
    fmt = format or detect_format(src)
    if fmt not in FORMATS:
        raise LoadError(f"format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    return src, fmt


def load(source, *, format=None, prefix=None, layer=None, **options):
    """An `lstm_core.LSTM` with the weights of a trained LSTM; see the module doc.

    source: a path, bytes, a binary file object, or an nn.Module (or state dict) in Python.
    format: "torch", "safetensors", "keras" or "onnx"; None tells it from the contents.
    prefix: which LSTM of a state dict, e.g. "encoder.rnn." (the keys before weight_ih_l0).
    layer: which LSTM of a module ("encoder.rnn"), Keras model (layer name) or ONNX graph
        (node name); a list of consecutive Keras layers or ONNX nodes stacks them.
        With several LSTMs and neither given, the error lists them.
    options: passed on to `lstm_core.LSTM` (batch_first, variant, device, dtype, ...).
    Returns the model, with `model.load_info` a LoadInfo (candidates, choice, notes).
    """
    if prefix is not None and layer is not None:
        raise LoadError("prefix and layer both choose the LSTM: pass one of them")
    which = prefix if prefix is not None else layer
    if isinstance(source, nn.Module):
        model, info = pytorch.from_module(source, which, options)
    elif isinstance(source, dict):
        model, info = pytorch.from_flat(pytorch.flatten(source), which, options, "torch", "state_dict")
    else:
        src, fmt = _read(source, format)
        if fmt == "torch":
            model, info = pytorch.from_flat(pytorch.read_torch(src), which, options, fmt, src.label)
        elif fmt == "safetensors":
            tensors, metadata = pytorch.read_safetensors(src)
            model, info = pytorch.from_flat(tensors, which, options, fmt, src.label, {"metadata": metadata})
        elif fmt == "keras":
            model, info = keras.load(src, which, options, fmt)
        else:
            model, info = onnx.load(src, which, options, fmt)
    model.load_info = info
    return model


def find_candidates(source, *, format=None):
    """Every LSTM in a file or object, as Candidates (name, summary), without building any."""
    if isinstance(source, nn.Module):
        found = pytorch.lstm_submodules(source)
        if found:
            return [Candidate(n, pytorch.module_summary(m)) for n, m in found]
        source = dict(source.state_dict())
    if isinstance(source, dict):
        return pytorch.flat_candidates(pytorch.flatten(source))
    src, fmt = _read(source, format)
    if fmt == "torch":
        return pytorch.flat_candidates(pytorch.read_torch(src))
    if fmt == "safetensors":
        return pytorch.flat_candidates(pytorch.read_safetensors(src)[0])
    return (keras if fmt == "keras" else onnx).candidates(src)
