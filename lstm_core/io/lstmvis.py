"""Export a trace as an LSTMVis project (Strobelt et al. 2018, github.com/HendrikStrobelt/LSTMVis).

LSTMVis reads a directory with
    lstm.yml      the config: names the files below and the state matrices to show
    states.hdf5   one (N, H) matrix per layer: states{k} (the cell's memory: c for an LSTM,
                  h for a GRU) and output{k} (h), k from 1
    train.hdf5    words (N,): the word id at each of the N positions
    words.dict    one "word id" pair per line (split on whitespace by LSTMVis)
where N counts the valid steps of all sequences, one sequence after the other. The
reverse direction of a bidirectional model is exported as states{k}_reverse and
output{k}_reverse, in time order. Whitespace in tokens is written as <space>,
<newline>, <tab> since the dict format cannot hold it. LSTMVis applies tanh to
the states by default; h (already in [-1, 1]) and the gates are marked transform: none.
"""
import json
from pathlib import Path

import numpy as np

_ESCAPES = {" ": "<space>", "\n": "<newline>", "\t": "<tab>", "\r": "<return>"}


def escape(token):
    """A token LSTMVis's whitespace-split dict file can hold."""
    if token == "":
        return "<empty>"
    return "".join(_ESCAPES.get(ch, "<ws>" if ch.isspace() else ch) for ch in token)


def _valid_rows(a, lengths):
    """(L*D, T, B, F) -> per layer-direction (N, F): the valid steps, sequence after sequence."""
    return [np.concatenate([a[ld, :n, b] for b, n in enumerate(lengths)]) for ld in range(a.shape[0])]


def write_lstmvis(trace, directory, *, tokens=None, gates=False, name="lstm_core", description=None):
    """Write `trace` as an LSTMVis project in `directory` (created if needed); returns lstm.yml's path.

    tokens: per sequence, the token at each valid step (`Sequences.tokens` of text data);
        None writes the step number "t<k>" as the word.
    gates: also export the cell's gates of every layer, e.g. i, f, o of an LSTM or r, z of a
        GRU (`Declaration.gates`; transform: none, unsigned).
    """
    import h5py

    from .export import to_arrays

    arrays = to_arrays(trace)
    lengths = arrays["lengths"].tolist()
    if tokens is None:
        tokens = [[f"t{t}" for t in range(n)] for n in lengths]
    if [len(s) for s in tokens] != lengths:
        raise ValueError(f"tokens: expected {lengths} tokens per sequence (the trace's lengths), "
                         f"got {[len(s) for s in tokens]}")
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    D = int(arrays["num_directions"])
    types = []
    with h5py.File(out / "states.hdf5", "w") as f:
        decl = trace.declaration
        memory = {} if decl.field(decl.memory).kind == "state" else {"transform": "none"}  # tanh'd unless bounded
        fields = [("states", decl.memory, "state", memory), ("output", "h", "output", {"transform": "none"})]
        if gates:
            fields += [(f"gate_{g}", g, "state", {"transform": "none", "unsigned": True}) for g in decl.gates]
        for prefix, key, kind, extra in fields:
            for ld, rows in enumerate(_valid_rows(arrays[key], lengths)):
                layer, d = ld // D + 1, ld % D
                path = f"{prefix}{layer}{'_reverse' if d else ''}"
                f.create_dataset(path, data=rows.astype(np.float32))  # (N, H)
                types.append({"type": kind, "layer": layer, "path": path, **extra})
    ids, words = {}, []
    for seq in tokens:
        for tok in seq:
            words.append(ids.setdefault(escape(tok), len(ids) + 1))  # ids from 1, as LSTMVis's tools
    with h5py.File(out / "train.hdf5", "w") as f:
        f.create_dataset("words", data=np.asarray(words, dtype=np.int64))
    (out / "words.dict").write_text("".join(f"{w} {i}\n" for w, i in ids.items()), encoding="utf-8")
    q = json.dumps  # a JSON string is a valid YAML scalar
    lines = [f"name: {q(name)}",
             f"description: {q(description or f'{name}: {trace.declaration.memory} and h of every layer, exported by lstm_core')}",
             "files:", "  states: states.hdf5", "  train: train.hdf5", "  words: words.dict",
             "word_sequence:", "  file: train", "  path: words", "  dict_file: words",
             "states:", "  file: states", "  types:"]
    for t in types:  # - {type: "state", layer: 1, path: "states1"}
        lines.append("    - {" + ", ".join(f"{k}: {q(v) if isinstance(v, str) else str(v).lower()}"
                                            for k, v in t.items()) + "}")
    config = out / "lstm.yml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config
