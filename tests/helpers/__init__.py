"""The tests' shared helpers, each written once (issue 10); `tests/conftest.py` keeps the fixtures.

    from helpers import app, ok, shot, csv_bytes, sigmoid, Payload, Tagger
    from helpers.equations import close, run_equations      # each variant's equations, independently
"""
import os
from pathlib import Path

import numpy as np
from torch import nn


ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "explorer" / "app.py")
ARTIFACTS = ROOT / "test-artifacts"  # screenshots of the browser tests, to be looked at
# The hand-wired random model on the generated remember-and-recall input: what the app tests were
# written for. The app opens on a shipped model (issue 5), tested in test_explorer_demo.py.
HAND_WIRED = {"source": "demo", "input": "recall"}
PAGE_NAMES = {"unit_finder": "finder", "text_view": "text", "training": "train"}  # tests' names -> ui.state.PAGES


# --- the app under streamlit.testing -------------------------------------------------------------

def ok(at):
    """`at` after a run without an exception (the exceptions' messages otherwise)."""
    assert not at.exception, [e.value for e in at.exception]
    return at


def app(page=None, query=None, defaults=HAND_WIRED):
    """The app on `page` (a ui.state.PAGES name, or a test's name of PAGE_NAMES), its URL holding
    `defaults` and `query`; defaults={} opens it as a user does (on the shipped model)."""
    from streamlit.testing.v1 import AppTest

    from explorer.ui import state
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update({**defaults, **(query or {})})
    at.run()
    if page:
        at.switch_page(state.PAGES[PAGE_NAMES.get(page, page)]).run()
    return ok(at)


def shot(page, name, full_page=False, settle_ms=0):
    """A screenshot of a playwright page under test-artifacts/, after `settle_ms` for Plotly to paint."""
    if settle_ms:
        page.wait_for_timeout(settle_ms)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)


# --- data and models -------------------------------------------------------------------------------

def csv_bytes(rows, header=None):
    """CSV bytes of a 2-D array (one line a row), with an optional header line."""
    lines = ([",".join(header)] if header else []) + [",".join(f"{v:g}" for v in r) for r in np.asarray(rows)]
    return ("\n".join(lines) + "\n").encode()


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


class Payload:
    """A pickle that runs code when loaded: unpickling it creates the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class Tagger(nn.Module):
    """A model as users bring them: embed (20 -> 6) -> encoder.rnn (nn.LSTM 6 -> 8, 2 layers,
    batch-first, bidirectional) -> head (16 -> 5)."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(20, 6)
        self.encoder = nn.Module()
        self.encoder.rnn = nn.LSTM(6, 8, 2, batch_first=True, bidirectional=True)
        self.head = nn.Linear(16, 5)
