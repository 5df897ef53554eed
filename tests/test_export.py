"""Trace export: NPZ and the long table."""
import io

import numpy as np
import torch

import lstm_core
from lstm_core import export


def trace():
    m = lstm_core.LSTM(2, 3, 2, bidirectional=True)
    with torch.no_grad():
        return m.trace(torch.randn(4, 2, 2), lengths=[4, 2])


def test_npz_round_trip():
    tr = trace()
    data = np.load(io.BytesIO(export.npz_bytes(tr)))
    for name in ("i", "f", "g", "o", "c", "h"):
        np.testing.assert_array_equal(data[name], getattr(tr, name).numpy())
    np.testing.assert_array_equal(data["lengths"], [4, 2])
    assert int(data["num_directions"]) == 2 and str(data["variant"]) == "standard"


def test_long_format_leaves_padding_out_and_finds_every_value():
    tr = trace()
    df = export.to_long_frame(tr)
    assert list(df.columns) == list(export.COLUMNS)
    # 6 fields x 4 layer-directions x (4 + 2 valid steps) x 3 units
    assert len(df) == 6 * 4 * 6 * 3
    assert not df["value"].isna().any()
    row = df[(df.layer == 1) & (df.direction == 1) & (df.step == 1) & (df.batch == 1) & (df.unit == 2) & (df.gate == "f")]
    assert row["value"].item() == tr.f[3, 1, 1, 2].item()
    buf = io.StringIO()
    export.to_csv(tr, buf)
    assert buf.getvalue().splitlines()[0] == "layer,direction,step,batch,unit,gate,value"


def test_half_precision_storage():
    m = lstm_core.LSTM(2, 3)
    x = torch.randn(50, 2, 2)
    with torch.no_grad():
        full, half = m.trace(x), m.trace(x, store_dtype=torch.float16)
    assert half.gates.dtype == torch.float16 and half.nbytes() * 2 == full.nbytes()
    assert torch.allclose(half.c.float(), full.c, atol=1e-3)
    assert export.to_arrays(half)["c"].dtype == np.float32
