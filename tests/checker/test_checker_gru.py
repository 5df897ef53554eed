"""The checker on GRUs: torch's own modules pass, course GRUs in four layouts pass, every planted
mistake is named with its equation line, the reset's two forms are told apart, reports round-trip."""
import io
import json
import textwrap

import numpy as np
import pytest
import torch
from torch import nn

import lstm_core
from lstm_core.__main__ import main
from lstm_core.cells import gru as gru_cell
from lstm_core.checker import CheckError, Report, gru_mutants
from lstm_core.checker.core import _weights
from helpers.checker_gru_students import CONVENTIONS, LAYOUTS, PLANTED, make_gru
from helpers.checker_students import make


def _applies(layout, convention, bug):
    """bhn_folded needs an h-side bias (d2l has one bias per gate); stale_state a loop over time."""
    return not (bug == "bhn_folded" and layout == "d2l" or bug == "stale_state" and convention == "cell")


MATRIX = [(lay, conv, bug) for bug in PLANTED for lay in LAYOUTS for conv in CONVENTIONS if _applies(lay, conv, bug)]


@pytest.mark.parametrize("reset", gru_cell.RESETS)
@pytest.mark.parametrize("sides", [("x", "h"), ("x",), ()])
def test_the_reference_step_is_the_cells_step(reset, sides):
    I, H, B = 3, 4, 5
    g = torch.Generator().manual_seed(0)
    w = _weights("rzn", I, H, len(sides), g, {"r": 0.5, "z": -0.5, "n": 0.2}, sides)
    x = torch.randn(B, I, generator=g, dtype=torch.float64)
    h = torch.randn(B, H, generator=g, dtype=torch.float64)
    bias = {s: sum((b for b, t in zip(w.biases, sides) if t == s), torch.zeros(3, H, dtype=torch.float64)).reshape(-1)
            for s in "xh"}
    weights = {"weight_ih": w.Wx.reshape(3 * H, I), "weight_hh": w.Wh.reshape(3 * H, H),
               "bias_ih": bias["x"], "bias_hh": bias["h"]}
    h_new, gates = gru_mutants.step(w, gru_mutants.REFERENCE, x, h, reset)
    r, z, n, h_ref = gru_cell.step(weights, x, h, reset)
    assert torch.allclose(h_new, h_ref, atol=1e-14) and torch.allclose(gates, torch.stack([r, z, n], 1), atol=1e-14)
    if reset == "after":  # and torch's own cell, independently
        torch_cell = nn.GRUCell(I, H, dtype=torch.float64)
        with torch.no_grad():
            for name, v in weights.items():
                getattr(torch_cell, name).copy_(v)
        assert torch.allclose(torch_cell(x, h), h_new, atol=1e-14)


@pytest.mark.parametrize("module", [nn.GRUCell(3, 5), nn.GRU(3, 5), nn.GRU(3, 5, batch_first=True),
                                    nn.GRUCell(3, 5, bias=False), lstm_core.GRU(3, 5, seed=0)],
                         ids=["GRUCell", "GRU", "GRU batch_first", "GRUCell bias=False", "lstm_core.GRU"])
def test_torchs_own_gru_modules_pass(module):
    report = lstm_core.check(module, 3, 5)
    assert report.ok and report.cell == "gru" and report.variant == "after", str(report)
    assert "Your GRU matches the reference" in str(report)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("convention", CONVENTIONS)
def test_a_correct_gru_passes_in_every_layout_and_call(layout, convention):
    report = lstm_core.check(make_gru(layout, convention), 3, 5, reset="after")
    assert report.ok and report.bug is None and report.first_divergence is None, str(report)


@pytest.mark.parametrize("layout,convention,bug", MATRIX)
def test_planted_bug_is_named_with_its_line(layout, convention, bug):
    report = lstm_core.check(make_gru(layout, convention, bug), 3, 5, reset="after")
    assert not report.ok and report.bug.code == bug and not report.bug.also, str(report)
    assert report.bug.line in gru_mutants.equations("after").values()
    assert f"The line of the equations it breaks:  {report.bug.line}" in str(report)


