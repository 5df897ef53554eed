"""Four synthetic tasks whose solution a few LSTM units can hold, each with the signal they should track.

Every task draws its sequences from a torch.Generator seeded by `Task.sample`, so a
(seed, split) pair gives the same batch on every machine; nothing is downloaded.
Shapes use the package's letters: T steps, B sequences, I input features.
"""
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .base import Sample, Task, masked_accuracy, nan_outside, randint, uniform


def _check(condition, message):
    if not condition:
        raise ValueError(message)


@dataclass(frozen=True)
class Recall(Task):
    """Remember and recall: store a value at a marker, hold it through distractors, return it at a cue.

    Per step the input is (v_t, s_t, r_t): a value v_t ~ U(-1, 1) (noise except at the
    store step), the store marker s_t and the recall cue r_t, each 1 at exactly one step.
    The target is the stored value at the recall step and 0 at every other step: the
    answer must wait for the cue, which is what asks the output gate to stay shut while
    the value is held (with a target at the recall step only, nothing does). The metric
    counts the recall step only; `mask` marks it. The textbook picture of a cell
    (Hochreiter & Schmidhuber 1997, Section 5): the input gate opens at the marker, the
    forget gate holds near 1 through the delay, the output gate opens at the cue.

    Latents: value (the stored value, from the store to the recall step, NaN elsewhere),
    holding (1 strictly between store and recall), store, recall (1 at that step),
    phase (0 before the store, 1 store, 2 holding, 3 recall, 4 after).
    """

    length: int = 40  # T, steps per sequence
    store_before: int = 8  # the store marker falls on a step in [0, store_before)
    min_delay: int = 5  # the recall cue comes at least this many steps after the store
    distractors: bool = True  # U(-1, 1) noise on the value channel outside the store step

    name = "recall"
    title = "Remember and recall"
    kind = "regression"
    metric_name = "recall MSE"
    baseline_name = "always answer 0, the mean value"
    latent_names = ("value", "holding", "store", "recall", "phase")
    captions = {"value": (
        "Unit {unit} holds the stored value in its cell (r = {r:+.2f}): its forget gate stays near "
        "{f_holding:.2f} while the value is held, its input gate is {i_store:.2f} at the store marker "
        "(against {i_holding:.2f} on distractors), and its output gate is {o_recall:.2f} at the recall "
        "cue (against {o_holding:.2f} while holding).")}
    # 4 units and b_f = 3 (f ~ 0.95 at the start): then the value sits in one cell with the
    # textbook gates (measured: standard, peephole, coupled with seeds 0 and 1); with 16
    # units and b_f = 1 (standard, seed 0) it was spread over cells whose outputs cancel
    # at the readout, and the chosen unit's output gate did not open at the cue.
    train_defaults = dict(hidden=4, steps=2000, batch=64, lr=1e-2, forget_bias=3.0)

    def __post_init__(self):
        _check(1 <= self.store_before and 1 <= self.min_delay,
               f"store_before and min_delay: expected >= 1, got {self.store_before}, {self.min_delay}")
        # said as the user's number, not as a formula of the settings (issue 21, item 9)
        _check(self.length >= self.min_length,
               f"length: at least {self.min_length} steps for this task (the store marker may come at step "
               f"{self.store_before - 1} and the recall cue {self.min_delay} steps after it), got {self.length}")

    input_size = property(lambda self: 3)
    min_length = property(lambda self: self.store_before + self.min_delay)
    output_size = property(lambda self: 1)

    def _generate(self, B, g, split):
        T = self.length
        store = randint(g, 0, self.store_before, (B,))  # (B,)
        recall = randint(g, store + self.min_delay, T, (B,))  # (B,)
        value = uniform(g, B, low=-1.0, high=1.0)  # (B,)
        noise = uniform(g, T, B, low=-1.0, high=1.0)  # (T, B)
        t = torch.arange(T).unsqueeze(1)  # (T, 1)
        at_store, at_recall = t == store, t == recall  # (T, B)
        stream = noise if self.distractors else torch.zeros(T, B)
        stream = torch.where(at_store, value, stream)  # (T, B)
        x = torch.stack([stream, at_store.float(), at_recall.float()], dim=-1)  # (T, B, 3)
        held = value.expand(T, B)  # (T, B)
        holding = (t > store) & (t < recall)  # (T, B)
        phase = (t >= store).long() + (t > store).long() + (t >= recall).long() + (t > recall).long()
        latents = {"value": nan_outside(held, (t >= store) & (t <= recall)), "holding": holding.float(),
                   "store": at_store.float(), "recall": at_recall.float(), "phase": phase.float()}
        y = torch.where(at_recall, value, torch.zeros(T, B)).unsqueeze(-1)  # (T, B, 1)
        return Sample(x, y, at_recall, latents)

    def loss(self, pred, s):
        # The silent steps and the answers weigh the same: the 1 recall step in T steps
        # counts as much as the T - 1 zeros around it.
        return F.mse_loss(pred, s.y) + F.mse_loss(pred[s.mask], s.y[s.mask])

    def baseline(self, s):
        return float(s.y[s.mask].pow(2).mean())


