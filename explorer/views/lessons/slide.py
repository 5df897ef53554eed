"""Page: one slide of a lesson; `/?lesson=<id>&slide=<n>` opens it, `&present=1` presents it.

Next / Previous (buttons, arrow keys) move through the lesson and the URL follows, so
any slide can be linked. The presenter view shows only the slide and its controls.
"""
import streamlit as st

from explorer.figures.slides import SIZES, export_config, for_room
from explorer.logic import lessons as ls
from explorer.ui.slides import step_diagram
from explorer.ui import cache, lessons as ui, state

present = ui.presenting()
fmt = st.query_params.get("export", "png") if st.query_params.get("export") in ui.EXPORT_FORMATS else "png"
size = st.query_params.get("size") if st.query_params.get("size") in SIZES else "1280x720"
width, height = SIZES[size]
# the slide's size decides its figures (for_room) and its type (the CSS's rem)
st.html(ui.presenter_css(height) if present else ui.NORMAL_CSS)

linked, link_problem = ui.from_link()
found = ui.available()
lid = linked or st.query_params.get("lesson") or next(iter(found))
if link_problem:
    st.error(f"This link's lesson could not be opened: {link_problem}")
if lid not in found:
    st.error(f"No lesson is called {lid!r} here. The lessons are: {', '.join(found)}; or upload a lesson file "
             f"on the Lessons page.")
    st.page_link(state.LESSONS, label="All lessons", icon=":material/school:")
    st.stop()
lesson = found[lid]
N = len(lesson.slides)
if present and "size" not in st.query_params:  # a big screen asks for the 1080p layout
    st.iframe(ui.AUTO_SIZE, height=1)  # runs its script; components.v1.html is deprecated
try:
    n = min(max(int(st.query_params.get("slide", 1)), 1), N)
except ValueError:
    n = 1


def go(to):
    st.query_params["slide"] = str(min(max(to, 1), N))
    st.session_state.pop("ls_playing", None)


st.query_params.update(ui.slide_query(lid, n, present))  # the URL names the slide shown
if linked:
    st.query_params.pop("lesson_data", None)  # now in this session: the short link works
slide = lesson.slides[n - 1]
v = slide.view

head, counter = st.columns([4, 1.4])
head.html(f'<div class="lesson-title">{ui.escape(slide.title)}</div>')
counter.html(f'<div class="lesson-counter">{n} / {N}<br><small>{ui.escape(lesson.title)}</small></div>')

try:
    shown = cache.slide_shown(slide)
except (OSError, ValueError, RuntimeError) as e:  # a checkpoint gone missing, a model that cannot run
    st.error(f"This slide could not be drawn: {e}")
    st.stop()

narration = f'<div class="lesson-narration">{ui.escape(slide.narration)}</div>'
lines = "".join(f"<li>{ui.escape(x)}</li>" for x in shown.lines if v.page != "step")
config = export_config(width, height, fmt, name=f"{lid}-{n}")


def figures(where, share=0.66):
    for name, fig in shown.figures:
        fig = for_room(fig, width, height, share=share) if present else fig
        where.plotly_chart(fig, key=f"slide_{name}", config=config)


def nudge(delta, T):
    st.session_state["ls_t"] = min(max(st.session_state["ls_t"] + delta, 0), T - 1)


def toggle_play():
    st.session_state["ls_playing"] = not st.session_state.get("ls_playing", False)


