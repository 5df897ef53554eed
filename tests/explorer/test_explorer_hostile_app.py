"""The hostile corpus (tests/helpers/hostile.py) uploaded through the app (AppTest): the Debug load page's
model and data uploaders and the Explore sidebar's. Each upload must end in its specific message
(st.error), never an exception element or a library's exception text.

One AppTest session per uploader takes every case in turn (a session costs seconds). Files over
2 MB and cases that need a path or options (external data allowed, a vocabulary) are left to
tests/cli/test_hostile.py.
"""
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from helpers import hostile
from explorer.ui import state

APP = str(Path(__file__).resolve().parents[2] / "explorer" / "app.py")
SMALL = 2 * 2 ** 20


def _cases(kind, suffixes, tmp_path):
    out = []
    for k, c in enumerate(hostile.CASES):
        if c.kind != kind or (set(c.options) - {"as_bytes", "format"}) or not c.filename.endswith(suffixes):
            continue
        d = tmp_path / f"c{k}"
        d.mkdir()
        p = hostile.write(c, d)
        if p.stat().st_size <= SMALL:
            out.append((c, p.read_bytes()))
    return out


def _check(at, case, where):
    assert not at.exception, f"{where}: {case.name}: {[e.value for e in at.exception]}"
    errors = " | ".join(e.value for e in at.error)
    assert "could not be read (" not in errors and "Traceback" not in errors, f"{case.name}: {errors}"
    message = case.upload_message or case.message
    if message is not None and "choose one with prefix=" in message:
        return  # the page asks which LSTM instead (a pick among the candidates): no error to show
    if message is not None:
        assert re.search(message, errors), f"{where}: {case.name}: {errors or 'no error shown'}"


def _debug_page():
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    return at.switch_page(state.DEBUG_LOAD).run()


def test_debug_model_uploads(tmp_path):
    cases = _cases("model", (".pt", ".safetensors", ".keras", ".h5", ".onnx"), tmp_path)
    assert len(cases) >= 20
    at = _debug_page()
    for case, raw in cases:
        at.file_uploader(key="dbg_model_upload").upload(case.filename, raw)
        at.run()
        _check(at, case, "Debug model upload")


def test_debug_data_uploads(tmp_path):
    cases = _cases("data", (".csv", ".npy", ".npz"), tmp_path)
    assert len(cases) >= 6
    at = _debug_page()
    at.radio(key="dbg_data_source").set_value("upload").run()
    for case, raw in cases:
        at.file_uploader(key="dbg_data_upload").upload(case.filename, raw)
        at.run()
        _check(at, case, "Debug data upload")


def test_explore_sidebar_uploads(tmp_path):
    cases = [(c, raw) for c, raw in _cases("data", (".csv", ".npy"), tmp_path) if "sequence_column" not in c.options]
    assert len(cases) >= 5
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update({"source": "demo", "input": "recall"})
    at.run()
    at.selectbox(key="input").set_value("upload").run()
    for case, raw in cases:
        at.file_uploader(key="upload").upload(case.filename, raw)
        at.run()
        assert not at.exception, f"Explore upload: {case.name}: {[e.value for e in at.exception]}"
        errors = " | ".join(e.value for e in at.error)
        assert "Traceback" not in errors and "could not be read (" not in errors, errors
        if case.message is not None:  # the sidebar has its own reader: a message, not necessarily ours
            assert errors, f"Explore upload: {case.name}: no error shown"


@pytest.fixture(autouse=True)
def _no_env_limits(monkeypatch):
    for k in list(__import__("os").environ):
        if k.startswith("LSTM_CORE_"):
            monkeypatch.delenv(k)
