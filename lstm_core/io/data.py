"""Users' data as model input: CSV, NPY/NPZ, and text with a vocabulary file.

    seqs = load_data("walk.csv")                       # rows = time steps, columns = features
    seqs = load_data("batch.npz")                      # x (B, T, I), (T, I) or (T,); optional lengths (B,)
    seqs = load_data("poem.txt", vocab="vocab.json")   # one-hot (or index) encoded tokens
    check_input_size(model, seqs)                      # a clear message when they do not fit
    x, lengths = seqs.for_model(model)                 # in the model's layout, dtype and device
    trace = model.trace(x, lengths=lengths)

Every loader returns `Sequences`: x (B, T, I) padded with zeros after each sequence's
length, and lengths (B,). Errors are `DataError` (a ValueError) naming the file, the
row / sequence / step and what was expected.

Every reader takes `limits=` (an `lstm_core.limits.Limits`; None: the defaults with
their environment overrides) and checks what a file declares or holds against it
before allocating: bytes, rows, columns, field size, NPY/NPZ shapes and unzipped
sizes, vocabulary indices and the size of the batch it would build (docs/limits.md).
"""
import csv
import io
import json
import math
import tokenize
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .. import limits as _limits
from .paths import file_problem

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


def _check_dtype(dtype, source, what="x"):
    """DataError unless an array of this dtype holds real numbers (bool, int, uint or float)."""
    if dtype.kind == "c":
        raise DataError(f"{source}: {what} holds complex numbers (dtype {dtype}); the model reads real numbers: "
                        f"pass x.real, or the real and imaginary parts as separate features")
    if dtype.kind not in "biuf":
        raise DataError(f"{source}: {what} must be numbers, found dtype {dtype} (expected bool, int or float)")


def from_arrays(x, lengths=None, source="array", *, limits=None):
    """Sequences from an array x (B, T, I), (T, I) or (T,) and optional lengths (B,), validated."""
    lim = _limits.current(limits)
    try:
        x = np.asarray(x)
    except (ValueError, TypeError) as e:  # ragged nested lists
        raise DataError(f"{source}: x must be a rectangular array of numbers: {e}") from None
    _check_dtype(x.dtype, source)
    lim.check("max_elements", x.size, f"{source}: values in x", DataError)
    if x.ndim == 1:
        x = x[:, None]  # (T,): one feature per step
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3:
        raise DataError(f"{source}: x must have shape (B, T, I), (T, I) or (T,), found {x.shape}")
    B, T, I = x.shape
    if B == 0 or T == 0 or I == 0:
        raise DataError(f"{source}: x is empty, shape {x.shape}")
    if lengths is None:
        lengths = np.full(B, T)
    try:
        lengths = np.asarray(lengths)
    except (ValueError, TypeError):
        raise DataError(f"{source}: lengths must be {B} integers, one per sequence") from None
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

def _number(cell, row, col, source, why=""):
    try:
        v = float(cell)
    except ValueError:
        raise DataError(f"{source}: row {row}, column {col}: {cell!r} is not a number{why}") from None
    if not math.isfinite(v):
        raise DataError(f"{source}: row {row}, column {col}: {cell!r} is not finite; every value must be")
    return v


DELIMITERS = (",", ";", "\t", " ")  # what delimiter="auto" looks for, in this order


def _delimiter(text, source):
    """The delimiter of CSV text: a tab for .tsv, else the first of DELIMITERS found in both of
    its first two non-blank lines (spreadsheets in many locales write ';', whitespace-aligned
    tables ' '; a one-column file with a header "my value" stays one column), else ','."""
    if source.lower().endswith(".tsv"):
        return "\t"
    lines = [line.strip() for line in io.StringIO(text[:65536], newline="") if line.strip()][:2]
    return next((d for d in DELIMITERS if lines and all(d in line for line in lines)), ",")