@pytest.mark.parametrize("bug,line", [("rz_swap", "r"), ("update_flipped", "h"), ("bhn_folded", "n"),
                                      ("reset_place", "n"), ("missing_tanh", "n"), ("gate_order", "z")])
def test_the_classic_mistakes_break_the_line_they_should(bug, line):
    report = lstm_core.check(make_gru("torch", "cell", bug), 3, 5, reset="after")
    assert report.bug.quantity == line
    if bug == "rz_swap":  # the Keras/ONNX block order and exchanged equations give the same numbers: both said
        assert "z, r, n (Keras's and ONNX's)" in report.bug.explanation
        assert "r and z are exchanged in the equations" in report.bug.explanation


def test_the_reset_form_is_reported_and_is_a_bug_only_when_the_other_was_asked():
    cho = make_gru("linear", "cell", form="before")
    report = lstm_core.check(cho, 3, 5)
    assert report.ok and report.variant == "before"
    text = str(report)
    assert "yours is the reset before the matmul, W_hn (r ⊙ h_{t-1}) + b_hn (Cho et al. 2014" in text
    assert "The other form is the reset after the matmul, r ⊙ (W_hn h_{t-1} + b_hn) (torch.nn.GRU" in text
    assert "n = tanh(W_in x + b_in + W_hn (r ⊙ h_{t−1}) + b_hn)" in text
    asked_torch = lstm_core.check(cho, 3, 5, reset="after")
    assert asked_torch.bug.code == "reset_place"
    assert "applies the reset before the matmul" in asked_torch.bug.explanation
    assert "where the reset after the matmul, r ⊙ (W_hn h_{t-1} + b_hn)" in asked_torch.bug.explanation
    assert lstm_core.check(cho, 3, 5, reset="before").ok
    assert lstm_core.check(nn.GRUCell(3, 5), 3, 5, reset="before").bug.code == "reset_place"
    # a mistake in Cho's form is named against Cho's form, not as two mistakes in torch's
    flipped = lstm_core.check(make_gru("torch", "cell", "update_flipped", form="before"), 3, 5)
    assert flipped.variant == "before" and flipped.bug.code == "update_flipped" and not flipped.bug.also


def test_the_report_says_gru_and_prints_the_grus_equations():
    text = str(lstm_core.check(make_gru("fused_linear", "cell", "update_flipped"), 3, 5, reset="after"))
    assert text.startswith("✗ Your GRU differs from the reference: h_t = z ⊙ n + (1 − z) ⊙ h_{t-1}")
    assert "The equations checked (GRU; z keeps h_{t-1}):" in text
    for line in gru_cell.declaration("after").equations:
        assert f"    {line}" in text
    assert "LSTM" not in text


def test_three_blocks_are_a_gru_or_a_coupled_lstm_by_the_call_or_as_told():
    coupled = lstm_core.check(make("torch", "torch_cell", coupled=True), 3, 5)  # 3 fused blocks, (h, c) calls
    assert coupled.ok and coupled.cell == "lstm" and coupled.variant == "coupled"
    assert lstm_core.check(make_gru("torch", "cell"), 3, 5, cell="gru").ok
    assert lstm_core.check(make_gru("torch", "cell"), 3, 5, variant="gru").cell == "gru"

    class Neither(nn.Module):  # 3 blocks, called in no way the checker knows
        def __init__(self, I, H):
            super().__init__()
            self.weight_ih, self.weight_hh = nn.Parameter(torch.zeros(3 * H, I)), nn.Parameter(torch.zeros(3 * H, H))

        def forward(self, x, a, b, c):
            return x
    with pytest.raises(CheckError, match=r"(?s)3 gate blocks: a GRU's r, z, n or an LSTM's f, g, o .*"
                                         r"cell='gru' or cell='lstm' \(--cell gru\|lstm\)"):
        lstm_core.check(Neither, 3, 5)


