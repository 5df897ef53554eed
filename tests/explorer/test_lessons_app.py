"""The lesson pages through AppTest: every slide of every lesson, the presenter view, links,
keys, an uploaded lesson, a slide saved from an Explore page, and the Compare page (issue 13).

The numbers asserted come from explorer.logic.claims / compare run here, and from the slide
files themselves (their claims), not from the page.
"""
import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from explorer.figures.compare import rows_of
from explorer.logic import compare, lessons as ls
from explorer.ui import state

APP = str(Path(__file__).resolve().parents[2] / "explorer" / "app.py")
LESSONS = ls.shipped_lessons()


def app(query=None, page=None):
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update(query or {})
    at.run()
    if page:
        at.switch_page(page).run()
    return ok(at)


def ok(at):
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def charts(at):
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def html(at):
    return " ".join(h.proto.body for h in at.get("html"))


def test_every_slide_of_every_lesson_opens_with_its_claims_ticked():
    """One session walks every lesson with Next: each slide's title, narration and figure are
    there, the URL follows, and every claim shows a tick."""
    for lid, lesson in LESSONS.items():
        at = app({"lesson": lid})
        for n, slide in enumerate(lesson.slides, start=1):
            assert dict(at.query_params) == {"lesson": lid, "slide": str(n)}
            body = html(at)
            assert ls_escape(slide.title) in body and ls_escape(slide.narration) in body and f"{n} / " in body
            assert charts(at), f"{lid} slide {n}: no figure"
            ticks = [m.value for m in at.markdown if m.value.startswith(("✅", "❌"))]
            assert len(ticks) == len(slide.claims) and all(t.startswith("✅") for t in ticks), ticks
            if slide.view.page == "step":
                assert "<svg" in " ".join(m.value for m in at.markdown)
            if n < len(lesson.slides):
                at.button(key="ls_next").click().run()
                ok(at)
        assert at.button(key="ls_next").disabled


def ls_escape(text):
    from html import escape
    return escape(text)


def test_a_link_opens_a_slide_and_previous_goes_back():
    at = app({"lesson": "forget-gate", "slide": "3"})
    assert "What if f were 0.5?" in html(at)
    fig = charts(at)[0]
    names = [d.get("name") for d in fig["data"]]
    assert "c, f clamped to 0.5" in names and "c, as trained" in names
    at.button(key="ls_prev").click().run()
    assert dict(at.query_params)["slide"] == "2" and "Gradients flow along the cell" in html(ok(at))
    for bad, shown in (("99", "4 / 4"), ("0", "1 / 4"), ("two", "1 / 4")):
        assert shown in html(app({"lesson": "forget-gate", "slide": bad}))


# What Streamlit's frontend draws beside a button for its shortcut (its key-hint table).
KEY_HINTS = {"left": "←", "right": "→", "up": "↑", "down": "↓"}


def test_the_arrow_keys_are_the_slide_buttons():
    """...and their labels do not draw the arrow again: Streamlit's key hint is the arrow (issue 21:
    "Next → →", "← Previous ←")."""
    at = app({"lesson": "memory", "slide": "2"})
    assert at.button(key="ls_next").proto.shortcut.lower() == "right"
    assert at.button(key="ls_prev").proto.shortcut.lower() == "left"
    for b in at.button:
        hint = KEY_HINTS.get(b.proto.shortcut.lower())
        assert not hint or hint not in b.label, f"{b.key}: {b.label!r} and the key hint {hint}"


def test_an_unknown_lesson_says_which_exist():
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["lesson"] = "nope"
    at.run()
    assert not at.exception
    assert "No lesson is called 'nope' here. The lessons are: one-step, memory" in at.error[0].value


