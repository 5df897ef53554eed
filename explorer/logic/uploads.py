"""Uploads into models and data for the "Debug your model" pages: pure, no streamlit.

    mf = inspect_model("tagger.safetensors", raw)        # format, candidate LSTMs, questions
    model = load_model(mf, raw, LoadChoice(which=("encoder.rnn.",), batch_first=True))
    data = read_data(DataSpec("upload", name="walks.npz"), raw_data)
    check_fit(model, data)                               # Mismatch with offers when they do not fit

Everything the loaders (`lstm_core.load`, `lstm_core.find_candidates`) and the data
readers (`lstm_core.io.data`) refuse comes back as an `UploadError` whose message says
what was found and what to do; nothing here lets an exception through as a traceback.
A file that holds several LSTMs is never loaded before the user picks one (issue 6).
Options a file does not record (batch_first of a state dict, the variant of 3 gate
blocks, peephole_output, the gate activation of a Keras file without a version) are
`Question`s for the page to ask: 3 gate blocks per layer are a torch.nn.GRU or an LSTM with a
gate less, and the page asks which (GRU first), never taking an LSTM for granted (issue 20).
A loaded model is described from its cell's declaration. Dimension letters as in `lstm_core`: B sequences,
T steps, I features, H units, L layers, D directions.
"""
import hashlib
import io
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

import lstm_core
from lstm_core.io.data import DataError, check_input_size, from_arrays, load_array, load_csv, load_text, read_vocab
from lstm_core.io.loaders import GRU_CHOICE, LoadError, Source, detect_format, three_block_choices
from lstm_core.io.loaders import keras as keras_loader
from lstm_core.trace import estimate_bytes

from . import inputs
from .errors import AppError, Fix
from .settings import LIMITS

MODEL_SUFFIXES = (".safetensors", ".pt", ".pth", ".ckpt", ".bin", ".keras", ".h5", ".hdf5", ".onnx")
DATA_SUFFIXES = (".csv", ".tsv", ".npy", ".npz", ".txt", ".text")
TEXT_SUFFIXES = (".txt", ".text")
FORMAT_NAMES = {"torch": "PyTorch (torch.load, weights_only=True)", "safetensors": "safetensors",
                "keras": "Keras (read with h5py)", "onnx": "ONNX"}
GENERATED = tuple(k for k, g in inputs.GENERATORS.items() if g.features is None)  # fill any input size


class UploadError(AppError):
    """An upload the pages cannot use; the message is shown as it is."""


class Mismatch(UploadError):
    """Data that does not fit the model; its fixes set DataSpec fields (views/debug/load.py maps
    them onto its widgets)."""

    title = "The data does not fit the model"

    def __init__(self, message, offers=()):
        super().__init__(message, [Fix(label, dict(changes), f"dbg_offer_{j}")
                                   for j, (label, changes) in enumerate(offers)])

    @property
    def offers(self):
        """(label, DataSpec changes) of each fix."""
        return [(f.label, f.changes) for f in self.fixes]


def digest(raw):
    return hashlib.sha256(raw).hexdigest()


# --- models ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Question:
    """An option the file does not record, asked of the user before loading."""

    option: str  # keyword of lstm_core.load
    label: str
    choices: tuple  # values passed to lstm_core.load
    labels: tuple  # what the page shows for each
    default: object  # one of choices, or None: the user must choose
    help: str = ""


@dataclass(frozen=True)
class ModelFile:
    """What an uploaded model file holds, before anything is built."""

    name: str
    format: str  # one of lstm_core.io.loaders.FORMATS
    candidates: tuple  # lstm_core Candidates (name, summary), in file order
    stackable: bool  # keras / onnx: several layers may load as one stacked model
    shapes: tuple = ()  # torch / safetensors: (key, shape) pairs, for the questions
    keras_hints: tuple = ()  # keras: ("no_config",) and/or ("hard_sigmoid_unknown",)

    def options(self):
        """What the user may pick: one tuple of candidate names per option (several: stacked)."""
        picks = [(c.name,) for c in self.candidates]
        if self.stackable and len(self.candidates) > 1:
            picks.append(tuple(c.name for c in self.candidates))
        return picks

    def label(self, pick):
        by_name = {c.name: c.summary for c in self.candidates}
        if len(pick) == 1:
            return f"{pick[0] or '(top level)'}  {by_name[pick[0]]}"
        return f"all {len(pick)} stacked as layers: {' + '.join(pick)}"


def _source(name, raw):
    f = io.BytesIO(raw)
    f.name = name  # the loaders name the file in their messages
    return f


