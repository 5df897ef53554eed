"""`check`: run a student's LSTM (or GRU, `gru_check`) on our weights and inputs, compare every step,
name the bug. The comparison here (`_run_student`, `_first_divergence`, `_analyse`) serves both cells.

The probes: our own float64 weights are written into the student's parameters through the
detected layout, then two runs of T = 4 steps on a batch of B = 3, one from zero initial
states and one from non-zero ones, with biases that keep every gate's pre-activation away
from 0 (so a swapped σ / tanh or a swapped gate shows). Each step of the student is then
compared with every mutant of `mutants.library` fed the same previous state: a mutant that
reproduces every value within 1e-6 names the bug.
"""
import inspect
import itertools

import torch

from ..model import LSTM
from . import mutants, readings, which
from .layouts import CheckError
from .mutants import REFERENCE, TITLES, Weights
from .report import Bug, Divergence, Report, _trace

TOL = 1e-6
MAX_PAIRED = 40  # mutants tried in pairs for two mistakes: at most 780 pairs, about 0.5 s
PROBES = ("zero initial state", "non-zero initial state")
GATE_OFFSETS = {"i": 0.8, "f": 1.2, "g": -0.6, "o": -1.0}  # distinct gate levels: a swap shows


def _instantiate(student, I, H):
    if not isinstance(student, type):
        return student
    try:
        sig = inspect.signature(student)
    except (TypeError, ValueError):
        return student(I, H)
    extra = {}
    for j, p in enumerate(list(sig.parameters.values())[2:]):
        if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            if p.name == "device":
                extra[p.name] = torch.device("cpu")
            elif p.name == "dtype":
                extra[p.name] = torch.float64
            else:
                raise CheckError(f"{student.__name__}({', '.join(sig.parameters)}): cannot guess {p.name!r}; "
                                 f"create it yourself and pass the instance: check({student.__name__}(...), ...)")
    try:
        return student(I, H, **extra)
    except Exception as e:  # noqa: BLE001 - the student's constructor
        raise CheckError(f"{student.__name__}({I}, {H}) failed: {type(e).__name__}: {e}") from e


def _weights(gates, I, H, n_biases, g, offsets=GATE_OFFSETS, sides=()):
    G = len(gates)
    Wx = (torch.rand(G, H, I, generator=g, dtype=torch.float64) * 2 - 1) * 1.5 / I ** 0.5
    Wh = (torch.rand(G, H, H, generator=g, dtype=torch.float64) * 2 - 1) * 1.5 / H ** 0.5
    offset = torch.tensor([offsets[k] for k in gates], dtype=torch.float64).unsqueeze(1)  # (G, 1)
    biases = []
    for j in range(n_biases):
        b = (torch.rand(G, H, generator=g, dtype=torch.float64) * 0.6 + 0.2) * torch.where(
            torch.rand(G, H, generator=g) < 0.5, -1.0, 1.0).double()
        biases.append(b + offset / n_biases)
    return Weights(gates, Wx, Wh, tuple(biases), tuple(sides))


def _reference_model(w, I, H, variant):
    model = LSTM(I, H, variant=variant, bias=bool(w.biases), dtype=torch.float64)
    G = len(w.gates)
    with torch.no_grad():
        model.weight_ih_l0.copy_(w.Wx.reshape(G * H, I))
        model.weight_hh_l0.copy_(w.Wh.reshape(G * H, H))
        if w.biases:
            model.bias_ih_l0.copy_(w.biases[0].reshape(-1))
            model.bias_hh_l0.copy_(sum(w.biases[1:], torch.zeros(G, H, dtype=torch.float64)).reshape(-1))
    return model.eval()


def _probes(I, H, T, B, g):
    x = torch.randn(len(PROBES), T, B, I, generator=g, dtype=torch.float64)
    h0 = torch.zeros(len(PROBES), B, H, dtype=torch.float64)
    c0 = torch.zeros(len(PROBES), B, H, dtype=torch.float64)
    h0[1] = torch.rand(B, H, generator=g, dtype=torch.float64) * 1.6 - 0.8
    c0[1] = torch.randn(B, H, generator=g, dtype=torch.float64)
    return x, h0, c0


