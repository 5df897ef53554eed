"""Check reports: save/load round trip, hostile report files, and the `check` command line."""
import io
import json
import re
import textwrap

import numpy as np
import pytest
import torch

import lstm_core
from lstm_core.__main__ import main
from lstm_core.checker import CheckError, Report
from helpers.checker_students import make

STUDENT_FILE = textwrap.dedent('''
    import torch
    from torch import nn

    class LSTMCell(nn.Module):
        def __init__(self, input_size, hidden_size):
            super().__init__()
            self.weight_ih = nn.Parameter(torch.randn(4 * hidden_size, input_size))
            self.weight_hh = nn.Parameter(torch.randn(4 * hidden_size, hidden_size))
            self.bias_ih = nn.Parameter(torch.zeros(4 * hidden_size))
            self.bias_hh = nn.Parameter(torch.zeros(4 * hidden_size))

        def forward(self, x, state):
            h, c = state
            z = x @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T + self.bias_hh
            i, f, g, o = z.chunk(4, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            return torch.sigmoid(o) * MAYBE_TANH(c), c
''')


# the most common course layout: one nn.Linear per side for all gates (issue 21)
W_U_FILE = textwrap.dedent('''
    import torch
    from torch import nn

    class LSTMCell(nn.Module):
        def __init__(self, input_size, hidden_size):
            super().__init__()
            self.W = nn.Linear(input_size, 4 * hidden_size)
            self.U = nn.Linear(hidden_size, 4 * hidden_size)

        def forward(self, x, state):
            h, c = state
            i, f, g, o = (self.W(x) + self.U(h)).chunk(4, dim=-1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            return torch.sigmoid(o) * torch.tanh(c), c
''')

# weights in a list, used as x @ W: only --layout can say where they are
LIST_FILE = textwrap.dedent('''
    import torch
    from torch import nn

    class LSTMCell(nn.Module):
        def __init__(self, input_size, hidden_size):
            super().__init__()
            H = hidden_size
            self.params = [torch.randn(input_size, 4 * H), torch.randn(H, 4 * H), torch.zeros(4 * H)]

        def forward(self, x, state):
            h, c = state
            W, U, b = self.params
            i, f, g, o = (x @ W + h @ U + b).chunk(4, dim=-1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            return torch.sigmoid(o) * torch.tanh(c), c
''')


@pytest.fixture(scope="module")
def buggy_report():
    return lstm_core.check(make("torch", "torch_cell", "weight_reuse"), 3, 5)


def test_report_round_trips(buggy_report, tmp_path):
    path = tmp_path / "check.npz"
    buggy_report.save(path)
    back = Report.load(path)
    assert (back.ok, back.bug.code, back.layout, back.convention) == (False, "weight_reuse", buggy_report.layout,
                                                                      buggy_report.convention)
    assert back.first_divergence == buggy_report.first_divergence
    assert back.bug.explanation == buggy_report.bug.explanation
    for a, b in ((back.trace, buggy_report.trace), (back.reference_trace, buggy_report.reference_trace)):
        assert torch.equal(a.h, b.h) and torch.equal(a.c, b.c)
        assert torch.equal(a.gates.nan_to_num(7), b.gates.nan_to_num(7))
    assert torch.equal(back.x, buggy_report.x)
    assert str(back) == str(buggy_report)
    with open(path, "rb") as fh:  # an upload: a file-like object
        assert Report.load(io.BytesIO(fh.read())).bug.code == "weight_reuse"


def _tampered(report, tmp_path, **changes):
    path = tmp_path / "good.npz"
    report.save(path)
    with np.load(path) as z:
        data = {k: z[k] for k in z.files}
    for k, v in changes.items():
        if v is None:
            data.pop(k)
        elif k == "meta":
            data[k] = np.array(json.dumps({**json.loads(str(data[k])), **v}))
        else:
            data[k] = v
    out = tmp_path / "bad.npz"
    np.savez(out, **data)
    return out


BAD = [
    ({"student_h": None}, r"missing student_h"),
    ({"student_c": np.zeros((4, 3, 6))}, r"student_gates has shape \(4, 3, 4, 5\); expected \(4, 3, 4, 6\)"),
    ({"x": np.zeros((4, 3, 3), dtype=np.int64)}, r"x must be a 3-d float array"),
    ({"x": np.array([{"a": 1}], dtype=object)}, r"not an .npz written by report.save"),
    ({"meta": {"format": "other"}}, r"format 'other'; expected 'lstm_core.check/1'"),
    ({"meta": {"ok": "yes"}}, r"meta 'ok' must be true or false"),
    ({"meta": {"input_size": 7}}, r"sizes .* do not match the arrays"),
    ({"meta": {"bug": {"code": "rm -rf", "title": "t", "explanation": "e"}}}, r"bug code 'rm -rf' is not one of"),
    ({"meta": {"first_divergence": {"step": 99, "quantity": "c", "units": [0], "difference": 1.0,
                                    "probe": "p", "row": 0}}}, r"first divergence at step 99, .* is outside"),
    ({"meta": {"variant": "peephole"}}, r"variant 'peephole'; expected 'standard' or 'coupled'"),
]


@pytest.mark.parametrize("changes,message", BAD)
def test_bad_report_files_are_refused_with_a_reason(buggy_report, tmp_path, changes, message):
    with pytest.raises(CheckError, match=message):
        Report.load(_tampered(buggy_report, tmp_path, **changes))


