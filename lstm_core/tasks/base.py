"""What every task shares: the `Sample` it draws, seeding, and masked losses and metrics.

A task is a frozen dataclass whose fields are its configuration; `Task` adds the
rest. Subclasses set the class attributes below and write `_generate`; everything
else (seeding, splits, the loss, MSE and accuracy metrics) is written here once.
"""
import hashlib
import math
from dataclasses import asdict, dataclass, field
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

SPLITS = ("train", "eval")


@dataclass
class Sample:
    """One batch of a task, time-major like the LSTM's input."""

    x: Tensor  # (T, B, I) float inputs
    y: Tensor  # targets: (T, B, O) float for regression, (T, B) int64 classes for classification
    mask: Tensor  # (T, B) bool: the steps whose target counts in the loss and the metric
    latents: dict = field(default_factory=dict)  # name -> (T, B) float, NaN where undefined
    tokens: Tensor | None = None  # (T, B) int64 input symbols, for tasks with a vocabulary
    text: list | None = None  # B strings of T characters, for the character model

    @property
    def T(self):
        return self.x.shape[0]

    @property
    def batch_size(self):
        return self.x.shape[1]


def seed_for(seed, split):
    """A 63-bit generator seed for (seed, split): the two splits never share a batch."""
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed: expected an int, got {type(seed).__name__}")
    if split not in SPLITS:
        raise ValueError(f"split: expected one of {', '.join(SPLITS)}, got {split!r}")
    digest = hashlib.sha256(f"{split}:{seed}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


class Task:
    """Base of every task; subclasses are frozen dataclasses holding the configuration.

    Class attributes a subclass sets:
        name: registry key, e.g. "recall"; title: for people, e.g. "Remember and recall"
        kind: "regression" (MSE on (T, B, O) targets) or "classification" (cross-entropy)
        metric_name, higher_is_better: what `metric` returns
        baseline_name: the trivial predictor `baseline` scores
        latent_names: the keys of Sample.latents, the first the one to look at first
        captions: {latent: template} for `lstm_core.analysis.units.caption` (see there for the
            fields); the caption shown is that of the latent some unit tracks best
        caption_field: in which of c, h, i, f, g, o the caption's unit is looked for
        train_defaults: hidden, steps, batch, lr... that train it in minutes on 2 CPU cores
        unfused_defaults: changes to those for the variants the fused kernel cannot run
            (peephole, ...), whose training takes the per-step autograd loop
    """

    name: ClassVar[str]
    title: ClassVar[str]
    kind: ClassVar[str]
    metric_name: ClassVar[str] = "MSE"
    higher_is_better: ClassVar[bool] = False
    baseline_name: ClassVar[str]
    latent_names: ClassVar[tuple]
    captions: ClassVar[dict]
    caption_field: ClassVar[str] = "c"
    train_defaults: ClassVar[dict] = {}
    unfused_defaults: ClassVar[dict] = {}

    @property
    def input_size(self):
        """I, features of x."""
        raise NotImplementedError

    @property
    def output_size(self):
        """O, outputs of the readout: target features (regression) or classes."""
        raise NotImplementedError

    @property
    def min_length(self):
        """The fewest steps T a sequence of this task can have with these settings."""
        return 1

    @property
    def vocabulary(self):
        """The input symbols, in index order, or None for a task without a vocabulary."""
        return None

    def config(self):
        """The dataclass fields as a JSON-ready dict; `type(task)(**task.config())` rebuilds it."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    def sample(self, batch, seed, split="train"):
        """A `Sample` of `batch` sequences, the same for the same (seed, split) on every machine."""
        if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
            raise ValueError(f"batch: expected an int >= 1, got {batch!r}")
        g = torch.Generator().manual_seed(seed_for(seed, split))
        return self._generate(batch, g, split)

    def _generate(self, batch, g, split):
        raise NotImplementedError

    def loss(self, pred, s):
        """The training loss of pred (T, B, O) on sample s, over s.mask."""
        m = s.mask
        if self.kind == "classification":
            return F.cross_entropy(pred[m], s.y[m])  # (N, O) against (N,)
        return F.mse_loss(pred[m], s.y[m])  # (N, O)

    def metric(self, pred, s):
        """The task's score of pred (T, B, O) on s as a float: the MSE over s.mask by default."""
        return float(F.mse_loss(pred.detach()[s.mask], s.y[s.mask]))

    def baseline(self, s):
        """The metric of a predictor that ignores the input (see `baseline_name`)."""
        raise NotImplementedError


def masked_accuracy(pred, s):
    """Fraction of masked steps whose argmax of pred (T, B, C) is the class in s.y (T, B)."""
    m = s.mask
    return float((pred.detach()[m].argmax(-1) == s.y[m]).float().mean())


def bits_per_symbol(pred, s):
    """Mean cross-entropy of logits pred (T, B, C) over masked steps, in bits."""
    return float(F.cross_entropy(pred.detach()[s.mask], s.y[s.mask])) / math.log(2)


def uniform(g, *shape, low=0.0, high=1.0):
    """U(low, high) of the given shape from generator g."""
    return low + (high - low) * torch.rand(*shape, generator=g)


def randint(g, low, high, shape):
    """Integers in [low, high) per element; low and high may be tensors of that shape."""
    return (low + (torch.rand(shape, generator=g) * (high - low)).floor()).long()


def nan_outside(values, keep):
    """values (T, B) where keep is True, NaN elsewhere: a latent defined only in some phase."""
    return torch.where(keep, values, torch.full_like(values, float("nan")))
