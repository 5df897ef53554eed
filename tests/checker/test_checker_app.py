"""The "Check your implementation" page through AppTest, with real report files; the run-code opt-in."""
import io
import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import lstm_core
from explorer.ui import state
from helpers.checker_students import make
from helpers.checker_gru_students import make_gru
from explorer.logic import checking

APP = str(Path(__file__).resolve().parents[2] / "explorer" / "app.py")


def ok(at):
    assert not at.exception, [e.value for e in at.exception]
    return at


def page():
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    return ok(at.switch_page(state.DEBUG_CHECK).run())


def report_bytes(report):
    buf = io.BytesIO()
    report.save(buf)
    return buf.getvalue()


def test_page_shows_an_uploaded_report():
    report = lstm_core.check(make("linear", "notebook_cell", "weight_reuse"), 3, 5)
    at = page()
    assert "No report yet" in at.info[0].value
    at.file_uploader(key="chk_upload").upload("check.npz", report_bytes(report))
    ok(at.run())
    assert "[weight_reuse]" in at.error[0].value
    assert str(report) in [c.value for c in at.code]
    eqs = [m.value for m in at.markdown if "breaks this line" in m.value]
    assert eqs == [checking.equations_markdown(report)]
    wrong = [line for line in eqs[0].split("  \n") if "breaks this line" in line]
    assert wrong == [r":red-background[**i\_t = σ(W\_ii x\_t + b\_ii + W\_hi h\_\{t-1\} + b\_hi)**] ← your code "
                     "breaks this line"]
    d = report.first_divergence
    assert at.slider(key="chk_step").value == d.step and at.selectbox(key="chk_row").value == d.row
    mine, ours = at.dataframe[0].value, at.dataframe[1].value
    assert np.allclose(mine.loc["c"], report.trace.c[0, d.step, d.row].numpy())
    assert np.allclose(ours.loc["c"], report.reference_trace.c[0, d.step, d.row].numpy())
    charts = [c for c in at.get("plotly_chart")]
    assert len(charts) == 3
    at.slider(key="chk_step").set_value(3)
    ok(at.run())
    assert at.dataframe[0].value.loc["h"].tolist() == report.trace.h[0, 3, d.row].tolist()

    # a bad file is a message; the example replaces the report and opens on its own first difference
    at.file_uploader(key="chk_upload").upload("check.npz", b"PK\x03\x04 not really")
    ok(at.run())
    assert "not an .npz written by report.save" in at.error[0].value
    ok(at.button(key="chk_example").click().run())
    assert "[cell_update]" in at.error[0].value
    assert at.slider(key="chk_step").value == checking.example().first_divergence.step
    assert "Running pasted code is off" in " ".join(c.value for c in at.caption)


def test_page_shows_a_gru_report_with_r_z_n_h():
    report = lstm_core.check(make_gru("linear", "cell", "update_flipped"), 3, 5, reset="after")
    at = page()
    at.file_uploader(key="chk_upload").upload("check.npz", report_bytes(report))
    ok(at.run())
    assert at.error[0].value.startswith("Your GRU differs from the reference: h_t = z ⊙ n + (1 − z) ⊙ h_{t-1}")
    assert str(report) in [c.value for c in at.code]
    eqs = [m.value for m in at.markdown if "breaks this line" in m.value][0].split("  \n")
    assert len(eqs) == 4 and eqs[0].startswith("r = σ(W\\_ir x")
    assert eqs[3] == r":red-background[**h\_t = (1 − z) ⊙ n + z ⊙ h\_\{t−1\}**] ← your code breaks this line"
    d = report.first_divergence
    mine = at.dataframe[0].value
    assert mine.index.tolist() == ["r", "z", "n", "h"]
    assert np.allclose(mine.loc["z"], report.trace.z[0, d.step, d.row].numpy())
    charts = at.get("plotly_chart")
    assert len(charts) == 3
    bars = [t["marker"]["colorbar"]["title"]["text"] for t in json.loads(charts[0].proto.spec)["data"]
            if "colorbar" in t.get("marker", {})]
    assert bars == ["r, z", "n, h: ±r"]  # the colour bars name the GRU's fields, not i, f, o

    fine = lstm_core.check(make_gru("torch", "cell", form="before"), 3, 5)
    at.file_uploader(key="chk_upload").upload("check.npz", report_bytes(fine))
    ok(at.run())
    assert at.success[0].value == "Your GRU matches the reference on every probe."
    assert not at.error


@pytest.mark.parametrize("env,address,allowed", [({}, "localhost", False), ({"LSTM_EXPLORER_RUN_CODE": "1"}, "", False),
                                                 ({"LSTM_EXPLORER_RUN_CODE": "1"}, "0.0.0.0", False),
                                                 ({"LSTM_EXPLORER_RUN_CODE": "1"}, "127.0.0.1", True)])
def test_run_code_needs_the_opt_in_and_localhost(env, address, allowed):
    assert checking.run_code_allowed(env, address)[0] is allowed


def test_pasted_class_is_checked_where_allowed():
    src = "class LSTMCell(nn.Module):\n" + "\n".join("    " + line for line in (
        "def __init__(self, I, H):",
        "    super().__init__()",
        "    self.weight_ih = nn.Parameter(torch.randn(4 * H, I))",
        "    self.weight_hh = nn.Parameter(torch.randn(4 * H, H))",
        "def forward(self, x, state):",
        "    h, c = state",
        "    i, f, g, o = (x @ self.weight_ih.T + h @ self.weight_hh.T).chunk(4, 1)",
        "    c = f.sigmoid() * c + i.sigmoid() * g.tanh()",
        "    return o.sigmoid() * c, c"))
    assert checking.run_pasted(src, "LSTMCell", 3, 5).bug.code == "missing_output_tanh"
    with pytest.raises(lstm_core.checker.CheckError, match="defines no 'Cell'; it defines LSTMCell"):
        checking.run_pasted(src, "Cell", 3, 5)
    with pytest.raises(lstm_core.checker.CheckError, match="line 1: SyntaxError"):
        checking.run_pasted("class (:", "Cell", 3, 5)
