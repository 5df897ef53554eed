"""The engine's own contracts: chunk boundaries on every path, the variants' rules, and
padding that never leaks (issue 11), each against an independent reference."""
import math

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import lstm_core
from helpers.equations import close, run_equations, variant_kwargs
from lstm_core.engine import loop, replay
from lstm_core.cells.variants import REGISTRY, variant_rules

D64 = torch.float64


# ---------------------------------------------------------------- chunk boundaries

@pytest.mark.parametrize("variant", lstm_core.VARIANTS)
def test_chunk_boundaries_on_every_path(variant, monkeypatch):
    """With chunks of 1, 3 and 17 steps (17 >= 16 takes the two-level scan inside a chunk),
    every path still computes the equations: state carried across chunks, step 0 of a
    later chunk seeing the last h of the one before, final states taken in any chunk."""
    T, B, H = 40, 3, 4
    m = lstm_core.LSTM(3, H, 2, variant=variant, bidirectional=True, dtype=D64, init="normal")
    x = torch.randn(T, B, 3, dtype=D64)
    state = (torch.randn(4, B, H, dtype=D64), torch.randn(4, B, H, dtype=D64))
    lengths = torch.tensor([40, 17, 5])
    want = run_equations(dict(m.named_parameters()), x, h0=state[0], c0=state[1], lengths=lengths,
                         **variant_kwargs(m))
    methods = ["loop"] + (["replay"] if m.cell.fusable else [])
    for steps in (1, 3, 17):
        # replay's chunk is CHUNK_ELEMENTS // (B*4*H) steps, the loop's at least as many
        monkeypatch.setattr(replay, "CHUNK_ELEMENTS", steps * B * 4 * H)
        monkeypatch.setattr(loop, "CHUNK_ELEMENTS", steps * B * 4 * H)
        for method in methods:
            with torch.no_grad():
                tr = m.trace(x, state, lengths=lengths, method=method)
            assert tr.method == method
            for name in ("i", "f", "g", "o", "c", "h", "output", "h_n", "c_n"):
                close(getattr(tr, name), want[name], 1e-10)


# ---------------------------------------------------------------- the variants' rules

@pytest.mark.parametrize("variant", lstm_core.VARIANTS)
def test_rules_say_what_the_trace_holds(variant):
    """Each gate is exactly one of: with parameters, fixed at 1, tied to 1 - its source;
    the trace of every path holds what the rules say."""
    r = variant_rules(variant)
    assert r.gates == REGISTRY[variant].gates
    for k in "ifo":
        assert [k in r.gates, k in r.fixed, k in r.tied].count(True) == 1, k
    assert r.fusable == lstm_core.LSTM(2, 3, variant=variant).cell.fusable
    m = lstm_core.LSTM(2, 3, variant=variant)
    x = torch.randn(6, 2, 2)
    with torch.no_grad():
        for method in ("reference", "loop") + (("replay",) if r.fusable else ()):
            tr = m.trace(x, method=method)
            for k in r.fixed:
                assert torch.equal(getattr(tr, k), torch.ones_like(tr.c)), (method, k)
            for k, src in r.tied.items():
                close(getattr(tr, k), 1 - getattr(tr, src), 1e-7)
            for k in r.gates.replace("g", ""):  # sigmoid gates with parameters are strictly inside (0, 1)
                t = getattr(tr, k)
                assert ((t > 0) & (t < 1)).all(), (method, k)


def test_rules_as_text():
    assert variant_rules("coupled").formula("i") == "i = 1 − f"
    assert variant_rules("coupled").cell_update() == "c_t = f ⊙ c_{t−1} + (1 − f) ⊙ g"
    assert variant_rules("no_input_gate").formula("i") == "i = 1"
    assert variant_rules("no_input_gate").cell_update() == "c_t = f ⊙ c_{t−1} + g"
    assert variant_rules("no_forget_gate").cell_update() == "c_t = c_{t−1} + i ⊙ g"
    assert variant_rules("no_output_gate").hidden_update() == "h_t = tanh(c_t)"
    assert variant_rules("no_output_activation").hidden_update() == "h_t = o ⊙ c_t"
    assert variant_rules("no_input_activation").formula("g") == "g = z_g"
    assert variant_rules("peephole").formula("o") == "o = σ(z_o + p ⊙ c_t)"
    assert variant_rules("peephole", peephole_output="previous").formula("o") == "o = σ(z_o + p ⊙ c_{t−1})"
    assert variant_rules("coupled", peephole=True).peepholes == "fo"
    assert variant_rules("standard").formula("f") == "f = σ(z_f)"
    with pytest.raises(ValueError, match="variant: unknown name 'lstm'; expected one of standard, coupled"):
        variant_rules("lstm")
    with pytest.raises(ValueError, match="peephole_output: expected 'current' or 'previous', got 'next'"):
        variant_rules("peephole", peephole_output="next")


