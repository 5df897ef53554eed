"""Lesson files: the schema, every refusal's message, the TOML round trip, and each shipped
lesson's claims checked against the trace of the model it shows (issue 13)."""
import math
import re

import numpy as np
import pytest
import torch

import lstm_core
from explorer.logic import claims as cl
from explorer.logic.lessons import (LESSONS_DIR, Claim, Clamp, LessonError, Slide, View, add_slide, dump_lesson,
                                    new_lesson, parse_lesson, shipped_lessons, view_from_explorer)
from explorer.logic.lessons import decode_link as ls_decode, encode_link as ls_encode
from lstm_core.analysis import diagnostics
from lstm_core.analysis.units import correlations

LESSONS = shipped_lessons()
SUBJECTS = {}  # claims.subject_key -> Subject, shared by the slides of one model and sample
SLIDES = [(lid, k) for lid, lesson in LESSONS.items() for k in range(len(lesson.slides))]
HEAD = 'format = "lstm-gate-explorer/lesson"\nversion = 1\nid = "x"\ntitle = "T"\n'
SLIDE = '[[slides]]\ntitle = "S"\nnarration = "N"\n'

# (the file after HEAD, the message it must get): every refusal of the schema
BAD = [
    ('[[slides]]\ntitle = "S"\n', r"slide 1: missing 'narration'"),
    ('', r"missing 'slides'"),
    ('slides = []\n', r"'slides': expected 1 to 40 \[\[slides\]\] tables, got 0"),
    (SLIDE + 'colour = "red"\n', r"slide 1: unknown key\(s\) 'colour'; allowed: title, narration, view, claims"),
    (SLIDE + 'view = { page = "movie" }\n', r"slide 1.view: 'page': 'movie' is not allowed; expected one of gates, "
                                            r"step, units, memory, whatif, compare, text"),
    (SLIDE + 'view = { task = "chess" }\n', r"'task': 'chess' is not allowed; expected one of recall, dyck"),
    (SLIDE + 'view = { variant = "no_forget_gate" }\n', r"'variant': 'no_forget_gate' is not allowed; expected one "
                                                        r"of standard, coupled, peephole"),
    (SLIDE + 'view = { unit = "two" }\n', r"'unit': expected a whole number, got str 'two'"),
    (SLIDE + 'view = { unit = 2.0 }\n', r"'unit': expected a whole number, got float 2.0"),
    (SLIDE + 'view = { unit = 4 }\n', r"slide 1: unit 4 does not exist in recall-coupled, which has H = 4 units "
                                      r"\(0..3\)"),
    (SLIDE + 'view = { batch = 100000 }\n', r"'batch': 100000 is out of range; expected 1..64"),
    (SLIDE + 'view = { steps = 10, step = 10 }\n', r"step 10 is past the sample's last step 9 \(steps = 10\)"),
    (SLIDE + 'view = { sequence = 4 }\n', r"sequence 4 does not exist in a batch of 4; expected 0..3"),
    (SLIDE + 'view = { window = [20, 10] }\n', r"window \[20, 10\] starts after it ends"),
    (SLIDE + 'view = { panels = ["f", "f"] }\n', r"panels \['f', 'f'\] name a field twice"),
    (SLIDE + 'view = { panels = "f" }\n', r"'panels': expected a list, got str 'f'"),
    (SLIDE + 'view = { latent = "depth" }\n', r"latent 'depth' is not one of task recall's: value, holding"),
    (SLIDE + 'view = { page = "compare", variants = ["standard"] }\n', r"page 'compare' needs 'variants', 2 to 4"),
    (SLIDE + 'view = { page = "whatif" }\n', r"page 'whatif' needs a 'clamp' table"),
    (SLIDE + 'view = { page = "text" }\n', r"page 'text' shows characters: it needs task 'charlm'"),
    (SLIDE + 'view = { page = "whatif", clamp = { gate = "q" } }\n', r"slide 1.view.clamp: 'gate': 'q' is not "
                                                                     r"allowed; expected one of i, f, g, o, c, h"),
    (SLIDE + 'view = { speed = 0 }\n', r"'speed': 0 is out of range; expected 0.2..5"),
    (SLIDE + 'claims = [{ field = "f" }]\n', r"claims\[0\]: missing 'kind'; expected one of tracks, mean"),
    (SLIDE + 'claims = [{ kind = "guess" }]\n', r"'kind': 'guess' is not allowed"),
    (SLIDE + 'claims = [{ kind = "tracks" }]\n', r"a 'tracks' claim needs 'latent'"),
    (SLIDE + 'claims = [{ kind = "mean", field = "f" }]\n', r"a 'mean' claim needs either 'op' and 'value' or "
                                                            r"'approx'"),
    (SLIDE + 'claims = [{ kind = "mean", op = ">" }]\n', r"'op' '>' needs a 'value' to compare with"),
    (SLIDE + 'claims = [{ kind = "what_if", approx = 1.0 }]\n', r"a 'what_if' claim needs the slide's view to have "
                                                                r"a 'clamp'"),
    (SLIDE + 'claims = [{ kind = "at", approx = 1.0 }]\n', r"an 'at' claim needs a 'step'"),
    (SLIDE + 'claims = [{ kind = "metric", op = "<", value = 1, quote = "nine" }]\n',
     r"claims\[0\]: quote 'nine' does not appear in the narration"),
    (SLIDE + 'view = { page = "compare", variants = ["standard", "coupled"] }\n'
             'claims = [{ kind = "metric", op = "<", value = 1 }]\n', r"a claim names its column: add variant"),
    (SLIDE + 'claims = [{ kind = "mean", where = "sometimes", op = ">", value = 0 }]\n', r"'where': 'sometimes' is "
                                                                                         r"not allowed"),
    (SLIDE + 'claims = [{ kind = "tracks", latent = "value", best = "yes" }]\n', r"'best': expected true or false"),
    (SLIDE + 'view = { variant = "gru", page = "units" }\n'
             'claims = [{ kind = "mean", field = "c", op = ">", value = 0 }]\n',
     r"slide 1: claims\[0\].field 'c' is not a field of recall-gru, whose cell records r, z, n, h"),
    (SLIDE + 'view = { variant = "gru", panels = ["f", "c"] }\n', r"panels 'f' is not a field of recall-gru"),
    (SLIDE + 'view = { variant = "gru", page = "memory", step = 3 }\n', r"slide 1: page 'memory' draws an LSTM's cell "
                                                                     r"for now, and recall-gru is a GRU; pages for "
                                                                     r"every cell: gates, step, units, whatif, compare, "
                                                                     r"text"),
    (SLIDE + 'view = { page = "compare", variants = ["standard", "coupled"], panels = ["z"] }\n',
     r"slide 1: panels: no column of standard, coupled records 'z'; their rows are i, f, g, o, c, h"),
    (SLIDE + 'view = { page = "compare", variants = ["standard", "gru"], panels = ["q"] }\n',
     r"'panels': 'q' is not allowed; expected one of i, f, g, o, c, h, r, z, n"),
]


