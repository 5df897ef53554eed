"""The logic of the "Check your implementation" page (views/debug/check.py): a report file in,
what the page shows out.

No streamlit here. The server runs no code of a visitor's: it reads report files that
`lstm_core.check(...).save("check.npz")` wrote (`Report.load` checks every array), and
only a local server started with LSTM_EXPLORER_RUN_CODE=1 on localhost may run a pasted class.
"""
import io

import numpy as np
import pandas as pd
import torch
from torch import nn

from lstm_core.checker import CheckError, Report, check

RUN_CODE_ENV = "LSTM_EXPLORER_RUN_CODE"
LOCAL = ("localhost", "127.0.0.1", "::1")
NOTEBOOK_CALL = '''import lstm_core

report = lstm_core.check(LSTMCell, input_size=3, hidden_size=5)  # your class, or an instance
print(report)               # the verdict: the mistake and the line of the equations it breaks
report.save("check.npz")    # upload this file here'''


def load(raw):
    """A Report from uploaded bytes; CheckError with the reason when it is not one."""
    return Report.load(io.BytesIO(raw))


def run_code_allowed(env, address):
    """(allowed, why): pasting code needs the opt-in and a server that listens on localhost only."""
    if env.get(RUN_CODE_ENV) != "1":
        return False, (f"Running pasted code is off. On your own machine: {RUN_CODE_ENV}=1 streamlit run "
                       "explorer/app.py --server.address localhost")
    if (address or "") not in LOCAL:
        return False, (f"{RUN_CODE_ENV}=1 is refused: this server listens on {address or 'every interface'}, "
                       "not on localhost only. Start it with --server.address localhost")
    return True, ""


def run_pasted(source, name, input_size, hidden_size):
    """Run a pasted class's code and check it (only where run_code_allowed). CheckError on failure."""
    namespace = {"torch": torch, "nn": nn, "__name__": "pasted"}
    try:
        exec(compile(source, "<pasted>", "exec"), namespace)  # noqa: S102 - local opt-in, the user's own code
    except SyntaxError as e:
        raise CheckError(f"line {e.lineno}: SyntaxError: {e.msg}") from None
    except Exception as e:  # noqa: BLE001 - the user's code
        raise CheckError(f"running the code failed: {type(e).__name__}: {e}") from None
    if name not in namespace:
        classes = sorted(k for k, v in namespace.items() if isinstance(v, type))
        raise CheckError(f"the code defines no {name!r}; it defines {', '.join(classes) or 'no classes'}")
    return check(namespace[name], input_size, hidden_size)  # an LSTM or a GRU: check tells them apart


class ExampleCell(nn.Module):
    """The example: a cell laid out as in the PyTorch LSTM notebook exercise ('Long Short-Term Memory'),
    with the mistake of the cell given there, c = f * i * g."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        for q in "fioc":
            self.add_module(f"W_{q}", nn.Linear(hidden_size, hidden_size, bias=False))
            self.add_module(f"U_{q}", nn.Linear(input_size, hidden_size, bias=False))
            self.register_parameter(f"b_{q}", nn.Parameter(torch.zeros(hidden_size)))

    def forward(self, x, c, h):
        f = torch.sigmoid(self.W_f(h) + self.U_f(x) + self.b_f)
        i = torch.sigmoid(self.W_i(h) + self.U_i(x) + self.b_i)
        o = torch.sigmoid(self.W_o(h) + self.U_o(x) + self.b_o)
        g = torch.tanh(self.W_c(h) + self.U_c(x) + self.b_c)
        c = f * i * g
        return c, o * torch.tanh(c)


def example():
    """The report of ExampleCell, as a file would bring it (saved and loaded)."""
    buf = io.BytesIO()
    check(ExampleCell, 3, 5).save(buf)
    return load(buf.getvalue())


def cell_name(report):
    """"LSTM" or "GRU": what the page calls the student's cell."""
    return report.trace.declaration.title.split(" ")[0]


def fields(trace, row):
    """{field: (H, T)} of one batch row of a report's Trace, in its cell's order (i f g o c h; r z n h)."""
    return {k: trace.get(k)[:, row].T.numpy() for k in trace.fields}


def differences(report, row):
    """{field: (H, T)} student - reference (NaN where the student's value is unknown)."""
    s, r = fields(report.trace, row), fields(report.reference_trace, row)
    return {k: s[k] - r[k] for k in s}


def step_tables(report, t, row):
    """One step of one batch row: (yours, ours, difference), DataFrames quantity x unit."""
    s, r = report.trace, report.reference_trace
    names = list(s.fields)
    cols = [f"unit {u}" for u in range(report.hidden_size)]
    mine = pd.DataFrame([s.get(k)[t, row].numpy() for k in names], index=names, columns=cols)
    ours = pd.DataFrame([r.get(k)[t, row].numpy() for k in names], index=names, columns=cols)
    return mine, ours, mine - ours


def highlight_differences(diff, tol=1e-6):
    """A Styler of the difference table: the values that differ on red."""
    return diff.style.map(lambda v: "background-color: #f8d0d0" if not abs(v) <= tol else "").format("{:.3g}")


def equation_lines(report):
    """[(quantity, line, mark)]: the equations, mark "wrong" on the line the bug breaks,
    "differs" on the line where the values first differ when no bug names one."""
    eqs = report.equations()
    wrong = report.bug.quantity if report.bug is not None and report.bug.code != "unknown" else None
    differs = report.first_divergence.quantity if report.first_divergence is not None and wrong is None else None
    out = []
    for k in report.trace.fields:
        mark = "wrong" if k == wrong else "differs" if k == differs else ""
        out.append((k, eqs[k], mark))
    if wrong == "return":
        out.append(("return", "return (h_t, c_t) in the order your call expects", "wrong"))
    return out


def equations_markdown(report):
    """The equations as markdown lines, the broken one on red, the first differing one on orange."""
    out = []
    for _, line, mark in equation_lines(report):
        text = line.replace("_", "\\_").replace("{", "\\{").replace("}", "\\}")
        if mark == "wrong":
            out.append(f":red-background[**{text}**] ← your code breaks this line")
        elif mark == "differs":
            out.append(f":orange-background[**{text}**] ← the values first differ here")
        else:
            out.append(text)
    return "  \n".join(out)


def default_view(report):
    """(step, row) the page opens on: the first divergence, else step 0 of row 0."""
    d = report.first_divergence
    return (d.step, d.row) if d is not None else (0, 0)


def gates_known(trace):
    """Whether the student's gates were recovered (they are NaN when no mistake explains the values)."""
    states = trace.declaration.states
    return all(bool(np.isfinite(trace.get(k).numpy()).all()) for k in trace.fields if k not in states)
