"""`HandOff`: how a path gives its call to another path, which the stack then runs.

A path whose guard fails (the compiled kernel's per-call check, the workspace layout check)
raises HandOff(method) instead of calling the other path itself, so no path imports the
stack or another path, and the stack alone dispatches and names the path that really
computed the record (`Trace.method`).
"""


class HandOff(Exception):
    """Raised by a path that cannot run this call: `method` is the path to run it instead."""

    def __init__(self, method, why=""):
        super().__init__(f"handed to {method!r}{': ' + why if why else ''}")
        self.method = method