def _run_student(conv, x, *states0):
    """Step the student's module through every probe: its outputs and the states it was fed,
    each (S, P, T, B, H) for the S states (h, c of an LSTM; h of a GRU), each state0 (P, B, H)."""
    P, T, B, _ = x.shape
    S, H = len(states0), states0[0].shape[2]
    out = torch.empty(S, P, T, B, H, dtype=torch.float64)
    fed = torch.empty(S, P, T, B, H, dtype=torch.float64)
    for p in range(P):
        states = [s[p] for s in states0]
        for t in range(T):
            for j, s in enumerate(states):
                fed[j, p, t] = s
            try:
                got = conv.step(x[p, t], *states)
            except CheckError:
                raise
            except Exception as e:  # noqa: BLE001 - the student's code
                hint = (" (the checker runs in float64: make new tensors with dtype=x.dtype, not float32)"
                        if "dtype" in str(e) or "Double" in str(e) or "Float" in str(e) else "")
                raise CheckError(f"your module failed at step t={t} ({PROBES[p]}): "
                                 f"{type(e).__name__}: {e}{hint}") from e
            for j, v in enumerate(got):
                out[j, p, t] = v.detach().to(torch.float64).reshape(B, H)
            states = list(out[:, p, t])
    return out, fed


def _close(a, b):
    return (a - b).abs() <= TOL * torch.clamp(b.abs(), min=1.0)


def _predict(w, m, x, fed):
    """A mutant's one-step answer to every step the student was fed: (2, P, T, B, H), gates (P, T, B, 4, H)."""
    P, T, B, I = x.shape
    H = fed.shape[-1]
    a, b, gates = mutants.step(w, m, x.reshape(-1, I), fed[0].reshape(-1, H), fed[1].reshape(-1, H))
    return torch.stack([a, b]).reshape(2, P, T, B, H), gates.reshape(P, T, B, 4, H)


def _score(pred, out):
    """(fraction of the student's values the prediction reproduces, mean |difference|)."""
    d = (pred - out).abs()
    return (d <= TOL * torch.clamp(out.abs(), min=1.0)).double().mean().item(), d.nan_to_num(1e9).mean().item()


def _first_divergence(out, ref_h, ref_c=None):
    """Earliest (probe, step) where the student's h or c (an LSTM's; ref_c None: a GRU) leaves the
    reference run."""
    best = None
    for p in range(out.shape[1]):
        for t in range(out.shape[2]):
            pairs = [("h", out[0, p, t], ref_h[p][t])]
            if ref_c is not None:
                pairs.insert(0, ("c", out[1, p, t], ref_c[p][t]))
            for q, mine, ours in pairs:
                bad = ~_close(mine, ours) | ~torch.isfinite(mine)
                if bad.any():
                    if best is None or t < best.step:
                        d = (mine - ours).abs().nan_to_num(float("inf"))
                        row = int(d.max(dim=1).values.argmax())
                        units = tuple(int(u) for u in torch.nonzero(bad.any(dim=0)).flatten())
                        best = Divergence(t, q, units, float(d.max()), PROBES[p], row)
                    break
            if best is not None and best.step <= t:
                break
    return best


def _per_gate_evidence(w, out, fed, x, div):
    """At the first divergence: what each gate would have to be if it alone were wrong."""
    p = PROBES.index(div.probe)
    t = div.step
    a, b, gates = mutants.step(w, REFERENCE, x[p, t], fed[0, p, t], fed[1, p, t])
    i, f, g, o = gates.unbind(1)
    h_s, c_s, c_prev = out[0, p, t], out[1, p, t], fed[1, p, t]
    def div_(a, d):  # NaN where the denominator is 0: that gate cannot be told there
        return torch.where(d.abs() > 1e-9, a / torch.where(d.abs() > 1e-9, d, 1.0), float("nan"))
    need = {"i": div_(c_s - f * c_prev, g), "f": div_(c_s - i * g, c_prev), "g": div_(c_s - f * c_prev, i),
            "o": div_(h_s, torch.tanh(c_s))}
    ev = {"c_t line (from the same previous state)": f"your c_t differs from ours by up to {(c_s - b).abs().max():.3g}",
          "h_t line (from your own c_t)": f"o_t ⊙ tanh(your c_t) differs from your h_t by up to "
                                          f"{(h_s - o * torch.tanh(c_s)).abs().max():.3g}"}
    for k, cur in zip("ifgo", (i, f, g, o)):
        if k == "i" and "i" not in w.gates:
            continue
        known = ~torch.isnan(need[k])
        if not known.any():
            ev[f"gate {k} alone"] = "cannot be told at this step (c_{t-1} = 0)" if k == "f" else "cannot be told"
            continue
        d = (need[k] - cur).abs()[known].max().item()
        lo, hi = (-1, 1) if k == "g" else (0, 1)
        inside = bool(((need[k][known] >= lo - TOL) & (need[k][known] <= hi + TOL)).all())
        ev[f"gate {k} alone"] = f"would have to change by up to {d:.3g}" + ("" if inside else
                                                                             " (outside its range: not it alone)")
    return ev


