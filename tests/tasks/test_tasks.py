"""The demo tasks: shapes, seeds, latents against hand-computed examples, and every error message."""
import math

import pytest
import torch
import torch.nn.functional as F

from lstm_core.tasks import TASKS, Adding, CharLM, Dyck, Recall, Sine, TaskModel, get_task
from lstm_core.tasks.base import seed_for
from lstm_core.tasks.charlm import UNKNOWN, VOCABULARY, decode, encode, scan

SMALL = {"charlm": dict(length=40)}  # keeps the character windows short; the others are small already

# (task, settings, error message) for every configuration a task refuses.
BAD_CONFIGS = [
    ("recall", dict(length=12, store_before=8, min_delay=5),  # the user's number, not a formula (issue 21)
     r"length: at least 13 steps for this task \(the store marker may come at step 7 and the recall cue 5 steps "
     r"after it\), got 12"),
    ("recall", dict(min_delay=0), r"store_before and min_delay: expected >= 1"),
    ("dyck", dict(max_depth=0), r"max_depth: expected >= 1, got 0"),
    ("dyck", dict(p_open=1.0), r"p_open: expected a probability in \(0, 1\), got 1.0"),
    ("adding", dict(length=1), r"length: at least 2 steps for this task \(a marked value in each half\), got 1"),
    ("sine", dict(noise=-1.0), r"noise: expected >= 0"),
    ("sine", dict(warmup=100), r"length: at least 101 steps for this task \(the first 100 are warm-up, left out "
     r"of the loss\), got 100"),
    ("sine", dict(warmup=-1), r"warmup: expected >= 0, got -1"),
    ("charlm", dict(eval_fraction=1.0), r"eval_fraction: expected a fraction in \(0, 1\)"),
    ("charlm", dict(length=0), r"length: expected >= 1, got 0"),
    ("nope", {}, r"task: unknown name 'nope'; expected one of recall, dyck, adding, sine, charlm"),
    ("recall", dict(delay=3), r"task 'recall': unknown setting\(s\) delay; expected some of"),
]


def task_of(name):
    return get_task(name, SMALL.get(name))


@pytest.mark.parametrize("name", TASKS)
def test_sample_shapes(name):
    task = task_of(name)
    s = task.sample(5, seed=0)
    T = s.T
    assert s.x.shape == (T, 5, task.input_size) and s.x.dtype == torch.float32
    if task.kind == "classification":
        assert s.y.shape == (T, 5) and s.y.dtype == torch.int64
        assert 0 <= s.y.min() and s.y.max() < task.output_size
    else:
        assert s.y.shape == (T, 5, task.output_size)
    assert s.mask.shape == (T, 5) and s.mask.dtype == torch.bool and s.mask.any(dim=0).all()
    assert tuple(s.latents) == task.latent_names
    assert all(v.shape == (T, 5) for v in s.latents.values())
    assert set(task.captions) <= set(s.latents)
    model = TaskModel.for_task(task, 4, seed=0)
    pred = model(s.x)
    assert pred.shape[:2] == (T, 5) and pred.shape[-1] == task.output_size
    assert math.isfinite(task.loss(pred, s).item()) and math.isfinite(task.metric(pred, s))
    assert math.isfinite(task.baseline(s))


@pytest.mark.parametrize("name", TASKS)
def test_sample_reproducible_by_seed_and_split(name):
    task = task_of(name)
    a, b = task.sample(4, seed=7), task.sample(4, seed=7)
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y) and torch.equal(a.mask, b.mask)
    for k in a.latents:
        assert torch.equal(a.latents[k].nan_to_num(-9), b.latents[k].nan_to_num(-9))
    assert not torch.equal(a.x, task.sample(4, seed=8).x)
    assert not torch.equal(a.x, task.sample(4, seed=7, split="eval").x)


@pytest.mark.parametrize("name", TASKS)
def test_perfect_prediction_beats_baseline(name):
    task = task_of(name)
    s = task.sample(8, seed=1)
    if task.kind == "classification":
        perfect = 50.0 * F.one_hot(s.y, task.output_size).float()  # (T, B, C) confident logits
    else:
        perfect = s.y.clone()
    best = task.metric(perfect, s)
    baseline = task.baseline(s)
    assert best == pytest.approx(1.0 if task.higher_is_better else 0.0, abs=1e-6)
    assert (best > baseline) == task.higher_is_better


