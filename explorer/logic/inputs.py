"""Input sequences for the explorer: generators, typed text and uploaded files.

Everything here is plain numpy and returns a `Signal`: x (T, B, I) float32,
time-major like lstm_core, zeros on padding, and the valid length of each
sequence. Errors are `InputError` (a ValueError) whose message says what was
expected and what arrived, and where, so the app can show it as it is.

Generators make B sequences from one seed, sequence b from its own stream
(seed, b), so sequence 0 is the same whatever B is. A generator with
`features=None` fills any number of features (feature k phase-shifted by k/I of
a period); the others have their own: remember-and-recall has 3 (value, store
marker, recall cue), brackets 2 ("(", ")"), text one per vocabulary character.
"""
from dataclasses import dataclass

import numpy as np

from lstm_core.io.data import DataError, from_arrays, load_array, load_csv

from .errors import AppError, Fix
from .settings import LIMITS


class InputError(AppError):
    """Input the app cannot use; its fixes, if any, set a widget (e.g. the vocabulary)."""

    title = "Input problem"


@dataclass(frozen=True)
class Param:
    """One parameter of a generator, as a number input shows it."""

    name: str
    label: str
    default: float
    low: float
    high: float
    step: float
    help: str = ""


@dataclass
class Signal:
    """Input sequences ready for an LSTM."""

    x: np.ndarray  # (T, B, I) float32, zeros on padding
    lengths: np.ndarray  # (B,) int64, valid steps per sequence
    feature_names: tuple  # (I,) names for legends
    labels: np.ndarray | None = None  # (T, B) str, the character at each step (text, brackets)
    note: str = ""  # one line on what this input is

    @property
    def mask(self):
        """(T, B) bool, False on padding."""
        return np.arange(self.x.shape[0])[:, None] < self.lengths[None, :]


def to_sequences(sig):
    """A Signal as the lstm_core.io.data.Sequences every page reads: x (B, T, I), its lengths, the
    features' names, and the label at each valid step as the sequence's tokens."""
    seqs = from_arrays(sig.x.transpose(1, 0, 2), sig.lengths, source=sig.note or "input")  # (B, T, I)
    seqs.feature_names = list(sig.feature_names)
    if sig.labels is not None:
        seqs.tokens = [list(sig.labels[:int(n), b]) for b, n in enumerate(sig.lengths)]
    return seqs


# --- generators: (rng, T, I, **params) -> (T, I) ----------------------------------------------

def _phases(rng, I):
    return rng.uniform(0, 1) + np.arange(I) / I  # (I,) in periods


def _sine(rng, T, I, period, amplitude, noise):
    t = np.arange(T)[:, None]
    x = amplitude * np.sin(2 * np.pi * (t / period + _phases(rng, I)))
    return x + noise * rng.standard_normal((T, I))


def _square(rng, T, I, period, duty, amplitude):
    frac = (np.arange(T)[:, None] / period + _phases(rng, I)) % 1.0
    return np.where(frac < duty, amplitude, -amplitude)


def _impulses(rng, T, I, period, amplitude):
    offset = (_phases(rng, I) * period).astype(int)
    return amplitude * ((np.arange(T)[:, None] - offset) % int(period) == 0)