def _csv_rows(text, source, lim, delimiter):
    """The non-empty rows of CSV text, within max_rows, max_columns and max_field_bytes; without
    the empty last field of rows that all end in a delimiter (spreadsheet exports)."""
    rows = []
    spaced = delimiter == " "  # runs of spaces are one delimiter
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter,  # \n, \r\n and \r line ends
                        skipinitialspace=spaced)
    try:
        for r in reader:
            if spaced:
                r = [c for c in r if c]
            if len(r) > lim.max_columns:
                lim.check("max_columns", len(r), f"{source}: row {reader.line_num}: columns", DataError)
            if r and max(map(len, r)) > lim.max_field_bytes:
                lim.check("max_field_bytes", max(map(len, r)), f"{source}: row {reader.line_num}: characters in "
                          f"a field", DataError)
            if any(c.strip() for c in r):
                rows.append(r)
                if len(rows) > lim.max_rows:
                    lim.check("max_rows", len(rows), f"{source}: rows", DataError)
    except csv.Error as e:  # e.g. a field over csv's own limit of 131072 characters, a NUL byte
        if "field larger than field limit" in str(e):
            raise DataError(f"{source}: row {reader.line_num}: a field of more than {csv.field_size_limit():,} "
                            f"characters, over the limit of {lim.max_field_bytes:,} (max_field_bytes)") from None
        raise DataError(f"{source}: not CSV the csv module can read, at line {reader.line_num}: {e}") from None
    if rows and all(len(r) > 1 and not r[-1].strip() for r in rows):
        rows = [r[:-1] for r in rows]
    return rows


def load_csv(file, *, header="auto", sequence_column=None, delimiter="auto", source=None, limits=None):
    """Sequences from CSV text: one row per time step, one column per feature.

    header: True, False or "auto" (a first row of names, holding no number, is a header).
    delimiter: one character, or "auto": a tab for .tsv files, else the first of
        ',', ';', tab and space found in the first line.
    sequence_column: a column (name or index) naming the sequence each row belongs to;
        rows of each sequence in file order make one sequence of the batch.
    limits: an `lstm_core.limits.Limits` (bytes, rows, columns, field size, values).
    """
    lim = _limits.current(limits)
    if header not in (True, False, "auto"):
        raise DataError(f"header: expected True, False or 'auto', got {header!r}")
    if sequence_column is not None and (isinstance(sequence_column, bool) or
                                        not isinstance(sequence_column, (str, int))):
        raise DataError(f"sequence_column: expected a column name (str) or index (int), got {sequence_column!r}")
    if delimiter != "auto" and not (isinstance(delimiter, str) and len(delimiter) == 1
                                    and delimiter not in "\r\n\"" and not delimiter.isalnum()):
        raise DataError(f"delimiter: expected 'auto' or one character that is not a letter, digit, quote or "
                        f"line end, got {delimiter!r}")
    source, text = _text_of(file, source, lim)
    rows = _csv_rows(text, source, lim, _delimiter(text, source) if delimiter == "auto" else delimiter)
    if not rows:
        raise DataError(f"{source}: no rows")
    guessed = header == "auto"
    if guessed:  # names only: a row holding a number is data, however odd its other cells (issue 21)
        header = any(_is_text(c) for c in rows[0]) and not any(_is_number(c) for c in rows[0])
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
        if isinstance(col, str) and not (col.isascii() and col.isdecimal()):  # '²'.isdigit(), yet int('²') fails
            if names is None or col not in names:
                raise DataError(f"{source}: no column {col!r}; columns: {names or 'none named (no header)'}")
            col = names.index(col)
        if isinstance(col, str) and len(col) > 18:  # int() refuses over 4,300 digits
            raise DataError(f"{source}: sequence column {col[:10]}... ({len(col)} digits) out of range 0..{width - 1}")
        col = int(col)
        if not 0 <= col < width:
            raise DataError(f"{source}: sequence column {col} out of range 0..{width - 1}")
        groups = [r[col].strip() for r in body]
        body = [r[:col] + r[col + 1:] for r in body]
        if names:
            names = names[:col] + names[col + 1:]
        if not body[0]:
            raise DataError(f"{source}: no feature columns besides the sequence column")
    lim.check("max_elements", len(body) * len(body[0]), f"{source}: values in the file", DataError)
    mixed = guessed and not header and any(_is_text(c) for c in rows[0])  # names and numbers: taken as data
    why = " (row 1 holds numbers too, so it was read as data, not as a header)" if mixed else ""
    values = np.array([[_number(c, k + first, j + 1, source, why if k + first == 1 else "")  # 1-based, as rows
                        for j, c in enumerate(r)]
                       for k, r in enumerate(body)],
                      dtype=np.float32)  # (rows, I)
    if groups is None:
        seqs = from_arrays(values[None], source=source, limits=lim)
    else:
        rows_of = {}  # sequence name -> its row numbers, in file order: one pass (issue 11: was quadratic)
        for k, g in enumerate(groups):
            rows_of.setdefault(g, []).append(k)
        parts = [values[idx] for idx in rows_of.values()]
        seqs = _pad(parts, source, lim)
    seqs.feature_names = names
    return seqs


