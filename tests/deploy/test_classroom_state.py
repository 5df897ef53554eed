"""What one student's session may hold on a shared server (issue 12): a training run's copies of
the weights stay under TrainLimits.snapshot_mib, and a run keeps few models built from them."""
from dataclasses import replace

import pytest

from explorer.logic import trainer
from explorer.logic.settings import TRAIN_LIMITS, TrainLimits
from lstm_core.train import TrainConfig, model_for

MIB = 2**20


@pytest.mark.parametrize("nbytes, kept", [
    (1_000, TRAIN_LIMITS.snapshots),  # a small model: every planned copy
    (1.0 * MIB, 8),  # H=256 on recall: 8 MiB / 1 MiB
    (1.4 * MIB, 5),  # H=256 on charlm
    (100 * MIB, 2),  # never fewer than the first and the last
])
def test_snapshot_count_fits_the_budget(nbytes, kept):
    assert trainer.snapshot_count(int(nbytes)) == kept


def test_snapshot_bytes_are_the_models_parameters():
    config = TrainConfig.for_task("recall", hidden=256)
    model = model_for(config)
    assert trainer.snapshot_bytes(config) == sum(p.numel() * 4 for p in model.parameters())  # float32


def test_a_big_run_keeps_its_copies_under_the_budget():
    limits = TrainLimits(snapshot_mib=0.25)  # a small model and a small budget: the same arithmetic, fast
    config = replace(TrainConfig.for_task("recall", hidden=64), steps=8, batch=4, eval_every=4, eval_batch=8)
    run = trainer.start(config, limits=limits)
    assert run.join(120)
    view = run.view()
    assert view.status == "done", view.error
    one = run.snapshot_bytes
    assert one == trainer.snapshot_bytes(config)
    planned = trainer.snapshot_count(one, limits)
    assert 2 <= planned < limits.snapshots  # the cap is what decided
    # step 0, every `steps // planned` steps, and the last: within one copy of the budget
    assert len(view.snapshots) * one <= limits.snapshot_mib * MIB + 2 * one
    steps = [s for s, _ in view.snapshots]
    for s in steps:
        run.model_at(s)
    assert len(run._models) == trainer.MODELS_KEPT
    assert set(run._models) == set(steps[-trainer.MODELS_KEPT:])  # the latest ones the slider asked for


# --- the server-wide upload budget (logic/budget.py) ---------------------------------------------

class Kept:
    """Stands for a kept upload: counted while it lives."""


def test_the_budget_counts_live_uploads_and_refuses_past_its_limit():
    import gc

    from explorer.logic.budget import BudgetError, UploadBudget
    b = UploadBudget(limit=100)
    first, second = Kept(), Kept()
    b.hold(first, 60)
    b.hold(second, 40)
    assert b.held == 100
    with pytest.raises(BudgetError, match=r"big.csv \(0.0 MB\) does not fit.*budget is 0.0 MB.*"
                                          r"LSTM_EXPLORER_UPLOAD_BUDGET_MB"):
        b.hold(Kept(), 1, what="big.csv")
    assert b.held == 100  # a refused upload counts nothing
    del first  # replaced, cleared, or its session ended
    gc.collect()
    assert b.held == 40
    b.hold(Kept(), 0)
    third = Kept()
    b.hold(third, 60)
    assert b.held == 100


def test_the_budget_is_thread_safe():
    import threading

    from explorer.logic.budget import BudgetError, UploadBudget
    b, kept, refused = UploadBudget(limit=1000), [], []
    lock = threading.Lock()

    def student():
        for _ in range(200):
            obj = Kept()
            try:
                b.hold(obj, 7)
            except BudgetError:
                with lock:
                    refused.append(1)
            else:
                with lock:
                    kept.append(obj)
    threads = [threading.Thread(target=student) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(kept) == 1000 // 7 and b.held == 7 * len(kept) and len(refused) == 8 * 200 - len(kept)


@pytest.mark.parametrize("value, limit", [("", 1024 * MIB), ("64", 64 * MIB), ("0.5", MIB // 2), ("0", 0)])
def test_the_budget_from_the_environment(value, limit):
    from explorer.logic.budget import limit_from_env
    assert limit_from_env({"LSTM_EXPLORER_UPLOAD_BUDGET_MB": value}) == limit


@pytest.mark.parametrize("value", ["lots", "-1", "nan", "1e12"])
def test_a_bad_budget_in_the_environment_is_named(value):
    from explorer.logic.budget import limit_from_env
    with pytest.raises(ValueError, match=r"LSTM_EXPLORER_UPLOAD_BUDGET_MB=.*expected a number of MB from 0"):
        limit_from_env({"LSTM_EXPLORER_UPLOAD_BUDGET_MB": value})


def _upload_script():
    """A Debug data upload as the load page keeps it (ui/subjects.store_upload), of n_bytes bytes."""
    import streamlit as st

    from explorer.ui import subjects

    class File:  # what st.file_uploader returns: a name and the bytes
        name = "walk.csv"

        def getvalue(self):
            return b"1\n" * (st.session_state["n_bytes"] // 2)
    st.session_state["dbg_data_upload"] = File()
    subjects.store_upload("dbg_data_upload", subjects.DATA)
    subjects.refused_message(subjects.DATA)


def test_the_load_page_keeps_an_upload_that_fits_and_says_why_not_otherwise(monkeypatch):
    from streamlit.testing.v1 import AppTest

    from explorer.ui import cache, subjects
    monkeypatch.setenv("LSTM_EXPLORER_UPLOAD_BUDGET_MB", "1")
    cache.upload_budget.clear()
    try:
        at = AppTest.from_function(_upload_script)
        at.session_state["n_bytes"] = MIB // 2
        at.run()
        assert not at.exception and not at.error
        assert len(at.session_state[subjects.DATA].raw) == MIB // 2
        assert cache.upload_budget().held == MIB // 2
        other = AppTest.from_function(_upload_script)  # another student, a file that does not fit beside it
        other.session_state["n_bytes"] = 3 * MIB // 4
        other.run()
        assert subjects.DATA not in other.session_state
        assert "walk.csv (0.8 MB) does not fit: the server keeps 0.5 MB" in other.error[0].value
        at.session_state["n_bytes"] = 3 * MIB // 4  # the first student replaces their file: it fits
        at.run()
        assert not at.error and cache.upload_budget().held == 3 * MIB // 4
    finally:
        cache.upload_budget.clear()