@dataclass(frozen=True)
class Dyck(Task):
    """Bracket depth (Dyck-1 counting): read "(" and ")" and say the nesting depth after each.

    A sequence is a random walk of depth: "(" with probability p_open, ")" otherwise,
    always "(" at depth 0 and ")" at max_depth, so every prefix is a valid Dyck-1 prefix.
    Input: one-hot of the bracket, I = 2; target: the depth after it, one of
    max_depth + 1 classes, at every step. Counting is what LSTM cells do well
    (Gers & Schmidhuber 2001; Weiss et al. 2018): one cell adds +1 or -1.

    Latents: depth, open (1 on "(", 0 on ")").
    """

    length: int = 60  # T, brackets per sequence
    max_depth: int = 8  # deepest nesting; the walk turns back there
    p_open: float = 0.5  # chance of "(" where both brackets are allowed

    name = "dyck"
    title = "Bracket depth (Dyck-1)"
    kind = "classification"
    metric_name = "depth accuracy"
    higher_is_better = True
    baseline_name = "always answer the most common depth"
    latent_names = ("depth", "open")
    # No claim on how the unit counts: measured, the standard and peephole cells add g at
    # each bracket with f ~ 0.85-0.9, the coupled one (f ~ 0.1) rewrites c from h every step.
    captions = {"depth": (
        "Unit {unit}'s cell follows the nesting depth (r = {r:+.2f}). On '(' its candidate g is "
        "{g_open:+.2f} and its forget gate {f_open:.2f}; on ')' they are {g_not_open:+.2f} and "
        "{f_not_open:.2f}. With f near 1 the cell adds g at each bracket, a counter; with f near 0 "
        "it writes the depth anew at every step from what h carries.")}
    train_defaults = dict(hidden=16, steps=2000, batch=64, lr=1e-2)

    def __post_init__(self):
        _check(self.max_depth >= 1, f"max_depth: expected >= 1, got {self.max_depth}")
        _check(0 < self.p_open < 1, f"p_open: expected a probability in (0, 1), got {self.p_open}")
        _check(self.length >= 1, f"length: expected >= 1, got {self.length}")

    input_size = property(lambda self: 2)
    output_size = property(lambda self: self.max_depth + 1)
    vocabulary = property(lambda self: ("(", ")"))

    def _generate(self, B, g, split):
        T = self.length
        u = torch.rand(T, B, generator=g)  # (T, B)
        depth = torch.zeros(B, dtype=torch.long)  # (B,)
        opens, depths = [], []
        for t in range(T):
            op = (depth == 0) | ((depth < self.max_depth) & (u[t] < self.p_open))  # (B,)
            depth = depth + torch.where(op, 1, -1)
            opens.append(op)
            depths.append(depth)
        opened, depth = torch.stack(opens), torch.stack(depths)  # (T, B) each
        tokens = (~opened).long()  # 0 = "(", 1 = ")"
        x = F.one_hot(tokens, 2).float()  # (T, B, 2)
        latents = {"depth": depth.float(), "open": opened.float()}
        return Sample(x, depth, torch.ones(T, B, dtype=torch.bool), latents, tokens)

    def metric(self, pred, s):
        return masked_accuracy(pred, s)

    def baseline(self, s):
        y = s.y[s.mask]
        return float((y == y.mode().values).float().mean())