@pytest.mark.parametrize("body, message", BAD)
def test_a_bad_lesson_says_where_and_what_is_allowed(body, message):
    with pytest.raises(LessonError, match=message):
        parse_lesson(HEAD + body, "bad.toml")


@pytest.mark.parametrize("data, message", [
    (b"\xff\xfe", r"up.toml: not UTF-8 text \(byte 0\); save the lesson as UTF-8 TOML"),
    ("id = ", r"up.toml: not valid TOML"),
    ("x" * 300_000, r"up.toml: 300,000 characters; a lesson file may have at most 200,000"),
    (HEAD.replace('id = "x"', 'id = "../etc"') + SLIDE, r"'id' '../etc': expected 1-40 of a-z, 0-9"),
    (HEAD.replace("version = 1", "version = 7") + SLIDE, r"format 'lstm-gate-explorer/lesson' version 7; expected"),
    (HEAD + SLIDE + 'narration = "again"\n', r"not valid TOML"),
    (HEAD.replace('title = "T"', 'title = "   "') + SLIDE, r"'title': is empty; write something for the students"),
    (42, r"up.toml: expected TOML text, got int"),
])
def test_an_uploaded_file_that_is_not_a_lesson(data, message):
    with pytest.raises(LessonError, match=message):
        parse_lesson(data, "up.toml")