def test_the_presenter_view_has_only_the_slide_controls():
    at = app({"lesson": "variants", "slide": "1", "present": "1"})
    assert {b.key for b in at.button} == {"ls_prev", "ls_next", "ls_exit"}
    assert not at.sidebar.children  # nothing drawn in the sidebar, so Streamlit draws none
    for kind in ("selectbox", "multiselect", "number_input", "slider", "text_input", "segmented_control"):
        assert not at.get(kind), kind
    assert "display: none" in html(at) and 'data-testid="stSidebar"' in html(at)
    fig = charts(at)[0]
    assert fig["layout"]["font"]["size"] >= 20  # readable from the back of the room
    at.button(key="ls_next").click().run()
    assert dict(at.query_params) == {"lesson": "variants", "slide": "2", "present": "1"}
    at.button(key="ls_exit").click().run()
    assert "present" not in dict(ok(at).query_params)


def test_the_step_animation_plays_and_pauses():
    at = app({"lesson": "one-step", "slide": "3"})
    assert "step 20, sequence 2, unit 0" in " ".join(m.value for m in at.markdown)
    at.button(key="ls_fwd").click().run()
    assert "step 21, sequence 2, unit 0" in " ".join(m.value for m in ok(at).markdown)
    at.button(key="ls_play").click().run()
    assert ok(at).button(key="ls_play").label == "⏸ pause" and at.session_state["ls_playing"]
    svg = [d for d in at.get("download_button") if d.proto.label == "diagram as SVG"]
    assert len(svg) == 1


def test_an_uploaded_lesson_and_a_saved_slide_open_like_a_shipped_one():
    # save the Explore page's view as a slide
    at = app({"source": "shipped", "task": "dyck", "shipped_variant": "peephole", "input": "task", "seq": "1"})
    at.text_input(key="ls_title").input("My counter").run()
    at.text_area(key="ls_narration").input("Unit 4 counts. It really does.").run()
    at.button(key="ls_add").click().run()
    draft = ok(at).session_state["lesson_draft"]
    v = draft.slides[0].view
    assert (draft.slides[0].title, v.page, v.task, v.variant, v.sequence) == ("My counter", "gates", "dyck",
                                                                                "peephole", 1)
    text = ls.dump_lesson(draft)
    # reopen it from its file
    at.switch_page(state.LESSONS).run()
    at.get("file_uploader")  # present
    lesson = ls.parse_lesson(text.replace('id = "my-lesson"', 'id = "mine"'))
    at.session_state["lesson_opened"] = {"mine": lesson}
    at.switch_page(state.LESSON).run()
    at.query_params.update(lesson="mine", slide="1")
    at.run()
    assert "My counter" in html(ok(at)) and charts(at)
    # and from its link, in a fresh session
    fresh = app({"lesson_data": ls.encode_link(lesson), "slide": "1"})
    assert "My counter" in html(fresh) and dict(fresh.query_params) == {"lesson": "mine", "slide": "1"}


def test_a_damaged_link_says_so():
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["lesson_data"] = "not-a-lesson"
    at.run()
    assert not at.exception and "This link's lesson could not be opened" in at.error[0].value


def test_a_view_the_schema_cannot_hold_says_why():
    at = app({"source": "random"})
    assert any("a slide shows a shipped model" in c.value for c in at.caption)


def test_the_lessons_page_lists_every_lesson():
    at = app(page=state.LESSONS)
    text = " ".join(m.value for m in at.markdown)
    for lesson in LESSONS.values():
        assert lesson.title in text


def test_compare_three_recall_models_from_the_link():
    at = app({"task": "recall", "variants": "standard,coupled,peephole", "input_seed": "1"}, page=None)
    at.switch_page(state.COMPARE)
    at.query_params.update(task="recall", variants="standard,coupled,peephole", input_seed="1", b="2")
    at.run()
    ok(at)
    cols = compare.columns(compare.parse_query({"task": "recall", "input_seed": "1"}))
    text = " ".join(m.value for m in at.markdown)
    for c in cols:
        assert f"**{c.variant}**: unit {c.unit} tracks value (r = {c.r:+.2f}" in text
    grid, diff = charts(at)
    heat = [d for d in grid["data"] if d["type"] == "heatmap"]
    assert len(heat) == 3 * 4  # 3 columns x panels i, f, o, c
    # a shared control drives every column, and the URL follows
    at.slider(key="cmp_step").set_value(12).run()
    lines = [s for s in charts(ok(at))[0]["layout"]["shapes"] if s["type"] == "line"]
    assert len(lines) == 3 and all(s["x0"] == 12 for s in lines)  # one through every panel of a column
    assert dict(at.query_params)["step"] == "12"
    at.selectbox(key="cmp_unit").set_value(3).run()
    frames = [s for s in charts(ok(at))[0]["layout"]["shapes"] if s["type"] == "rect"]
    assert len(frames) == 12 and sorted({s["y0"] + 0.5 for s in frames}) == [rows_of(r, 3, 4) for r in range(4)]