class _OwnGRU(nn.Module):
    """A GRU cell whose update is `update(r, z, xn, hn, h)`: mistakes outside the student helpers."""

    def __init__(self, I, H):
        super().__init__()
        self.weight_ih, self.weight_hh = nn.Parameter(torch.randn(3 * H, I)), nn.Parameter(torch.randn(3 * H, H))
        self.bias_ih, self.bias_hh = nn.Parameter(torch.randn(3 * H)), nn.Parameter(torch.randn(3 * H))

    def forward(self, x, h):
        xr, xz, xn = (x @ self.weight_ih.T + self.bias_ih).chunk(3, -1)
        hr, hz, hn = (h @ self.weight_hh.T + self.bias_hh).chunk(3, -1)
        return self.update(torch.sigmoid(xr + hr), torch.sigmoid(xz + hz), xn, hn, h)


def test_two_mistakes_are_named_even_when_one_alone_brings_nothing_closer():
    class Two(_OwnGRU):  # n without its tanh, and the update flipped: tanh alone removes none of the difference
        def update(self, r, z, xn, hn, h):
            return z * (xn + r * hn) + (1 - z) * h
    bug = lstm_core.check(Two, 3, 5, reset="after").bug
    assert (bug.code, bug.also) == ("update_flipped", ("missing_tanh",))
    assert "missing_tanh alone 0%, the two together all of it" in bug.evidence["explains"]


def test_an_unknown_mistake_gives_the_first_difference_and_what_z_or_n_would_need():
    class Odd(_OwnGRU):
        def update(self, r, z, xn, hn, h):
            return (1 - z) * torch.tanh(xn + r * hn) + 0.9 * z * h
    report = lstm_core.check(Odd, 3, 5, reset="after")
    assert report.bug.code == "unknown" and report.first_divergence.quantity == "h"
    assert set(report.bug.evidence) == {"h_t line (from the same h_{t-1})", "z alone", "n alone"}
    assert report.trace.get("z").isnan().all()  # not recovered: no mistake explains them


def test_a_step_mistake_and_a_stale_loop_name_the_step_keep_its_gates_and_note_the_loop():
    class Both(make_gru("torch", "sequence_bf", "update_flipped")):
        def forward(self, X, h0):  # every step from h0
            outs = [self.cell(X[:, t], h0) for t in range(X.shape[1])]
            return torch.stack(outs, dim=1), outs[-1]
    report = lstm_core.check(Both, 3, 5, reset="after")
    assert report.bug.code == "update_flipped"
    assert any("does not carry h from one step to the next" in n for n in report.notes)
    assert not report.trace.get("r").isnan().any()  # the gates its steps computed


@pytest.mark.parametrize("kwargs,message", [
    (dict(cell="rnn"), r"cell: the checker knows 'lstm' and 'gru', got 'rnn'"),
    (dict(reset="middle"), r"reset: a GRU's is 'after' \(torch.nn.GRU\) or 'before'"),
    (dict(variant="coupled", reset="after"), r"ask for both an LSTM and a GRU"),
    (dict(cell="lstm", reset="before"), r"ask for both an LSTM and a GRU"),
    (dict(cell="lstm"), r"(?s)cannot call your module in any convention I know.*"
                        r"called like a GRU, forward\(x, h\) -> h: if it is one, say cell='gru'"),
])
def test_errors_say_what_is_wrong(kwargs, message):
    with pytest.raises(CheckError, match=message):
        lstm_core.check(nn.GRUCell(3, 5), 3, 5, **kwargs)


def test_per_gate_names_of_d2l_and_an_explicit_layout_are_read():
    report = lstm_core.check(make_gru("d2l", "cell"), 3, 5)
    assert report.ok and report.layout.startswith("per-gate tensors (r, z, h")

    class Listed(nn.Module):  # weights in a list: only layout= can say where they are
        def __init__(self, I, H):
            super().__init__()
            self.params = [torch.randn(I, 3 * H), torch.randn(H, 3 * H), torch.zeros(3 * H), torch.zeros(3 * H)]

        def forward(self, x, h):
            W, U, b, c = self.params
            r, z, n = (x @ W + b).chunk(3, -1)
            hr, hz, hn = (h @ U + c).chunk(3, -1)
            r, z = torch.sigmoid(r + hr), torch.sigmoid(z + hz)
            return (1 - z) * torch.tanh(n + r * hn) + z * h
    layout = {"weight_ih": "params.0.T", "weight_hh": "params.1.T", "bias_ih": "params.2", "bias_hh": "params.3"}
    assert lstm_core.check(Listed, 3, 5, cell="gru", layout=layout).ok