def test_seven_lessons_ship_in_order_with_their_ids():
    assert list(LESSONS) == ["one-step", "memory", "counting", "forget-gate", "variants", "char-cells", "lstm-gru"]
    pages = {s.view.page for lesson in LESSONS.values() for s in lesson.slides}
    assert pages == {"gates", "step", "units", "memory", "whatif", "compare", "text"}
    for lesson in LESSONS.values():
        assert lesson.title and lesson.summary and len(lesson.slides) >= 3
        for s in lesson.slides:
            sentences = len(re.findall(r"[.!?](\s|$)", s.narration))
            assert 2 <= sentences <= 4, f"{lesson.id}: '{s.title}' has {sentences} sentences"


def test_the_lessons_directory_holds_only_lessons():
    assert sorted(p.stem for p in LESSONS_DIR.glob("*")) == sorted(LESSONS)


NUMBER = re.compile(r"(?<![\w.])[-+]?\d[\d,]*(?:\.\d+)?%?")


@pytest.mark.parametrize("lid, k", SLIDES)
def test_every_number_of_a_narration_is_backed_by_a_claim(lid, k):
    """Decimals, percentages and thousands a narration quotes are each some claim's quote (or
    the slide's own clamp value): no number reaches the students unchecked."""
    s = LESSONS[lid].slides[k]
    quoted = " ".join(c.quote for c in s.claims)
    for n in NUMBER.findall(s.narration):
        if not re.search(r"[.,%]", n) or n.rstrip(",.") in quoted:
            continue
        assert s.view.clamp and float(n) == s.view.clamp.value, f"{lid} slide {k + 1}: {n} has no claim"


@pytest.mark.parametrize("lid, k", SLIDES)
def test_each_slide_shows_what_its_narration_claims(lid, k):
    s = LESSONS[lid].slides[k]
    assert s.claims, f"{lid} slide {k + 1} has no claims"
    for r in cl.check_claims(s, SUBJECTS):
        assert r.ok, f"{lid} slide {k + 1}: {r.text}"


@pytest.mark.parametrize("lid", LESSONS)
def test_a_lesson_written_back_reads_the_same(lid):
    lesson = LESSONS[lid]
    assert parse_lesson(dump_lesson(lesson)) == lesson


def test_save_a_view_as_a_slide_and_read_the_file_back():
    tricky = 'Say "hi"\\ then\n\ttab ☃ \x01'
    lesson = new_lesson("Mine", "mine")
    lesson = add_slide(lesson, "  ", tricky, View(page="step", task="dyck", variant="peephole", unit=4, step=9))
    lesson = add_slide(lesson, "Clamped", "Two.", View(page="whatif", clamp=Clamp("f", 0.5, (1, 2), 3, 30)))
    back = parse_lesson(dump_lesson(lesson).encode(), "mine.toml")
    assert back == lesson and back.slides[0].title == "Slide 1" and back.slides[0].narration == tricky.strip()
    assert lesson.slide(99) is lesson.slides[-1] and lesson.slide(0) is lesson.slides[0]


def _slide(view, *claims):
    return Slide("t", "n", view, tuple(claims))


VIEW = View(task="recall", variant="coupled", input_seed=1, sequence=2, unit=2, step=1)


