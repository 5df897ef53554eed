"""The result of a check: the verdict, the bug, where it first differs, both traces; saved to one .npz.

A report file is an upload from anyone once it reaches the app: `Report.load` reads it with
allow_pickle=False and checks every array's shape, dtype and size before use.
"""
import json
import math
import os
import zipfile
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from ..cells import gru as gru_cell
from ..trace import Trace
from . import gru_mutants
from .layouts import CheckError
from .mutants import COUPLED_EQUATIONS, EQUATIONS, TITLES

CELLS = {"lstm": ("LSTM", ("standard", "coupled"), TITLES, "h and c"),  # name, variants, bug titles, states
         "gru": ("GRU", gru_cell.RESETS, gru_mutants.TITLES, "h")}

FORMAT = "lstm_core.check/1"
MAX_BYTES = 32 * 2**20  # a report of a few steps is a few KB; anything this large is not ours
MAX_T, MAX_B, MAX_H, MAX_I = 1000, 64, 1024, 4096


@dataclass
class Bug:
    """A named mistake: one of BUG_CODES, what the code does, the equation line it breaks."""

    code: str
    title: str
    explanation: str  # what the code does, what it should do, the equation line it breaks
    evidence: dict = field(default_factory=dict)  # str -> str: the numbers behind the verdict
    what: str = ""  # what the code does, one sentence
    line: str = ""  # the equation line it breaks, as written in the docs
    quantity: str = ""  # i f g o c h (a GRU: r z n h), or "return": where the wrong line is
    also: tuple = ()  # further codes needed to explain all the values (combined bugs)


@dataclass
class Divergence:
    """Where the student's values first leave the reference's."""

    step: int  # t, counted from 0
    quantity: str  # "c" or "h"
    units: tuple  # the units that differ at that step
    difference: float  # the largest |student - reference| there
    probe: str  # which probe: "zero initial state" or "non-zero initial state"
    row: int  # the batch row with the largest difference

    def __str__(self):
        units = ", ".join(map(str, self.units[:8])) + (", ..." if len(self.units) > 8 else "")
        return (f"step t={self.step}, {self.quantity}_t, unit{'s' if len(self.units) > 1 else ''} {units} "
                f"(batch row {self.row}, {self.probe}): |difference| {self.difference:.3g}")


