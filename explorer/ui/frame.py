"""The frame of the pages: less padding and a smaller title for a projector, no empty sidebar.

At 1280x720, the projector's size, Streamlit's frame (8rem above the page, 5rem on either side,
a 2.75rem title) left no figure on the first screen of the Gate heatmaps page: its top was at
814 px (issue 21, item 5). The rules keep Streamlit's look and only take space back.
"""
import streamlit as st

CSS = """<style>
[data-testid="stMainBlockContainer"] { padding-top: 4.5rem; padding-left: 3rem; padding-right: 3rem; }
[data-testid="stMainBlockContainer"] h1 { font-size: 2.4rem; }
</style>"""


def compact():
    """Apply CSS to this page (a <style> alone takes no space on the page)."""
    st.html(CSS)


# Streamlit keeps the sidebar of the page before open when a page puts nothing in it: 340 px of
# empty grey on Debug > Load after an Explore page (issue 21). The presenter view hides it itself.
NO_SIDEBAR = """<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"] { display: none; }
</style>"""


def no_sidebar():
    """Hide the sidebar on a page that draws nothing in it."""
    st.html(NO_SIDEBAR)
