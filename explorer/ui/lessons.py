"""The lesson pages' Streamlit side: which lesson a link names, the lesson being written, the
presenter view's look, and "Save this view as a slide" for the Explore pages (issue 13).

A lesson is found by its id in this order: one uploaded or opened from a link in this
session, the one being written (Save this view as a slide), the shipped ones of
assets/lessons. Its slides are drawn by explorer/views/lessons/slide.py from
explorer.ui.slides; everything computed is cached in ui/cache.py.
"""
from html import escape  # noqa: F401  (the pages escape narration and titles with it)

import streamlit as st

from explorer.figures.diagram import one_line  # noqa: F401  (the step player's SVG on one line)
from explorer.logic import lessons as ls
from explorer.logic.lessons import LessonError

from . import cache, state

DRAFT = "lesson_draft"  # the Lesson being written from the Explore pages
OPENED = "lesson_opened"  # {id: Lesson} uploaded or opened from a link in this session
EXPORT_FORMATS = ("png", "svg")

# The presenter view: no Streamlit header, toolbar or sidebar, less padding, large type.
# Streamlit draws no sidebar when a page puts nothing in it; the rules below also hide its
# toggle and the top bar, so that nothing but the slide is on the screen.
PRESENTER_CSS = """
<style>
header[data-testid="stHeader"], [data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"],
[data-testid="stToolbar"], [data-testid="stDecoration"], footer { display: none !important; }
.block-container, [data-testid="stMainBlockContainer"] { padding: 1.2rem 2.2rem 0.5rem 2.2rem !important;
    max-width: 100% !important; }
.lesson-title { font-size: 2.6rem; font-weight: 700; line-height: 1.15; margin: 0 0 0.4rem 0; }
.lesson-counter { font-size: 1.5rem; text-align: right; padding-top: 0.5rem; white-space: nowrap; }
.lesson-counter small { font-size: 1rem; opacity: 0.7; }
.lesson-narration { font-size: 1.65rem; line-height: 1.45; }
.lesson-lines { font-size: 1.25rem; line-height: 1.4; opacity: 0.85; }
.stButton button p, .stDownloadButton button p { font-size: 1.3rem !important; }
.lesson-diagram svg { width: 100%; height: auto; max-height: 64vh; }
.lesson-diagram svg text { font-size: 16px; }  /* 15 in the file; at 18 the z labels ran into each other */
</style>
"""
# The normal view: the same classes at the app's size.
NORMAL_CSS = """
<style>
.lesson-title { font-size: 2rem; font-weight: 700; line-height: 1.2; margin: 0 0 0.3rem 0; }
.lesson-counter { font-size: 1.1rem; text-align: right; padding-top: 0.5rem; white-space: nowrap; }
.lesson-counter small { font-size: 0.85rem; opacity: 0.7; }
.lesson-narration { font-size: 1.2rem; line-height: 1.5; }
.lesson-lines { font-size: 1rem; opacity: 0.85; }
.lesson-diagram svg { width: 100%; height: auto; }
</style>
"""


def presenter_css(height=720):
    """PRESENTER_CSS for a slide of `height` px (720 or 1080): every size in it is in rem, so a
    larger root font scales the title, narration and buttons with the figures (for_room)."""
    return PRESENTER_CSS.replace("<style>", f"<style>\nhtml {{ font-size: {16 * height / 720:.0f}px; }}", 1)


# On a screen of 1080p or more with no size in the link, the presenter view asks for the
# 1920x1080 layout: the server cannot see the screen, the browser can. Measured: at 1920x1080
# without it, the slide took the top half of the screen in 720p sizes. The component's frame may
# not navigate the page (its sandbox), so it edits the URL and tells Streamlit as the back button
# would: a rerun in the same session, with the new query.
AUTO_SIZE = """<script>
const top_ = window.parent, q = new URLSearchParams(top_.location.search);
if (!q.has('size') && top_.innerWidth >= 1900 && top_.innerHeight >= 1000) {
    q.set('size', '1920x1080');
    top_.history.replaceState(top_.history.state, '', top_.location.pathname + '?' + q.toString());
    top_.dispatchEvent(new PopStateEvent('popstate')); }
</script>"""


def presenting():
    """True when the URL asks for the presenter view (present=1)."""
    return st.query_params.get("present") == "1"


def available():
    """{id: Lesson}: this session's own, then the shipped ones (an own lesson shadows a shipped id)."""
    found = dict(cache.shipped_lessons())
    draft = st.session_state.get(DRAFT)
    if draft is not None and draft.slides:
        found[draft.id] = draft
    found.update(st.session_state.get(OPENED, {}))
    return found


def open_lesson(lesson):
    """Keep an uploaded or linked lesson in this session, under its id."""
    st.session_state.setdefault(OPENED, {})[lesson.id] = lesson


def from_link():
    """The lesson carried in the URL (lesson_data=...), opened in this session; its id, None, or a message."""
    data = st.query_params.get("lesson_data")
    if not data:
        return None, None
    try:
        lesson = ls.decode_link(data)
    except LessonError as e:
        return None, str(e)
    open_lesson(lesson)
    return lesson.id, None


def draft():
    """The lesson being written in this session (empty at first)."""
    if DRAFT not in st.session_state:
        st.session_state[DRAFT] = ls.new_lesson()
    return st.session_state[DRAFT]


def slide_query(lid, n, present=False):
    q = {"lesson": lid, "slide": str(n)}
    if present:
        q["present"] = "1"
    return q


def save_box(view, problem=None):
    """The sidebar box of the Explore pages: append the current view to the lesson being written,
    download it as a lesson file, open it. view: a lessons.View, or None with `problem` saying why."""
    with st.sidebar.expander("Save this view as a slide", expanded=False):
        if view is None:
            st.caption(problem or "This view cannot be a slide.")
            return
        d = draft()
        title = st.text_input("slide title", key="ls_title", placeholder=f"Slide {len(d.slides) + 1}")
        narration = st.text_area("narration (2-4 sentences for students)", key="ls_narration", height=90)
        if st.button("Add to my lesson", key="ls_add", type="primary"):
            try:
                st.session_state[DRAFT] = ls.add_slide(d, title, narration, view)
            except LessonError as e:
                st.error(str(e))
            else:
                st.toast(f"Slide {len(st.session_state[DRAFT].slides)} added to '{d.title}'.")
        d = draft()
        st.caption(f"'{d.title}': {len(d.slides)} slide(s). Saved: {view.page} of {view.task}-{view.variant}"
                   f"{'' if view.unit is None else f', unit {view.unit}'}"
                   f"{'' if view.step is None else f', step {view.step}'}.")
        if d.slides:
            st.download_button("Download my lesson (.toml)", ls.dump_lesson(d), file_name=f"{d.id}.toml",
                               mime="application/toml", key="ls_download")
            st.page_link(state.LESSON, label="Open my lesson", icon=":material/slideshow:",
                         query_params=slide_query(d.id, len(d.slides)))


def save_box_for(choice, page):
    """save_box for an Explore page: its sidebar choice as a View, or why it cannot be one."""
    unit = step = None
    if page == "step":
        units = st.session_state.get("wt_units") or [0]
        unit, step = int(units[0]), int(st.session_state.get("t", 0))
    try:
        view = ls.view_from_explorer(choice.model, choice.input, choice.view, page, unit, step)
    except LessonError as e:
        save_box(None, f"This view cannot be a slide yet: {e}.")
    else:
        save_box(view)