def test_compare_random_models_of_any_variant_and_a_bad_link():
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page(state.COMPARE)
    at.query_params.update(task="adding", variants="standard,no_forget_gate", models="random", H="5")
    at.run()
    ok(at)
    assert "(random)" in " ".join(m.value for m in at.markdown)
    at2 = AppTest.from_file(APP, default_timeout=120)
    at2.run()
    at2.switch_page(state.COMPARE)
    at2.query_params.update(task="recall", variants="standard,no_forget_gate")
    at2.run()
    assert not at2.exception and "not available for shipped models" in at2.error[0].value


# The Compare page's controls, by key: what its link must bring back (issue 21, item 3).
COMPARE_CONTROLS = ("task", "cmp_source", "cmp_variants", "cmp_steps", "cmp_batch", "cmp_iseed")


def compare_screen(at):
    """What the Compare page shows: its controls' values (H and the model seed only where they are
    used), the columns' headings and the info line."""
    shown = {k: at.session_state[k] for k in COMPARE_CONTROLS}
    if shown["cmp_source"] == "random":
        shown.update(H=at.session_state["cmp_hidden"], seed=at.session_state["cmp_mseed"])
    return shown, sorted(m.value for m in at.markdown if m.value.startswith("**")), [i.value for i in at.info]


def reopened(at):
    """The page opened in a new session from `at`'s URL, as a shared link is."""
    fresh = AppTest.from_file(APP, default_timeout=120)
    fresh.run()
    fresh.switch_page(state.COMPARE)
    fresh.query_params.update(dict(at.query_params))
    return ok(fresh.run())