def test_seed_for_keeps_splits_apart():
    assert seed_for(0, "train") != seed_for(0, "eval")
    assert seed_for(3, "train") == seed_for(3, "train") < 2**63
    with pytest.raises(ValueError, match=r"split: expected one of train, eval, got 'test'"):
        seed_for(0, "test")
    with pytest.raises(TypeError, match=r"seed: expected an int, got float"):
        seed_for(1.5, "train")
    with pytest.raises(ValueError, match=r"batch: expected an int >= 1, got 0"):
        Recall().sample(0, seed=0)


@pytest.mark.parametrize("name, settings, message", BAD_CONFIGS)
def test_bad_configs(name, settings, message):
    with pytest.raises(ValueError, match=message):
        get_task(name, settings)


@pytest.mark.parametrize("name", list(TASKS))
def test_min_length_is_the_shortest_allowed(name):
    """min_length is what the app clamps steps T to (issue 21, item 9): it must be exactly the boundary."""
    task = get_task(name, SMALL.get(name))
    shortest = get_task(name, {**task.config(), "length": task.min_length})
    assert shortest.sample(2, seed=0).x.shape[0] == task.min_length
    with pytest.raises(ValueError, match=rf"length: .*{task.min_length}.*got {task.min_length - 1}"):
        get_task(name, {**task.config(), "length": task.min_length - 1})


def test_config_round_trip():
    for cls in TASKS.values():
        task = cls()
        assert cls(**task.config()) == task


def test_recall_latents():
    task = Recall(length=12, store_before=3, min_delay=4)
    s = task.sample(64, seed=0)
    t = torch.arange(12).unsqueeze(1)
    for b in range(64):
        store, recall = int(s.x[:, b, 1].argmax()), int(s.x[:, b, 2].argmax())
        assert s.x[:, b, 1].sum() == 1 and s.x[:, b, 2].sum() == 1
        assert 0 <= store < 3 and recall >= store + 4
        v = s.x[store, b, 0]
        assert s.y[recall, b, 0] == v and s.y[:, b].abs().sum() == v.abs()  # silent but for the answer
        assert s.mask[:, b].tolist() == (t[:, 0] == recall).tolist()
        value = s.latents["value"][:, b]
        assert torch.isnan(value[:store]).all() and torch.isnan(value[recall + 1:]).all()
        assert (value[store:recall + 1] == v).all()
        expected_phase = [0] * store + [1] + [2] * (recall - store - 1) + [3] + [4] * (11 - recall)
        assert s.latents["phase"][:, b].tolist() == expected_phase
        assert s.latents["holding"][:, b].tolist() == [float(p == 2) for p in expected_phase]


def test_recall_baseline_is_mean_square_of_the_value():
    s = Recall().sample(4096, seed=0)
    assert Recall().baseline(s) == pytest.approx(1 / 3, rel=0.05)  # E[v^2], v ~ U(-1, 1)


def test_dyck_depth_counts_brackets():
    task = Dyck(length=30, max_depth=3)
    s = task.sample(32, seed=0)
    step = 1 - 2 * s.tokens  # +1 for "(", -1 for ")"
    assert torch.equal(s.y, step.cumsum(0))
    assert s.y.min() >= 0 and s.y.max() <= 3
    prev = torch.cat([torch.zeros(1, 32, dtype=torch.long), s.y[:-1]])
    assert (s.tokens[prev == 0] == 0).all() and (s.tokens[prev == 3] == 1).all()
    assert torch.equal(s.latents["open"], (s.tokens == 0).float())
    assert torch.equal(s.x.argmax(-1), s.tokens) and task.vocabulary == ("(", ")")


