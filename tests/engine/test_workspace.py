"""The workspace path (lstm_core.engine.workspace): oneDNN's training workspace read as the
record of fused cells. The same numbers as the reference loop and tests/helpers/equations.py for
every fusable variant and option, and its guards: a corrupted workspace is caught by the
per-call check, a missing op falls back to replay with one log line.
"""
import logging

import pytest
import torch

import lstm_core
from helpers.equations import close, run_equations, variant_kwargs
from lstm_core.cells.lstm_cell import Cell, LayerWeights
from lstm_core.engine import stack, workspace
from lstm_core.engine.handoff import HandOff
from lstm_core.engine.record import Record
from lstm_core.engine.reference import run_reference
from lstm_core.cells.variants import REGISTRY

pytestmark = pytest.mark.skipif(not torch.backends.mkldnn.is_available(), reason="this torch has no oneDNN")

TOL = 2e-5  # float32 path against float64 references
FUSABLE = [v for v in lstm_core.VARIANTS if Cell(REGISTRY[v], False, "current", ("sigmoid",)).fusable]


@pytest.fixture(scope="module", autouse=True)
def _tested():
    """The self-test once for this module, as in one process; the state is restored after."""
    saved = dict(workspace._state)
    workspace._state.update(ok=None, reason=None, logged=False)
    assert workspace.reason() is None
    yield dict(workspace._state)
    workspace._state.clear()
    workspace._state.update(saved)


@pytest.fixture(autouse=True)
def _fresh_state(monkeypatch, _tested):
    """Each test starts from a passed self-test, with the compiled kernel off."""
    monkeypatch.setenv("LSTM_TRACE_PATH", "fallback")
    workspace._state.update(_tested)
    yield
    workspace._state.update(_tested)


def _case(variant, T, B, I, H, seed=0):
    cell = Cell(REGISTRY[variant], False, "current", ("sigmoid",))
    G = len(cell.variant.gates)
    gen = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=gen, dtype=torch.float64) * (0.6 / max(1, H) ** 0.25)  # noqa: E731
    w64 = LayerWeights(r(G * H, I), r(G * H, H), r(G * H), r(G * H), None, None, None)
    x, h0, c0 = r(T, B, I) * 3, r(B, H) * 3, r(B, H) * 3
    return cell, w64, x, h0, c0


def _f32(w):
    return LayerWeights(*(None if t is None else t.float() for t in vars(w).values()))


SIZES = [(1, 1, 1), (7, 3, 3), (7, 1, 64), (1, 3, 64), (7, 3, 65), (2, 8, 64), (4, 3, 128)]


@pytest.mark.parametrize("variant,T,B,H", [("standard",) + s for s in SIZES] + [
    (v,) + s for v in FUSABLE if v != "standard" for s in (SIZES[1], SIZES[4], SIZES[6])])
def test_one_layer_matches_the_reference_loop(variant, T, B, H, monkeypatch):
    # H = 64 and 128: 4H is a multiple of 256, where oneDNN pads each gate row by 16 floats;
    # T = 7 runs in chunks of 3 steps: every chunk boundary hands h and c on
    monkeypatch.setattr(workspace, "CHUNK_ELEMENTS", 3 * B * 4 * H)
    cell, w64, x, h0, c0 = _case(variant, T, B, 5, H)
    want = run_reference(cell, w64, x, h0, c0)[3]
    into = Record(torch.empty(T, B, 4, H), torch.empty(T, B, H), torch.empty(T, B, H))
    out, h_n, c_n, got = workspace.run_workspace(cell, _f32(w64), x.float(), h0.float(), c0.float(), None, into)
    assert workspace._state["ok"] is True  # ran on the workspace, not on a fallback
    assert into.c.data_ptr() == got.c.data_ptr()
    for a, b in ((got.gates, want.gates), (got.c, want.c), (got.h, want.h), (h_n, want.h[-1]), (c_n, want.c[-1])):
        close(a.double(), b, TOL)


LAYOUTS = [  # (num_layers, bidirectional, state, go_backwards)
    (2, True, True, False), (1, False, False, True), (2, False, True, True), (1, True, False, False)]


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda l: "L{}{}{}{}".format(
    l[0], "bi" if l[1] else "", "state" if l[2] else "", "back" if l[3] else ""))
@pytest.mark.parametrize("variant", FUSABLE)
def test_trace_on_the_workspace_matches_the_equations(variant, layout):
    L, bi, with_state, back = layout
    m = lstm_core.LSTM(3, 4, L, variant=variant, bidirectional=bi, go_backwards=back, init="normal")
    T, B, LD = 6, 3, L * (2 if bi else 1)
    x = torch.randn(T, B, 3)
    state = (torch.randn(LD, B, 4), torch.randn(LD, B, 4)) if with_state else None
    params = {k: t.detach().double() for k, t in m.named_parameters()}
    want = run_equations(params, x.double(), h0=state and state[0].double(), c0=state and state[1].double(),
                         **variant_kwargs(m))
    with torch.no_grad():
        tr = m.trace(x, state)
    assert tr.method == "workspace"
    for name in ("i", "f", "g", "o", "c", "h", "output", "h_n", "c_n"):
        close(getattr(tr, name).double(), want[name], TOL)


