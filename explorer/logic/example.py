"""The built-in example of the "Debug your model" pages: a model "trained elsewhere", with known faults.

Someone without a model file at hand can still try every page: `files()` returns the
bytes of two uploads, exactly as a browser would send them, and the load page stores
them as if they had been uploaded, so the example takes the real path (format
detection, candidate search, data reader, fit check).

- `tagger.safetensors`: the state dict of `Tagger`, a two-layer nn.LSTM (I = 6, H = 8,
  batch_first) inside a larger module (embedding, `encoder.rnn`, linear head), as
  users bring them. Its weights are PyTorch's initialisation (seed 0) except the
  layer-0 units of `PLANTED`, whose input and recurrent weights are zeroed and whose
  gate biases are set, each a textbook fault (nn.LSTM gate order i, f, g, o):

      unit 1  f = σ(-12) ≈ 6e-6         forgets everything at every step
      unit 3  f = i = σ(12), g = tanh 3  never forgets and keeps adding: |c| grows ~1 per step
      unit 5  o = σ(-12)                 output gate shut: h never moves (a dead unit)

- `walks.npz`: x (B, T, I) = (5, 40, 6) random walks (seed 0) and `lengths`, from 40
  steps down to 20, so padding and the memory-versus-length comparison show.

No streamlit here; tests build the same files (tests/helpers/debug_models.py).
"""
import io

import numpy as np
import torch
from torch import nn

I, H = 6, 8
# unit -> {gate: bias} forced in layer 0, with the unit's weights zeroed (module doc)
PLANTED = {1: {"f": -12.0}, 3: {"f": 12.0, "i": 12.0, "g": 3.0}, 5: {"o": -12.0}}
GATE_ROWS = {"i": 0, "f": 1, "g": 2, "o": 3}  # nn.LSTM's stacked (W_ii|W_if|W_ig|W_io)
MODEL_NAME, DATA_NAME = "example_tagger.safetensors", "example_walks.npz"


class Tagger(nn.Module):
    """A two-layer LSTM tagger inside a larger module: embed -> encoder.rnn -> head."""

    def __init__(self, vocab=20, tags=5):
        super().__init__()
        self.embed = nn.Embedding(vocab, I)
        self.encoder = nn.Module()
        self.encoder.rnn = nn.LSTM(I, H, 2, batch_first=True)
        self.head = nn.Linear(H, tags)


def planted_tagger(seed=0):
    """A Tagger whose layer-0 units of PLANTED carry their faults (module doc)."""
    torch.manual_seed(seed)
    t = Tagger()
    rnn = t.encoder.rnn
    with torch.no_grad():
        for unit, gates in PLANTED.items():
            for gate, bias in gates.items():
                row = GATE_ROWS[gate] * H + unit
                rnn.weight_ih_l0[row] = 0
                rnn.weight_hh_l0[row] = 0
                rnn.bias_ih_l0[row] = bias
                rnn.bias_hh_l0[row] = 0
    return t.eval()


def walks(B=5, T=40, seed=0):
    """x (B, T, I) float32 random walks and lengths (B,) int64, the first T long, the last T // 2."""
    rng = np.random.default_rng(seed)
    x = np.cumsum(rng.normal(scale=0.3, size=(B, T, I)), axis=1).astype(np.float32)
    lengths = np.linspace(T, T // 2, B).round().astype(np.int64)
    return x, lengths


def files():
    """{name: bytes} of the example's model and data files (module doc)."""
    from safetensors.torch import save
    state = {k: v.contiguous() for k, v in planted_tagger().state_dict().items()}
    model = save(state, metadata={"about": "built-in example: a 2-layer tagger with planted faults"})
    x, lengths = walks()
    buf = io.BytesIO()
    np.savez(buf, x=x, lengths=lengths)
    return {MODEL_NAME: model, DATA_NAME: buf.getvalue()}
