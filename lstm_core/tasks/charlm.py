"""A character-level language model on the Python standard library's own source files.

Every Python installation carries these files, so the corpus needs no download; the
latents are computed from the text by a small scanner (`scan`), so the cells that
Karpathy, Johnson & Fei-Fei 2015 ("Visualizing and Understanding Recurrent
Networks", Section 4.2) found (quotes, indentation, line position) can be looked for.

Versions differ: the files of `CORPUS_FILES` change a little between Python
releases and a missing one is skipped, and the vocabulary is fixed (printable ASCII,
newline and one symbol for everything else), so a model trained on one version reads
another's text. Each file's last `eval_fraction` is the eval split.
"""
import functools
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from .base import Sample, Task, bits_per_symbol

# Pure-Python modules present, with little change, in every CPython from 3.8 to 3.13.
CORPUS_FILES = ("textwrap.py", "difflib.py", "fractions.py", "calendar.py", "pprint.py", "shlex.py",
                "heapq.py", "bisect.py", "colorsys.py", "glob.py", "fnmatch.py", "csv.py", "queue.py",
                "sched.py", "statistics.py", "numbers.py", "copy.py", "contextlib.py", "string.py",
                "tokenize.py", "functools.py", "dataclasses.py")
UNKNOWN = "\x00"  # stands for every character outside the vocabulary (tabs, non-ASCII, ...)
VOCABULARY = ("\n",) + tuple(chr(k) for k in range(32, 127)) + (UNKNOWN,)  # V = 97
_INDEX = {ch: k for k, ch in enumerate(VOCABULARY)}
LATENTS = ("in_string", "in_comment", "indent", "line_position", "bracket_depth")


def encode(text):
    """Indices into VOCABULARY, (len(text),) int64; unknown characters map to UNKNOWN."""
    unk = _INDEX[UNKNOWN]
    return torch.tensor([_INDEX.get(ch, unk) for ch in text], dtype=torch.long)


def decode(indices):
    """The text of indices into VOCABULARY."""
    return "".join(VOCABULARY[int(k)] for k in indices)


def scan(text):
    """Per character, the state of the source after reading it: a dict of LATENTS -> list.

        in_string      1 inside a string literal: its opening quotes count as inside, the
                       last character of its closing quotes as outside (the reader only
                       knows the string has ended once it has read it)
        in_comment     1 from "#" to the end of the line, outside strings
        indent         spaces read so far at the start of the current line
        line_position  characters read since the last newline (0 on the newline)
        bracket_depth  ( [ { opened and not closed, outside strings and comments

    A scanner, not a parser: prefixes and f-string fields are part of the string, an
    unterminated single-quoted string ends at the newline.
    """
    out = {k: [] for k in LATENTS}
    state = dict(depth=0, indent=0, column=0, line_start=True)

    def emit(chars, inside, comment):
        for c, ins in zip(chars, inside):
            if c == "\n":
                state.update(indent=0, column=0, line_start=True)
            else:
                state["column"] += 1
                state["line_start"] = state["line_start"] and c == " "
                state["indent"] += state["line_start"]
            for key, v in zip(LATENTS, (ins, comment, state["indent"], state["column"], state["depth"])):
                out[key].append(int(v))

    quote, comment, k = None, False, 0  # quote: the open string's delimiter, e.g. '"""'
    while k < len(text):
        ch = text[k]
        if quote is None and comment:
            comment = ch != "\n"
            emit(ch, [0], comment)
            k += 1
        elif quote is None and ch in "'\"":
            quote = ch * 3 if text.startswith(ch * 3, k) else ch
            emit(quote, [1] * len(quote), False)
            k += len(quote)
        elif quote is None:
            comment = ch == "#"
            state["depth"] = state["depth"] + (ch in "([{") - (ch in ")]}" and state["depth"] > 0)
            emit(ch, [0], comment)
            k += 1
        elif text.startswith(quote, k):
            emit(quote, [1] * (len(quote) - 1) + [0], False)
            k, quote = k + len(quote), None
        elif ch == "\\":
            emit(text[k:k + 2], [1, 1], False)  # the escaped character stays inside
            k += 2
        else:
            if ch == "\n" and len(quote) == 1:
                quote = None  # unterminated: a syntax error in Python, ended here
            emit(ch, [int(quote is not None)], False)
            k += 1
    return out


@dataclass(frozen=True)
class Corpus:
    """One split of the corpus: its symbols and every latent, aligned character by character."""

    ids: torch.Tensor  # (N,) int64 indices into VOCABULARY
    latents: dict  # name -> (N,) float
    line_starts: torch.Tensor  # (S,) int64 positions where a line begins: where windows start
    files: tuple  # the files found, in order


def stdlib_dir():
    """Where this Python's standard library sources are."""
    return Path(sysconfig.get_paths()["stdlib"])