def test_the_compare_link_reproduces_the_screen_after_every_change():
    """Back to shipped drops models=random and H=; a variant removed leaves the URL, down to the
    one left (the page then asks for two); each URL opened anew shows what was on the screen."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page(state.COMPARE)
    at.query_params.update(task="recall", variants="standard,coupled,no_forget_gate", models="random", H="5")
    ok(at.run())
    assert "(random)" in " ".join(m.value for m in at.markdown)
    steps = [lambda: at.radio(key="cmp_source").set_value("shipped"),  # no_forget_gate is not shipped: 2 columns
             lambda: at.multiselect(key="cmp_variants").unselect("coupled"),  # one left: no columns
             lambda: at.radio(key="cmp_source").set_value("random"),
             lambda: at.multiselect(key="cmp_variants").select("no_input_gate"),
             lambda: at.number_input(key="cmp_hidden").set_value(6),
             lambda: at.radio(key="cmp_source").set_value("shipped"),
             lambda: at.multiselect(key="cmp_variants").select("peephole")]
    for n, change in enumerate(steps):
        change()
        ok(at.run())
        url = dict(at.query_params)
        if at.session_state["cmp_source"] == "shipped":
            assert "models" not in url and "H" not in url and "model_seed" not in url, (n, url)
        assert url["variants"] == ",".join(at.session_state["cmp_variants"]), (n, url)
        assert compare_screen(reopened(at)) == compare_screen(at), (n, url)


def test_compare_an_lstm_and_a_gru_each_draws_its_own_cell():
    """variants=standard,gru: the LSTM column draws i, f, g, o, c, h and the GRU column r, z, n, h,
    in rows aligned by role (f beside z, c beside h); each column's caption gives its memory update,
    the GRU's that z keeps; the difference view subtracts z from f; a click still marks every column."""
    at = app(page=None)
    at.switch_page(state.COMPARE)
    at.query_params.update(task="recall", variants="standard,gru", input_seed="1", b="2")
    ok(at.run())
    cols = compare.columns(compare.parse_query({"task": "recall", "variants": "standard,gru", "input_seed": "1"}))
    text = " ".join(m.value for m in at.markdown)
    for c in cols:
        assert f"**{c.variant}**: unit {c.unit} tracks value (r = {c.r:+.2f}, in {c.declaration.memory})" in text
    captions = " ".join(c.value for c in at.caption)
    assert r"c_t = f_t \odot c_{t-1} + i_t \odot g_t" in captions
    assert r"h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}" in captions and "z keeps" in captions
    grid, diff = charts(at)
    heat = {" ".join(d["name"].split()[::len(d["name"].split()) - 1]): d  # "<variant> <field>"
            for d in grid["data"] if d["type"] == "heatmap"}
    assert list(heat) == [f"standard {k}" for k in "ifgoch"] + [f"gru {k}" for k in "rznh"]  # "<variant> <field>"
    assert at.multiselect(key="cmp_panels").value == ["i", "r", "f/z", "g/n", "o", "c/h", "h"]
    # rows by role: z in f's row, the GRU's h in c's row, and nothing of the GRU in i's row
    y0 = {k: d["y0"] for k, d in heat.items()}
    assert y0["gru z"] == y0["standard f"] and y0["gru h"] == y0["standard c"] and y0["gru n"] == y0["standard g"]
    notes = [a["text"] for a in grid["layout"]["annotations"]]
    assert {"<b>z</b>", "<b>r</b>", "<b>f</b>"} <= set(notes)  # each column's letter of a row it shares
    assert "— (the GRU has no i)" in notes and "— (the GRU's h is in row c/h)" in notes
    gate_scales = {k: (d["zmin"], d["zmax"]) for k, d in heat.items()}
    assert gate_scales["gru z"] == gate_scales["gru r"] == (0.0, 1.0)  # gates on 0..1, read from the declaration
    assert "f of standard minus z of gru" in diff["layout"]["title"]["text"]
    # a click on a GRU cell marks its step and unit in both columns
    at.session_state["cmp_grid"] = {"selection": {"points": [{"customdata": [1, 17, 3, 0.5]}]}}
    ok(at.run())
    assert dict(at.query_params)["step"] == "17" and dict(at.query_params)["unit"] == "3"
    frames = [s for s in charts(at)[0]["layout"]["shapes"] if s["type"] == "rect"]
    assert {s["xref"] for s in frames} == {"x", "x2"} and len(frames) == 6 + 4
    # a link that names the panels by a field of either cell
    at.query_params["panels"] = "z,c"
    fresh = reopened(at)
    assert fresh.multiselect(key="cmp_panels").value == ["f/z", "c/h"]


def test_the_lstm_gru_lesson_presents_from_its_link():
    """?lesson=lstm-gru&present=1: the first slide draws the LSTM's f and c beside the GRU's z and h,
    in the same rows; its last slide clamps the GRU's z and draws its memory h, not a c."""
    at = app({"lesson": "lstm-gru", "slide": "1", "present": "1"})
    assert "LSTM and GRU" in html(at) and {b.key for b in at.button} == {"ls_prev", "ls_next", "ls_exit"}
    heat = {tuple(d["name"].split()[::len(d["name"].split()) - 1]): d["y0"] for d in charts(at)[0]["data"]
            if d["type"] == "heatmap"}
    assert list(heat) == [("standard", "f"), ("standard", "c"), ("gru", "z"), ("gru", "h")]
    assert heat["standard", "f"] == heat["gru", "z"] and heat["standard", "c"] == heat["gru", "h"]
    at = app({"lesson": "lstm-gru", "slide": "5", "present": "1"})
    names = [d.get("name") for d in charts(at)[0]["data"]]
    assert "h, z clamped to 1" in names and "h, as trained" in names
    ticks = [m.value for m in app({"lesson": "lstm-gru", "slide": "5"}).markdown if m.value.startswith(("✅", "❌"))]
    assert len(ticks) == 3 and all(t.startswith("✅") for t in ticks)  # outside the presenter view