def test_not_a_report_file(tmp_path):
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip at all")
    with pytest.raises(CheckError, match=r"not an .npz written by report.save"):
        Report.load(junk)
    with pytest.raises(CheckError, match=r"larger than 32 MB"):
        Report.load(io.BytesIO(b"\0" * (32 * 2**20 + 1)))


def _student(tmp_path, tanh="torch.tanh"):
    f = tmp_path / "my_lstm.py"
    f.write_text(STUDENT_FILE.replace("MAYBE_TANH", tanh))
    return f


def test_cli_exit_codes_and_verdict(tmp_path, capsys):
    good = _student(tmp_path)
    assert main(["check", f"{good}:LSTMCell", "--input-size", "3", "--hidden-size", "5"]) == 0
    assert capsys.readouterr().out.startswith("✓ Your LSTM matches")
    bad = _student(tmp_path, tanh="")
    out_file = tmp_path / "out" / "check.npz"
    assert main(["check", f"{bad}:LSTMCell", "--input-size", "3", "--hidden-size", "5", "--save", str(out_file)]) == 1
    out = capsys.readouterr().out
    assert "[missing_output_tanh]" in out and "h_t = o_t ⊙ tanh(c_t)" in out and "wrote" in out
    assert Report.load(out_file).bug.code == "missing_output_tanh"


def test_cli_reads_a_w_u_pair_of_linears_and_takes_layout(tmp_path, capsys):
    (tmp_path / "wu.py").write_text(W_U_FILE)
    assert main(["check", f"{tmp_path / 'wu.py'}:LSTMCell", "--input-size", "3", "--hidden-size", "5"]) == 0
    assert "Detected layout: fused nn.Linear pair W (4H, I) on x, U (4H, H) on h" in capsys.readouterr().out
    (tmp_path / "listed.py").write_text(LIST_FILE)
    argv = ["check", f"{tmp_path / 'listed.py'}:LSTMCell", "--input-size", "3", "--hidden-size", "5"]
    assert main(argv) == 1
    assert "--layout NAME=PATH" in capsys.readouterr().err
    assert main(argv + ["--layout", "weight_ih=params.0.T, weight_hh=params.1.T", "--layout", "bias_ih=params.2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("✓ Your LSTM matches") and "explicit layout= (fused)" in out


CLI_ERRORS = [
    (["check", "nowhere.py:LSTMCell", "--input-size", "3", "--hidden-size", "5"], 2, r"nowhere.py: no such file"),
    (["check", "/dev/null:LSTMCell", "--input-size", "3", "--hidden-size", "5"], 2,
     r"/dev/null: is not a regular file \(a device, pipe or socket\), expected a file"),
    (["check", "{d}:LSTMCell", "--input-size", "3", "--hidden-size", "5"], 2, r": is a folder, expected a file"),
    (["check", "{f}:Nope", "--input-size", "3", "--hidden-size", "5"], 2, r"has no 'Nope'; it defines LSTMCell"),
    (["check", "{f}", "--input-size", "3", "--hidden-size", "5"], 2, r"expected path/to/file.py:ClassName"),
    (["check", "{f}:LSTMCell", "--input-size", "0", "--hidden-size", "5"], 2, r"--input-size: expected an int >= 1"),
    (["check", "{f}:LSTMCell", "--hidden-size", "5"], 2, r"--input-size"),
    (["check", "{f}:LSTMCell", "--input-size", "3", "--hidden-size", "5", "--layout", "W_xx=W"], 2,
     r"--layout: unknown name 'W_xx'; expected one of weight_ih, weight_hh, bias_ih, bias_hh \(all gates\), or W_ik"),
    (["check", "{f}:LSTMCell", "--input-size", "3", "--hidden-size", "5", "--layout", "weight_ih"], 2,
     r"--layout: expected NAME=PATH, e.g. weight_ih=W.weight, got 'weight_ih'"),
    (["check", "{f}:LSTMCell", "--input-size", "3", "--hidden-size", "5", "--layout", "weight_ih=a,weight_ih=b"], 2,
     r"--layout: weight_ih given twice \('a' and 'b'\)"),
    (["check", "{f}:LSTMCell", "--input-size", "4", "--hidden-size", "5"], 1, r"weight_ih: shape \(20, 3\)"),
    (["check", "{s}:LSTMCell", "--input-size", "3", "--hidden-size", "5"], 2, r"line 2: SyntaxError"),
]


@pytest.mark.parametrize("argv,status,message", CLI_ERRORS)
def test_cli_errors(tmp_path, capsys, argv, status, message):
    f = _student(tmp_path)
    (tmp_path / "broken.py").write_text("import torch\nclass LSTMCell(:\n")
    # a file built for I = 3 checked as I = 4: the layout names the mismatch (check errors exit 1)
    if "4" in argv:
        f.write_text(STUDENT_FILE.replace("MAYBE_TANH", "torch.tanh").replace("input_size))", "3))"))
    argv = [a.format(f=f, s=tmp_path / "broken.py", d=tmp_path) for a in argv]
    assert main(argv) == status
    err = capsys.readouterr().err
    assert re.search(message, err.strip().splitlines()[-1]), err  # the last line says what was wrong