# ---------------------------------------------------------------- padding never leaks

# (variant, num_layers, bidirectional, go_backwards)
PADDED = [("standard", 2, False, False), ("standard", 2, True, False), ("standard", 1, False, True),
          ("coupled", 2, False, True), ("peephole", 2, True, False), ("full_gate_recurrence", 1, True, False)]
LENGTHS = torch.tensor([7, 3, 1, 5])


def _padded_inputs(fill):
    x = torch.randn(7, 4, 3, dtype=D64)
    pad = torch.arange(7).unsqueeze(1) >= LENGTHS  # (T, B)
    dirty = x.clone()
    dirty[pad] = fill
    clean = x.clone()
    clean[pad] = 0
    return clean, dirty, pad


def _same(a, b):
    """Equal, NaN where the other is NaN (the record's padding)."""
    assert a.shape == b.shape
    assert torch.equal(a.isnan(), b.isnan())
    assert torch.equal(a.nan_to_num(), b.nan_to_num())


@pytest.mark.parametrize("fill", [math.nan, math.inf, -1e30], ids=["nan", "inf", "garbage"])
@pytest.mark.parametrize("variant,L,bi,back", PADDED, ids=lambda v: str(v))
def test_padding_never_reaches_outputs_states_or_the_record(variant, L, bi, back, fill):
    m = lstm_core.LSTM(3, 4, L, variant=variant, bidirectional=bi, go_backwards=back, dtype=D64)
    clean, dirty, pad = _padded_inputs(fill)
    with torch.no_grad():
        want_out, (want_h, want_c) = m(clean, lengths=LENGTHS)
        out, (h_n, c_n) = m(dirty, lengths=LENGTHS)
        assert torch.equal(out, want_out) and torch.equal(h_n, want_h) and torch.equal(c_n, want_c)
        assert (out[pad] == 0).all()
        methods = ("reference", "loop") + (("replay",) if m.cell.fusable else ())
        for method in methods:
            want = m.trace(clean, lengths=LENGTHS, method=method)
            tr = m.trace(dirty, lengths=LENGTHS, method=method)
            assert tr.method == method
            for name in ("gates", "c", "h", "output", "h_n", "c_n"):
                _same(getattr(tr, name), getattr(want, name))
            assert (tr.output[pad] == 0).all() and tr.c[:, pad].isnan().all()
            assert torch.isfinite(tr.c[:, ~pad]).all()
            close(tr.output, want_out, 1e-12)
        # a PackedSequence has no padding to hold garbage: it gives what lengths= gives
        packed = pack_padded_sequence(dirty, LENGTHS, enforce_sorted=False)
        p_out, (p_h, p_c) = m(packed)
        close(pad_packed_sequence(p_out, total_length=7)[0], want_out, 1e-12)
        close(p_h, want_h, 1e-12)
        tr = m.trace(packed)
        close(tr.h_n, want_h, 1e-12)
        close(tr.c, want.c, 1e-12)


@pytest.mark.parametrize("variant,L,bi,back", PADDED, ids=lambda v: str(v))
def test_padding_never_reaches_a_gradient(variant, L, bi, back):
    """NaN on padded steps: every parameter gradient finite and equal to the one with zeros
    there, through forward and through the reference trace; x's gradient is 0 on padding."""
    m = lstm_core.LSTM(3, 4, L, variant=variant, bidirectional=bi, go_backwards=back, dtype=D64)
    clean, dirty, pad = _padded_inputs(math.nan)

    def forward(x):
        out, (h_n, c_n) = m(x, lengths=LENGTHS)
        return out.sin().sum() + h_n.sum() + c_n.cos().sum()

    def trace(x):  # the record's valid steps carry gradients too
        tr = m.trace(x, lengths=LENGTHS)
        return tr.output.sin().sum() + tr.c_n.cos().sum() + tr.gates.nan_to_num().sum() + tr.h.nan_to_num().sum()

    def grads(x, run):
        m.zero_grad()
        x = x.clone().requires_grad_()
        run(x).backward()
        return [p.grad.clone() for p in m.parameters()], x.grad

    runs = {"forward": forward, "trace": trace}
    for name, run in runs.items():
        want, want_x = grads(clean, run)
        got, got_x = grads(dirty, run)
        for a, b in zip(got, want):
            assert torch.isfinite(a).all(), name
            close(a, b, 1e-12)
        assert torch.isfinite(got_x).all() and (got_x[pad] == 0).all(), name
        close(got_x, want_x, 1e-12)