def _explain(mutant, variant, convention):
    eqs = mutants.COUPLED_EQUATIONS if variant == "coupled" else mutants.EQUATIONS
    if mutant.line == "return":
        order = "(c, h)" if "-> (c, h)" in convention else "(h, c)"
        should = f"return the new states in the order your call expects, {order}"
        line = f"the return {order}"
    else:
        line = eqs[mutant.line]
        should = line
    return (f"What your code does: {mutant.what}.\nWhat it should do: {should}.\n"
            f"The line of the equations it breaks:  {line}\n"), line


def _analyse(w, lib, out, fed, x, explain, predict=None, reference=REFERENCE, codes=mutants.BUG_CODES,
             titles=TITLES, pair_all=False):
    """The mutant(s) that explain the student's values: (mutation, Bug) or (None, None).

    A mutant explains a value when it reproduces it within TOL; the one that explains the
    most is the one that removes most of the difference to the reference (mean |error|).
    explain(mutant) -> (explanation, line); predict(w, mutation, x, fed) -> (values, gates):
    the cell's (default: the LSTM's), with its reference mutation, bug codes and titles.
    pair_all: try every pair of mutants for two mistakes, not only those that alone bring the
    values closer (a small library: the GRU's 44 mutants make 946 pairs, about 0.3 s).
    """
    predict = predict or _predict
    ref_err = _score(predict(w, reference, x, fed)[0], out)[1] or 1e-300
    scored = []
    for j, m in enumerate(lib):
        match, err = _score(predict(w, m.mutation, x, fed)[0], out)
        scored.append((match, 1 - err / ref_err, j, m))
    scored.sort(key=lambda s: (-s[0], -s[1], codes.index(s[3].code), s[2]))
    exact = [m for s, _, _, m in scored if s == 1.0]
    if exact:
        m = exact[0]
        explanation, line = explain(m)
        others = sorted({e.code for e in exact[1:]} - {m.code}, key=codes.index)
        ev = {"explains": "every value of every probe, step by step"}
        if others:
            ev["the same numbers also come from"] = ", ".join(others)
        return m.mutation, Bug(m.code, titles[m.code], explanation, ev, m.what, line, m.line)
    by_gain = sorted(scored, key=lambda s: (-s[1], codes.index(s[3].code), s[2]))
    # a part of a two-mistake bug usually removes some of the difference alone; not always: a GRU's
    # flipped update with n lacking its tanh is further from ours than either mistake alone
    helpful = by_gain if pair_all else [s for s in by_gain if s[1] > 0][:MAX_PAIRED]
    for (_, g1, _, m1), (_, g2, _, m2) in itertools.combinations(helpful, 2):
        if m1.code == m2.code:
            continue
        both = mutants.combine(m1.mutation, m2.mutation)
        if both is not None and _score(predict(w, both, x, fed)[0], out)[0] == 1.0:
            explanation, line = explain(m1)
            e2, _ = explain(m2)
            explanation += (f"It takes a second mistake to explain every value, {m2.code}: "
                            f"{e2.splitlines()[0][len('What your code does: '):]}")
            ev = {"explains": f"{m1.code} alone removes {max(g1, 0):.0%} of the difference, {m2.code} alone "
                              f"{max(g2, 0):.0%}, the two together all of it"}
            return both, Bug(m1.code, titles[m1.code], explanation, ev, m1.what, line, m1.line, (m2.code,))
    s, gain, _, m = by_gain[0]
    if gain >= 0.5:
        explanation, line = explain(m)
        explanation += (f"This removes {gain:.0%} of the difference to the reference, not all of it: "
                        "something else differs too, and no second mistake of the library explains the rest.")
        return None, Bug(m.code, titles[m.code], explanation, {"explains": f"{gain:.0%} of the difference"},
                         m.what, line, m.line, ("unknown",))
    return None, None


