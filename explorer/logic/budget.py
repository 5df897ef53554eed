"""A server-wide budget for the bytes of uploads that sessions keep (issue 12).

One Streamlit process serves every student of a classroom, and a Debug session keeps its
model, data and vocabulary files in session state (ui/subjects.py, up to
server.maxUploadSize each). 50 students with two 20 MB files are 2 GB, plus what the
files decode to. `UploadBudget` counts the bytes of every kept upload in the process and
refuses one that would pass the limit, with a message that says what to do.

A kept upload is counted while its object lives: `hold(obj, nbytes)` registers a
weakref.finalize on it, so the bytes are given back when the object is dropped (replaced
by another upload, cleared, or freed with its session when the session ends), with no
hook into Streamlit's session life cycle. Thread-safe: every session runs its script in
its own thread.

    budget = UploadBudget(limit=100 * 2**20)
    budget.hold(upload, len(upload.raw))   # BudgetError if it does not fit
"""
import os
import threading
import weakref

from .errors import AppError

ENV = "LSTM_EXPLORER_UPLOAD_BUDGET_MB"  # the limit, in MB (2**20 bytes), of every session together
DEFAULT_MB = 1024  # about 50 students with a 20 MB upload each


class BudgetError(AppError):
    """An upload refused because the server's upload budget is spent."""

    title = "The server is full"


def limit_from_env(environ=None):
    """The budget in bytes from LSTM_EXPLORER_UPLOAD_BUDGET_MB (default DEFAULT_MB); ValueError names
    the variable and what it may hold. 0 turns uploads that are kept off."""
    raw = (os.environ if environ is None else environ).get(ENV, "").strip()
    if not raw:
        return DEFAULT_MB * 2**20
    try:
        mb = float(raw)
    except ValueError:
        mb = -1.0
    if not 0 <= mb <= 2**20 or mb != mb:
        raise ValueError(f"{ENV}={raw!r}: expected a number of MB from 0 to 1048576, e.g. {DEFAULT_MB}")
    return int(mb * 2**20)


def mb(nbytes):
    return f"{nbytes / 2**20:,.1f} MB"


def size(nbytes):
    """A byte count to read: in KiB below 1,000 KiB, where "0.0 MiB" said nothing (issue 21), else in MiB."""
    if nbytes < 1000 * 2**10:  # not 2**20: 1,048,575 bytes would read "1,024.0 KiB"
        return f"{nbytes / 2**10:,.1f} KiB"
    return f"{nbytes / 2**20:,.1f} MiB"


class UploadBudget:
    """Bytes held by live upload objects in this process, at most `limit` (bytes)."""

    def __init__(self, limit):
        if limit < 0:
            raise ValueError(f"the upload budget must be 0 bytes or more; got {limit}")
        self.limit = int(limit)
        self._lock = threading.Lock()
        self._held = {}  # id of a hold -> bytes
        self._next = 0

    @property
    def held(self):
        """Bytes counted now."""
        with self._lock:
            return sum(self._held.values())

    def hold(self, obj, nbytes, what="this file"):
        """Count `nbytes` for as long as `obj` lives; BudgetError, counting nothing, if they do not fit."""
        nbytes = int(nbytes)
        with self._lock:
            held = sum(self._held.values())
            if held + nbytes > self.limit:
                raise BudgetError(
                    f"{what} ({mb(nbytes)}) does not fit: the server keeps {mb(held)} of uploads for all its "
                    f"sessions and its budget is {mb(self.limit)}. Try again in a few minutes (uploads are given "
                    f"back when a session ends or replaces its file), use a smaller file, or ask whoever runs the "
                    f"server to raise {ENV}.")
            key, self._next = self._next, self._next + 1
            self._held[key] = nbytes
        weakref.finalize(obj, self._release, key)  # runs once: when obj is freed, or at exit
        return key

    def _release(self, key):
        with self._lock:
            self._held.pop(key, None)
