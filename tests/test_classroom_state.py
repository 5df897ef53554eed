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
