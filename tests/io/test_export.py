"""Trace export: NPZ and the long table."""
import io

import numpy as np
import torch

import lstm_core
from lstm_core.io import export


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


# --- Share: the link opens the view it shares (issue 21) ------------------------------------------

def share_link(at):
    """The Export page's link, split: (path, {name: [values]})."""
    from urllib.parse import parse_qs, urlsplit
    link = urlsplit(at.code[0].value)
    return link.path, parse_qs(link.query)


def test_the_share_link_opens_the_view_it_shares_not_the_export_page():
    """From the Units page (two units picked) or the heatmaps, Export's link is that page's URL,
    with every control of it; it was the Export page's own URL, without the units (issue 21)."""
    from helpers import app
    from explorer.ui import state
    at = app("units", query={"hidden": "5", "units": ["1", "3"]})
    assert at.multiselect(key="units").value == [1, 3]
    at.context["url"] = "http://class.example:8501/units"
    at.switch_page(state.EXPORT).run()
    path, query = share_link(at)
    assert path == "/units", at.code[0].value
    assert query == {"source": ["demo"], "input": ["recall"], "hidden": ["5"], "units": ["1", "3"]}, query
    fresh = app("gates", query={"hidden": "5"})
    fresh.context["url"] = "http://class.example:8501/"
    fresh.switch_page(state.EXPORT).run()
    assert share_link(fresh) == ("/", {"source": ["demo"], "input": ["recall"], "hidden": ["5"]})
    first = app("export", query={"hidden": "5"})  # Export opened first: the heatmaps, at the app's root
    assert share_link(first)[0] == "/" and "Gate heatmaps" in " ".join(m.value for m in first.markdown)
