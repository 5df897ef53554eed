"""Heatmaps as images: our own colouring of a value array into a PNG.

Measured with Streamlit 1.67 on a 2-core machine (issue 4): a 1000x512 heatmap
costs about 1.1 s per rerun sent as float64, 0.6 s as float32 and 0.26 s as an
image. Ours (benchmarks/app_speed.py --browser, T=500, H=128, 2 layers): a seed change
redraws the six panels in headless Chromium in a median 337 ms as PNG images against
1397 ms as float32 heatmaps (2.5 MB of JSON against 0.3 MB).
So big heatmaps go to the browser as PNG images (`px.imshow(binary_string=True)`
does the same), coloured here through a 256-entry lookup table of the same
Plotly colour scale the colour bar shows. NaN (padding) becomes transparent.
"""
import base64
import io
from functools import lru_cache

import numpy as np
from PIL import Image
from plotly.colors import get_colorscale, sample_colorscale, unlabel_rgb

from .style import DIVERGING, SEQUENTIAL  # noqa: F401  (the scales' names, for callers of lut)

TRANSPARENT = 255  # palette index of NaN (padding)


@lru_cache(maxsize=16)
def lut(scale):
    """(256, 3) uint8 colours of a named Plotly colour scale, from its low end to its high end."""
    colors = sample_colorscale(get_colorscale(scale), list(np.linspace(0, 1, 256)), colortype="rgb")
    return np.array([unlabel_rgb(c) for c in colors], np.float64).round().astype(np.uint8)


def indices(z, lo, hi):
    """z (rows, cols) float -> (rows, cols) uint8 palette indices: lo..hi onto 0..254, NaN -> 255."""
    span = hi - lo if hi > lo else 1.0
    idx = np.clip((z - lo) * (254.0 / span) + 0.5, 0, 254.5)  # rounds to the nearest level
    return np.where(np.isnan(idx), TRANSPARENT, idx).astype(np.uint8)


@lru_cache(maxsize=16)
def palette(scale):
    """768 ints: PNG palette of 255 levels of `scale`, then black for the transparent index."""
    pal = np.zeros((256, 3), np.uint8)
    pal[:TRANSPARENT] = lut(scale)[np.linspace(0, 255, TRANSPARENT).round().astype(int)]
    return pal.ravel().tolist()


def png_data_uri(z, lo, hi, scale):
    """z (rows, cols) as a "data:image/png;base64,..." string for a go.Image source.

    A paletted PNG (one byte per cell, 255 levels): measured 1 ms and 50-65 kB for a
    128x500 panel, against 15 ms and 280 kB as RGBA.
    """
    img = Image.fromarray(indices(z, lo, hi), "P")
    img.putpalette(palette(scale))
    buf = io.BytesIO()
    img.save(buf, format="PNG", transparency=TRANSPARENT, compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
