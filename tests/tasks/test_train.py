"""Training: it learns, it is deterministic, it reports, it stops, and the command line maps onto the config."""
import dataclasses
import json
import re
import shlex
import threading

import pytest
import torch

from lstm_core import zoo
from lstm_core.io.checkpoint import load_checkpoint
from lstm_core.train import Progress, TrainConfig, command_line, load_snapshot, main, parse_args, train


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # These models are tiny: on a busy 2-core machine, 120 steps took 2.2 s on 1 thread
    # and 17 s on 2 (threads waiting for each other), so this module runs on one.
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def tiny(**kw):
    """A run of seconds: remember-and-recall with short sequences."""
    settings = dict(task="recall", variant="coupled", hidden=4, steps=30, batch=16, lr=3e-2, eval_every=10,
                    eval_batch=32, forget_bias=3.0, task_config={"length": 12, "store_before": 3, "min_delay": 3})
    return TrainConfig(**{**settings, **kw})


def weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_a_short_run_reduces_the_loss():
    r = train(tiny(steps=120, eval_every=40))
    first = sum(v for _, v in r.losses[:10]) / 10
    last = sum(v for _, v in r.losses[-10:]) / 10
    assert last < 0.5 * first
    assert r.metric < r.metrics[0][1] and r.metric < r.baseline


def test_same_seed_same_weights_other_seed_other_weights():
    a, b, c = train(tiny()), train(tiny()), train(tiny(seed=1))
    wa, wb, wc = weights(a.model), weights(b.model), weights(c.model)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert a.losses == b.losses and a.metric == b.metric
    assert not torch.equal(wa["lstm.weight_hh_l0"], wc["lstm.weight_hh_l0"])


def test_global_random_state_does_not_matter():
    torch.manual_seed(1)
    a = train(tiny(steps=5))
    torch.manual_seed(2)
    torch.rand(100)
    b = train(tiny(steps=5))
    assert all(torch.equal(x, y) for x, y in zip(a.model.state_dict().values(), b.model.state_dict().values()))


@pytest.mark.parametrize("variant", ["standard", "peephole", "gru"])
def test_every_shipped_variant_trains(variant):
    r = train(tiny(variant=variant, steps=3))
    assert zoo.architecture_of(r.model.lstm) == variant and len(r.losses) == 3


def test_callback_progress_and_snapshots():
    seen = []
    r = train(tiny(steps=20, eval_every=10, snapshot_every=5), callback=seen.append)
    assert [p.step for p in seen] == list(range(21)) and all(isinstance(p, Progress) for p in seen)
    assert seen[0].loss is None and all(p.loss is not None for p in seen[1:])
    assert [p.step for p in seen if p.metric is not None] == [0, 10, 20]
    assert [p.step for p in seen if p.snapshot is not None] == [0, 5, 10, 15, 20]
    assert [s for s, _ in r.snapshots] == [0, 5, 10, 15, 20]
    first, last = r.snapshots[0][1], r.snapshots[-1][1]
    assert not torch.equal(first["lstm.weight_hh_l0"], last["lstm.weight_hh_l0"])  # copies, not views
    assert all(torch.equal(last[k], v) for k, v in r.model.state_dict().items())
    model = load_snapshot(r.config, first)
    assert not model.training and torch.equal(model.lstm.weight_hh_l0, first["lstm.weight_hh_l0"])
    assert seen[-1].seconds >= seen[1].seconds >= 0


def test_stop_from_the_callback():
    stop = threading.Event()

    def callback(p):
        if p.step == 7:
            stop.set()

    r = train(tiny(steps=50, snapshot_every=20), callback=callback, stop=stop)
    # set during step 7's report, seen after step 8, which is evaluated and snapshot
    assert r.stopped and r.steps_done == 8 and r.metrics[-1][0] == 8 and r.snapshots[-1][0] == 8
    assert r.meta()["training"]["stopped"] is True
    assert all(torch.equal(v, r.model.state_dict()[k]) for k, v in r.snapshots[-1][1].items())


def test_stop_set_before_the_start():
    stop = threading.Event()
    stop.set()
    r = train(tiny(steps=50), stop=stop)
    assert r.stopped and r.steps_done == 0 and r.metrics == [(0, r.metric)]