def _is_number(cell):
    try:
        float(cell)
        return True
    except ValueError:
        return False


def _is_text(cell):
    """True for a header-like cell: not empty and not a number."""
    return not _is_number(cell) and bool(cell.strip())


def _pad(parts, source, lim):
    """Sequences from a list of (T_b, I) arrays."""
    T = max(len(p) for p in parts)
    lim.check("max_elements", len(parts) * T * parts[0].shape[1],
              f"{source}: values in the padded batch of {len(parts)} sequences x {T} steps x "
              f"{parts[0].shape[1]} features", DataError)
    x = np.zeros((len(parts), T, parts[0].shape[1]), np.float32)
    for b, p in enumerate(parts):
        x[b, :len(p)] = p
    return from_arrays(x, np.array([len(p) for p in parts]), source, limits=lim)


# --- NPY / NPZ -------------------------------------------------------------------------------------

def _npy(f, source, what, lim):
    """An array from an open NPY stream, its header (shape, dtype) checked before the data is read."""
    try:
        version = np.lib.format.read_magic(f)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read_header(f)
    except (ValueError, OSError, EOFError, SyntaxError, TypeError, KeyError, RecursionError, tokenize.TokenError) as e:
        # what numpy's header parser (ast.literal_eval of the header text) raises on a damaged header
        raise DataError(f"{source}: {what} is not an NPY array numpy can read: {type(e).__name__}: {e}") from None
    if dtype.hasobject:
        raise DataError(f"{source}: cannot read it as NPY/NPZ without unpickling objects: {what} holds Python "
                        f"objects (dtype {dtype}); objects are never unpickled from a file: save numbers")
    _check_dtype(dtype, source, what)
    lim.check("max_elements", _limits.product(shape), f"{source}: values in {what} (shape {shape})", DataError)
    count = _limits.product(shape)
    raw = f.read(count * dtype.itemsize)
    if len(raw) != count * dtype.itemsize:
        raise DataError(f"{source}: {what} declares shape {shape} of {dtype} ({count * dtype.itemsize:,} bytes), "
                        f"but holds only {len(raw):,}: the file is truncated")
    a = np.frombuffer(raw, dtype=dtype, count=count)
    return a.reshape(shape[::-1]).T if fortran else a.reshape(shape)


def load_array(file, *, source=None, limits=None):
    """Sequences from .npy (x) or .npz (x, optional lengths; or a single array) data.

    Objects are never unpickled; headers, zip directories and declared shapes are checked
    against `limits` (an `lstm_core.limits.Limits`) before any data is read.
    """
    lim = _limits.current(limits)
    source, data = _bytes_of(file, source, lim)
    if data[:2] != b"PK":
        return from_arrays(_npy(io.BytesIO(data), source, "x", lim), source=source, limits=lim)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            infos = {i.filename: i for i in z.infolist()}
            lim.check("max_keys", len(infos), f"{source}: arrays in the NPZ", DataError)
            keys = [k[:-4] if k.endswith(".npy") else k for k in infos]
            if "x" not in keys and len(keys) != 1:
                raise DataError(f"{source}: an NPZ needs an array named 'x' (and optionally 'lengths'); "
                                f"found {keys[:10]}")
            arrays = {}
            for key in ["x" if "x" in keys else keys[0]] + (["lengths"] if "lengths" in keys else []):
                info = infos.get(key + ".npy") or infos[key]
                lim.check("max_unzipped_bytes", info.file_size, f"{source}: {info.filename} unzips to bytes",
                          DataError)
                with z.open(info) as f:
                    arrays[key] = _npy(f, source, key, lim)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, NotImplementedError, ValueError,
            zlib.error) as e:  # what zipfile and zlib raise for a damaged archive (found by fuzzing)
        if isinstance(e, DataError):
            raise
        raise DataError(f"{source}: a damaged NPZ (zip) file: {e}") from None
    x = arrays.pop("lengths", None)
    return from_arrays(arrays.popitem()[1], x, source, limits=lim)


