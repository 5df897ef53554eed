"""Users' data as model input: CSV, NPY/NPZ, and text with a vocabulary file.

    seqs = load_data("walk.csv")                       # rows = time steps, columns = features
    seqs = load_data("batch.npz")                      # x (B, T, I) or (T, I), optional lengths (B,)
    seqs = load_data("poem.txt", vocab="vocab.json")   # one-hot (or index) encoded tokens
    check_input_size(model, seqs)                      # a clear message when they do not fit
    x, lengths = seqs.for_model(model)                 # in the model's layout, dtype and device
    trace = model.trace(x, lengths=lengths)

Every loader returns `Sequences`: x (B, T, I) padded with zeros after each sequence's
length, and lengths (B,). Errors are `DataError` (a ValueError) naming the file, the
row / sequence / step and what was expected.
"""
import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

ENCODINGS = ("onehot", "index")
TOKENIZERS = ("auto", "char", "word")


class DataError(ValueError):
    """Data that cannot be read as model input, with where and why."""


@dataclass
class Sequences:
    """A batch of sequences of possibly different lengths."""

    x: torch.Tensor  # (B, T, I) float32, zeros after each sequence's length
    lengths: torch.Tensor  # (B,) int64, each in 1..T
    source: str = ""  # the file it came from, for messages
    feature_names: list | None = None  # CSV header: one name per feature
    tokens: list | None = None  # text: per sequence, the token at each valid step
    vocab: list | None = None  # text: index -> token
    encoding: str | None = None  # text: "onehot" or "index"

    @property
    def batch_size(self):
        return self.x.shape[0]

    @property
    def steps(self):
        return self.x.shape[1]

    @property
    def input_size(self):
        return self.x.shape[2]

    def for_model(self, model):
        """(x, lengths) for model.trace / forward: x in the model's layout ((T, B, I) unless
        batch_first), dtype and device; lengths None when every sequence is full length."""
        x = self.x.to(device=model.device, dtype=model.dtype)
        if not model.batch_first:
            x = x.transpose(0, 1)  # (B, T, I) -> (T, B, I)
        full = bool((self.lengths == self.steps).all())
        return x, None if full else self.lengths


def from_arrays(x, lengths=None, source="array"):
    """Sequences from an array x (B, T, I) or (T, I) and optional lengths (B,), validated."""
    x = np.asarray(x)
    if x.dtype == object or not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise DataError(f"{source}: x must be numbers, found dtype {x.dtype}")
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3:
        raise DataError(f"{source}: x must have shape (B, T, I) or (T, I), found {x.shape}")
    B, T, I = x.shape
    if B == 0 or T == 0 or I == 0:
        raise DataError(f"{source}: x is empty, shape {x.shape}")
    if lengths is None:
        lengths = np.full(B, T)
    lengths = np.asarray(lengths)
    if lengths.shape != (B,) or not np.issubdtype(lengths.dtype, np.integer):
        raise DataError(f"{source}: lengths must be {B} integers, one per sequence, found dtype {lengths.dtype} "
                        f"shape {lengths.shape}")
    bad = np.nonzero((lengths < 1) | (lengths > T))[0]
    if bad.size:
        raise DataError(f"{source}: lengths[{bad[0]}] = {lengths[bad[0]]}, expected 1..{T} (the padded length)")
    x = x.astype(np.float32)
    valid = np.arange(T)[None, :] < lengths[:, None]  # (B, T)
    nonfinite = ~np.isfinite(x) & valid[:, :, None]
    if nonfinite.any():
        b, t, i = np.argwhere(nonfinite)[0]
        raise DataError(f"{source}: {x[b, t, i]} at sequence {b}, step {t}, feature {i}: "
                        f"every value must be finite")
    x = np.where(valid[:, :, None], x, 0.0).astype(np.float32)
    return Sequences(torch.from_numpy(x), torch.from_numpy(lengths.astype(np.int64)), source)


# --- CSV: rows are time steps, columns features --------------------------------------------------

def _number(cell, row, col, source):
    try:
        v = float(cell)
    except ValueError:
        raise DataError(f"{source}: row {row}, column {col}: {cell!r} is not a number") from None
    if not math.isfinite(v):
        raise DataError(f"{source}: row {row}, column {col}: {cell!r} is not finite; every value must be")
    return v