def test_claims_against_numbers_computed_here():
    """Each kind's measured value against the trace read directly: means, a value, the time
    constant 1 / (1 - mean f), Pearson r (numpy) and the metric of a clamped run."""
    s = cl.subject(VIEW)
    tr, lat = s.trace, s.sample.latents
    f2 = tr.f[0, :, :, 2].numpy()  # (T, B)
    hold = lat["holding"].numpy() >= 0.5
    value = lat["value"].numpy()
    ok = np.isfinite(value)
    r = np.corrcoef(tr.c[0, :, :, 2].numpy()[ok], value[ok])[0, 1]
    want = {Claim("mean", field="f", where="holding", approx=0): f2[hold].mean(),
            Claim("mean", field="f", where="not_holding", approx=0): f2[~hold].mean(),
            Claim("at", field="i", approx=0): float(tr.i[0, 1, 2, 2]),
            Claim("time_constant", approx=0): 1 / (1 - f2.mean()),
            Claim("tracks", latent="value"): r,
            Claim("baseline", approx=0): float((s.sample.y[s.sample.mask] ** 2).mean())}
    for claim, expected in want.items():
        got = cl.check_claim(claim, s, 2, 1).measured
        assert got == pytest.approx(expected, rel=1e-4), claim.kind
    assert correlations(tr.c[0], lat["value"])[0][2] == pytest.approx(r, abs=1e-5)
    clamp = Clamp("f", 0.0, (), 8, None)
    by_hand = s.model.lstm.trace(s.sample.x, interventions=[lstm_core.Clamp("f", 0.0, units=[2], steps=range(8, 40))])
    mse = float(((s.model.head(by_hand.output).detach()[s.sample.mask] - s.sample.y[s.sample.mask]) ** 2).mean())
    slide = _slide(View(page="whatif", task="recall", variant="coupled", input_seed=1, unit=2, clamp=clamp),
                   Claim("what_if", approx=mse, tol=1e-6))
    assert cl.check_claims(slide)[0].ok


def test_a_false_claim_fails_with_what_was_measured():
    wrong = [Claim("mean", field="f", where="holding", approx=0.5, tol=0.02),
             Claim("tracks", latent="value", unit=0, min_r=0.9),
             Claim("at", field="o", op=">", value=0.5),
             Claim("metric", op=">", value=0.1),
             Claim("time_constant", op="<", value=5)]
    results = cl.check_claims(_slide(VIEW, *wrong))
    assert [r.ok for r in results] == [False] * len(wrong)
    assert re.search(r"mean f\[2\] where holding = 0\.99\d* \(claimed 0\.5 ± 0\.02\)", results[0].text)
    assert re.search(r"c\[0\] tracks value: r = [-+]0\.\d+ .*; the best is unit 2 \(r = -0\.98\d\)", results[1].text)


def test_a_claim_on_steps_that_do_not_occur_fails_instead_of_passing():
    s = cl.subject(View(task="charlm", variant="standard", steps=400, batch=2))  # this text has no comment
    assert not s.sample.latents["in_comment"].any()
    r = cl.check_claim(Claim("mean", field="f", where="in_comment", op=">", value=-1), s, 0, 0)
    assert not r.ok and r.text == "mean f[0] where in_comment: no value (no such steps in this sample)"


def test_random_models_and_the_unit_the_data_pick():
    v = View(source="random", variant="no_forget_gate", hidden=5, model_seed=3, task="adding")
    s = cl.subject(v)
    assert s.trace.hidden_size == 5 and torch.all(s.trace.f == 1) and s.meta == {}
    again = cl.subject(v)
    assert torch.equal(again.trace.c, s.trace.c)
    assert cl.slide_unit(v, s) == cl.picked(s)["unit"]
    memory = diagnostics.memory(s.trace)
    assert math.isinf(memory.time_constant[0])


def test_a_lesson_travels_in_a_link_and_a_damaged_or_huge_one_is_refused():
    import base64
    import zlib
    lesson = LESSONS["counting"]
    assert ls_decode(ls_encode(lesson)) == lesson
    with pytest.raises(LessonError, match=r"lesson_data is damaged or not a lesson link"):
        ls_decode("@@@")
    bomb = base64.urlsafe_b64encode(zlib.compress(b" " * 10_000_000)).decode()  # 10 MB of spaces, 10 KB sent
    with pytest.raises(LessonError, match=r"lesson_data inflates past 200,000 bytes"):
        ls_decode(bomb)