# --- text with a vocabulary ---------------------------------------------------------------------------

def read_vocab(file, source=None, *, limits=None):
    """index -> token from JSON: a list of tokens, a dict token -> index, or a dict "index" -> token."""
    lim = _limits.current(limits)
    source, text = _text_of(file, source, lim)
    try:
        v = json.loads(text)
    except RecursionError:
        raise DataError(f"{source}: a vocabulary is a flat JSON list or object; this one is nested too deeply") from None
    except json.JSONDecodeError as e:
        raise DataError(f"{source}: not JSON: {e}") from None
    if isinstance(v, list):
        if not all(isinstance(t, str) for t in v):
            raise DataError(f"{source}: a vocabulary list must hold strings (the tokens)")
        pairs = list(enumerate(v))
    elif isinstance(v, dict) and v and all(isinstance(i, int) and not isinstance(i, bool) for i in v.values()):
        pairs = [(i, t) for t, i in v.items()]
    elif isinstance(v, dict) and v and all(isinstance(t, str) for t in v.values()):
        pairs = [(_vocab_index(k, source, lim), t) for k, t in v.items()]
    else:
        raise DataError(f"{source}: expected a JSON list of tokens or a dict token -> index")
    if not pairs:
        raise DataError(f"{source}: the vocabulary is empty")
    for i, t in pairs:
        if i < 0:
            raise DataError(f"{source}: index {i} of {t!r} is negative")
    size = max(i for i, _ in pairs) + 1
    lim.check("max_vocab", size, f"{source}: vocabulary size (largest index + 1)", DataError)
    vocab = [None] * size
    for i, t in pairs:
        if vocab[i] is not None:
            raise DataError(f"{source}: index {i} is given to both {vocab[i]!r} and {t!r}")
        vocab[i] = t
    if len(set(t for t in vocab if t is not None)) != len([t for t in vocab if t is not None]):
        raise DataError(f"{source}: a token appears twice")
    return vocab


def _vocab_index(key, source, lim):
    """The index a key of a dict "index" -> token names. Decimal digits 0-9 only: '²'.isdigit() is
    True but int('²') fails, and int() refuses keys over 4,300 digits (issue 21)."""
    if not (key.isascii() and key.isdecimal()):
        raise DataError(f"{source}: key {key!r} of a dict index -> token is not an index (a whole number, 0-9)")
    if len(key) > 18:  # far beyond any max_vocab, and int() need not see it
        raise DataError(f"{source}: index {key[:10]}... ({len(key)} digits) is over the limit of "
                        f"{lim.max_vocab:,} (max_vocab; set the environment variable "
                        f"{_limits.PREFIX}MAX_VOCAB to raise it)")
    return int(key)


def load_text(file, vocab, *, encoding="onehot", tokens="auto", lines=False, unknown=None, source=None,
              limits=None):
    """Sequences from text and a vocabulary (a path to JSON, or a list index -> token).

    encoding: "onehot" (I = vocabulary size) or "index" (I = 1, the token's index).
    tokens: "char", "word" (split on whitespace) or "auto" (char if every token is one character).
    lines: each non-empty line is a sequence; otherwise the whole text is one.
    unknown: a vocabulary token to use for tokens not in it; None makes them an error.
    limits: an `lstm_core.limits.Limits` (bytes of text and vocabulary, vocabulary size, values).
    """
    lim = _limits.current(limits)
    if encoding not in ENCODINGS:
        raise DataError(f"encoding: expected one of {', '.join(ENCODINGS)}, got {encoding!r}")
    if tokens not in TOKENIZERS:
        raise DataError(f"tokens: expected one of {', '.join(TOKENIZERS)}, got {tokens!r}")
    if not isinstance(lines, bool):
        raise DataError(f"lines: expected True or False, got {lines!r}")
    if unknown is not None and not isinstance(unknown, str):
        raise DataError(f"unknown: expected a token (str) or None, got {unknown!r}")
    if not isinstance(vocab, list):
        vocab = read_vocab(vocab, limits=lim)
    elif not all(t is None or isinstance(t, str) for t in vocab) or not vocab:
        raise DataError("vocab: expected a non-empty list of tokens (str; None for unused indices)")
    lim.check("max_vocab", len(vocab), "vocab: entries", DataError)
    index = {t: i for i, t in enumerate(vocab) if t is not None}
    if unknown is not None and unknown not in index:
        raise DataError(f"unknown: {unknown!r} is not in the vocabulary")
    if tokens == "auto":
        tokens = "char" if all(len(t) == 1 for t in index) else "word"
    source, text = _text_of(file, source, lim)
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
    hint = "; encoding='index' takes 1 per token" if I > 1 else ""
    lim.check("max_elements", len(ids) * T * I, f"{source}: values of the {encoding} batch ({len(ids)} sequences x "
              f"{T} tokens x {I}{hint})", DataError)
    x = np.zeros((len(ids), T, I), np.float32)
    for b, row in enumerate(ids):
        if encoding == "onehot":
            x[b, np.arange(len(row)), row] = 1.0
        else:
            x[b, :len(row), 0] = row
    out = from_arrays(x, np.array([len(r) for r in ids]), source, limits=lim)
    out.tokens, out.vocab, out.encoding = seqs, vocab, encoding
    return out