def load_csv(file, *, header="auto", sequence_column=None, source=None):
    """Sequences from CSV text: one row per time step, one column per feature.

    header: True, False or "auto" (a first row with a non-number is a header).
    sequence_column: a column (name or index) naming the sequence each row belongs to;
        rows of each sequence in file order make one sequence of the batch.
    """
    source, text = _text_of(file, source)
    rows = [r for r in csv.reader(io.StringIO(text)) if any(c.strip() for c in r)]
    if not rows:
        raise DataError(f"{source}: no rows")
    if header == "auto":
        header = any(_is_text(c) for c in rows[0])
    names = [c.strip() for c in rows[0]] if header else None
    body = rows[1:] if header else rows
    first = 2 if header else 1  # row numbers as a spreadsheet shows them
    if not body:
        raise DataError(f"{source}: a header and no data rows")
    width = len(rows[0])
    for k, r in enumerate(body):
        if len(r) != width:
            raise DataError(f"{source}: row {k + first} has {len(r)} fields, expected {width} like row 1")
    groups = None
    if sequence_column is not None:
        col = sequence_column
        if isinstance(col, str) and not col.isdigit():
            if names is None or col not in names:
                raise DataError(f"{source}: no column {col!r}; columns: {names or 'none named (no header)'}")
            col = names.index(col)
        col = int(col)
        if not 0 <= col < width:
            raise DataError(f"{source}: sequence column {col} out of range 0..{width - 1}")
        groups = [r[col].strip() for r in body]
        body = [r[:col] + r[col + 1:] for r in body]
        if names:
            names = names[:col] + names[col + 1:]
        if not body[0]:
            raise DataError(f"{source}: no feature columns besides the sequence column")
    values = np.array([[_number(c, k + first, j, source) for j, c in enumerate(r)] for k, r in enumerate(body)],
                      dtype=np.float32)  # (rows, I)
    if groups is None:
        seqs = from_arrays(values[None], source=source)
    else:
        order = list(dict.fromkeys(groups))
        parts = [values[[g == name for g in groups]] for name in order]
        seqs = _pad(parts, source)
    seqs.feature_names = names
    return seqs


def _is_text(cell):
    """True for a header-like cell: not empty and not a number."""
    try:
        float(cell)
        return False
    except ValueError:
        return bool(cell.strip())


def _pad(parts, source):
    """Sequences from a list of (T_b, I) arrays."""
    T = max(len(p) for p in parts)
    x = np.zeros((len(parts), T, parts[0].shape[1]), np.float32)
    for b, p in enumerate(parts):
        x[b, :len(p)] = p
    return from_arrays(x, np.array([len(p) for p in parts]), source)


# --- NPY / NPZ -------------------------------------------------------------------------------------

def load_array(file, *, source=None):
    """Sequences from .npy (x) or .npz (x, optional lengths; or a single array) data."""
    source = source or str(file)
    try:
        data = np.load(file, allow_pickle=False)  # never unpickle objects from users' files
    except ValueError as e:
        raise DataError(f"{source}: cannot read it as NPY/NPZ without unpickling objects: {e}") from None
    except (OSError, EOFError) as e:
        raise DataError(f"{source}: not an NPY/NPZ file: {e}") from None
    if isinstance(data, np.ndarray):
        return from_arrays(data, source=source)
    with data:
        keys = list(data.keys())
        if "x" not in keys and len(keys) != 1:
            raise DataError(f"{source}: an NPZ needs an array named 'x' (and optionally 'lengths'); "
                            f"found {keys}")
        try:
            x = data["x" if "x" in keys else keys[0]]
            lengths = data["lengths"] if "lengths" in keys else None
        except ValueError as e:
            raise DataError(f"{source}: cannot read it as NPZ without unpickling objects: {e}") from None
    return from_arrays(x, lengths, source)


# --- text with a vocabulary ---------------------------------------------------------------------------

def read_vocab(file, source=None):
    """index -> token from JSON: a list of tokens, a dict token -> index, or a dict "index" -> token."""
    source, text = _text_of(file, source)
    try:
        v = json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(f"{source}: not JSON: {e}") from None
    if isinstance(v, list):
        if not all(isinstance(t, str) for t in v):
            raise DataError(f"{source}: a vocabulary list must hold strings (the tokens)")
        pairs = list(enumerate(v))
    elif isinstance(v, dict) and v and all(isinstance(i, int) and not isinstance(i, bool) for i in v.values()):
        pairs = [(i, t) for t, i in v.items()]
    elif isinstance(v, dict) and v and all(k.isdigit() and isinstance(t, str) for k, t in v.items()):
        pairs = [(int(k), t) for k, t in v.items()]
    else:
        raise DataError(f"{source}: expected a JSON list of tokens or a dict token -> index")
    size = max(i for i, _ in pairs) + 1
    vocab = [None] * size
    for i, t in pairs:
        if i < 0:
            raise DataError(f"{source}: index {i} of {t!r} is negative")
        if vocab[i] is not None:
            raise DataError(f"{source}: index {i} is given to both {vocab[i]!r} and {t!r}")
        vocab[i] = t
    if len(set(t for t in vocab if t is not None)) != len([t for t in vocab if t is not None]):
        raise DataError(f"{source}: a token appears twice")
    return vocab