def check(student, input_size, hidden_size, *, cell=None, variant=None, reset=None, layout=None, call=None,
          steps=4, batch=3, seed=0):
    """Check a student's LSTM or GRU, a cell or a sequence module, against `lstm_core.LSTM` or
    the GRU's `lstm_core.cells.gru.step`.

    Args:
        student: a class (instantiated as student(input_size, hidden_size)) or an instance.
        input_size, hidden_size: I and H.
        cell: "lstm" or "gru"; default: from the weights (4 blocks: an LSTM; r, z names: a GRU)
            and, for 3 fused blocks (a GRU or an LSTM without i), from how the module is called.
        variant: an LSTM's "standard" or "coupled"; default: coupled when the layout has no
            input gate. variant="gru" is cell="gru".
        reset: a GRU's "after" (torch.nn.GRU) or "before" (Cho et al. 2014); default: both are
            tried, and the report says which one the code implements.
        layout: a mapping from our weight names to the student's attribute paths, when the
            layout is not found on its own (see `lstm_core.checker.readings` and `.layouts`).
        call: an adapter call(module, x (B, I), h (B, H), c (B, H)) -> (h, c) (a GRU:
            call(module, x, h) -> h), when the convention is not found on its own (see
            `lstm_core.checker.conventions` and `.gru_conventions`).
        steps, batch: T and B of each probe. seed: of our weights and inputs.

    Returns a `Report`: .ok, .bug, .first_divergence, .trace, .reference_trace; print it.
    Raises CheckError (a ValueError) when the module cannot be run, with what to change.
    """
    for name, v, lo in (("input_size", input_size, 1), ("hidden_size", hidden_size, 1), ("steps", steps, 2),
                        ("batch", batch, 2)):
        if not isinstance(v, int) or isinstance(v, bool) or v < lo:
            raise CheckError(f"{name}: expected an int >= {lo}, got {v!r}")
    cell = which.asked(cell, variant, reset)
    variant = None if variant == "gru" else variant
    # Tensors of a few rows: one thread is 60x faster than two on a loaded machine (44 ms -> 0.7 ms
    # per mutant, measured), and the student's code does not need more.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _check(student, input_size, hidden_size, cell, variant, reset, layout, call, steps, batch, seed)
    finally:
        torch.set_num_threads(threads)


def _check(student, I, H, cell, variant, reset, layout, call, steps, batch, seed):
    module = _instantiate(student, I, H)
    candidates = readings.detect(module, I, H, layout, cell)
    if hasattr(module, "double") and isinstance(module, torch.nn.Module):
        module.double()
    if hasattr(module, "eval") and isinstance(module, torch.nn.Module):
        module.eval()
    grus = [lay for lay in candidates if lay.gates == "rzn"]
    candidates = [lay for lay in candidates if lay.gates != "rzn"]
    if grus and (not candidates or which.called_as(module, I, H, call) == "gru"):
        from .gru_check import check_gru  # it builds on this module's comparison
        return check_gru(module, grus, I, H, reset, call, steps, batch, seed)
    best = None
    with torch.no_grad():
        conv = None
        for lay in candidates:
            gates = lay.gates
            var = variant or ("coupled" if gates == "fgo" else "standard")
            if (var == "coupled") != (gates == "fgo"):
                raise CheckError(f"variant={var!r}, but the layout {lay.name} has gates {', '.join(gates)}: "
                                 "the coupled cell has no input-gate weights")
            g = torch.Generator().manual_seed(seed)
            w = _weights(gates, I, H, len(lay.bias_labels), g)
            lay.write(w)
            conv = conv or which.lstm_convention(module, I, H, call, gates)
            x, h0, c0 = _probes(I, H, steps, batch, g)
            out, fed = _run_student(conv, x, h0, c0)
            result = _judge(module, lay, conv, w, var, x, h0, c0, out, fed, I, H)
            if result.ok:
                return result
            if best is None or _rank(result) < _rank(best):
                best = result
    return best


def _rank(r):
    """Better explanations first: a named bug, then one needing a second mistake, then unknown."""
    return (not r._steps_ok, r.bug is None or r.bug.code == "unknown", "unknown" in r.bug.also if r.bug else True,
            bool(r.bug.also) if r.bug else True)


