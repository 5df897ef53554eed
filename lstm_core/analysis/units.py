"""Unit finder: which units' c, h or gates track a task's latent signal, and what to say about them.

    scores = rank_units(trace, sample.latents["value"], top=5)   # best |r| first
    text = caption(task, trace, sample)                           # the task's caption, units from data

A unit's score is the Pearson correlation, over every (t, b) that is neither padding
nor undefined (NaN) in the latent, between the latent and that unit's value: a number
for what Karpathy et al. 2015 (Section 4.2) found by eye, cells that follow a property
of the text.
"""
import string
from dataclasses import dataclass

import torch

FIELDS = ("c", "h", "i", "f", "g", "o")  # an LSTM's fields_of: what callers that know no trace look in


def fields_of(trace):
    """The fields a unit is looked for in, in the order they are searched and shown: the cell's
    memory, then h, then the rest as declared. An LSTM: c, h, i, f, g, o; a GRU: h, r, z, n."""
    d = trace.declaration
    first = tuple(dict.fromkeys((d.memory, "h")))
    return first + tuple(k for k in d.names if k not in first)


@dataclass(frozen=True)
class UnitScore:
    """How well one unit's c, h or gate tracks a latent."""

    field: str  # one of the trace's fields (fields_of)
    unit: int  # index along H
    r: float  # Pearson correlation with the latent
    n: int  # (t, b) points it was computed on
    layer: int = 0
    direction: int = 0

    @property
    def label(self):
        return f"{self.field}[{self.unit}]"


def correlations(values, latent, valid=None):
    """(r, n): Pearson r of every unit of values (T, B, H) with latent (T, B), (H,), over n points.

    Points count where valid (T, B) is True (default everywhere) and latent and values
    are finite. A unit (or latent) that does not vary there gets r = 0.
    """
    if values.shape[:2] != latent.shape:
        raise ValueError(f"latent: expected shape {tuple(values.shape[:2])} (T, B) to match the values "
                         f"{tuple(values.shape)} (T, B, H), got {tuple(latent.shape)}")
    ok = torch.isfinite(latent) & torch.isfinite(values).all(-1)  # (T, B)
    if valid is not None:
        ok &= valid.to(ok.device)
    v, z = values[ok].double(), latent[ok].double()  # (N, H), (N,)
    v, z = v - v.mean(0), z - z.mean()
    denom = (v.pow(2).sum(0) * z.pow(2).sum()).sqrt()  # (H,)
    r = torch.where(denom > 0, (v * z.unsqueeze(1)).sum(0) / denom.clamp_min(1e-300), torch.zeros_like(denom))
    return r.float(), int(ok.sum())


def rank_units(trace, latent, *, fields=None, layer=0, direction=0, valid=None, top=5):
    """The `UnitScore`s of every unit in every field, best |r| first; `top` of them (None: all).

    trace: a `lstm_core.Trace` (padding, where trace.mask is False, is left out);
    latent: (T, B), NaN where undefined; valid: (T, B) bool to restrict the steps further.
    fields: the fields to look in; None: all the trace's (fields_of).
    """
    known = fields_of(trace)
    fields = known if fields is None else fields
    unknown = [f for f in fields if f not in known]
    if unknown:
        raise ValueError(f"fields: expected some of {', '.join(known)}, got {unknown} (the fields this "
                         f"{trace.declaration.title} records)")
    mask = trace.mask if valid is None else trace.mask & valid.to(trace.mask.device)
    scores = []
    for name in fields:
        r, n = correlations(trace.get(name, layer, direction).float(), latent.float(), mask)
        scores += [UnitScore(name, k, float(rk), n, layer, direction) for k, rk in enumerate(r)]
    scores.sort(key=lambda s: -abs(s.r))  # stable: ties keep field then unit order
    return scores if top is None else scores[:top]


def unit_mean(trace, field, unit, where, layer=0, direction=0):
    """The mean of one unit's field over the (T, B) steps where `where` is True (NaN if none)."""
    values = trace.get(field, layer, direction)[..., unit]  # (T, B)
    keep = where & trace.mask & torch.isfinite(values)
    return float(values[keep].mean()) if keep.any() else float("nan")


def caption_values(task, trace, sample, layer=0, direction=0, latents=None):
    """The fields of one of task.captions, filled from the data: a dict.

    For each latent of task.captions (or of `latents`, some of them), the unit whose
    `task.caption_field` tracks it best;
    of those, the one with the highest |r| picks the caption: {unit} and {r} name it,
    "latent" says which caption. Every other field is a mean of that unit over steps:
        {f}             the forget gate over every valid step (any of the trace's fields)
        {f_holding}     where the latent "holding" is 1 (>= 0.5)
        {i_not_marker}  where the latent "marker" is 0 (< 0.5)
    """
    best, latent = max(((rank_units(trace, sample.latents[name], fields=(task.caption_field,), layer=layer,
                                    direction=direction, top=1)[0], name) for name in latents or task.captions),
                       key=lambda pair: abs(pair[0].r))
    values = {"unit": best.unit, "r": best.r, "field": best.field, "latent": latent}
    everywhere = torch.ones_like(trace.mask)
    for _, key, _, _ in string.Formatter().parse(task.captions[latent]):
        if key is None or key in values:
            continue
        field, _, name = key.partition("_")
        negate = name.startswith("not_")
        name = name[4:] if negate else name
        if field not in trace.fields or (name and name not in sample.latents):
            raise ValueError(f"caption field {{{key}}}: expected <field>[_[not_]<latent>] with field one of "
                             f"{', '.join(fields_of(trace))} and latent one of {', '.join(sample.latents)}")
        where = everywhere if not name else (sample.latents[name] >= 0.5) ^ negate
        values[key] = unit_mean(trace, field, best.unit, where, layer, direction)
    return values


def caption(task, trace, sample, layer=0, direction=0):
    """The caption of task.captions that this trace shows best, its units and numbers chosen
    from the trace (see `caption_values`)."""
    values = caption_values(task, trace, sample, layer, direction)
    return task.captions[values["latent"]].format(**values)
