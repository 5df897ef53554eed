"""An independent reference: the equations, one sequence, one step, one gate at a time.

Written apart from lstm_core (no shared code) so that tests compare two
implementations. It reads parameters by their documented names and layout from
a plain dict, so it serves both torch.nn.LSTM's weights and ours.
"""
import torch

SIGMOID_GATES = "ifo"


def _sigma(z, act):
    if act[0] == "sigmoid":
        return 1 / (1 + torch.exp(-z))
    _, a, b = act
    return torch.clamp(a * z + b, 0, 1)


def run_equations(params, x, *, num_layers=1, bidirectional=False, gates="ifgo", coupled=False,
                  input_activation=True, output_activation=True, peephole=False,
                  peephole_output="current", gate_recurrence=False, gate_activation=("sigmoid",),
                  go_backwards=False, h0=None, c0=None, lengths=None):
    """Run an LSTM given by `params` (name -> tensor) on x (T, B, I), time-major.

    go_backwards: the one direction of every layer runs from step n-1 down to 0.
    Returns a dict with i, f, g, o, c (L*D, T, B, H), h (L*D, T, B, P) (NaN on padding),
    output (T, B, D*P) (zeros on padding), h_n, c_n.
    """
    D = 2 if bidirectional else 1
    T, B, _ = x.shape
    H = params["weight_hh_l0"].shape[0] // len(gates)
    P = params["weight_hh_l0"].shape[1]
    nan = float("nan")
    rec = {k: torch.full((num_layers * D, T, B, H), nan, dtype=x.dtype) for k in "ifgoc"}
    rec["h"] = torch.full((num_layers * D, T, B, P), nan, dtype=x.dtype)
    output = torch.zeros(T, B, D * P, dtype=x.dtype)
    h_n = torch.zeros(num_layers * D, B, P, dtype=x.dtype)
    c_n = torch.zeros(num_layers * D, B, H, dtype=x.dtype)
    for b in range(B):
        n = T if lengths is None else int(lengths[b])
        seq = [x[t, b] for t in range(n)]
        for layer in range(num_layers):
            outs = []
            for d in range(D):
                ld = layer * D + d
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                W_i, W_h = params["weight_ih" + sfx], params["weight_hh" + sfx]
                b_i = params.get("bias_ih" + sfx, torch.zeros(W_i.shape[0], dtype=x.dtype))
                b_h = params.get("bias_hh" + sfx, torch.zeros(W_i.shape[0], dtype=x.dtype))
                rows = {k: slice(j * H, (j + 1) * H) for j, k in enumerate(gates)}
                peep = {}
                if peephole:
                    present = [k for k in SIGMOID_GATES if k in gates]
                    peep = {k: params["weight_peephole" + sfx][j] for j, k in enumerate(present)}
                h = torch.zeros(P, dtype=x.dtype) if h0 is None else h0[ld, b]
                c = torch.zeros(H, dtype=x.dtype) if c0 is None else c0[ld, b]
                prev = {k: torch.zeros(H, dtype=x.dtype) for k in SIGMOID_GATES}
                out = [None] * n
                for t in (range(n - 1, -1, -1) if d == 1 or go_backwards else range(n)):
                    def z(k):
                        r = rows[k]
                        v = W_i[r] @ seq[t] + b_i[r] + W_h[r] @ h + b_h[r]
                        if gate_recurrence and k in SIGMOID_GATES:
                            G = params["weight_gg" + sfx]
                            for j, kk in enumerate(SIGMOID_GATES):
                                v = v + G[SIGMOID_GATES.index(k) * H:(SIGMOID_GATES.index(k) + 1) * H,
                                          j * H:(j + 1) * H] @ prev[kk]
                        return v
                    f = _sigma(z("f") + (peep["f"] * c if "f" in peep else 0), gate_activation) \
                        if "f" in gates else torch.ones(H, dtype=x.dtype)
                    if coupled:
                        i = 1 - f
                    elif "i" in gates:
                        i = _sigma(z("i") + (peep["i"] * c if "i" in peep else 0), gate_activation)
                    else:
                        i = torch.ones(H, dtype=x.dtype)
                    g = torch.tanh(z("g")) if input_activation else z("g")
                    c_new = f * c + i * g
                    if "o" in gates:
                        seen = c_new if peephole_output == "current" else c
                        o = _sigma(z("o") + (peep["o"] * seen if "o" in peep else 0), gate_activation)
                    else:
                        o = torch.ones(H, dtype=x.dtype)
                    h_new = o * (torch.tanh(c_new) if output_activation else c_new)
                    if "weight_hr" + sfx in params:
                        h_new = params["weight_hr" + sfx] @ h_new
                    prev = {"i": i, "f": f, "o": o}
                    for k, val in zip("ifgoc", (i, f, g, o, c_new)):
                        rec[k][ld, t, b] = val
                    rec["h"][ld, t, b] = h_new
                    h, c = h_new, c_new
                    out[t] = h_new
                h_n[ld, b], c_n[ld, b] = h, c
                outs.append(out)
            seq = [torch.cat([o[t] for o in outs]) for t in range(n)]
        for t in range(n):
            output[t, b] = seq[t]
    return dict(rec, output=output, h_n=h_n, c_n=c_n)


def variant_kwargs(model):
    """The switches of `run_equations` for an lstm_core.LSTM (read off its public attributes)."""
    v = model.cell.variant
    return dict(num_layers=model.num_layers, bidirectional=model.bidirectional, gates=v.gates,
                coupled=v.coupled, input_activation=v.input_activation,
                output_activation=v.output_activation, peephole=model.peephole,
                peephole_output=model.peephole_output, gate_recurrence=v.gate_recurrence,
                gate_activation=model.gate_activation, go_backwards=model.go_backwards)


def close(a, b, tol):
    """Max |a - b| over finite entries, asserting NaNs sit at the same places."""
    assert a.shape == b.shape, (a.shape, b.shape)
    assert torch.equal(torch.isnan(a), torch.isnan(b)), "NaN (padding) at different places"
    err = (torch.nan_to_num(a) - torch.nan_to_num(b)).abs().max().item() if a.numel() else 0.0
    assert err <= tol, f"max error {err} > {tol}"
    return err

