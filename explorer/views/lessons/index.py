"""Page: the lessons, to open or present; a lesson file to upload; the lesson being written."""
import streamlit as st

from explorer.logic import lessons as ls
from explorer.ui import cache, lessons as ui, state

st.title("Lessons")
st.markdown("Short guided tours of the gates, each a few slides with a figure and a few sentences for "
            "students. Open one to step through it, or **present** it: the presenter view shows only the slide, "
            "in large type, and the arrow keys move through it. Every number a slide quotes is checked against "
            "the model's trace (the ticks under each slide). How to write your own: `docs/lessons.md`.")

for lid, lesson in ui.available().items():
    with st.container(border=True):
        text, open_col, present_col = st.columns([6, 1, 1], vertical_alignment="center")
        own = "" if lesson is cache.shipped_lessons().get(lid) else " *(yours, in this session)*"
        text.markdown(f"**{lesson.title}** · {len(lesson.slides)} slides{own}  \n{lesson.summary}")
        open_col.page_link(state.LESSON, label="Open", icon=":material/menu_book:",
                           query_params=ui.slide_query(lid, 1))
        present_col.page_link(state.LESSON, label="Present", icon=":material/slideshow:",
                              query_params=ui.slide_query(lid, 1, present=True))

st.subheader("Open a lesson file")
up = st.file_uploader("a lesson file (.toml), written by hand or downloaded from this app", type=["toml"],
                      key="ls_upload")
if up is not None:
    try:
        lesson = ls.parse_lesson(up.getvalue(), up.name)
    except ls.LessonError as e:
        st.error(f"This file is not a lesson this app can show: {e}")
    else:
        ui.open_lesson(lesson)
        st.success(f"Opened '{lesson.title}' ({len(lesson.slides)} slides).")
        st.page_link(state.LESSON, label=f"Open '{lesson.title}'", icon=":material/menu_book:",
                     query_params=ui.slide_query(lesson.id, 1))

st.subheader("Write a lesson")
d = ui.draft()
st.markdown("On any Explore page, open **Save this view as a slide** at the bottom of the sidebar: the view "
            "(model, input, page, unit, step, panels) becomes the next slide of your lesson, with the title and "
            f"narration you type. Your lesson, **{d.title}**, has {len(d.slides)} slide(s).")
c1, c2 = st.columns(2)
title = c1.text_input("its title", d.title, key="ls_draft_title", max_chars=120)
lid = c2.text_input("its id (the ?lesson= of its link)", d.id, key="ls_draft_id", max_chars=40)
if (title, lid) != (d.title, d.id):
    if not title.strip() or not ls.ID.fullmatch(lid):
        st.error("The title may not be empty, and the id takes 1-40 of a-z, 0-9, '-' and '_'.")
    else:
        st.session_state[ui.DRAFT] = ls.replace(d, title=title.strip(), id=lid)
        d = ui.draft()
if d.slides:
    c1, c2, c3 = st.columns(3)
    c1.download_button("Download it (.toml)", ls.dump_lesson(d), file_name=f"{d.id}.toml", mime="application/toml",
                       key="ls_draft_download")
    c2.page_link(state.LESSON, label="Open it", icon=":material/menu_book:", query_params=ui.slide_query(d.id, 1))
    if c3.button("Start again (empty)", key="ls_draft_clear"):
        st.session_state[ui.DRAFT] = ls.new_lesson()
        st.rerun()
