"""A model as users bring them: a two-layer bidirectional nn.LSTM tagger inside a larger module."""
from torch import nn


class Tagger(nn.Module):
    """embed (20 -> 6) -> encoder.rnn (nn.LSTM 6 -> 8, 2 layers, batch-first, bidirectional) -> head (16 -> 5)."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(20, 6)
        self.encoder = nn.Module()
        self.encoder.rnn = nn.LSTM(6, 8, 2, batch_first=True, bidirectional=True)
        self.head = nn.Linear(16, 5)
