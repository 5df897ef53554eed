"""`check` for a GRU: a student's GRUCell or GRU run beside `lstm_core.cells.gru.step`, the bug named.

The same probes and comparison as the LSTM's (`core`), with one state, h: our float64
weights written through the detected layout (`readings`, blocks r | z | n), two runs of T
steps from zero and non-zero h_0, each step compared with the reference and with every
mutant of `gru_mutants`. When the user does not say which reset, both forms are tried and
the report says which one the code implements; it is no bug to implement Cho et al.'s.
"""
import functools

import torch

from ..gru import GRU
from . import gru_conventions, gru_mutants
from .core import PROBES, TOL, _analyse, _close, _first_divergence, _probes, _rank, _run_student, _weights
from .gru_mutants import form
from .layouts import CheckError
from .report import Bug, Divergence, Report, _trace

# distinct gate levels, so that r and z read from each other's block show
GATE_OFFSETS = {"r": 0.9, "z": -0.6, "n": 0.5}


def check_gru(module, layouts, I, H, reset, call, steps, batch, seed):
    """The best Report over the GRU layouts and, when reset is None, both resets."""
    resets = (reset,) if reset else ("after", "before")
    best, conv = None, None
    with torch.no_grad():
        for lay in layouts:
            g = torch.Generator().manual_seed(seed)
            w = _weights("rzn", I, H, len(lay.bias_labels), g, GATE_OFFSETS, lay.bias_sides)
            lay.write(w)
            conv = conv or gru_conventions.detect(module, I, H, call)
            x, h0, _ = _probes(I, H, steps, batch, g)
            out, fed = _run_student(conv, x, h0)
            for rs in resets:
                result = _judge(lay, conv, w, rs, x, h0, out, fed, I, H)
                if result.ok:
                    return _said(result, reset)
                if best is None or _rank(result) < _rank(best):
                    best = result
    return _said(best, reset)


def _said(report, asked):
    """The note on the reset when the user did not say which: both forms, and which one is theirs."""
    if asked is None:
        rs = report.variant
        other = "before" if rs == "after" else "after"
        fits = "yours is" if report.ok else "your values are checked against"
        report.notes.append(f"no reset= given: {fits} {form(rs)}. The other form is {form(other)}. "
                            "Pass reset= (--reset) to check against one of them.")
    return report


def _reference_model(w, I, H, reset):
    model = GRU(I, H, bias=bool(w.biases), reset=reset, dtype=torch.float64)
    sides = w.sides or tuple("x" if j == 0 else "h" for j in range(len(w.biases)))
    with torch.no_grad():
        model.weight_ih_l0.copy_(w.Wx.reshape(3 * H, I))
        model.weight_hh_l0.copy_(w.Wh.reshape(3 * H, H))
        if w.biases:
            for name, side in (("bias_ih_l0", "x"), ("bias_hh_l0", "h")):
                total = sum((b for b, s in zip(w.biases, sides) if s == side), torch.zeros(3, H, dtype=torch.float64))
                getattr(model, name).copy_(total.reshape(-1))  # (3H,)
    return model.eval()


def _predict(w, m, x, fed, reset):
    """A mutant's one-step answer to every step the student was fed: (1, P, T, B, H), gates (P, T, B, 3, H)."""
    P, T, B, I = x.shape
    H = fed.shape[-1]
    h, gates = gru_mutants.step(w, m, x.reshape(-1, I), fed[0].reshape(-1, H), reset)
    return h.reshape(1, P, T, B, H), gates.reshape(P, T, B, 3, H)


def _explain(mutant, reset):
    line = gru_mutants.equations(reset)[mutant.line]
    return (f"What your code does: {mutant.what}.\nWhat it should do: {line}.\n"
            f"The line of the equations it breaks:  {line}\n"), line


def _evidence(w, out, fed, x, div, reset):
    """At the first divergence: what z or n would have to be if it alone were wrong."""
    p, t = PROBES.index(div.probe), div.step
    h_ref, gates = gru_mutants.step(w, gru_mutants.REFERENCE, x[p, t], fed[0, p, t], reset)
    r, z, n = gates.unbind(1)
    h_s, h_prev = out[0, p, t], fed[0, p, t]

    def need(a, d):  # NaN where the denominator is 0: that quantity cannot be told there
        ok = d.abs() > 1e-9
        return torch.where(ok, a / torch.where(ok, d, 1.0), float("nan"))
    ev = {"h_t line (from the same h_{t-1})": f"your h_t differs from ours by up to {(h_s - h_ref).abs().max():.3g}"}
    for k, cur, want, lo in (("z", z, need(h_s - n, h_prev - n), 0), ("n", n, need(h_s - z * h_prev, 1 - z), -1)):
        known = ~torch.isnan(want)
        if not known.any():
            ev[f"{k} alone"] = "cannot be told at this step"
            continue
        inside = bool(((want[known] >= lo - TOL) & (want[known] <= 1 + TOL)).all())
        ev[f"{k} alone"] = (f"would have to change by up to {(want - cur).abs()[known].max().item():.3g}"
                            + ("" if inside else " (outside its range: not it alone)"))
    return ev


