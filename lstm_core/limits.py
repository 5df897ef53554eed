"""The one resource policy: how much a file or an argument may ask for, checked before allocating.

Every loader (`lstm_core.io.loaders`) and data reader (`lstm_core.io.data`) reads what a file
*declares* (a safetensors header, h5 shapes, NPY headers, zip directories, ONNX dims)
and compares it with these limits before it reads or allocates anything, so a 6 KB file
that declares a (20000, 80000) kernel is refused in milliseconds instead of filling the
machine. The defaults keep the peak memory of any upload within the app's 20 MB upload
limit well under 2 GB (measured: benchmarks/hostile_inputs.py); raise one for a file you
trust with its environment variable, e.g. LSTM_CORE_MAX_TENSOR_BYTES=2147483648.

    limits = Limits.from_env()                 # the defaults, with environment overrides
    limits = replace(limits, max_rows=10_000)  # a caller's own, e.g. the app's
    limits.check("max_rows", n, "CSV rows", DataError)

docs/limits.md lists every limit with its default and variable.
"""
import os
from dataclasses import dataclass, fields

PREFIX = "LSTM_CORE_"  # the environment variable of field max_rows is LSTM_CORE_MAX_ROWS

MiB = 2 ** 20


@dataclass(frozen=True)
class Limits:
    """Upper bounds on what one file or call may make us read or allocate (all >= 1)."""

    max_file_bytes: int = 1024 * MiB  # a model or data file read into memory
    max_tensor_bytes: int = 256 * MiB  # all the weight tensors a model file declares, together
    max_unzipped_bytes: int = 512 * MiB  # zip members (.keras, .npz, torch archives), declared sizes
    max_keys: int = 20_000  # tensors / entries / h5 objects / ONNX initializers in one file
    max_depth: int = 64  # nesting of containers: JSON configs, pickled dicts and lists, h5 groups
    max_items: int = 200_000  # values inside the dicts and lists of a pickled checkpoint
    max_data_bytes: int = 64 * MiB  # a data file (CSV, text, vocabulary JSON) read as text
    max_rows: int = 1_000_000  # CSV rows
    max_columns: int = 10_000  # CSV columns
    max_field_bytes: int = 64 * 1024  # one CSV field
    max_elements: int = 64 * 2 ** 20  # values of the model input a reader builds: B * T * I
    max_vocab: int = 1_000_000  # vocabulary entries, and so the largest token index + 1
    max_parameters: int = 2 ** 30  # parameters of an LSTM(...) built in Python

    @classmethod
    def from_env(cls, environ=None):
        """The defaults, each replaced by its environment variable (LSTM_CORE_<FIELD>) when set."""
        environ = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            var = PREFIX + f.name.upper()
            raw = environ.get(var)
            if raw is None or not raw.strip():
                continue
            try:
                v = int(raw.replace("_", ""))
            except ValueError:
                raise ValueError(f"{var}: expected a whole number >= 1, got {raw!r}") from None
            if v < 1:
                raise ValueError(f"{var}: expected a whole number >= 1, got {raw!r}")
            values[f.name] = v
        return cls(**values)

    def __post_init__(self):
        for f in fields(self):
            v = getattr(self, f.name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"Limits.{f.name}: expected an int >= 1, got {v!r}")

    def check(self, name, amount, what, error=ValueError):
        """Raise `error` saying what exceeds which limit, unless amount <= the limit `name`."""
        limit = getattr(self, name)
        if amount > limit:
            raise error(f"{what}: {amount:,} is over the limit of {limit:,} ({name}; set the environment "
                        f"variable {PREFIX}{name.upper()} to raise it)")
        return amount


def current(limits=None):
    """`limits` if given, else the defaults with environment overrides (read on every call)."""
    if limits is None:
        return Limits.from_env()
    if not isinstance(limits, Limits):
        raise TypeError(f"limits: expected an lstm_core.limits.Limits or None, got {type(limits).__name__}")
    return limits


def product(shape):
    """The number of elements of a declared shape, without allocating (Python ints: no overflow)."""
    n = 1
    for d in shape:
        n *= int(d)
    return n