def _step(rng, T, I, position, amplitude):
    at = int(position * T) + rng.integers(-T // 10, T // 10 + 1) + np.arange(I) * max(1, T // (10 * I))
    return amplitude * (np.arange(T)[:, None] >= at)


def _random_walk(rng, T, I, step_size):
    return np.cumsum(step_size * rng.standard_normal((T, I)), axis=0)


def _noise(rng, T, I, std):
    return std * rng.standard_normal((T, I))


def _recall(rng, T, I, delay, gap, distractors):
    """Channels: value, store marker, recall cue. Store at s, recall the value at s + delay."""
    x = np.zeros((T, 3))
    x[:, 0] = distractors * rng.uniform(-1, 1, T)
    s = int(rng.integers(0, gap + 1))
    while s + delay < T:
        v = rng.choice([-1, 1]) * rng.uniform(0.4, 1.0)  # far enough from 0 to be seen
        x[s, 0], x[s, 1] = v, 1.0
        x[s + delay, 0], x[s + delay, 2] = 0.0, 1.0
        s += int(delay + gap + rng.integers(0, gap + 1))
    return x


def _brackets(rng, T, I, max_depth, p_open):
    """One-hot "(" and ")": a random walk of nesting depth in 0..max_depth."""
    x, depth = np.zeros((T, 2)), 0
    for t in range(T):
        opens = depth == 0 or (depth < max_depth and rng.uniform() < p_open)
        x[t, 0 if opens else 1] = 1.0
        depth += 1 if opens else -1
    return x


@dataclass(frozen=True)
class Generator:
    name: str
    label: str
    make: object  # (rng, T, I, **params) -> (T, I)
    params: tuple  # of Param
    features: tuple | None = None  # fixed feature names, or None for any number

    def defaults(self):
        return tuple(sorted((p.name, p.default) for p in self.params))


_PERIOD = Param("period", "period (steps)", 40, 2, 10_000, 1, "steps per cycle")
_AMP = Param("amplitude", "amplitude", 1.0, 0.0, 100.0, 0.1)
GENERATORS = {g.name: g for g in (
    Generator("recall", "remember and recall", _recall, (
        Param("delay", "delay (steps)", 20, 1, 10_000, 1, "steps from the store marker to the recall cue"),
        Param("gap", "gap (steps)", 12, 0, 10_000, 1, "extra steps between episodes"),
        Param("distractors", "distractor amplitude", 0.5, 0.0, 1.0, 0.05,
              "random values on the value channel between markers")),
        ("value", "store", "recall")),
    Generator("sine", "sine", _sine, (
        _PERIOD, _AMP, Param("noise", "noise (std)", 0.0, 0.0, 10.0, 0.05))),
    Generator("square", "square wave", _square, (
        _PERIOD, Param("duty", "duty cycle", 0.5, 0.01, 0.99, 0.01, "fraction of a period at +amplitude"), _AMP)),
    Generator("impulses", "impulse train", _impulses, (
        Param("period", "period (steps)", 25, 1, 10_000, 1), _AMP)),
    Generator("step", "step", _step, (
        Param("position", "position (fraction of T)", 0.5, 0.0, 1.0, 0.05), _AMP)),
    Generator("random_walk", "random walk", _random_walk, (
        Param("step_size", "step size (std)", 0.1, 0.0, 10.0, 0.01),)),
    Generator("noise", "white noise", _noise, (Param("std", "std", 1.0, 0.0, 100.0, 0.1),)),
    Generator("brackets", "bracket strings", _brackets, (
        Param("max_depth", "max depth", 4, 1, 64, 1), Param("p_open", "P(open)", 0.5, 0.0, 1.0, 0.05)),
        ("(", ")")),
)}
KINDS = tuple(GENERATORS) + ("text", "upload")  # every input kind, generators first


def varied_lengths(T, B):
    """(B,) lengths from T down to about T/2, so the batch shows padding."""
    return np.linspace(T, max(1, (T + 1) // 2), B).round().astype(np.int64)


def generate(name, steps, batch, input_size, seed=0, vary_lengths=False, **params):
    """B sequences of a generator: a Signal with x (T, B, I).

    input_size is I for generators that fill any number of features; the others
    have their own I (see module doc), which the app matches to the model.
    """
    if name not in GENERATORS:
        raise InputError(f"input: unknown generator {name!r}; expected one of {', '.join(GENERATORS)}")
    gen = GENERATORS[name]
    _check_size("sequence length", steps, 1, LIMITS.max_steps)
    _check_size("batch size", batch, 1, LIMITS.max_batch)
    I = len(gen.features) if gen.features else input_size
    _check_size("input size", I, 1, LIMITS.max_features)
    kw = {p.name: params.get(p.name, p.default) for p in gen.params}
    lengths = varied_lengths(steps, batch) if vary_lengths else np.full(batch, steps, np.int64)
    x = np.zeros((steps, batch, I), np.float32)
    for b in range(batch):
        rng = np.random.default_rng([seed, b])
        x[:lengths[b], b] = gen.make(rng, int(lengths[b]), I, **kw)
    names = gen.features or tuple(f"x{k}" for k in range(I))
    labels = None
    if name == "brackets":
        labels = np.where(x[:, :, 0] > 0, "(", np.where(x[:, :, 1] > 0, ")", ""))
    return Signal(x, lengths, names, labels, f"{gen.label}: {batch} sequence(s) of {steps:,} steps")


def _check_size(name, value, low, high):
    if not low <= value <= high:
        raise InputError(f"{name}: expected {low:,}..{high:,}, got {value:,}")


# --- text --------------------------------------------------------------------------------------

DEFAULT_VOCAB = "abcdefghijklmnopqrstuvwxyz .,'?!"
DEFAULT_TEXT = "the cat sat on the mat.\nhello, world!"


def one_hot_text(text, vocab):
    """Each line of `text` a sequence, each character one-hot over `vocab`: x (T, B, len(vocab))."""
    vocab = "".join(dict.fromkeys(vocab.replace("\n", "")))  # unique, in order
    if not vocab:
        raise InputError("vocabulary: it is empty; type the characters the one-hot code should have")
    lines = [line for line in text.replace("\r", "").split("\n") if line]
    if not lines:
        raise InputError("text: it is empty; type at least one character (one sequence per line)")
    _check_size("text lines (sequences)", len(lines), 1, LIMITS.max_batch)
    _check_size("line length (steps)", max(map(len, lines)), 1, LIMITS.max_steps)
    _check_size("vocabulary size (input size)", len(vocab), 1, LIMITS.max_features)
    index = {ch: k for k, ch in enumerate(vocab)}
    missing = {}
    for b, line in enumerate(lines):
        for t, ch in enumerate(line):
            if ch not in index and ch not in missing:
                missing[ch] = (b + 1, t + 1)
    if missing:
        where = ", ".join(f"{ch!r} (line {b}, column {t})" for ch, (b, t) in list(missing.items())[:8])
        raise InputError(f"text: {len(missing)} character(s) not in the vocabulary: {where}",
                         fixes=[Fix("Add them to the vocabulary", {"vocab": vocab + "".join(missing)}, "fix_vocab")])
    T, B = max(map(len, lines)), len(lines)
    x = np.zeros((T, B, len(vocab)), np.float32)
    labels = np.full((T, B), "", dtype=object)
    for b, line in enumerate(lines):
        ids = np.fromiter((index[ch] for ch in line), np.int64, len(line))
        x[np.arange(len(line)), b, ids] = 1.0
        labels[:len(line), b] = list(line)
    lengths = np.array([len(line) for line in lines], np.int64)
    names = tuple(repr(ch) for ch in vocab)
    return Signal(x, lengths, names, labels.astype(str), f"text: {B} line(s), vocabulary of {len(vocab)}")


# --- uploads -----------------------------------------------------------------------------------

def parse_upload(name, data):
    """A CSV or NPY/NPZ upload as a Signal, read by lstm_core.io.data (the Debug pages' reader too):
    CSV rows are time steps and columns features (a header row names them; ',', ';', tab or space
    between values); an NPY array (T,) or (T, I) is one sequence, (B, T, I) or an NPZ with x and
    lengths a batch. The app's limits (LIMITS) bound the steps, sequences and features."""
    if not data:
        raise InputError(f"{name}: the file is empty")
    try:
        if name.lower().endswith((".npy", ".npz")):
            seqs = load_array(data, source=name)
        else:  # .csv, .tsv and .txt: a table of numbers
            seqs = load_csv(data, source=name)
    except DataError as e:
        raise InputError(str(e)) from None
    B, T, I = seqs.x.shape
    for what, n, limit in (("rows (time steps)", T, LIMITS.max_upload_rows), ("sequences", B, LIMITS.max_batch),
                           ("columns (features)", I, LIMITS.max_features)):
        if n > limit:
            raise InputError(f"{name}: {n:,} {what} is over this app's limit of {limit:,}")
    names = tuple(seqs.feature_names or (f"x{k}" for k in range(I)))
    lengths = seqs.lengths.numpy()
    steps = f"{T:,} steps" if (lengths == T).all() else f"{int(lengths.min()):,} to {T:,} steps"
    return Signal(seqs.x.numpy().transpose(1, 0, 2), lengths, names, None,  # (B, T, I) -> (T, B, I)
                  f"{name}: {B} sequence(s) of {steps} x {I} feature(s)" if B > 1 else
                  f"{name}: {steps} x {I} feature(s)")