def _check_model_name(name, raw):
    suffix = Path(name).suffix.lower()
    if not raw:
        raise UploadError(f"{name}: the file is empty")
    if suffix in DATA_SUFFIXES + (".json",):
        raise UploadError(f"{name}: this looks like data, not a model; upload it under '2. Your data'. A model "
                          f"file is one of {', '.join(MODEL_SUFFIXES)}")
    if suffix not in MODEL_SUFFIXES:
        raise UploadError(f"{name}: {suffix or 'no suffix'} is not a model format this page reads; expected "
                          f"safetensors (preferred), .pt/.pth, .keras, .weights.h5/.h5 or .onnx")


def _guard(name, call):
    """call(), with every failure as an UploadError naming the file."""
    try:
        return call()
    except UploadError:
        raise
    except LoadError as e:
        raise UploadError(str(e)) from None
    except Exception as e:  # noqa: BLE001  a broken file must not reach the page as a traceback
        first = (str(e).splitlines() or [""])[0]
        raise UploadError(f"{name}: could not be read ({type(e).__name__}: {first})") from None


def inspect_model(name, raw):
    """The ModelFile of an upload, or an UploadError (wrong type, corrupt, refused, no LSTM inside)."""
    _check_model_name(name, raw)

    def run():
        fmt = detect_format(Source(name, None, raw))
        cands = tuple(lstm_core.find_candidates(_source(name, raw), format=fmt))
        if not cands:  # let the loader say what it looked for
            lstm_core.load(_source(name, raw), format=fmt)
            raise UploadError(f"{name}: no LSTM found")
        shapes, hints = (), ()
        if fmt in ("torch", "safetensors"):
            from lstm_core.io.loaders import pytorch
            src = Source(name, None, raw)
            flat = pytorch.read_torch(src) if fmt == "torch" else pytorch.read_safetensors(src)[0]
            shapes = tuple((k, tuple(v.shape)) for k, v in flat.items() if "weight_" in k)
        elif fmt == "keras":
            hints = _keras_hints(keras_loader.read(Source(name, None, raw)))
        return ModelFile(name, fmt, cands, fmt in ("keras", "onnx"), shapes, hints)
    return _guard(name, run)


def _keras_hints(kf):
    hints = [] if kf.has_config else ["no_config"]
    configs = [c for layer in kf.layers for c in (layer.config, layer.backward_config) if c]
    if (any(c.get("recurrent_activation") == "hard_sigmoid" for c in configs)
            and not re.match(r"\d", kf.version or "")):  # Keras 2 and 3 differ, and no version says which
        hints.append("hard_sigmoid_unknown")
    return tuple(hints)


KERAS_GATES = (("hard_sigmoid", 0.2, 0.5), ("hard_sigmoid", 1 / 6, 0.5))
KERAS_GATE_LABELS = ("hard_sigmoid of Keras 2 / tf.keras: clip(0.2 z + 0.5)", "hard_sigmoid of Keras 3: clip(z/6 + 0.5)")


def questions(mf, pick):
    """The Questions for loading candidate(s) `pick` of ModelFile `mf`."""
    out = []
    if mf.format in ("torch", "safetensors"):
        prefix = pick[0] if pick else ""
        shapes = {k[len(prefix):]: s for k, s in mf.shapes if k.startswith(prefix)}
        w_hh = shapes.get("weight_hh_l0", shapes.get("weight_hh"))
        w_hr = shapes.get("weight_hr_l0")
        if w_hh is not None and len(w_hh) == 2:
            # a w_hr that is not (P, H) is no guide to H: lstm_core.load names its shape (issue 21)
            H = w_hr[1] if w_hr is not None and len(w_hr) == 2 else w_hh[1]
            if H and w_hh[0] == 3 * H and "weight_gg_l0" not in shapes:
                # a GRU has no projection or peepholes: with those keys only an LSTM variant fits
                lstm_only = any(k in shapes for k in ("weight_hr_l0", "weight_peephole_l0"))
                fits = tuple((v, label) for v, label in three_block_choices() if not (lstm_only and v == GRU_CHOICE))
                out.append(Question("variant", "cell (the weights have 3 gate blocks per layer)",
                                    tuple(v for v, _ in fits), tuple(label for _, label in fits), None,
                                    "Three gate blocks per layer are a GRU (torch.nn.GRU: r, z, n) or an LSTM "
                                    "with a gate less; pick the one the model was trained as."))
        if "weight_peephole_l0" in shapes:
            out.append(Question("peephole_output", "the output gate's peephole sees", ("current", "previous"),
                                ("c_t (Gers & Schmidhuber 2000)",
                                 "c_{t-1} (the simplification of the peephole bonus in the PyTorch LSTM notebook "
                                 "exercise 'Long Short-Term Memory')"),
                                "current", "The file has peephole weights but does not record which cell state "
                                           "o_t reads."))
        out.append(Question("batch_first", "the model read its input as", (False, True),
                            ("(T, B, I): time first, nn.LSTM's and nn.GRU's default",
                             "(B, T, I): batch_first=True"), False,
                            "A state dict does not record it. The app lays your data out to match, so the "
                            "numbers do not depend on it; it matters for code that reuses the loaded model."))
    elif mf.format == "keras":
        if "hard_sigmoid_unknown" in mf.keras_hints:
            out.append(Question("gate_activation", "gate activation (the file does not say which Keras wrote it)",
                                KERAS_GATES, KERAS_GATE_LABELS, None,
                                "recurrent_activation='hard_sigmoid' is clip(0.2 z + 0.5) in Keras 2 and "
                                "clip(z/6 + 0.5) in Keras 3."))
        elif "no_config" in mf.keras_hints:
            out.append(Question("gate_activation", "gate activation (a .weights.h5 has no config)",
                                ("sigmoid",) + KERAS_GATES, ("sigmoid (Keras's default)",) + KERAS_GATE_LABELS,
                                "sigmoid", "Pick what the layer was built with (recurrent_activation)."))
    return tuple(out)