def test_calls_it_does_not_fit_take_replay_and_explicit_requests_say_why():
    x = torch.randn(5, 2, 3)
    with torch.no_grad():
        assert lstm_core.LSTM(3, 4).trace(x, lengths=torch.tensor([5, 2])).method == "replay"
        assert lstm_core.LSTM(3, 4, proj_size=2).trace(x).method == "replay"
        assert lstm_core.LSTM(3, 4, peephole=True).trace(x).method == "loop"
        assert lstm_core.LSTM(3, 4).double().trace(x.double()).method == "replay"
        with pytest.raises(ValueError, match="method='workspace' cannot run this call: oneDNN has no projection"):
            lstm_core.LSTM(3, 4, proj_size=2).trace(x, method="workspace")
        with pytest.raises(ValueError, match="method='workspace' cannot run this call: padded batches"):
            lstm_core.LSTM(3, 4).trace(x, lengths=torch.tensor([5, 2]), method="workspace")
        with pytest.raises(ValueError, match="method='workspace' cannot run this call: the cell is not one"):
            lstm_core.LSTM(3, 4, peephole=True).trace(x, method="workspace")
        tr = lstm_core.LSTM(3, 4).trace(x, method="workspace", store_dtype=torch.float16)
        assert tr.method == "workspace" and tr.gates.dtype == torch.float16


def test_a_corrupted_workspace_is_caught_and_the_call_recomputed_on_replay(monkeypatch, caplog):
    real = workspace._forward
    calls = []

    def corrupt(*a):  # shift the gates along H: the last step no longer adds up
        out, h_n, c_n, gates, cs = real(*a)
        calls.append(1)
        return out, h_n, c_n, gates.roll(1, dims=3), cs

    monkeypatch.setattr(workspace, "_forward", corrupt)
    m = lstm_core.LSTM(3, 4, init="normal")
    x = torch.randn(6, 2, 3)
    with torch.no_grad():
        want = m.trace(x, method="loop")
        n = len(calls)
        with caplog.at_level(logging.WARNING, logger="lstm_core.engine.workspace"):
            got = m.trace(x, method="workspace")
            again = m.trace(x)
    assert len(calls) == n + 1  # the second trace no longer tries the workspace
    assert "does not obey the cell update" in workspace._state["reason"] and again.method == "replay"
    assert got.method == "replay"  # asked for the workspace, computed on replay: the trace says so
    assert [r.getMessage() for r in caplog.records].count(caplog.records[0].getMessage()) == 1
    assert "trace no longer reads oneDNN's workspace" in caplog.records[0].getMessage()
    for name in ("gates", "c", "h", "h_n", "c_n"):
        close(getattr(got, name).double(), getattr(want, name).double(), TOL)


def test_a_run_that_overflows_is_no_reason_to_drop_the_path(caplog):
    cell, w64, x, h0, c0 = _case("standard", 5, 2, 3, 4)
    x[2, 1, 0] = float("nan")
    with caplog.at_level(logging.WARNING, logger="lstm_core.engine.workspace"):
        into = Record(torch.empty(5, 2, 4, 4), torch.empty(5, 2, 4), torch.empty(5, 2, 4))
        with pytest.raises(HandOff, match="handed to 'replay'"):  # the stack runs replay instead
            workspace.run_workspace(cell, _f32(w64), x.float(), h0.float(), c0.float(), None, into)
        r = stack.run(cell, [_f32(w64)], x.float(), h0.float()[None], c0.float()[None], method="workspace")
    assert r.method == "replay"
    assert torch.isnan(r.c_n[0, 1]).all() and torch.isfinite(r.c_n[0, 0]).all()
    assert workspace._state["ok"] is True and not caplog.records


def test_a_missing_op_is_a_fallback_with_one_log_line(monkeypatch, caplog):
    monkeypatch.setattr(workspace, "OPS", ("no_such_rnn_layer",))
    workspace._state.update(ok=None, reason=None, logged=False)  # a new process
    m = lstm_core.LSTM(3, 4)
    x = torch.randn(4, 2, 3)
    with torch.no_grad(), caplog.at_level(logging.WARNING, logger="lstm_core.engine.workspace"):
        first, second = m.trace(x), m.trace(x)
        want = m.trace(x, method="loop")
        with pytest.raises(ValueError, match="method='workspace' cannot run this call: its self-test failed"):
            m.trace(x, method="workspace")
    assert first.method == second.method == "replay"
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "this torch has no no_such_rnn_layer op" in lines[0]
    close(first.c.double(), want.c.double(), TOL)


def test_info_says_whether_the_workspace_is_read(capsys):
    from lstm_core.kernel.cli import paths

    rows = {name: (ok, what) for name, ok, what in paths()}
    assert rows["workspace"][0] is True and "self-test passed" in rows["workspace"][1]
    workspace.disable("a test said so")
    rows = {name: (ok, what) for name, ok, what in paths()}
    assert rows["workspace"] == (False, "a test said so")
