"""Time order and padding: the one place where directions turn and padded steps are blanked.

Every path runs one direction forward in time over sequences whose padding comes
last. A direction that runs backwards (the reverse half of a bidirectional layer,
or go_backwards) gets each sequence reversed within its own length, so its padding
still comes last, and `settle` turns what it returns back into input time order
and blanks the padded steps: zeros in the output, NaN in the record.
"""
import torch


def valid_mask(T, lengths, device):
    """(T, B) bool, True on the valid steps of each sequence; None when nothing is padded."""
    if lengths is None:
        return None
    return (torch.arange(T).unsqueeze(1) < lengths).to(device)  # (T, B)


def reverse_time(x, lengths):
    """Each sequence of x (T, B, ...) reversed within its own length; padding stays put."""
    if lengths is None:
        return x.flip(0)
    T, B = x.shape[:2]
    t = torch.arange(T).unsqueeze(1)  # (T, 1)
    n = lengths.unsqueeze(0)  # (1, B)
    idx = torch.where(t < n, n - 1 - t, t).to(x.device)  # (T, B)
    idx = idx.view(T, B, *[1] * (x.dim() - 2)).expand_as(x)
    return x.gather(0, idx)


def blank(x, mask):
    """x (T, B, ...) with zeros on padded steps, so that nothing there (NaN, inf, garbage)
    enters a run: not its outputs, not its states and, since padded steps then compute
    on finite numbers, not any gradient (issue 11). mask: (T, B) or None."""
    return x if mask is None else x.masked_fill(_padding(mask, x), 0)


def settle(t, lengths, mask, backwards, fill, in_place=False):
    """t (T, B, ...) in the order a direction ran -> input time order, `fill` on padded steps.

    backwards: the direction ran on `reverse_time` of its input. in_place: write the
    result into t (a buffer of the record, without autograd) instead of a new tensor.
    Padding is filled, never multiplied by a mask, so a NaN there cannot survive as NaN * 0.
    """
    out = reverse_time(t, lengths) if backwards else t
    if in_place and out is not t:
        out = t.copy_(out)
    if mask is None:
        return out
    pad = _padding(mask, out)
    return out.masked_fill_(pad, fill) if in_place else out.masked_fill(pad, fill)


def last_valid(t, lengths):
    """t (T, B, ...) at each sequence's last valid step: (B, ...)."""
    if lengths is None:
        return t[-1]
    last = (lengths - 1).to(t.device)
    return t[last, torch.arange(t.shape[1], device=t.device)]


def _padding(mask, t):
    """~mask (T, B) shaped to broadcast over t (T, B, ...)."""
    return ~mask.view(*mask.shape, *[1] * (t.dim() - 2))
