"""`TaskModel`: an lstm_core.LSTM (or GRU) and a linear readout, the model every demo task trains."""
import math

import torch
from torch import nn

from .. import zoo


class TaskModel(nn.Module):
    r"""An LSTM (or another cell of `lstm_core.zoo`) followed by a linear readout at every step.

        output, _ = LSTM(x)          output_t = h_t of the last layer
        y_t = W_y h_t + b_y

    where x is (T, B, I), h_t has H features and y_t has O: the regression outputs or
    the class logits of a task.

    Args:
        input_size, hidden_size, output_size: I, H and O.
        num_layers: L. Default 1.
        variant: one of `lstm_core.zoo.ARCHITECTURES`: an LSTM variant or "gru". Default "standard".
        forget_bias: b_f at the start (Gers et al. 2000); None keeps the "pytorch" init.
        seed: an int makes the initialisation of both parts the same everywhere.

    Inputs: x (T, B, I). Output: y (T, B, O).

    `model.lstm` is the recurrent model itself (an LSTM or a GRU: the name keeps the checkpoints'
    tensor names), for `model.lstm.trace(x)`; `model.head` the readout.

    Example:
        >>> model = TaskModel(3, 16, 1, variant="coupled", seed=0)
        >>> model(torch.zeros(40, 8, 3)).shape
        torch.Size([40, 8, 1])
    """

    def __init__(self, input_size, hidden_size, output_size, *, num_layers=1, variant="standard",
                 forget_bias=None, seed=None):
        super().__init__()
        self.lstm = zoo.build(variant, input_size, hidden_size, num_layers, forget_bias=forget_bias, seed=seed)
        self.head = nn.Linear(hidden_size, output_size)
        # nn.Linear's own init draws from the global generator; a seeded one keeps the model
        # independent of whatever else the process (a UI thread, say) has drawn.
        g = None if seed is None else torch.Generator().manual_seed(seed + 1)
        bound = 1 / math.sqrt(hidden_size)
        with torch.no_grad():
            for p in self.head.parameters():
                p.uniform_(-bound, bound, generator=g)
        self.output_size = output_size

    def forward(self, x):
        output, _ = self.lstm(x)  # (T, B, H)
        return self.head(output)  # (T, B, O)

    @torch.no_grad()
    def trace(self, x):
        """(trace, y): the LSTM's `lstm_core.Trace` on x and the readout y (T, B, O), without autograd."""
        tr = self.lstm.trace(x)
        return tr, self.head(tr.output)

    def config(self):
        """The constructor's arguments but the seed: `TaskModel(**model.config())` has the same shapes."""
        lstm = self.lstm
        return dict(input_size=lstm.input_size, hidden_size=lstm.hidden_size, output_size=self.output_size,
                    num_layers=lstm.num_layers, variant=zoo.architecture_of(lstm))

    @classmethod
    def for_task(cls, task, hidden_size, **kwargs):
        """A model with the input and output sizes of `task` (an `lstm_core.tasks.Task`)."""
        return cls(task.input_size, hidden_size, task.output_size, **kwargs)