def _judge(module, lay, conv, w, var, x, h0, c0, out, fed, I, H):
    model = _reference_model(w, I, H, var)
    refs = [model.trace(x[p], (h0[p][None], c0[p][None])) for p in range(len(PROBES))]
    ref_h = [r.h[0] for r in refs]
    ref_c = [r.c[0] for r in refs]
    lib = mutants.library(lay.gates, I, H, lay.bias_labels)
    n = len(lib)
    T, B = x.shape[1:3]
    checked = (f"{len(PROBES)} probes (zero and non-zero initial states) x {T} steps x batch {B}, float64, "
               f"tolerance {TOL:g}; {n} mutants from the bug library")
    notes = []
    if lay.others:
        notes.append(f"tensors the layout does not use were left as they are: {', '.join(lay.others[:6])}")
    div = _first_divergence(out, ref_h, ref_c)
    seq_div = None  # sequence modules: where the whole run leaves the student's own steps
    seq_runs = {}
    if conv.run is not None:
        for p in range(len(PROBES)):
            try:
                seq_out, h_n, c_n = conv.run(x[p], h0[p], c0[p])
            except Exception as e:  # noqa: BLE001 - the student's code
                raise CheckError(f"your module failed on a whole sequence ({PROBES[p]}): "
                                 f"{type(e).__name__}: {e}") from e
            seq_out, c_n = seq_out.double(), c_n.double()
            bad = ~_close(seq_out, out[0, p])
            if bad.any() or not _close(c_n, out[1, p, -1]).all():
                t = int(bad.any(dim=(1, 2)).nonzero()[0]) if bad.any() else T - 1
                d = (seq_out - ref_h[p])[t].abs()
                seq_div = Divergence(t, "h", tuple(int(u) for u in bad[t].any(dim=0).nonzero().flatten()),
                                     float(d.max()), PROBES[p], int(d.max(dim=1).values.argmax()))
                seq_runs[p] = (seq_out, c_n)
                break
    if seq_div is not None and div is not None:
        notes.append(f"run on a whole sequence, your module differs from its own steps from step t={seq_div.step} "
                     "on: the loop over time does not carry h and c from one step to the next either")
    steps_ok = div is None
    pred_mut, bug = (None, None)
    if div is not None:
        pred_mut, bug = _analyse(w, lib, out, fed, x, lambda m: _explain(m, var, conv.name))
        if bug is None:
            ev = _per_gate_evidence(w, out, fed, x, div)
            bug = Bug("unknown", TITLES["unknown"], "No mistake of the library (nor two of them) reproduces your "
                      "values. The first difference and what each gate would have to be are the evidence below.",
                      ev, "", "", div.quantity)
    elif seq_div is not None:
        div = seq_div
        bug = Bug("unknown", TITLES["unknown"], "Every single step is right (a sequence of length 1 from our "
                  "state), but over a whole sequence the outputs differ: the loop over time does not carry "
                  "h and c from one step to the next (is h_{t-1} updated after each step?).",
                  {"first differing step of the whole run": str(seq_div.step)}, "", "", "h")
    ok = div is None
    gate_src = REFERENCE if ok else pred_mut
    p_show = 1 if div is None else PROBES.index(div.probe)
    traces = []
    for p in range(len(PROBES)):
        if gate_src is not None and not (steps_ok and seq_runs):
            _, gates = _predict(w, gate_src, x, fed)
            gp = gates[p]
        else:
            gp = torch.full((T, B, 4, H), float("nan"), dtype=torch.float64)
        h_p, c_p = out[0, p], out[1, p]
        if steps_ok and p in seq_runs:  # the whole run is what differs: show it (c only at its end)
            h_p, c_p = seq_runs[p][0], torch.full_like(c_p, float("nan"))
            c_p[-1] = seq_runs[p][1]
        traces.append(_trace(gp, c_p, h_p, var, {"source": "student", "probe": PROBES[p],
                                                            "gates": "recovered" if gate_src is not None
                                                            else "not recoverable (NaN)"}))
    report = Report(ok, bug, div, traces[p_show], refs[p_show].detach(), lay.name, conv.name, var, I, H, checked,
                    notes, x[p_show], traces, [r.detach() for r in refs])
    report._steps_ok = steps_ok  # every step alone equals ours: this layout is the right reading
    return report