@functools.lru_cache(maxsize=4)
def load_corpus(files=CORPUS_FILES, eval_fraction=0.1):
    """{"train": Corpus, "eval": Corpus} from the standard library files found here.

    Each file is scanned whole, then its last eval_fraction (cut at a line start) goes
    to "eval", so a latent such as in_string is right on both sides of the cut.
    """
    parts = {"train": [], "eval": []}
    found = []
    for name in files:
        path = stdlib_dir() / name
        if not path.is_file():
            continue  # absent from this Python version: the others suffice
        text = path.read_text(encoding="utf-8", errors="replace")
        cut = text.find("\n", int(len(text) * (1 - eval_fraction))) + 1 or len(text)
        lat = scan(text)
        for split, lo, hi in (("train", 0, cut), ("eval", cut, len(text))):
            parts[split].append((text[lo:hi], {k: v[lo:hi] for k, v in lat.items()}))
        found.append(name)
    if len(found) < len(files) // 2:
        raise RuntimeError(f"character corpus: found {len(found)} of {len(files)} standard library files "
                           f"in {stdlib_dir()} (this Python may ship without sources); found: {found}")
    return {split: _join(p, tuple(found)) for split, p in parts.items()}


def _join(parts, files):
    text = "".join(t for t, _ in parts)
    latents = {k: torch.tensor([x for _, lat in parts for x in lat[k]], dtype=torch.float32) for k in LATENTS}
    ids = encode(text)
    starts = torch.cat([torch.zeros(1, dtype=torch.long), torch.nonzero(ids == _INDEX["\n"]).squeeze(1) + 1])
    return Corpus(ids, latents, starts, files)


@dataclass(frozen=True)
class CharLM(Task):
    """Character-level language model: read Python source, predict the next character.

    Input: one-hot of the character, I = V = len(VOCABULARY) = 97; target: the next
    character, V classes, at every step. Windows of `length` + 1 characters start at
    line starts of the split's text.

    Latents: in_string, in_comment, indent, line_position, bracket_depth (see `scan`).
    """

    length: int = 100  # T, characters per sequence
    eval_fraction: float = 0.1  # the end of each file kept for the eval split
    files: tuple = CORPUS_FILES  # standard library files, relative to its directory

    name = "charlm"
    title = "Character model of Python source"
    kind = "classification"
    metric_name = "bits per character"
    baseline_name = "character frequencies (unigram model)"
    latent_names = LATENTS
    # Which property a cell picks up differs between runs: of the shipped models (3000 steps),
    # standard has a column cell (|r| 0.88), coupled and peephole indentation cells (0.81,
    # 0.76) and weaker column ones (0.57, 0.59); no quote cell passed |r| 0.31 (it needs a
    # bigger model trained for longer). The caption names whichever a unit tracks best.
    captions = {
        "line_position": (
            "Unit {unit}'s cell tracks the position in the line (r = {r:+.2f} with the column), like "
            "the line-length cell Karpathy et al. 2015 found: it moves with every character and starts "
            "over at each newline."),
        "indent": (
            "Unit {unit}'s cell tracks the indentation (r = {r:+.2f} with the spaces that open the "
            "line), the block structure of Python: it is {c_indent:+.2f} on indented lines and "
            "{c_not_indent:+.2f} on lines at the margin."),
        "in_comment": (
            "Unit {unit}'s cell knows when the text is a comment (r = {r:+.2f}): it is "
            "{c_in_comment:+.2f} inside comments and {c_not_in_comment:+.2f} elsewhere."),
        "in_string": (
            "Unit {unit}'s cell knows when the text is inside a string (r = {r:+.2f}): it is "
            "{c_in_string:+.2f} inside strings and {c_not_in_string:+.2f} elsewhere."),
    }
    train_defaults = dict(hidden=128, steps=3000, batch=32, lr=5e-3)
    unfused_defaults = dict(hidden=64)  # peephole trains ~6x slower (autograd through its step loop)

    def __post_init__(self):
        object.__setattr__(self, "files", tuple(self.files))  # a list when read back from JSON
        if not 0 < self.eval_fraction < 1:
            raise ValueError(f"eval_fraction: expected a fraction in (0, 1), got {self.eval_fraction}")
        if self.length < 1:
            raise ValueError(f"length: expected >= 1, got {self.length}")

    input_size = property(lambda self: len(VOCABULARY))
    output_size = property(lambda self: len(VOCABULARY))
    vocabulary = property(lambda self: VOCABULARY)

    def corpus(self, split):
        return load_corpus(self.files, self.eval_fraction)[split]

    def _generate(self, B, g, split):
        corpus, T = self.corpus(split), self.length
        starts = corpus.line_starts[corpus.line_starts + T + 1 <= len(corpus.ids)]  # (S,)
        pick = starts[torch.randint(len(starts), (B,), generator=g)]  # (B,)
        idx = pick + torch.arange(T + 1).unsqueeze(1)  # (T+1, B)
        ids = corpus.ids[idx]  # (T+1, B)
        tokens = ids[:-1]  # (T, B)
        x = F.one_hot(tokens, len(VOCABULARY)).float()  # (T, B, V)
        latents = {k: v[idx[:-1]] for k, v in corpus.latents.items()}  # (T, B) each
        text = [decode(tokens[:, b]) for b in range(B)]
        return Sample(x, ids[1:], torch.ones(T, B, dtype=torch.bool), latents, tokens, text)

    def metric(self, pred, s):
        return bits_per_symbol(pred, s)

    def baseline(self, s):
        counts = torch.bincount(self.corpus("train").ids, minlength=len(VOCABULARY)).float() + 1
        logp = (counts / counts.sum()).log()  # (V,)
        return bits_per_symbol(logp.expand(*s.y.shape, -1), s)
