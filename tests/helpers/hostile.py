"""A corpus of hostile model and data files, built by small generators (no committed blobs).

Each `Case` writes its file into a directory and says what a clear refusal looks like:
the error class (LoadError for models, DataError for data) and a regex of its message,
or None for a file that must load (a hostile-looking but valid input, e.g. CSV with
\\r line ends). tests/cli/test_hostile.py loads each in a child process under a memory limit;
benchmarks/hostile_inputs.py adds thousands of mutations of them.
"""
import inspect
import io
import json
import pickle
import struct
import zipfile
from dataclasses import dataclass, field

import numpy as np
import torch

MARKER = "PWNED_MARKER"  # a file a malicious pickle would create next to itself
SECRET = "secret.txt"  # a file beside the model that no load may read
SECRET_TEXT = b"TOP-SECRET-0123456789abcdef" * 4


@dataclass
class Case:
    name: str
    kind: str  # "model" (lstm_core.load) or "data" (lstm_core.io.data.load_data)
    filename: str
    build: object  # build(directory) writes `filename` (and any files beside it), or build() -> its bytes
    message: str | None  # regex of the error message; None: it must load
    options: dict = field(default_factory=dict)  # keyword arguments of the load
    upload_message: str | None = None  # the message when the file arrives as an upload (bytes), if it differs


# --- small writers --------------------------------------------------------------------------------

def safetensors_bytes(header, data=b""):
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data


def lstm_state(I=3, H=4, prefix=""):
    return {f"{prefix}weight_ih_l0": torch.randn(4 * H, I), f"{prefix}weight_hh_l0": torch.randn(4 * H, H),
            f"{prefix}bias_ih_l0": torch.randn(4 * H), f"{prefix}bias_hh_l0": torch.randn(4 * H)}


def st_file(state):
    from safetensors.torch import save
    return save(state)


def zip_stream(members, level=1):
    """A zip (bytes) of members {name: iterable of byte chunks}, deflated as they stream in."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as z:
        for name, chunks in members.items():
            with z.open(name, "w", force_zip64=True) as f:
                for c in chunks:
                    f.write(c)
    return buf.getvalue()


def zeros(n, chunk=2 ** 22):
    block = bytes(chunk)
    for _ in range(n // chunk):
        yield block
    yield bytes(n % chunk)


def npy_header(shape, descr="<f4"):
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def keras_h5(path, kernel_shape, *, chunks=None, compression=None, write=False):
    """A Keras 3 .weights.h5 with one LSTM layer whose kernel has kernel_shape (never written unless write)."""
    import h5py
    H = 4
    with h5py.File(path, "w") as f:
        g = f.create_group("layers/lstm/cell/vars")
        k = g.create_dataset("0", shape=kernel_shape, dtype="f4", chunks=chunks, compression=compression)
        if write:
            k[0] = 1.0
        g.create_dataset("1", data=np.zeros((H, 4 * H), "f4"))
        g.create_dataset("2", data=np.zeros(4 * H, "f4"))
        f["layers/lstm"].create_group("vars").attrs["name"] = "lstm"


def keras_zip(config, weights_h5=None):
    """A .keras zip with this config.json (any JSON text) and a tiny valid model.weights.h5."""
    import h5py
    if weights_h5 is None:
        buf = io.BytesIO()
        with h5py.File(buf, "w") as f:
            g = f.create_group("layers/lstm/cell/vars")
            g["0"], g["1"], g["2"] = np.zeros((3, 16), "f4"), np.zeros((4, 16), "f4"), np.zeros(16, "f4")
            f["layers/lstm"].create_group("vars").attrs["name"] = "lstm"
        weights_h5 = buf.getvalue()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("config.json", config)
        z.writestr("metadata.json", json.dumps({"keras_version": "3.0.0"}))
        z.writestr("model.weights.h5", weights_h5)
    return buf.getvalue()


def onnx_lstm(*, external=None, node_name="lstm", outputs=("Y",), cycle=False):
    """An ONNX model with one LSTM node (I=3, H=4); external: W's data in that file location."""
    from onnx import TensorProto, helper, numpy_helper
    H, I = 4, 3
    W = numpy_helper.from_array(np.zeros((1, 4 * H, I), np.float32), "W")
    if external is not None:
        W.ClearField("raw_data")
        W.data_location = TensorProto.EXTERNAL
        for k, v in (("location", external), ("offset", "0"), ("length", str(4 * H * I * 4))):
            e = W.external_data.add()
            e.key, e.value = k, v
    R = numpy_helper.from_array(np.zeros((1, 4 * H, H), np.float32), "R")
    x_in = "Xc" if cycle else "X"
    nodes = [helper.make_node("LSTM", [x_in, "W", "R"], list(outputs), hidden_size=H, name=node_name)]
    if cycle:  # Xc = Identity(Xc2), Xc2 = Identity(Xc): a loop of layout ops
        nodes += [helper.make_node("Identity", ["Xc2"], ["Xc"]), helper.make_node("Identity", ["Xc"], ["Xc2"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [5, 1, I])],
                              [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs],
                              initializer=[W, R])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)]).SerializeToString()


