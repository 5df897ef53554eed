"""Writing a trace to files: NPZ (arrays) and long tables (CSV, parquet).

The long format has one row per recorded number:
    layer, direction, step, batch, unit, gate, value
with gate one of i, f, g, o, c, h and padding steps left out.
"""
import io

import numpy as np

from .trace import FIELDS

COLUMNS = ("layer", "direction", "step", "batch", "unit", "gate", "value")


def to_arrays(trace):
    """The trace as numpy arrays: i, f, g, o, c, h (L*D, T, B, H), mask (T, B), lengths (B,),
    h_n, c_n, and the layout numbers num_layers, num_directions."""
    t = trace.detach()
    arrays = {name: getattr(t, name).float().numpy() if getattr(t, name).dtype.itemsize < 4
              else getattr(t, name).numpy() for name in FIELDS}
    arrays.update(mask=t.mask.numpy(), lengths=t.lengths.numpy(), h_n=t.h_n.float().numpy(),
                  c_n=t.c_n.float().numpy(), num_layers=np.int64(t.num_layers),
                  num_directions=np.int64(t.num_directions), variant=np.str_(t.variant))
    return arrays


def to_npz(trace, file):
    """Write the arrays of `to_arrays` to `file` (a path or a binary file object), compressed."""
    np.savez_compressed(file, **to_arrays(trace))


def npz_bytes(trace):
    """The NPZ file of `to_npz` as bytes, e.g. for a download button."""
    buf = io.BytesIO()
    to_npz(trace, buf)
    return buf.getvalue()


def to_long_frame(trace, fields=FIELDS):
    """A pandas DataFrame in the long format (module doc), padding steps left out."""
    import pandas as pd

    arrays = to_arrays(trace)
    LD, T, B, _ = arrays["c"].shape
    D = int(arrays["num_directions"])
    valid = arrays["mask"]  # (T, B)
    parts = []
    for name in fields:
        a = arrays[name]  # (L*D, T, B, F)
        ld, t, b, u = np.nonzero(np.broadcast_to(valid[None, :, :, None], a.shape))
        parts.append(pd.DataFrame({
            "layer": (ld // D).astype(np.int32), "direction": (ld % D).astype(np.int32),
            "step": t.astype(np.int32), "batch": b.astype(np.int32), "unit": u.astype(np.int32),
            "gate": pd.Categorical([name] * len(t), categories=list(FIELDS)),
            "value": a[ld, t, b, u]}))
    return pd.concat(parts, ignore_index=True)


def to_csv(trace, file, fields=FIELDS):
    """Write the long format as CSV to `file` (a path or a text file object)."""
    to_long_frame(trace, fields).to_csv(file, index=False)


def to_parquet(trace, file, fields=FIELDS):
    """Write the long format as parquet (needs pyarrow) to `file`."""
    to_long_frame(trace, fields).to_parquet(file, index=False)