def step_player(where):
    """The cell diagram of the step page, played step by step in a fragment: only it redraws,
    so the page does not flicker while it plays."""
    s = cache.lesson_subject(v)
    T = s.trace.T
    if st.session_state.get("ls_t_of") != (lid, n):  # a new slide starts at its own step
        st.session_state["ls_t"], st.session_state["ls_t_of"] = shown.step, (lid, n)
    playing = st.session_state.get("ls_playing", False)

    @st.fragment(run_every=v.speed if playing else None)
    def frame():
        if st.session_state.get("ls_playing") and st.session_state.get("ls_ran"):  # a tick of the timer
            st.session_state["ls_t"] = (st.session_state["ls_t"] + 1) % T
        st.session_state["ls_ran"] = True
        t = st.session_state["ls_t"]
        svg, words = step_diagram(s, v, t, shown.unit)
        st.markdown(f'<div class="lesson-diagram">{ui.one_line(svg)}</div>', unsafe_allow_html=True)
        c2, c3, c4 = st.columns([0.6, 0.6, 2.5], vertical_alignment="center")
        c2.button("‹", key="ls_back", help="previous step", on_click=nudge, args=(-1, T))
        c3.button("›", key="ls_fwd", help="next step", on_click=nudge, args=(1, T))
        c4.download_button("diagram as SVG", svg, file_name=f"{lid}-{n}-step{t}.svg", mime="image/svg+xml",
                           key="ls_svg", on_click="ignore")
        if not present:
            st.caption(" ".join(words))

    with where:
        st.session_state["ls_ran"] = False  # the first run of the fragment in a page run shows the step as is
        frame()
        # outside the fragment: pressing it reruns the page, which starts or stops the fragment's timer
        st.button("⏸ pause" if playing else "▶ play the steps", key="ls_play", shortcut="Space", on_click=toggle_play,
                  help=f"one step every {v.speed:g} s (space bar)")


if v.page == "step":
    left, right = st.columns([2.3, 1] if present else [3, 2], gap="large")
    step_player(left)
    right.html(narration)
    if not present:  # on a slide the diagram is the figure; the unit's lines are for the desk
        figures(right)
elif v.page in ("compare", "text"):
    figures(st, share=0.56)
    st.html(narration + (f'<ul class="lesson-lines">{lines}</ul>' if lines and not present else ""))
else:
    left, right = st.columns([3, 1.3], gap="large")
    figures(left)
    right.html(narration + (f'<ul class="lesson-lines">{lines}</ul>' if lines else ""))

prev_col, next_col, rest = st.columns([1, 1, 4 if present else 3], vertical_alignment="center")
# No arrow in the labels: Streamlit draws the shortcut's key, ← or →, beside them ("Next → →", issue 21)
prev_col.button("Previous", key="ls_prev", on_click=go, args=(n - 1,), disabled=n == 1, shortcut="Left",
                width="stretch")
next_col.button("Next", key="ls_next", on_click=go, args=(n + 1,), disabled=n == N, shortcut="Right",
                width="stretch", type="primary")
if present:
    rest.button("Exit the presenter view", key="ls_exit", shortcut="Esc", type="tertiary",
                on_click=lambda: st.query_params.pop("present", None))
    st.stop()

rest.button("Present (presenter view)", key="ls_present", icon=":material/slideshow:",
            on_click=lambda: st.query_params.update(present="1"))
with st.expander("Checked against this trace", expanded=False):
    for r in cache.slide_claims(slide):
        st.markdown(f"{'✅' if r.ok else '❌'} {r.text}" + (f' — backs "{r.claim.quote}"' if r.claim.quote else ""))
    if not slide.claims:
        st.caption("This slide makes no claims: add [[slides]] claims = [...] in its file (docs/lessons.md).")
c1, c2, c3 = st.columns(3)
c1.segmented_control("toolbar download", ui.EXPORT_FORMATS, default=fmt, key="ls_fmt",
                     on_change=lambda: st.query_params.update(export=st.session_state["ls_fmt"] or "png"),
                     help="the camera of each figure's toolbar saves it as PNG or SVG, drawn in your browser")
c2.segmented_control("at", tuple(SIZES), default=size, key="ls_size",
                     on_change=lambda: st.query_params.update(size=st.session_state["ls_size"] or "1280x720"))
c3.download_button("This lesson as a file (.toml)", ls.dump_lesson(lesson), file_name=f"{lid}.toml",
                   mime="application/toml", key="ls_lesson_file")
st.caption(f"Link to this slide: `?lesson={lid}&slide={n}`" + ("" if lid in cache.shipped_lessons() else
           " (in this session; the lesson's own link below works anywhere)."))
if lid not in cache.shipped_lessons():
    st.code(f"?lesson_data={ls.encode_link(lesson)}&slide={n}", language=None)