# --- any file ---------------------------------------------------------------------------------------

def load_data(path, *, vocab=None, **options):
    """Sequences from a file, by its suffix: .csv/.tsv, .npy/.npz, or text (needs vocab).
    options go to the reader (load_csv, load_array, load_text), limits= included."""
    if not isinstance(path, (str, Path)):
        raise DataError(f"path: expected a file path (str or Path), got {type(path).__name__}")
    problem = file_problem(path)
    if problem:
        raise DataError(f"{path}: {problem}")
    return load_bytes(Path(path), str(path), vocab=vocab, **options)


def load_bytes(data, name, *, vocab=None, **options):
    """Sequences from a file's bytes (or a path), read by the suffix of `name` as load_data
    reads a file: an upload's contents and its file name. name is used in messages."""
    suffix = Path(name).suffix.lower()
    if vocab is not None:
        return load_text(data, vocab, source=name, **options)
    if suffix in (".npy", ".npz"):
        return load_array(data, source=name, **options)
    if suffix in (".csv", ".tsv"):
        return load_csv(data, source=name, **options)
    if suffix in (".txt", ".text", ""):
        raise DataError(f"{name}: text input needs a vocabulary: pass vocab= a JSON file (command line: --vocab)")
    raise DataError(f"{name}: unknown data format {suffix!r}; expected .csv, .tsv, .npy, .npz, or text with a "
                    f"vocabulary")


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


def _bytes_of(file, source, lim, limit="max_file_bytes"):
    """(name for messages, bytes) of a path, bytes or a binary file object, within `limit` bytes."""
    if isinstance(file, (str, Path)):
        name = source or str(file)
        problem = file_problem(file)  # before open(): a pipe would wait for a writer
        if problem:
            raise DataError(f"{file}: {problem}")
        try:
            with open(file, "rb") as f:
                data = f.read(getattr(lim, limit) + 1)
        except OSError as e:
            raise DataError(f"{file}: cannot read the file: {e.strerror or e}") from None
    elif isinstance(file, (bytes, bytearray, memoryview)):
        name, data = source or "<bytes>", bytes(file)
    elif hasattr(file, "read"):
        name = source or str(getattr(file, "name", "<upload>"))
        data = file.read(getattr(lim, limit) + 1)
    else:
        raise DataError(f"file: expected a path, bytes or a file object, got {type(file).__name__}")
    lim.check(limit, len(data), f"{name}: bytes in the file", DataError)
    return name, data


def _text_of(file, source, lim=None):
    """(name for messages, text) of a path or a text / binary file object, within max_data_bytes."""
    lim = _limits.current(lim)
    name, data = _bytes_of(file, source, lim, "max_data_bytes")
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")  # without the byte-order mark some editors write first
        except UnicodeDecodeError as e:
            raise DataError(f"{name}: not UTF-8 text: {e}") from None
    elif not isinstance(data, str):
        raise DataError(f"{name}: read() returned {type(data).__name__}, expected text or bytes")
    return name, data