def _report_bytes(report):
    buf = io.BytesIO()
    report.save(buf)
    return buf.getvalue()


def test_a_gru_report_round_trips_with_its_cell():
    report = lstm_core.check(make_gru("torch", "cell", "rz_swap", form="before"), 3, 5, reset="before")
    back = Report.load(io.BytesIO(_report_bytes(report)))
    assert back.cell == "gru" and back.variant == "before" and back.trace.fields == ("r", "z", "n", "h")
    assert back.bug.code == "rz_swap" and str(back) == str(report)
    for k in ("r", "z", "n", "h"):
        assert torch.equal(back.trace.get(k), report.trace.get(k).double())
        assert torch.allclose(back.reference_trace.get(k), report.reference_trace.get(k))
    assert back.equations() == gru_mutants.equations("before")


@pytest.mark.parametrize("meta,message", [({"cell": "rnn"}, r"cell 'rnn'; expected 'lstm' or 'gru'"),
                                          ({"cell": ["gru"]}, r"cell \['gru'\]; expected 'lstm' or 'gru'"),
                                          ({"variant": "standard"}, r"variant 'standard'; expected 'after' or "
                                                                    r"'before' for a cell 'gru'"),
                                          ({"cell": "lstm"}, r"missing student_c, reference_c"),
                                          ({"bug": {"code": "cell_update", "title": "t", "explanation": "e"}},
                                           r"bug code 'cell_update' is not one of rz_swap")])
def test_a_tampered_gru_report_is_refused(meta, message):
    report = lstm_core.check(make_gru("torch", "cell", "update_flipped"), 3, 5)
    with np.load(io.BytesIO(_report_bytes(report))) as z:
        data = {k: z[k] for k in z.files}
    data["meta"] = np.array(json.dumps({**json.loads(str(data["meta"])), **meta}))
    buf = io.BytesIO()
    np.savez(buf, **data)
    buf.seek(0)
    with pytest.raises(CheckError, match=message):
        Report.load(buf)


GRU_FILE = textwrap.dedent('''
    import torch
    from torch import nn

    class GRUCell(nn.Module):
        def __init__(self, input_size, hidden_size):
            super().__init__()
            self.W = nn.Linear(input_size, 3 * hidden_size)
            self.U = nn.Linear(hidden_size, 3 * hidden_size)

        def forward(self, x, h):
            xr, xz, xn = self.W(x).chunk(3, dim=-1)
            hr, hz, hn = self.U(h).chunk(3, dim=-1)
            r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
            n = torch.tanh(xn + r * hn)
            return UPDATE
''')


def test_cli_checks_a_gru_with_cell_and_reset(tmp_path, capsys):
    path = tmp_path / "my_gru.py"
    path.write_text(GRU_FILE.replace("UPDATE", "(1 - z) * n + z * h"))
    assert main(["check", f"{path}:GRUCell", "--input-size", "3", "--hidden-size", "5", "--cell", "gru",
                 "--reset", "after"]) == 0
    assert "✓ Your GRU matches the reference" in capsys.readouterr().out
    path.write_text(GRU_FILE.replace("UPDATE", "z * n + (1 - z) * h"))
    save = tmp_path / "check.npz"
    assert main(["check", f"{path}:GRUCell", "--input-size", "3", "--hidden-size", "5", "--save", str(save)]) == 1
    out = capsys.readouterr().out
    assert "[update_flipped]" in out and "h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}" in out
    assert Report.load(save).cell == "gru"


@pytest.mark.parametrize("flags,message", [(["--cell", "lstm", "--reset", "after"], "--reset is a GRU's"),
                                           (["--cell", "gru", "--variant", "coupled"],
                                            "--variant coupled is an LSTM's"),
                                           (["--cell", "rnn"], "invalid choice: 'rnn'")])
def test_cli_refuses_flags_of_the_other_cell(tmp_path, capsys, flags, message):
    path = tmp_path / "my_gru.py"
    path.write_text(GRU_FILE.replace("UPDATE", "h"))
    assert main(["check", f"{path}:GRUCell", "--input-size", "3", "--hidden-size", "5", *flags]) == 2
    assert message in capsys.readouterr().err