def test_runs_and_stops_in_a_background_thread():
    stop, results, started = threading.Event(), [], threading.Event()
    worker = threading.Thread(target=lambda: results.append(
        train(tiny(steps=100000), callback=lambda p: started.set(), stop=stop)))
    worker.start()
    assert started.wait(30)
    stop.set()
    worker.join(30)
    assert not worker.is_alive() and results[0].stopped and results[0].steps_done < 100000


def test_meta_records_the_run():
    r = train(tiny(steps=5))
    meta = r.meta()
    assert meta["task"] == "recall" and meta["variant"] == "coupled" and meta["vocabulary"] is None
    assert meta["task_config"]["length"] == 12
    assert meta["metric"]["value"] == r.metric and meta["metric"]["baseline"] == r.baseline
    assert meta["training"]["steps"] == 5 and meta["training"]["seed"] == 0
    assert meta["train_config"] == dataclasses.asdict(r.config)
    json.dumps(meta)


def test_command_line_round_trip():
    config = tiny(steps=7, seed=3)
    command = command_line(config, out="somewhere")
    assert command.startswith("python -m lstm_core.train --task recall --variant coupled --hidden 4")
    parsed, out, name, threads = parse_args(shlex.split(command)[3:])
    assert parsed == config and out == "somewhere" and name == "recall-coupled" and threads is None


def test_command_line_of_a_gru_has_no_forget_bias():
    """A GRU has no forget gate: --forget-bias would be ignored, so the command does not write it
    (issue 20), and it still parses back to the same run."""
    config = tiny(variant="gru", forget_bias=1.0, steps=7)
    command = command_line(config)
    assert "--variant gru" in command and "--forget-bias" not in command
    assert "--forget-bias 3.0" in command_line(tiny())  # an LSTM's is written
    parsed, _, name, _ = parse_args(shlex.split(command)[3:])  # forget_bias: the task's default, unused
    assert dataclasses.replace(parsed, forget_bias=config.forget_bias) == config and name == "recall-gru"


def test_defaults_come_from_the_task():
    c = TrainConfig.for_task("charlm", "coupled")
    assert (c.hidden, c.batch) == (128, 32)
    assert TrainConfig.for_task("charlm", "peephole").hidden == 64  # unfused_defaults
    assert TrainConfig.for_task("recall", "coupled", hidden=8, steps=None).hidden == 8


def test_main_writes_a_loadable_checkpoint(tmp_path, capsys):
    main(["--task", "dyck", "--variant", "coupled", "--steps", "3", "--hidden", "4", "--eval-batch", "8",
          "--task-option", "length=10", "--out", str(tmp_path), "--name", "d"])
    model, meta = load_checkpoint(tmp_path / "d")
    assert meta["vocabulary"] == ["(", ")"] and meta["task_config"]["length"] == 10
    assert "--task-option length=10" in meta["command"] and meta["command"].endswith(f"--out {tmp_path}")
    assert model.lstm.variant == "coupled" and model.lstm.hidden_size == 4
    assert "depth accuracy" in capsys.readouterr().out


# Command lines argparse refuses, with the message it prints.
BAD_ARGS = [
    (["--task", "recall", "--task-option", "delay=3"], r"--task-option: expected key=value with key one of length"),
    (["--task", "recall", "--task-option", "length=long"], r"--task-option length: expected int, got 'long'"),
    (["--task", "recall", "--variant", "lstm2"], r"variant: unknown name 'lstm2'"),
    (["--task", "recall", "--steps", "0"], r"steps: expected >= 1, got 0"),
    (["--task", "nope"], r"task: unknown name 'nope'"),
]


@pytest.mark.parametrize("argv, message", BAD_ARGS)
def test_bad_command_lines(argv, message, capsys):
    with pytest.raises(SystemExit):
        parse_args(argv)
    assert re.search(message, capsys.readouterr().err)


def test_train_refuses_a_bad_config():
    with pytest.raises(ValueError, match=r"lr: expected > 0, got 0"):
        train(tiny(lr=0))
    with pytest.raises(ValueError, match=r"hidden: expected >= 1, got 0"):
        train(tiny(hidden=0))