def test_an_explore_view_becomes_a_slide_or_says_why_not():
    from explorer.logic.settings import InputSettings, ModelSettings, ViewSettings
    ms = ModelSettings(source="shipped", variant="peephole", input_size=2, hidden_size=16, checkpoint="dyck-peephole")
    spec = InputSettings(kind="task", steps=60, batch=4, seed=7, task="dyck")
    view = ViewSettings(layer=0, sequence=2, gates=("f", "c"), window=(5, 30))
    v = view_from_explorer(ms, spec, view, "step", unit=4, step=9)
    assert (v.page, v.task, v.variant, v.steps, v.input_seed, v.sequence, v.panels, v.window, v.unit, v.step) == \
        ("step", "dyck", "peephole", 60, 7, 2, ("f", "c"), (5, 30), 4, 9)
    assert view_from_explorer(ms, spec, ViewSettings(), "text").page == "gates"  # no text in brackets' model
    assert view_from_explorer(ms, spec, ViewSettings(window=(0, 59)), "").window is None
    with pytest.raises(LessonError, match=r"a slide shows a shipped model on a sample of its task"):
        view_from_explorer(ModelSettings(source="demo"), spec, view)
    with pytest.raises(LessonError, match=r"on a sample of its own task: choose Input > task \(dyck\)"):
        view_from_explorer(ms, InputSettings(kind="recall"), view)
    gru = ModelSettings(source="shipped", variant="gru", input_size=3, hidden_size=4, checkpoint="recall-gru")
    recall = InputSettings(kind="task", steps=40, batch=4, seed=1, task="recall")
    v = view_from_explorer(gru, recall, ViewSettings(gates=("r", "z", "n", "h")), "")
    assert (v.page, v.variant, v.panels) == ("gates", "gru", ("r", "z", "n", "h"))
    v = view_from_explorer(gru, recall, ViewSettings(gates=("z", "h")), "step", unit=1, step=3)
    assert (v.page, v.unit, v.step) == ("step", 1, 3)


def test_a_gru_step_slide_draws_the_gru_cell_with_the_steps_numbers():
    """A step slide on the shipped GRU: its diagram is the GRU's, its sentences say what z keeps."""
    from explorer.ui.slides import render
    lesson = parse_lesson(HEAD + SLIDE + 'view = { variant = "gru", page = "step", step = 20, unit = 1 }\n')
    slide = lesson.slides[0]
    shown = render(slide, {cl.subject_key(slide.view): cl.subject(slide.view)})
    tr = cl.subject(slide.view).trace
    z = float(tr.get("z")[20, slide.view.sequence, 1])
    assert "<svg" in shown.svg and "1 − z" in shown.svg and "tanh" in shown.svg
    assert any(f"z keeps {z:.0%} of h" in line for line in shown.lines), shown.lines


def test_a_count_or_a_class_on_a_slide_axis_has_ticks_at_its_levels():
    """The counting lesson's depth axis had ticks at 0.99, 3.06, 5.13 (issue 13, item 2)."""
    from explorer.ui.slides import render
    slide = shipped_lessons()["counting"].slides[1]  # c of unit 4 beside the bracket depth
    s = cl.subject(slide.view)
    depth = s.sample.latents["depth"][:, slide.view.sequence].numpy()
    (name, fig), = render(slide, {cl.subject_key(slide.view): s}).figures
    axis = fig.layout.yaxis3  # the latent's, beside c
    assert axis.title.text == "depth"
    assert list(axis.tickvals) == list(range(int(np.nanmin(depth)), int(np.nanmax(depth)) + 1))
    from explorer.figures.slides import what_if
    y, t = np.array([0., 1, 2, 2]), np.array([np.nan, 1, 2, 1])
    assert list(what_if(y, y, y, y[::-1], unit=0, target=t).layout.yaxis2.tickvals) == [0, 1, 2]
    assert what_if(y, y, y / 3, y / 3, unit=0).layout.yaxis2.tickvals is None  # a value: plotly's own


def test_for_room_adds_no_colour_bar_and_no_border_to_a_shaded_band():
    """forget-gate's what-if at 1920x1080 had an empty colour bar and a black box round the clamp."""
    from explorer.figures.slides import for_room, what_if
    y = np.linspace(0, 1, 10)
    fig = what_if(y, y, y, y, unit=0, target=y, clamp_steps=(2, 6))
    room = for_room(fig, 1920, 1080).to_plotly_json()
    assert not [t for t in room["data"] if "colorbar" in t or "colorbar" in (t.get("marker") or {})]
    assert [s["line"]["width"] for s in room["layout"]["shapes"]] == [0, 0]  # the band in both panels
    assert all(t["line"]["width"] >= 4 for t in room["data"] if t.get("mode") == "lines")
