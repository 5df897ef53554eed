"""One way to show a problem: its message, then one button per fix (logic/errors.py).

    try:
        ...
    except AppError as e:
        messages.show(e)
        st.stop()

A fix's button sets the widget values it names and the page runs again with them;
`rename` maps a fix's setting names onto widget keys where they differ (the Debug load
page's DataSpec fields). Anything that is not an AppError is shown as one line, never a
traceback.
"""
import streamlit as st

from explorer.logic.errors import AppError


def _apply(changes):
    for key, value in changes.items():
        st.session_state[key] = value


def fix_button(label, changes, key, primary=True, where=st):
    """A button that sets widget values (session-state keys) and reruns."""
    where.button(label, key=key, on_click=_apply, args=(dict(changes),), type="primary" if primary else "secondary")


def show(e, rename=None, where=st, hint="", fixes=True):
    """The message of `e` (an AppError or any exception) and its fixes as buttons.

    rename: {setting: widget key} for fixes whose settings are not widget keys themselves.
    hint: a caption under the message (what else the user can do).
    fixes: False to show the message only (a page that cannot apply them, e.g. away from its widgets).
    """
    if not isinstance(e, AppError):
        where.error(f"{type(e).__name__}: {(str(e).splitlines() or [''])[0]}")
        return
    text = str(e)
    if e.kind == "info":
        where.info(text)
    else:
        where.error(f"{e.title}: {text}" + ("" if text.endswith((".", "?", "!")) else ".") if e.title else text)
    if hint:
        where.caption(hint)
    for j, fix in enumerate(e.fixes if fixes else ()):
        changes = {(rename or {}).get(k, k): v for k, v in fix.changes.items()}
        fix_button(fix.label, changes, fix.key or f"fix_{j}", primary=j == 0, where=where)