def test_adding_sum_of_the_two_marked_values():
    s = Adding(length=10).sample(16, seed=0)
    for b in range(16):
        marked = torch.nonzero(s.x[:, b, 1]).squeeze(1).tolist()
        assert len(marked) == 2 and marked[0] < 5 <= marked[1]
        total = s.x[marked, b, 0].sum()
        assert s.y[-1, b, 0] == pytest.approx(float(total))
        assert s.mask[:, b].tolist() == [False] * 9 + [True]
        assert s.latents["sum"][-1, b] == pytest.approx(float(total))
        assert s.latents["markers_seen"][:, b].tolist() == [float((torch.tensor(marked) <= t).sum()) for t in range(10)]


def test_sine_target_is_the_next_input():
    task = Sine(length=50, noise=0.1, warmup=5)
    s = task.sample(256, seed=0)
    assert torch.equal(s.y[:-1], s.x[1:])
    assert torch.allclose(s.latents["clean"], s.latents["slow"] + s.latents["fast"])
    assert (s.x[..., 0] - s.latents["clean"]).std() == pytest.approx(0.1, rel=0.05)
    assert s.mask[:5].sum() == 0 and s.mask[5:].all()
    t = torch.arange(50.0)
    fast = s.latents["fast"][:, 0]
    # the fast component is a sine of period 8: a(t + 8) = a(t)
    assert torch.allclose(fast[8:], fast[:-8], atol=1e-5)
    assert not torch.allclose(fast[4:], fast[:-4], atol=1e-2)
    assert t.shape == fast.shape


# Hand-computed: the state after each character of this text.
SCAN_TEXT = 'x = "a#b"  # c\n  y(1)\n'
SCAN_EXPECTED = {
    #              x     =     " a # b "     #   c \n      y ( 1 ) \n
    "in_string": [0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    "in_comment": [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0],
    "indent": [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 2, 2, 2, 2, 0],
    "line_position": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0, 1, 2, 3, 4, 5, 6, 0],
    "bracket_depth": [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0],
}


def test_scan_hand_computed():
    assert scan(SCAN_TEXT) == SCAN_EXPECTED


@pytest.mark.parametrize("text, in_string", [
    ('"""a"b"""', [1, 1, 1, 1, 1, 1, 1, 1, 0]),  # a lone quote inside a triple-quoted string
    ("'a\\'b'c", [1, 1, 1, 1, 1, 0, 0]),  # an escaped quote stays inside
    ("''x", [1, 0, 0]),  # the empty string
    ("'ab\nc", [1, 1, 1, 0, 0]),  # unterminated: ends at the newline
    ("# 'x'\n'", [0, 0, 0, 0, 0, 0, 1]),  # quotes in a comment open nothing
])
def test_scan_strings(text, in_string):
    assert scan(text)["in_string"] == in_string


def test_vocabulary_encode_decode():
    assert len(VOCABULARY) == 97 and VOCABULARY[0] == "\n" and VOCABULARY[-1] == UNKNOWN
    text = "def f(x):\n    return 'é'\t\n"
    assert decode(encode(text)) == text.replace("é", UNKNOWN).replace("\t", UNKNOWN)


def test_charlm_sample_matches_its_text():
    task = CharLM(length=60)
    s = task.sample(6, seed=0)
    assert len(s.text) == 6 and all(len(t) == 60 for t in s.text)
    assert [decode(s.tokens[:, b]) for b in range(6)] == s.text
    assert torch.equal(s.x.argmax(-1), s.tokens) and torch.equal(s.y[:-1], s.tokens[1:])
    for b, text in enumerate(s.text):  # windows start at a line start: columns are the window's own
        own = scan(text)
        for key in ("line_position", "indent"):
            assert s.latents[key][:, b].tolist() == own[key]


def test_charlm_eval_split_is_held_out():
    task = CharLM(length=60)
    train, held = task.corpus("train"), task.corpus("eval")
    assert len(held.ids) < 0.2 * len(train.ids)
    window = decode(task.sample(1, seed=0, split="eval").tokens[:, 0])
    assert window in decode(held.ids)


def test_charlm_skips_missing_files_and_refuses_none():
    task = CharLM(files=("textwrap.py", "no_such_module.py"))
    assert task.corpus("train").files == ("textwrap.py",)
    with pytest.raises(RuntimeError, match=r"found 0 of 2 standard library files"):
        CharLM(files=("no_such_module.py", "nor_this.py")).corpus("train")
