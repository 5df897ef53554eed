"""Writing a trace to files: NPZ (arrays) and long tables (CSV, parquet).

The long format has one row per recorded number:
    layer, direction, step, batch, unit, gate, value
with gate one of the cell's fields (i, f, g, o, c, h for an LSTM; r, z, n, h for a GRU: the
trace's `fields`) and padding steps left out.
"""
import io

import numpy as np

COLUMNS = ("layer", "direction", "step", "batch", "unit", "gate", "value")


def to_arrays(trace):
    """The trace as numpy arrays: each field of the cell (L*D, T, B, H), mask (T, B), lengths (B,),
    h_n (and c_n for a cell with a cell state), the layout numbers num_layers, num_directions,
    the cell's family ("lstm", "gru"), variant and field names (`fields`)."""
    t = trace.detach()

    def np_(a):
        return a.float().numpy() if a.dtype.itemsize < 4 else a.numpy()

    arrays = {name: np_(t.values[name]) for name in t.fields}
    arrays.update(mask=t.mask.numpy(), lengths=t.lengths.numpy(), h_n=t.h_n.float().numpy(),
                  num_layers=np.int64(t.num_layers), num_directions=np.int64(t.num_directions),
                  cell=np.str_(t.declaration.family), variant=np.str_(t.variant),
                  fields=np.array(t.fields, dtype=np.str_))
    if t.c_n is not None:
        arrays["c_n"] = t.c_n.float().numpy()
    return arrays


def to_npz(trace, file):
    """Write the arrays of `to_arrays` to `file` (a path or a binary file object), compressed."""
    np.savez_compressed(file, **to_arrays(trace))


def npz_bytes(trace):
    """The NPZ file of `to_npz` as bytes, e.g. for a download button."""
    buf = io.BytesIO()
    to_npz(trace, buf)
    return buf.getvalue()


def to_long_frame(trace, fields=None):
    """A pandas DataFrame in the long format (module doc), padding steps left out.

    fields: some of the trace's fields (default: all of them)."""
    import pandas as pd

    fields = _fields(trace, fields)
    arrays = to_arrays(trace)
    D = int(arrays["num_directions"])
    valid = arrays["mask"]  # (T, B)
    parts = []
    for name in fields:
        a = arrays[name]  # (L*D, T, B, F)
        ld, t, b, u = np.nonzero(np.broadcast_to(valid[None, :, :, None], a.shape))
        parts.append(pd.DataFrame({
            "layer": (ld // D).astype(np.int32), "direction": (ld % D).astype(np.int32),
            "step": t.astype(np.int32), "batch": b.astype(np.int32), "unit": u.astype(np.int32),
            "gate": pd.Categorical([name] * len(t), categories=list(trace.fields)),
            "value": a[ld, t, b, u]}))
    return pd.concat(parts, ignore_index=True)


def _fields(trace, fields):
    if fields is None:
        return trace.fields
    bad = [f for f in fields if f not in trace.fields]
    if bad:
        raise ValueError(f"fields: this {trace.declaration.title} trace records {', '.join(trace.fields)}, "
                         f"got {', '.join(map(str, bad))}")
    return tuple(fields)


def to_csv(trace, file, fields=None):
    """Write the long format as CSV to `file` (a path or a text file object)."""
    to_long_frame(trace, fields).to_csv(file, index=False)


def to_parquet(trace, file, fields=None):
    """Write the long format as parquet (needs pyarrow) to `file`."""
    to_long_frame(trace, fields).to_parquet(file, index=False)