@dataclass(frozen=True)
class LoadChoice:
    """The user's answers: which LSTM, and the options the file does not record (None: not asked)."""

    which: tuple = ()  # candidate names; () the only one; several: stacked (keras, onnx)
    batch_first: bool | None = None
    variant: str | None = None
    peephole_output: str | None = None
    gate_activation: object = None  # "sigmoid" or ("hard_sigmoid", alpha, beta)

    def load_kwargs(self, fmt):
        kw = {k: getattr(self, k) for k in ("batch_first", "variant", "peephole_output", "gate_activation")
              if getattr(self, k) is not None}
        if self.which:
            if fmt in ("torch", "safetensors"):
                kw["prefix"] = self.which[0]
            else:
                kw["layer"] = self.which[0] if len(self.which) == 1 else list(self.which)
        return kw


def unanswered(mf, choice):
    """Why loading must wait: no LSTM picked among several, or a question without a default unanswered."""
    if len(mf.candidates) > 1 and not choice.which:
        return (f"{mf.name} holds {len(mf.candidates)} LSTMs: choose the one to debug (nothing is loaded "
                f"until you do)")
    for q in questions(mf, choice.which):
        if q.default is None and getattr(choice, q.option) is None:
            return f"Choose the {q.label.split(' (')[0]}: {q.help}"
    return None


def load_model(mf, raw, choice):
    """The lstm_core.LSTM or GRU of `choice` in ModelFile `mf` (bytes `raw`), on the CPU in float32 or float64."""
    def run():
        model = lstm_core.load(_source(mf.name, raw), format=mf.format, **choice.load_kwargs(mf.format))
        if model.dtype not in (torch.float32, torch.float64):  # float16 weights: the CPU traces in float32
            info = model.load_info
            info.notes.append(f"weights stored as {model.dtype}, run in float32 on the CPU")
            model = model.to(torch.float32)
            model.load_info = info
        return model
    return _guard(mf.name, run)


def _activation_text(spec):
    """("sigmoid",) -> sigmoid; ("hard_sigmoid", 0.2, 0.5) -> clip(0.2 z + 0.5, 0, 1)."""
    spec = (spec,) if isinstance(spec, str) else tuple(spec)
    if spec[0] == "hard_sigmoid" and len(spec) == 3:
        return f"hard_sigmoid: clip({spec[1]:.4g} z + {spec[2]:.4g}, 0, 1)"
    return spec[0]