class _Marker:
    """Unpickling this would create the marker file: the file must be refused before that."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def nested_pickle(levels=32):
    """torch.save of lists nested `levels` deep, each holding its child twice: 2**levels leaves, 2 KB."""
    a = [0]
    for _ in range(levels):
        a = [a, a]
    buf = io.BytesIO()
    torch.save({"x": a, "w": torch.zeros(1)}, buf)
    return buf.getvalue()


def deep_list(depth):
    return "[" * depth + "]" * depth


# --- the corpus ---------------------------------------------------------------------------------

def _w(name, data):
    def build(d):
        (d / name).write_bytes(data() if callable(data) else data)
    return build


def _secret_beside(name, data):
    def build(d):
        (d / SECRET).write_bytes(SECRET_TEXT)
        (d / name).write_bytes(data())
    return build


def _outside_link(d):
    outside = d.parent / f"{d.name}-outside"
    outside.mkdir(exist_ok=True)
    (outside / SECRET).write_bytes(SECRET_TEXT)
    (d / "link.bin").symlink_to(outside / SECRET)
    (d / "m.onnx").write_bytes(onnx_lstm(external="link.bin"))


def _h5(name, **kw):
    def build(d):
        keras_h5(d / name, **kw)
    return build


def _h5_cycle(d):
    import h5py
    with h5py.File(d / "cycle.weights.h5", "w") as f:
        g = f.create_group("layers")
        g["loop"] = g  # a hard link to itself: an endless tree


def _malicious(d):
    (d / "evil.pt").write_bytes(pickle.dumps({"w": _Marker(str(d / MARKER))}, protocol=2))


def _malicious_zip(d):
    buf = io.BytesIO()
    torch.save({"w": _Marker(str(d / MARKER))}, buf)
    (d / "evil_zip.pt").write_bytes(buf.getvalue())


def _st(header, data=b""):
    return lambda: safetensors_bytes(header, data)


def _st_state(fn):
    return lambda: st_file(fn())


def _many_lstms(n):
    """A safetensors file of n tiny LSTMs (2n keys), its header written directly (fast)."""
    def data():
        header, k = {}, 0
        for m in range(n):
            for name in ("weight_ih_l0", "weight_hh_l0"):
                header[f"m{m}.{name}"] = {"dtype": "F32", "shape": [4, 1], "data_offsets": [16 * k, 16 * k + 16]}
                k += 1
        return safetensors_bytes(header, bytes(16 * k))
    return data


def _with(state, key, value):
    s = dict(state)
    s[key] = value
    return s


def _npz_bomb():
    n = 68 * 2 ** 20  # float32 values: 272 MB of zeros, 270 KB deflated: just over max_elements
    return zip_stream({"x.npy": [npy_header((n,))] + list(zeros(4 * n))})


def _keras_bomb():
    return zip_stream({"config.json": [b"{}"], "model.weights.h5": zeros(520 * 2 ** 20)})


def _truncated_npz():
    buf = io.BytesIO()
    np.savez_compressed(buf, x=np.random.rand(4, 5, 3))
    return buf.getvalue()[:-30]


def _csv_groups(n):
    return ("seq,a,b\n" + "".join(f"s{k},{k % 7},{k % 5}\n" for k in range(n))).encode()


def _npy_bytes(a):
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def _deep_pt(depth):
    def data():
        a = [torch.zeros(1)]
        for _ in range(depth):
            a = [a]
        buf = io.BytesIO()
        torch.save({"x": a}, buf)
        return buf.getvalue()
    return data


CASES = [
    # files that leak: ONNX external data
    Case("onnx external data, bytes", "model", "m.onnx", _secret_beside("m.onnx", lambda: onnx_lstm(external=SECRET)),
         r"keeps its data in an external file 'secret.txt'; uploads and bytes never read other files: embed",
         {"as_bytes": True, "format": "onnx"}),
    Case("onnx external data, path, not allowed", "model", "m.onnx",
         _secret_beside("m.onnx", lambda: onnx_lstm(external=SECRET)),
         r"not read unless you pass allow_external_data=True",
         upload_message=r"keeps its data in an external file 'secret\.txt'; uploads and bytes never read other files"),
    Case("onnx external data, ../ location", "model", "m.onnx",
         _secret_beside("m.onnx", lambda: onnx_lstm(external="../" + SECRET)),
         r"external data location '\.\./secret\.txt' is outside the model's directory",
         {"allow_external_data": True}),
    Case("onnx external data, absolute location", "model", "m.onnx",
         _secret_beside("m.onnx", lambda: onnx_lstm(external="/etc/hostname")),
         r"external data location '/etc/hostname' is outside the model's directory", {"allow_external_data": True}),
    Case("onnx external data, symlink out", "model", "m.onnx", _outside_link,
         r"external data location 'link\.bin' is outside the model's directory", {"allow_external_data": True}),
    # small files that would exhaust the machine
    Case(".keras with a 520 MB model.weights.h5 of zeros", "model", "bomb.keras", _w("bomb.keras", _keras_bomb),
         r"bytes of the zip's members once unzipped: 545,259,522 is over the limit of 536,870,912"),
    Case("compressed .npz of 272 MB zeros", "data", "bomb.npz", _w("bomb.npz", _npz_bomb),
         r"values in x \(shape \(71303168,\)\): 71,303,168 is over the limit of 67,108,864"),
    Case("h5 declaring a chunked never-written (20000, 80000) kernel", "model", "big.weights.h5",
         _h5("big.weights.h5", kernel_shape=(20000, 80000), chunks=(100, 100)),
         r"layers/lstm/cell/vars/0: declares shape \(20000, 80000\) \(6,400,000,000 bytes\), over what is left"),
    Case("h5 gzip dataset declaring (30000, 30000)", "model", "gz.weights.h5",
         _h5("gz.weights.h5", kernel_shape=(30000, 30000), chunks=(10, 3000), compression="gzip", write=True),
         r"declares shape \(30000, 30000\) \(3,600,000,000 bytes\)"),
    Case("h5 group linked into itself", "model", "cycle.weights.h5", _h5_cycle,
         r"(groups in the weights file|nesting depth of groups).* is over the limit"),
    Case("vocabulary {'a': 10**9}", "data", "t.txt", _w("t.txt", b"aaa"),
         r"vocabulary size \(largest index \+ 1\): 1,000,000,001 is over the limit of 1,000,000",
         {"vocab_json": '{"a": 1000000000}'}),
    Case(".pt of lists sharing one list, 2**32 leaves", "model", "nested.pt", _w("nested.pt", nested_pickle),
         r"containers and values in the file: 200,\d{3} is over the limit of 200,000"),
    Case(".pt of lists nested 200 deep", "model", "deep.pt", _w("deep.pt", _deep_pt(200)),
         r"nesting depth of dicts and lists: 65 is over the limit of 64"),
    Case("safetensors with 30000 keys", "model", "keys.safetensors", _many_lstms(15000),
         r"entries in the header: 30,000 is over the limit of 20,000"),
    Case("safetensors with 9000 LSTMs", "model", "many.safetensors", _many_lstms(4500),
         r"holds 4500 LSTMs: 'm0\.' .*; \.\.\. and 4488 more; choose one with prefix="),
    Case("CSV with 20000 sequences", "data", "groups.csv", _w("groups.csv", lambda: _csv_groups(20000)), None,
         {"sequence_column": "seq"}),
    Case("CSV of one 70 MB line", "data", "line.csv", _w("line.csv", lambda: b"1," * (35 * 2 ** 20)),
         r"bytes in the file: 67,108,865 is over the limit of 67,108,864"),
    # malformed files that raised raw exceptions
    Case("safetensors header that is a JSON list", "model", "list.safetensors", _w("list.safetensors", _st([1, 2])),
         r"its header is a JSON list, expected an object"),
    Case("safetensors header length past the end", "model", "len.safetensors",
         _w("len.safetensors", lambda: struct.pack("<Q", 10 ** 12) + b"{}"), r"the header declares 1,000,000,000,000 bytes"),
    Case("safetensors declaring 10**12 elements", "model", "huge.safetensors",
         _w("huge.safetensors", _st({"weight_ih_l0": {"dtype": "F32", "shape": [10 ** 6, 10 ** 6],
                                                       "data_offsets": [0, 4]}}, b"\0" * 4)),
         r"weight_ih_l0: declares shape \(1000000, 1000000\)"),
    Case("0-d weight", "model", "scalar.safetensors",
         _st_state(lambda: _with(lstm_state(), "weight_ih_l0", torch.tensor(1.0))),
         r"weight_ih_l0: expected at least one row of weights, found shape \(\)"),
    Case("zero-row weight", "model", "empty.safetensors",
         _st_state(lambda: _with(lstm_state(), "weight_hh_l0", torch.zeros(0, 4))),
         r"weight_hh_l0: expected at least one row of weights, found shape \(0, 4\)"),
    Case("a text file named .pt", "model", "notes.pt", _w("notes.pt", b"hello, these are my notes\n"),
         r"notes\.pt: not a PyTorch file torch\.load can read"),
    Case("float8 weights", "model", "f8.safetensors",
         _st_state(lambda: {k: v.to(torch.float8_e4m3fn) for k, v in lstm_state().items()}),
         r"(weight|bias)_\w+: expected floating-point weights \(float16, bfloat16, float32 or float64\), found dtype "
         r"torch\.float8_e4m3fn"),
    Case("bool weights", "model", "bool.safetensors", _st_state(lambda: {k: v > 0 for k, v in lstm_state().items()}),
         r"(weight|bias)_\w+: expected floating-point weights .* found dtype torch\.bool"),
    Case("int weights", "model", "int.safetensors",
         _st_state(lambda: {k: v.to(torch.int32) for k, v in lstm_state().items()}),
         r"(weight|bias)_\w+: expected floating-point weights .* found dtype torch\.int32"),
    Case("NaN weights", "model", "nan.safetensors",
         _st_state(lambda: _with(lstm_state(), "bias_hh_l0", torch.full((16,), float("nan")))),
         r"bias_hh_l0: non-finite weight nan at index \(0,\); every weight must be finite"),
    Case("Keras config that is a list", "model", "list.keras", _w("list.keras", lambda: keras_zip("[1, 2, 3]")),
         r"the model config is not one Keras writes: a layer is a int"),
    Case("Keras Bidirectional without layer=", "model", "bidi.keras",
         _w("bidi.keras", lambda: keras_zip(json.dumps({"class_name": "Sequential", "config": {"layers": [
             {"class_name": "Bidirectional", "config": {"name": "lstm"}}]}}))),
         r"Bidirectional layer 'lstm' has no layer= config"),
    Case("Keras config nested 100000 deep", "model", "deep.keras",
         _w("deep.keras", lambda: keras_zip(deep_list(100000))), r"config\.json is nested too deeply"),
    Case("ONNX LSTM node with no name and no outputs", "model", "noname.onnx",
         _w("noname.onnx", lambda: onnx_lstm(node_name="", outputs=())), None),
    Case("ONNX graph feeding a node its own output", "model", "cycle.onnx", _w("cycle.onnx", lambda: onnx_lstm(cycle=True)),
         None),
    Case("malicious pickle (legacy)", "model", "evil.pt", _malicious,
         r"refused: this file needs arbitrary unpickling \(it holds (builtins|io)\.open\)"),
    Case("malicious pickle (zip)", "model", "evil_zip.pt", _malicious_zip, r"refused: this file needs arbitrary unpickling"),
    Case("truncated NPZ", "data", "cut.npz", _w("cut.npz", _truncated_npz), r"cut\.npz: a damaged NPZ \(zip\) file"),
    Case("CSV field over 128 KiB", "data", "field.csv", _w("field.csv", lambda: b"a,b\n1," + b"2" * 200000 + b"\n"),
         r"row 2: a field of more than 131,072 characters, over the limit of 65,536"),
    Case("CSV with \\r line ends", "data", "cr.csv", _w("cr.csv", b"a,b\r1,2\r3,4\r"), None),
    Case("NPY declaring 10**15 elements", "data", "huge.npy",
         _w("huge.npy", lambda: npy_header((10 ** 15,)) + b"\0" * 16),
         r"values in x \(shape \(1000000000000000,\)\): 1,000,000,000,000,000 is over the limit"),
    Case("NPY of object dtype", "data", "obj.npy", _w("obj.npy", lambda: npy_header((2,), "|O") + b"\0" * 16),
         r"cannot read it as NPY/NPZ without unpickling objects"),
    Case("complex NPY", "data", "c.npy", _w("c.npy", lambda: _npy_bytes(np.ones((4, 3), np.complex64))),
         r"x holds complex numbers \(dtype complex64\)"),
    Case("NPY declaring more than it holds", "data", "short.npy",
         _w("short.npy", lambda: npy_header((1000, 3)) + b"\0" * 40), r"the file is truncated"),
    Case("vocabulary nested 100000 deep", "data", "t.txt", _w("t.txt", b"ab"), r"nested too deeply",
         {"vocab_json": deep_list(100000)}),
]


def write(case, d):
    """Write the case's file(s) into directory d; returns the path of its file."""
    if inspect.signature(case.build).parameters:
        case.build(d)
    else:
        (d / case.filename).write_bytes(case.build())
    return d / case.filename


def by_name(name):
    return next(c for c in CASES if c.name == name)

