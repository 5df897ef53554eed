"""Reducing long sequences for display without hiding their peaks.

A screen has about a thousand columns; a trace may have 100,000 steps. Taking
every k-th step would drop a spike that falls between samples, and averaging
would flatten it. So each bucket of k steps keeps its minimum and its maximum
(the idea of M4, Jugel et al. 2014, VLDB): two display columns per bucket, and
every extreme value of the full sequence is still drawn. NaN (padding) is
ignored inside a bucket; a bucket of padding only stays NaN, drawn blank.
Exports never go through here: they keep full resolution.
"""
import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Plan:
    """How T steps map onto display columns."""

    steps: int  # T of the original
    bucket: int  # k, steps per bucket; 1: no reduction

    @property
    def reduced(self):
        return self.bucket > 1

    @property
    def buckets(self):
        return math.ceil(self.steps / self.bucket)

    @property
    def starts(self):
        """(buckets,) first step of each bucket."""
        return np.arange(0, self.steps, self.bucket)

    def note(self):
        """The sentence the app shows under a reduced figure ("" if not reduced)."""
        if not self.reduced:
            return ""
        return (f"Reduced for display: {self.steps:,} steps drawn as {2 * self.buckets:,} columns, "
                f"the minimum and the maximum of every {self.bucket:,} steps, so no peak is lost. "
                f"Narrow the time window for every step; exports keep full resolution.")


def plan(steps, columns):
    """A Plan that fits `steps` into at most `columns` display columns (2 per bucket)."""
    if steps <= columns:
        return Plan(steps, 1)
    return Plan(steps, math.ceil(steps / max(1, columns // 2)))


def minmax_columns(a, p):
    """a (..., T) -> (..., 2 * buckets): min then max of each bucket of p.bucket steps."""
    if not p.reduced:
        return a
    lo = np.fmin.reduceat(a, p.starts, axis=-1)  # (..., buckets), NaN only if all NaN
    hi = np.fmax.reduceat(a, p.starts, axis=-1)
    out = np.empty(a.shape[:-1] + (2 * p.buckets,), a.dtype)
    out[..., 0::2], out[..., 1::2] = lo, hi
    return out


def minmax_line(y, p):
    """A line y (T,) -> (steps, values): each bucket's min and max at their own steps, in time order.

    Unlike `minmax_columns` the x positions are real steps, so the line's shape
    (which extreme came first) is kept.
    """
    if not p.reduced:
        return np.arange(y.shape[0]), y
    T, k, n = p.steps, p.bucket, p.buckets
    pad = np.full(n * k, np.nan, y.dtype)
    pad[:T] = y
    blocks = pad.reshape(n, k)  # (buckets, k)
    filled = np.isfinite(blocks)
    lo = np.where(filled, blocks, np.inf).argmin(axis=1)  # (buckets,) position in bucket
    hi = np.where(filled, blocks, -np.inf).argmax(axis=1)
    pos = np.sort(np.stack([lo, hi], axis=1), axis=1)  # (buckets, 2) in time order
    steps = (p.starts[:, None] + pos).ravel()  # (2 * buckets,)
    steps = np.minimum(steps, T - 1)
    return steps, y[steps]


def window(a, start, stop):
    """a (..., T) restricted to steps start..stop inclusive (None: the end)."""
    stop = a.shape[-1] - 1 if stop is None else min(stop, a.shape[-1] - 1)
    start = max(0, min(start, stop))
    return a[..., start:stop + 1], start