def model_summary(model):
    """(what, value) rows describing a loaded model, and its notes (lines), for the page."""
    info, cell = model.load_info, model.declaration
    D = 2 if model.bidirectional else 1
    peephole = getattr(model, "peephole", False) and model.variant != "peephole"
    rows = [("file", f"{info.source} ({FORMAT_NAMES.get(info.format, info.format)})"),
            (cell.family.upper(), " + ".join(n.rstrip(".") or "(top level)" for n in info.chosen)),
            ("sizes", f"input size I = {model.input_size}, hidden size H = {model.hidden_size}"
                      + (f", projection P = {model.proj_size}" if model.proj_size else "")),
            ("layers", f"{model.num_layers} x {'bidirectional' if D == 2 else 'forward'}"),
            ("cell", f"{cell.title}, variant {cell.variant}: {cell.summary.removeprefix(cell.family.upper() + ': ')}"
                     + (f"; peepholes, o sees c_{'t' if model.peephole_output == 'current' else 't-1'}"
                        if peephole else "")),
            *([("gate activation", _activation_text(model.gate_activation))]
              if hasattr(model, "gate_activation") else []),
            *[(f"note on {k}", note) for k, note in cell.notes.items() if k in cell.gates and k in cell.blocks],
            ("input layout", "(B, T, I) batch_first" if model.batch_first else "(T, B, I) time first"),
            ("parameters", f"{sum(p.numel() for p in model.parameters()):,} ({model.dtype})".replace("torch.", ""))]
    notes = list(info.notes)
    notes += [f"{k}={v!r} assumed: the file does not record it" for k, v in info.assumed.items()]
    if info.extras.get("metadata"):
        notes.append(f"safetensors metadata: {info.extras['metadata']}")
    if info.extras.get("initial_state"):
        notes.append(f"the ONNX graph starts from constant initial states ({', '.join(info.extras['initial_state'])});"
                     f" the app's traces start from zeros")
    return rows, notes


# --- data --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DataSpec:
    """Where the data comes from and how to read it (a cache key: no bytes, their digests)."""

    source: str = "generated"  # "upload" or "generated"
    name: str = ""  # upload: the file name (its suffix decides the reader)
    digest: str = ""
    vocab_name: str = ""  # text: the vocabulary file
    vocab_digest: str = ""
    lines: bool = True  # text: one sequence per line
    encoding: str = "onehot"  # text: "onehot" or "index"
    sequence_column: str = ""  # CSV: a column naming each row's sequence ("" none)
    transpose: bool = False  # arrays / CSV: rows are features, columns steps
    kind: str = "sine"  # generated: one of GENERATED
    steps: int = 100  # generated: T
    batch: int = 4  # generated: B
    seed: int = 0
    vary_lengths: bool = True  # generated: sequences of different lengths (padding blank in views)
    input_size: int = 1  # generated: I, the model's


@dataclass
class Data:
    """Sequences ready for the model, and what was done to them on the way."""

    seqs: object  # lstm_core.io.data.Sequences: x (B, T, I), lengths (B,)
    spec: DataSpec
    notes: list = field(default_factory=list)


def read_data(spec, raw=None, vocab=None):
    """Data of `spec`: an upload's bytes `raw` (and a vocabulary's `vocab`), or a generated input."""
    if spec.source == "generated":
        try:
            sig = inputs.generate(spec.kind, spec.steps, spec.batch, spec.input_size, spec.seed, spec.vary_lengths)
        except inputs.InputError as e:
            raise UploadError(str(e)) from None
        seqs = from_arrays(sig.x.transpose(1, 0, 2), sig.lengths, source=f"generated {spec.kind}")  # (B, T, I)
        seqs.feature_names = list(sig.feature_names)
        return Data(seqs, spec, [sig.note])
    name = spec.name
    if raw is None:
        raise UploadError("choose a data file")
    if not raw:
        raise UploadError(f"{name}: the file is empty")
    suffix = Path(name).suffix.lower()
    try:
        if suffix in (".csv", ".tsv"):
            seqs = load_csv(io.BytesIO(raw), sequence_column=spec.sequence_column or None, source=name)
        elif suffix in (".npy", ".npz"):
            seqs = load_array(io.BytesIO(raw), source=name)
        elif suffix in TEXT_SUFFIXES:
            if vocab is None:
                raise UploadError(f"{name}: text needs a vocabulary: upload a JSON file with a list of tokens "
                                  f"(index = position) or a dict token -> index")
            v = read_vocab(io.BytesIO(vocab), source=spec.vocab_name)
            seqs = load_text(io.BytesIO(raw), v, encoding=spec.encoding, lines=spec.lines, source=name)
        elif suffix == ".json":
            raise UploadError(f"{name}: a JSON file is a vocabulary, not data; upload the text itself (.txt) and "
                              f"this file as its vocabulary")
        else:
            raise UploadError(f"{name}: {suffix or 'no suffix'} is not a data format this page reads; expected "
                              f".csv or .tsv (rows = steps, columns = features), .npy/.npz (x and optional lengths) or "
                              f"text (.txt) with a JSON vocabulary")
    except DataError as e:  # the page has no unknown= option: say what the user can do instead
        raise UploadError(str(e).replace("; pass unknown= a token to use instead",
                                         "; add it to the vocabulary file")) from None
    except UploadError:
        raise
    except Exception as e:  # noqa: BLE001  a broken file must not reach the page as a traceback
        raise UploadError(f"{name}: could not be read ({type(e).__name__}: {(str(e).splitlines() or [''])[0]})") \
            from None
    notes = []
    if spec.transpose:
        if not bool((seqs.lengths == seqs.steps).all()):
            raise UploadError(f"{name}: sequences of different lengths cannot be transposed")
        seqs = _transposed(seqs)
        notes.append("transposed: rows read as features, columns as steps")
    return _limited(seqs, spec, name, notes)


