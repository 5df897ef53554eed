"""The "Debug your model" pages in a real browser: upload a model and data through the real file
inputs, pick the LSTM, read the findings table, follow a finding's link, run a what-if, download
the findings.

The model is a PyTorch checkpoint {"model": state_dict, "epoch": ...} of a larger module holding
the two-layer planted tagger (tagger.encoder.rnn) and a character LSTM (char_rnn), as users bring
them: the page must ask which LSTM before loading anything.

Served by `streamlit run` on a free port and driven in headless Chromium (Debian's, through
Playwright's executable_path); skips with a reason without them. Screenshots go to
test-artifacts/debug_*.png (git-ignored): look at them.
"""
import csv
import io

import pytest

import lstm_core
from lstm_core.analysis import diagnostics as dg
from lstm_core.io.data import from_arrays
from explorer.logic.diagnosis import GradientSpec

from helpers import debug_models as dm
from helpers import shot
from test_explorer_browser import ARGS, ARTIFACTS, CHROMIUM, needs_browser, serve, sync_playwright

UNIT = 5  # the planted dead unit of debug_models.PLANTED


def debug_shot(page, name):
    shot(page, f"debug_{name}", full_page=True, settle_ms=400)  # settle: let Plotly finish painting


def no_exception(page):
    assert page.locator("[data-testid=stException]").count() == 0


def upload_data(page, path, tries=3):
    """Upload the data file and wait for the page to say it is ready. An upload sent within a
    moment of the pick's rerun was dropped by the browser side in about half the runs on 2 busy
    cores (a person choosing a file in a dialog takes longer; README.md, "Debug your model in the app"), so this
    waits, and sends it again if no data summary follows."""
    uploader = page.locator("[data-testid=stFileUploader]").filter(has_text="Data file").locator("input[type=file]")
    page.get_by_text("encoded per token").wait_for(timeout=60_000)  # the run got past the uploader
    page.wait_for_function("() => !document.querySelector('[data-testid=stStatusWidget]')", timeout=60_000)
    page.wait_for_timeout(2000)  # without it 3 of 6 runs dropped the first upload; with it 0 of 3
    for k in range(tries):
        uploader.set_input_files(str(path))
        try:
            page.get_by_text("Ready.").wait_for(timeout=20_000)
            return
        except Exception:
            uploader.locator("xpath=..").scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / f"debug_retry{k}.png"))
            if k == tries - 1:
                raise


def nav(page, title):
    """Open a debug page through the top navigation's "Debug your model" menu (keeps the session)."""
    page.get_by_text("Debug your model", exact=True).first.click()
    page.get_by_text(title, exact=True).last.click()  # the menu is a popover at the end of the page



def arrive(page, text, plots, name):
    """Wait until the page shows `text` and at least `plots` Plotly charts, check it raised nothing, screenshot it."""
    page.get_by_text(text).wait_for(timeout=60_000)
    page.wait_for_function(f"() => document.querySelectorAll('.js-plotly-plot').length >= {plots}", timeout=60_000)
    no_exception(page)
    debug_shot(page, name)

@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("upload")
    whole = dm.tagger_with_char_rnn()
    (d / "tagger.pt").write_bytes(dm.torch_bytes({"model": whole.state_dict(), "epoch": 12}))
    x, lengths = dm.walks()
    (d / "walks.npz").write_bytes(dm.npz_bytes(x=x, lengths=lengths))
    model = lstm_core.load(dm.safetensors_bytes(whole.tagger), batch_first=True)
    want = dg.diagnose(model, from_arrays(x, lengths), gradients=False).findings
    return d, want


@needs_browser
def test_upload_findings_link_whatif_download(files):
    d, want = files
    with serve() as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1100}, accept_downloads=True)
            page.goto(url + "/debug")
            page.get_by_text("Debug your own model").wait_for(timeout=90_000)
            inputs = page.locator("input[type=file]")
            inputs.nth(0).set_input_files(str(d / "tagger.pt"))
            page.get_by_text("tagger.pt holds 2 LSTMs").wait_for(timeout=60_000)
            debug_shot(page, "pick")
            page.locator("[data-testid=stSelectbox]").first.click()
            page.get_by_role("option", name="tagger.encoder.rnn.").click()
            page.get_by_text("Loaded tagger.pt").wait_for(timeout=60_000)
            page.get_by_text("a file of yours").click()
            upload_data(page, d / "walks.npz")
            no_exception(page)
            debug_shot(page, "load")

            page.get_by_role("link", name="Findings").last.click()
            page.locator("[data-testid=stDataFrame]").wait_for(timeout=60_000)
            page.get_by_text(f"{int((want.severity == 'warning').sum())}", exact=True).first.wait_for()
            no_exception(page)
            debug_shot(page, "findings")
            with page.expect_download() as dl:
                page.get_by_role("button", name="findings.csv").click()
            rows = list(csv.DictReader(io.StringIO(open(dl.value.path()).read())))
            assert [r["what"] for r in rows] == list(want.what)

            first = want.iloc[0]
            link = f"Saturation: layer {int(first.layer)}, unit {int(first.unit)}"
            page.get_by_role("link", name=link).click()
            page.get_by_text("Per unit and gate, the fraction of steps").wait_for(timeout=60_000)
            page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length >= 2", timeout=60_000)
            page.get_by_text(f"Unit {int(first.unit)}, layer {int(first.layer)}", exact=True).wait_for()  # preselected
            no_exception(page)
            debug_shot(page, "saturation")

            page.get_by_role("tab", name="Memory").click()
            page.get_by_text("How long each unit keeps what it holds").wait_for(timeout=60_000)
            debug_shot(page, "memory")

            page.get_by_role("tab", name="Gradient flow").click()
            page.get_by_role("button", name="Compute the gradient flow").click()
            # the default is the command line's (issue 10, item 6): one computation on both; the
            # tagger has dm.H units, fewer than diagnose's max_units
            arrive(page, f"Computed with {min(GradientSpec().max_units, dm.H)} unit(s)", 1, "gradients")

            page.get_by_role("tab", name="Cell state").click()
            arrive(page, "A cell state that keeps growing", 2, "cell")

            nav(page, "Gates of your model")
            arrive(page, "Unit traces", 3, "gates")

            nav(page, "What-if")
            page.get_by_role("button", name="Run what-if").click()
            arrive(page, "Ran: ", 1, "whatif")
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "debug_failure.png"), full_page=True)  # where it stopped
            raise
        finally:
            browser.close()
