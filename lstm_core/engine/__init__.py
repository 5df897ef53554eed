"""The engine: how a stack of LSTM layers is run and its gates recorded.

One idea per module:
    stack       the layers and directions, the choice of a path, `run`
    order       time order and padding: reversing a direction, blanking padded steps
    record      the record of one run (gates, c, h) and its buffers
    pool        large CPU buffers reused once nothing holds them (fresh pages cost page faults)
    reference   the plain loop over `lstm_core.cells.lstm_cell.step`, with autograd, clamps and probes
    loop        the in-place time loop for every variant, without autograd
    fused       torch.nn.LSTM's kernels (cuDNN, oneDNN), for variants that only fix or tie gates
    replay      the fused kernel, then every gate at once from its outputs
    workspace   oneDNN's training forward, the gates and c read from its workspace (guarded)
    scan        the linear recurrence c_t = f_t ⊙ c_{t-1} + u_t that replay needs
    gemm        matrix products on the fastest kernel at hand

Paths: "workspace" (float32 on the CPU, where its self-test passes), else "replay", for fusable cells; "loop" for every variant; "reference" whenever
gradients, interventions or probes are wanted ("auto" picks, see `choose_method`);
"compiled", first where it runs, is the C++ kernel of `lstm_core.kernel`.
A direction that runs backwards runs the same code on each sequence reversed within
its own length, so padding always comes last and every path needs only the forward case.
"""
from .order import reverse_time
from .stack import METHODS, PATHS, REPLAY_MAX_WIDTH, Result, choose_method, run

__all__ = ["run", "Result", "choose_method", "reverse_time", "METHODS", "PATHS", "REPLAY_MAX_WIDTH"]