def load_text(file, vocab, *, encoding="onehot", tokens="auto", lines=False, unknown=None, source=None):
    """Sequences from text and a vocabulary (a path to JSON, or a list index -> token).

    encoding: "onehot" (I = vocabulary size) or "index" (I = 1, the token's index).
    tokens: "char", "word" (split on whitespace) or "auto" (char if every token is one character).
    lines: each non-empty line is a sequence; otherwise the whole text is one.
    unknown: a vocabulary token to use for tokens not in it; None makes them an error.
    """
    if encoding not in ENCODINGS:
        raise DataError(f"encoding: expected one of {', '.join(ENCODINGS)}, got {encoding!r}")
    if tokens not in TOKENIZERS:
        raise DataError(f"tokens: expected one of {', '.join(TOKENIZERS)}, got {tokens!r}")
    if not isinstance(vocab, list):
        vocab = read_vocab(vocab)
    index = {t: i for i, t in enumerate(vocab) if t is not None}
    if unknown is not None and unknown not in index:
        raise DataError(f"unknown: {unknown!r} is not in the vocabulary")
    if tokens == "auto":
        tokens = "char" if all(len(t) == 1 for t in index) else "word"
    source, text = _text_of(file, source)
    if lines:
        texts = [line for line in text.splitlines() if line.strip()]
    else:
        texts = [text.rstrip("\n") if "\n" not in index else text]
    texts = [t for t in texts if t]
    if not texts:
        raise DataError(f"{source}: no text")
    seqs, ids = [], []
    for n, t in enumerate(texts):
        toks = list(t) if tokens == "char" else t.split()
        if not toks:
            raise DataError(f"{source}: sequence {n} has no tokens")
        row = []
        for k, tok in enumerate(toks):
            if tok not in index:
                if unknown is None:
                    where = f"line {n + 1}, " if lines else ""
                    raise DataError(f"{source}: {where}token {k}: {tok!r} is not in the vocabulary "
                                    f"({len(index)} tokens); pass unknown= a token to use instead")
                tok = unknown
                toks[k] = tok
            row.append(index[tok])
        seqs.append(toks)
        ids.append(row)
    T = max(len(r) for r in ids)
    I = len(vocab) if encoding == "onehot" else 1
    x = np.zeros((len(ids), T, I), np.float32)
    for b, row in enumerate(ids):
        if encoding == "onehot":
            x[b, np.arange(len(row)), row] = 1.0
        else:
            x[b, :len(row), 0] = row
    out = from_arrays(x, np.array([len(r) for r in ids]), source)
    out.tokens, out.vocab, out.encoding = seqs, vocab, encoding
    return out


# --- any file ---------------------------------------------------------------------------------------

def load_data(path, *, vocab=None, **options):
    """Sequences from a file, by its suffix: .csv/.tsv, .npy/.npz, or text (needs vocab)."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{path}: no such file")
    suffix = p.suffix.lower()
    if vocab is not None:
        return load_text(p, vocab, **options)
    if suffix in (".npy", ".npz"):
        return load_array(p, **options)
    if suffix in (".csv", ".tsv"):
        return load_csv(p, **options)
    if suffix in (".txt", ".text", ""):
        raise DataError(f"{path}: text input needs a vocabulary: pass vocab= a JSON file (command line: --vocab)")
    raise DataError(f"{path}: unknown data format {suffix!r}; expected .csv, .npy, .npz, or text with a vocabulary")


def check_input_size(model, seqs):
    """ValueError with what to do when the data's features do not match the model's input_size."""
    if seqs.input_size == model.input_size:
        return
    what = f"{seqs.input_size} features per step"
    if seqs.vocab is not None:
        what = (f"{seqs.input_size} features per step ({'one-hot over a vocabulary of ' + str(len(seqs.vocab))}"
                if seqs.encoding == "onehot" else f"{seqs.input_size} feature per step (token indices")
        what += ")"
        hint = (" If the model reads an embedding of the tokens, embed them first and save the result as an "
                "NPZ with x (B, T, embedding size).")
    elif seqs.feature_names:
        what += f" (columns {', '.join(seqs.feature_names)})"
        hint = ""
    else:
        hint = ""
    raise DataError(f"{seqs.source}: the data has {what}, but the model expects input_size={model.input_size}."
                    f"{hint}")


def _text_of(file, source):
    """(name for messages, text) of a path or a text / binary file object."""
    if isinstance(file, (str, Path)):
        p = Path(file)
        try:
            return source or str(file), p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise DataError(f"{file}: no such file") from None
        except UnicodeDecodeError as e:
            raise DataError(f"{file}: not UTF-8 text: {e}") from None
    data = file.read()
    name = source or str(getattr(file, "name", "<upload>"))
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise DataError(f"{name}: not UTF-8 text: {e}") from None
    return name, data
