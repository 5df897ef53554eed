"""The app's one error type: a message for people and the fixes the page offers as buttons.

    raise AppError("the input has 2 features but the model reads 3",
                   fixes=[Fix("Set the model's input size to 2", {"input_size": 2})])

Every problem a page can meet (an input it cannot read, a size over a limit, a model that
cannot be had, an upload it refuses, data that does not fit) is an AppError subclass, so
ui/messages.py shows them all one way: the message, then one button per fix. A fix sets
widget values (session-state keys) and the page runs again with them. Pure: no streamlit.
"""
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Fix:
    """A button that repairs the problem: its label, and the widget values it sets."""

    label: str
    changes: dict = field(default_factory=dict)  # setting (a widget's session-state key) -> value
    key: str = ""  # the button's widget key ("" one from its position)


class AppError(ValueError):
    """A problem the page shows as a message, never a traceback; `fixes` become buttons.

    kind: "error" (red), or "info" for a step the user has not taken yet (choose a file).
    title: the message's first words, e.g. "Input problem" ("" none).
    """

    title = ""
    kind = "error"

    def __init__(self, message, fixes=(), *, title=None, kind=None):
        super().__init__(message)
        self.fixes = list(fixes)
        if title is not None:
            self.title = title
        if kind is not None:
            self.kind = kind
