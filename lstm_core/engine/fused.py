"""Running a cell on the fused kernels behind torch.nn.LSTM (cuDNN, oneDNN, ATen).

The standard cell runs there as it is. Variants that only fix or tie gates run
there too after an exact change of weights:
- coupled, i = 1 - f: the i rows are the negated f rows, since σ(-z) = 1 - σ(z);
- a missing gate is open: its rows are zero and its bias is BIG, σ(BIG) = 1.
"""
import warnings

import torch
from torch import _VF
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, PackedSequence

# σ(64) rounds to exactly 1 in float16, bfloat16, float32 and float64, and
# exp(64) is finite in float32, so no formula for σ turns it into inf/inf.
BIG = 64.0


def standard_weights(cell, w):
    """The weights of a standard cell that computes what `cell` computes.

    Returns the list [w_ih (4H, I), w_hh (4H, P), b_ih (4H,), b_hh (4H,)] (+ [w_hr (P, H)])
    in the layout `torch._VF.lstm` takes, and whether it holds biases.
    """
    rules = cell.rules
    G = len(rules.gates)
    H = w.w_ih.shape[0] // G
    if rules.gates == "ifgo":
        weights = [w.w_ih, w.w_hh] + ([w.b_ih, w.b_hh] if w.b_ih is not None else [])
        return weights + ([w.w_hr] if w.w_hr is not None else []), w.b_ih is not None

    def block(t, k):
        j = rules.gates.index(k)
        return t[j * H:(j + 1) * H]

    zeros = w.w_ih.new_zeros(H)
    b_ih = w.b_ih if w.b_ih is not None else w.w_ih.new_zeros(G * H)
    b_hh = w.b_hh if w.b_hh is not None else w.w_ih.new_zeros(G * H)
    parts = {"w_ih": [], "w_hh": [], "b_ih": [], "b_hh": []}
    for k in "ifgo":
        source = rules.source(k)
        if source == "param":
            src = (block(w.w_ih, k), block(w.w_hh, k), block(b_ih, k), block(b_hh, k))
        elif source == "tied":  # 1 - σ(z) = σ(-z)
            src = tuple(-block(t, rules.tied[k]) for t in (w.w_ih, w.w_hh, b_ih, b_hh))
        else:  # fixed open: σ(BIG) = 1
            src = (w.w_ih.new_zeros(H, w.w_ih.shape[1]), w.w_hh.new_zeros(H, w.w_hh.shape[1]),
                   torch.full_like(zeros, BIG), zeros)
        for name, t in zip(parts, src):
            parts[name].append(t)
    weights = [torch.cat(parts[name]) for name in parts]
    return weights + ([w.w_hr] if w.w_hr is not None else []), True


def run_fused(flat_weights, has_biases, x, h0, c0, lengths=None, num_layers=1,
              dropout=0.0, training=False, bidirectional=False):
    """torch.nn.LSTM's own computation on time-major input.

    x: (T, B, I); h0: (L*D, B, P); c0: (L*D, B, H); lengths: (B,) int64 on the CPU or None.
    flat_weights: per layer and direction, in nn.LSTM's order, the list of `standard_weights`.
    Returns output (T, B, D*P) with zeros on padding, h_n (L*D, B, P), c_n (L*D, B, H).
    """
    with warnings.catch_warnings():
        # oneDNN has no projection and says so on every call; ATen takes over, as in nn.LSTM
        warnings.filterwarnings("ignore", "LSTM with projections is not supported with oneDNN")
        # cuDNN wants one flat weight buffer; ours are built per call, so it compacts them
        warnings.filterwarnings("ignore", "RNN module weights are not part of single contiguous chunk")
        return _run(flat_weights, has_biases, x, h0, c0, lengths, num_layers, dropout, training, bidirectional)


def _run(flat_weights, has_biases, x, h0, c0, lengths, num_layers, dropout, training, bidirectional):
    if lengths is None:
        out, h_n, c_n = _VF.lstm(x, (h0, c0), flat_weights, has_biases, num_layers,
                                 dropout, training, bidirectional, False)
        return out, h_n, c_n
    packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
    idx = packed.sorted_indices
    data, h_n, c_n = _VF.lstm(packed.data, packed.batch_sizes, (h0[:, idx], c0[:, idx]),
                              flat_weights, has_biases, num_layers, dropout, training,
                              bidirectional)
    out, _ = pad_packed_sequence(PackedSequence(data, packed.batch_sizes, idx, packed.unsorted_indices),
                                 total_length=x.shape[0])
    undo = packed.unsorted_indices
    return out, h_n[:, undo], c_n[:, undo]