def _transposed(seqs):
    return from_arrays(seqs.x.numpy().transpose(0, 2, 1), source=seqs.source)  # (B, T, I) -> (B, I, T)


def _limited(seqs, spec, name, notes):
    """Data within the app's limits: at most max_batch sequences (the first ones), max_steps steps."""
    if seqs.steps > LIMITS.max_steps:
        raise UploadError(f"{name}: {seqs.steps:,} steps, over this app's limit of {LIMITS.max_steps:,}; "
                          f"cut the sequences (the command line `python -m lstm_core diagnose` has no limit)")
    if seqs.batch_size > LIMITS.max_batch:
        notes.append(f"the first {LIMITS.max_batch} of {seqs.batch_size} sequences are used (this app's limit)")
        keep = slice(0, LIMITS.max_batch)
        T = int(seqs.lengths[keep].max())
        seqs = replace(seqs, x=seqs.x[keep, :T], lengths=seqs.lengths[keep],
                       tokens=seqs.tokens[keep] if seqs.tokens else None)
    return Data(seqs, spec, notes)


def data_summary(data):
    """One line: how many sequences, steps and features."""
    s = data.seqs
    lo, hi = int(s.lengths.min()), int(s.lengths.max())
    steps = f"{hi:,} steps" if lo == hi else f"{lo:,} to {hi:,} steps (padded to {s.steps:,})"
    return f"{s.batch_size} sequence(s) of {steps}, {s.input_size} feature(s) per step"


def check_fit(model, data):
    """Mismatch (with offers) when the data does not fit the model; UploadError over the trace budget."""
    s = data.seqs
    try:
        check_input_size(model, s)
    except DataError as e:
        raise Mismatch(str(e), fit_offers(model, data)) from None
    D = 2 if model.bidirectional else 1
    need = estimate_bytes(s.steps, s.batch_size, model.hidden_size, model.proj_size, model.num_layers, D,
                          model.dtype, declaration=model.declaration)
    if need > LIMITS.trace_budget:
        raise UploadError(f"recording every gate of this model on this data needs {need / 2**20:,.1f} MiB, over "
                          f"the app's budget of {LIMITS.trace_budget / 2**20:,.1f} MiB: use fewer or shorter "
                          f"sequences (LSTM_EXPLORER_TRACE_BUDGET_MB raises the budget)")


def fit_offers(model, data):
    """(label, DataSpec changes) that would make `data` fit `model`, the obvious ones only."""
    s, spec, I = data.seqs, data.spec, model.input_size
    offers = []
    if s.vocab is not None:
        if s.encoding == "onehot" and I == 1:
            offers.append(("Encode the tokens as their index (1 feature)", {"encoding": "index"}))
        if s.encoding == "index" and I == len(s.vocab):
            offers.append((f"One-hot encode the tokens ({I} features)", {"encoding": "onehot"}))
    elif spec.source == "upload":
        full = bool((s.lengths == s.steps).all())
        if full and (s.steps == I) != spec.transpose:
            offers.append((f"Read rows as features, columns as steps ({s.steps} x {s.input_size} -> "
                           f"{s.input_size} x {s.steps})" if not spec.transpose else "Read rows as steps again",
                           {"transpose": not spec.transpose}))
        if s.feature_names and s.input_size == I + 1 and not spec.sequence_column:
            x = s.x[0, :s.lengths[0]].numpy()  # (T, I)
            for k, col in enumerate(s.feature_names):
                v = x[:, k]
                if np.all(v == np.round(v)) and 1 < len(np.unique(v)) < len(v):
                    offers.append((f"Use column {col!r} as the sequence id ({I} features left)",
                                   {"sequence_column": col}))
    offers.append((f"Use a generated input with {I} feature(s) instead", {"source": "generated", "input_size": I}))
    return offers