@dataclass(frozen=True)
class Adding(Task):
    """The adding problem (Hochreiter & Schmidhuber 1997, Section 5, Experiment 4), in the
    form of Le et al. 2015 and Arjovsky et al. 2016: sum the two marked values.

    Per step the input is (v_t, m_t): v_t ~ U(0, 1) and a marker m_t that is 1 at one
    step of the first half and one step of the second half. The target, at the last
    step only, is the sum of the two marked values.

    Latents: sum (the running sum of the marked values so far), marker, markers_seen.
    """

    length: int = 50  # T, steps per sequence

    name = "adding"
    title = "Adding problem"
    kind = "regression"
    metric_name = "sum MSE"
    baseline_name = "always answer 1, the mean sum"
    latent_names = ("sum", "marker", "markers_seen")
    captions = {"marker": (
        "Unit {unit}'s input gate opens on the marked steps (r = {r:+.2f} with the marker): it is "
        "{i_marker:.2f} there and {i_not_marker:.2f} elsewhere, so only the two marked values are "
        "written, and its forget gate averages {f:.2f}, so what was written is kept.")}
    caption_field = "i"
    train_defaults = dict(hidden=16, steps=3000, batch=64, lr=1e-2)

    def __post_init__(self):
        _check(self.length >= self.min_length, f"length: at least 2 steps for this task (a marked value in "
               f"each half), got {self.length}")

    input_size = property(lambda self: 2)
    output_size = property(lambda self: 1)
    min_length = property(lambda self: 2)

    def _generate(self, B, g, split):
        T, half = self.length, self.length // 2
        values = torch.rand(T, B, generator=g)  # (T, B)
        first = randint(g, 0, half, (B,))  # (B,)
        second = randint(g, half, T, (B,))  # (B,)
        t = torch.arange(T).unsqueeze(1)  # (T, 1)
        marker = ((t == first) | (t == second)).float()  # (T, B)
        x = torch.stack([values, marker], dim=-1)  # (T, B, 2)
        running = (values * marker).cumsum(0)  # (T, B)
        y = running[-1].expand(T, B).unsqueeze(-1).clone()  # (T, B, 1)
        mask = (t == T - 1).expand(T, B)
        latents = {"sum": running, "marker": marker, "markers_seen": marker.cumsum(0)}
        return Sample(x, y, mask, latents)

    def baseline(self, s):
        return float((s.y[s.mask] - 1.0).pow(2).mean())


@dataclass(frozen=True)
class Sine(Task):
    """Next-step prediction of a noisy mixture of two sine waves.

        s_t = a_1 sin(2π t / P_fast + φ_1) + a_2 sin(2π t / P_slow + φ_2),   x_t = s_t + σ ε_t

    with a_k ~ U(0.5, 1), φ_k ~ U(0, 2π) per sequence and ε_t ~ N(0, 1). Input x_t
    (I = 1); target x_{t+1}, counted after `warmup` steps, once the phases can be known.
    The best possible MSE is σ², the noise the target carries.

    Latents: clean (s_t), fast, slow (the two components at t).
    """

    length: int = 100  # T, steps per sequence
    fast_period: float = 8.0  # P_fast, steps per cycle
    slow_period: float = 25.0  # P_slow, steps per cycle
    noise: float = 0.1  # σ, standard deviation of the noise on every value
    warmup: int = 10  # first steps left out of the loss and the metric

    name = "sine"
    title = "Noisy sine mixture, next step"
    kind = "regression"
    metric_name = "next-step MSE"
    baseline_name = "repeat the last value"
    latent_names = ("clean", "slow", "fast")
    captions = {"slow": (
        "Unit {unit}'s cell follows the slow wave (r = {r:+.2f}), which the input never shows on its "
        "own: the cell separates it from the fast wave and the noise. Its forget gate averages "
        "{f:.2f} and its input gate {i:.2f}.")}
    train_defaults = dict(hidden=32, steps=2000, batch=64, lr=1e-2)

    def __post_init__(self):
        _check(self.fast_period > 0 and self.slow_period > 0,
               f"periods: expected > 0, got {self.fast_period}, {self.slow_period}")
        _check(self.noise >= 0, f"noise: expected >= 0, got {self.noise}")
        _check(self.warmup >= 0, f"warmup: expected >= 0, got {self.warmup}")
        _check(self.length >= self.min_length, f"length: at least {self.min_length} steps for this task (the "
               f"first {self.warmup} are warm-up, left out of the loss), got {self.length}")

    input_size = property(lambda self: 1)
    output_size = property(lambda self: 1)
    min_length = property(lambda self: self.warmup + 1)

    def _generate(self, B, g, split):
        T = self.length
        amp = uniform(g, 2, B, low=0.5, high=1.0)  # (2, B)
        phase = uniform(g, 2, B, high=2 * math.pi)  # (2, B)
        t = torch.arange(T + 1, dtype=torch.float32).view(-1, 1, 1)  # (T+1, 1, 1)
        omega = torch.tensor([2 * math.pi / self.fast_period, 2 * math.pi / self.slow_period]).view(1, 2, 1)
        waves = amp * torch.sin(omega * t + phase)  # (T+1, 2, B)
        clean = waves.sum(1)  # (T+1, B)
        noisy = clean + self.noise * torch.randn(T + 1, B, generator=g)  # (T+1, B)
        x, y = noisy[:-1].unsqueeze(-1), noisy[1:].unsqueeze(-1)  # (T, B, 1) each
        mask = (torch.arange(T) >= self.warmup).unsqueeze(1).expand(T, B)
        latents = {"clean": clean[:-1], "slow": waves[:-1, 1], "fast": waves[:-1, 0]}
        return Sample(x, y, mask, latents)

    def baseline(self, s):
        return float((s.y - s.x)[s.mask].pow(2).mean())
