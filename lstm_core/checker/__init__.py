"""Check your LSTM or GRU: a student's own implementation run beside the reference, the bug named.

    report = lstm_core.check(StudentCell, input_size=3, hidden_size=5)
    print(report)         # the verdict: the mistake, the equation line it breaks, where it first differs
    report.save("check.npz")   # for the app's "Check your implementation" page

The checker writes its own float64 weights into the student's parameters (found by `readings`,
written by `layouts`), calls the module the way it wants to be called (`conventions`; a GRU's:
`gru_conventions`), compares every step with `lstm_core.LSTM` and with every mutant of the bug
library (`mutants`), or for a GRU with `lstm_core.cells.gru.step` and `gru_mutants` (`gru_check`),
and reports (`report`).
It runs the student's code: only on code the user asked to check.
"""
from .core import check
from .layouts import CheckError
from .mutants import BUG_CODES
from .gru_mutants import BUG_CODES as GRU_BUG_CODES
from .report import Bug, Divergence, Report

__all__ = ["check", "BUG_CODES", "GRU_BUG_CODES", "Bug", "Divergence", "Report", "CheckError"]