def _judge(lay, conv, w, reset, x, h0, out, fed, I, H):
    model = _reference_model(w, I, H, reset)
    refs = [model.trace(x[p], h0[p][None], method="reference").detach() for p in range(len(PROBES))]
    ref_h = [r.h[0] for r in refs]
    lib = gru_mutants.library(reset, I, H, lay.bias_labels, lay.bias_sides)
    T, B = x.shape[1:3]
    checked = (f"{len(PROBES)} probes (zero and non-zero initial states) x {T} steps x batch {B}, float64, "
               f"tolerance {TOL:g}; {len(lib)} mutants from the GRU's bug library")
    notes = [f"tensors the layout does not use were left as they are: {', '.join(lay.others[:6])}"] if lay.others \
        else []
    div = _first_divergence(out, ref_h)
    seq_div, seq_runs = None, {}  # sequence modules: where the whole run leaves the student's own steps
    if conv.run is not None:
        for p in range(len(PROBES)):
            try:
                seq_out, h_n = conv.run(x[p], h0[p])
            except Exception as e:  # noqa: BLE001 - the student's code
                raise CheckError(f"your module failed on a whole sequence ({PROBES[p]}): "
                                 f"{type(e).__name__}: {e}") from e
            seq_out = seq_out.double()
            bad = ~_close(seq_out, out[0, p])
            if bad.any():
                t = int(bad.any(dim=(1, 2)).nonzero()[0])
                d = (seq_out - ref_h[p])[t].abs()
                seq_div = Divergence(t, "h", tuple(int(u) for u in bad[t].any(dim=0).nonzero().flatten()),
                                     float(d.max()), PROBES[p], int(d.max(dim=1).values.argmax()))
                seq_runs[p] = seq_out
                break
    steps_ok = div is None
    predict = functools.partial(_predict, reset=reset)
    pred_mut, bug = None, None
    if div is not None:
        pred_mut, bug = _analyse(w, lib, out, fed, x, lambda m: _explain(m, reset), predict,
                                 gru_mutants.REFERENCE, gru_mutants.BUG_CODES, gru_mutants.TITLES, pair_all=True)
        if bug is None:
            bug = Bug("unknown", gru_mutants.TITLES["unknown"], "No mistake of the library (nor two of them) "
                      "reproduces your values. The first difference and what z or n would have to be are the "
                      "evidence below.", _evidence(w, out, fed, x, div, reset), "", "", div.quantity)
        if seq_div is not None:
            notes.append(f"run on a whole sequence, your module differs from its own steps from step "
                         f"t={seq_div.step} on: the loop over time does not carry h from one step to the next either")
    elif seq_div is not None:
        div = seq_div
        line = gru_mutants.equations(reset)["h"]
        bug = Bug("stale_state", gru_mutants.TITLES["stale_state"], "Every single step is right (a sequence of "
                  "length 1 from our state), but over a whole sequence the outputs differ: each step does not "
                  "start from the h_{t-1} the step before returned.\nWhat it should do: " + line + ", with "
                  "h_{t-1} the previous step's h_t.\nThe line of the equations it breaks:  " + line + "\n",
                  {"first differing step of the whole run": str(seq_div.step)},
                  "each step starts from a stale state, not the previous step's h_t", line, "h")
    ok = div is None
    src = gru_mutants.REFERENCE if ok else pred_mut
    known = src is not None and not (steps_ok and seq_runs)  # the gates the student's steps computed
    gates = predict(w, src, x, fed)[1] if known else torch.full((len(PROBES), T, B, 3, H), float("nan"),
                                                                 dtype=torch.float64)  # (P, T, B, 3, H)
    traces = []
    for p in range(len(PROBES)):
        h_p = seq_runs.get(p, out[0, p]) if steps_ok else out[0, p]  # the whole run, where it is what differs
        traces.append(_trace(gates[p], None, h_p, reset, {"source": "student", "probe": PROBES[p], "gates":
                             "recovered" if known else "not recoverable (NaN)"}, "gru"))
    p_show = 1 if div is None else PROBES.index(div.probe)
    report = Report(ok, bug, div, traces[p_show], refs[p_show], lay.name, conv.name, reset, I, H, checked, notes,
                    x[p_show], traces, refs, "gru")
    report._steps_ok = steps_ok
    return report