@dataclass
class Report:
    """What `lstm_core.check` found. `print(report)` gives the verdict."""

    ok: bool
    bug: Bug | None
    first_divergence: Divergence | None
    trace: Trace  # the student's values on the shown probe; gates NaN where they cannot be recovered
    reference_trace: Trace  # ours on the same probe
    layout: str  # the detected parameter layout
    convention: str  # the detected call convention
    variant: str  # an LSTM's "standard" or "coupled"; a GRU's reset, "after" or "before"
    input_size: int
    hidden_size: int
    checked: str = ""  # what was run: probes, steps, batch, dtype, tolerance, mutants
    notes: list = field(default_factory=list)  # anything the student should know besides the verdict
    x: torch.Tensor | None = None  # (T, B, I) the shown probe's input
    traces: list = field(default_factory=list)  # the student's Trace on every probe
    reference_traces: list = field(default_factory=list)
    cell: str = "lstm"  # "lstm" or "gru"

    def equations(self):
        """Our equations, quantity -> line, for this report's cell and variant."""
        if self.cell == "gru":
            return gru_mutants.equations(self.variant)
        return dict(COUPLED_EQUATIONS if self.variant == "coupled" else EQUATIONS)

    def __str__(self):
        name, _, _, states = CELLS[self.cell]
        lines = []
        if self.ok:
            lines.append(f"✓ Your {name} matches the reference: the same {states} on every probe.")
        elif self.bug is None:
            lines.append(f"✗ Your {name} differs from the reference.")
        else:
            b = self.bug
            lines.append(f"✗ Your {name} differs from the reference: {b.title}  [{b.code}]")
            lines += [f"  {line}" for line in b.explanation.strip().splitlines()]
            for k, v in b.evidence.items():
                lines.append(f"    {k}: {v}")
        if self.first_divergence is not None:
            lines.append(f"  First difference: {self.first_divergence}")
        lines.append(f"  Detected layout: {self.layout}")
        lines.append(f"  Detected call: {self.convention}")
        if self.checked:
            lines.append(f"  Checked: {self.checked}")
        for n in self.notes:
            lines.append(f"  Note: {n}")
        if self.cell == "gru":  # two forms and two readings of z are in print: say which was checked
            lines.append(f"  The equations checked ({gru_cell.declaration(self.variant).title}; z keeps h_{{t-1}}):")
            lines += [f"    {line}" for line in self.equations().values()]
        return "\n".join(lines)

    # --- files ---------------------------------------------------------------------------------
    def save(self, path):
        """Write the verdict and the shown probe's values (student and reference) to an .npz
        (a path or a binary file object)."""
        s, r = self.trace, self.reference_trace
        meta = {"format": FORMAT, "ok": self.ok, "bug": None if self.bug is None else asdict(self.bug),
                "first_divergence": None if self.first_divergence is None else asdict(self.first_divergence),
                "layout": self.layout, "convention": self.convention, "variant": self.variant,
                "input_size": self.input_size, "hidden_size": self.hidden_size, "checked": self.checked,
                "notes": list(self.notes), "verdict": str(self), "cell": self.cell}
        arrays = {"x": self.x}
        for who, tr in (("student", s), ("reference", r)):  # gates (T, B, G, H) in the cell's order; states (T, B, H)
            gates = [k for k in tr.fields if k not in ("c", "h")]
            arrays[f"{who}_gates"] = torch.stack([tr.get(k) for k in gates], dim=2)
            arrays.update({f"{who}_{q}": tr.get(q) for q in ("c", "h") if q in tr.fields})
        arrays = {k: v.detach().cpu().to(torch.float64).numpy() for k, v in arrays.items()}
        if hasattr(path, "write"):
            np.savez_compressed(path, meta=np.array(json.dumps(meta)), **arrays)
            return
        with open(path, "wb") as fh:
            np.savez_compressed(fh, meta=np.array(json.dumps(meta)), **arrays)

    @classmethod
    def load(cls, source):
        """A Report from a file `save` wrote (a path or a file-like object); CheckError on anything else."""
        try:
            if hasattr(source, "read"):
                raw = source.read(MAX_BYTES + 1)
                if len(raw) > MAX_BYTES:
                    raise CheckError(f"report file: larger than {MAX_BYTES // 2**20} MB; a report is a few KB")
                import io
                source = io.BytesIO(raw)
            elif os.path.getsize(source) > MAX_BYTES:
                raise CheckError(f"report file: larger than {MAX_BYTES // 2**20} MB; a report is a few KB")
            with np.load(source, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
        except CheckError:
            raise
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
            raise CheckError(f"report file: not an .npz written by report.save ({type(e).__name__}: {e})") from None
        except Exception as e:  # noqa: BLE001 - a hostile zip can raise more than the above
            raise CheckError(f"report file: cannot be read ({type(e).__name__}: {e})") from None
        return _from_arrays(data)


def _from_arrays(data):
    if "meta" not in data:
        raise CheckError("report file: missing meta; was it written by report.save?")
    m = data["meta"]
    if m.dtype.kind != "U" or m.shape != () or m.size * 4 > 2**20:
        raise CheckError("report file: 'meta' must be one JSON string")
    try:
        meta = json.loads(str(m))
    except json.JSONDecodeError as e:
        raise CheckError(f"report file: 'meta' is not JSON ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckError(f"report file: format {meta.get('format') if isinstance(meta, dict) else None!r}; "
                         f"expected {FORMAT!r}")
    cell = meta.get("cell", "lstm")  # files written before the GRU have no cell: an LSTM's
    if not isinstance(cell, str) or cell not in CELLS:  # a list is unhashable: not `in` a dict
        raise CheckError(f"report file: cell {cell!r}; expected 'lstm' or 'gru'")
    states = ("c", "h") if cell == "lstm" else ("h",)
    need = ("x",) + tuple(f"{who}_{q}" for who in ("student", "reference") for q in ("gates",) + states)
    missing = [k for k in need if k not in data]
    if missing:
        raise CheckError(f"report file: missing {', '.join(missing)}; was it written by report.save?")
    variant = _text(meta, "variant", CELLS[cell][1][0])
    if variant not in CELLS[cell][1]:
        raise CheckError(f"report file: variant {variant!r}; expected {' or '.join(map(repr, CELLS[cell][1]))} "
                         f"for a cell {cell!r}")
    x = _array(data, "x", 3)
    T, B, I = x.shape
    if not (1 <= T <= MAX_T and 1 <= B <= MAX_B and 1 <= I <= MAX_I):
        raise CheckError(f"report file: x has shape {x.shape}; expected (T, B, I) with T <= {MAX_T}, B <= {MAX_B}")
    H = _array(data, f"student_{states[0]}", 3).shape[2]
    if not 1 <= H <= MAX_H:
        raise CheckError(f"report file: hidden size {H}; expected 1..{MAX_H}")
    shapes = {"gates": (T, B, 4 if cell == "lstm" else 3, H), **{q: (T, B, H) for q in states}}
    traces = []
    for who in ("student", "reference"):
        got = {}
        for q, shape in shapes.items():
            a = _array(data, f"{who}_{q}", len(shape))
            if a.shape != shape:
                raise CheckError(f"report file: {who}_{q} has shape {a.shape}; expected {shape}")
            got[q] = torch.from_numpy(a)
        traces.append(_trace(got["gates"], got.get("c"), got["h"], variant, {"source": who}, cell))
    ints = {}
    for k in ("input_size", "hidden_size"):
        v = meta.get(k)
        if not isinstance(v, int) or isinstance(v, bool):
            raise CheckError(f"report file: meta {k} must be an int, got {v!r}")
        ints[k] = v
    if (ints["input_size"], ints["hidden_size"]) != (I, H):
        raise CheckError(f"report file: sizes {ints} do not match the arrays (I={I}, H={H})")
    ok = meta.get("ok")
    if not isinstance(ok, bool):
        raise CheckError("report file: meta 'ok' must be true or false")
    return Report(ok, _bug(meta.get("bug"), CELLS[cell][2]), _divergence(meta.get("first_divergence"), T, H, states),
                  traces[0], traces[1], _text(meta, "layout"), _text(meta, "convention"), variant,
                  I, H, _text(meta, "checked"), [str(n)[:500] for n in meta.get("notes", [])[:20]]
                  if isinstance(meta.get("notes"), list) else [], torch.from_numpy(x), [traces[0]], [traces[1]], cell)


def _array(data, key, ndim):
    a = data[key]
    if a.dtype.kind != "f" or a.ndim != ndim:
        raise CheckError(f"report file: {key} must be a {ndim}-d float array, got {a.ndim}-d {a.dtype}")
    return a.astype(np.float64)


def _text(meta, key, default=""):
    v = meta.get(key, default)
    if not isinstance(v, str):
        raise CheckError(f"report file: meta {key!r} must be text, got {type(v).__name__}")
    return v[:2000]


def _bug(b, titles):
    if b is None:
        return None
    if not isinstance(b, dict) or not all(isinstance(b.get(k), str) for k in ("code", "title", "explanation")):
        raise CheckError("report file: meta 'bug' must have text code, title and explanation")
    if b["code"] not in titles:
        raise CheckError(f"report file: bug code {b['code']!r} is not one of {', '.join(titles)}")
    ev = b.get("evidence") or {}
    if not isinstance(ev, dict):
        raise CheckError("report file: bug evidence must be a mapping")
    also = tuple(str(c) for c in b.get("also") or () if str(c) in titles)
    return Bug(b["code"], b["title"][:300], b["explanation"][:2000], {str(k)[:100]: str(v)[:300] for k, v in
               list(ev.items())[:20]}, str(b.get("what", ""))[:500], str(b.get("line", ""))[:200],
               str(b.get("quantity", ""))[:10], also)


def _divergence(d, T, H, states=("c", "h")):
    if d is None:
        return None
    try:
        step, units, diff = int(d["step"]), tuple(int(u) for u in d["units"]), float(d["difference"])
        quantity, probe, row = str(d["quantity"]), str(d["probe"])[:100], int(d["row"])
    except (KeyError, TypeError, ValueError):
        raise CheckError("report file: meta 'first_divergence' is malformed") from None
    if not 0 <= step < T or quantity not in states or not all(0 <= u < H for u in units) \
            or not math.isfinite(diff):
        raise CheckError(f"report file: first divergence at step {step}, {quantity}, units {units} is outside "
                         f"the arrays (T={T}, H={H})")
    return Divergence(step, quantity, units, diff, probe, row)


def _trace(gates, c, h, variant, meta, cell="lstm"):
    """A one-layer Trace from time-major gates (T, B, G, H) in the cell's order (i, f, g, o; a
    GRU's r, z, n) and (T, B, H) states (c None for a GRU)."""
    T, B = h.shape[:2]
    mask, lengths = torch.ones(T, B, dtype=torch.bool), torch.full((B,), T, dtype=torch.int64)
    if cell == "gru":
        values = {k: v.unsqueeze(0) for k, v in zip("rzn", gates.unbind(2))}
        values["h"] = h.unsqueeze(0)
        return Trace(gru_cell.declaration(variant), values, h.clone(), h[-1:].clone(), None, mask, lengths, 1, 1,
                     "checker", meta=dict(meta))
    return Trace.lstm(gates.unsqueeze(0), c.unsqueeze(0), h.unsqueeze(0), h.clone(), h[-1:].clone(),
                      c[-1:].clone(), mask, lengths, 1, 1, variant, "checker", meta=meta)
