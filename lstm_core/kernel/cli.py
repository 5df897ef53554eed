"""`python -m lstm_core info` and `python -m lstm_core build-kernel`.

    info           which trace paths this machine has, and why not where one is missing
    build-kernel   build the compiled trace kernel into its cache (30-60 s, once per
                   torch version, compiler and CPU); --verbose shows the compiler's output
"""
import platform
import sys
from dataclasses import dataclass

COMMANDS = ("info", "build-kernel")


@dataclass
class KernelArgs:
    command: str  # "info" or "build-kernel"
    verbose: bool = False  # build-kernel: show the compiler's output


def add_commands(sub):
    """Register the two sub-commands on an argparse subparsers object."""
    sub.add_parser("info", help="which trace paths this machine has (and why not)")
    b = sub.add_parser("build-kernel", help="build the compiled trace kernel (30-60 s, once)")
    b.add_argument("--verbose", action="store_true", help="show the compiler's output")


def from_namespace(a):
    return KernelArgs(a.command, getattr(a, "verbose", False))


def paths():
    """[(path, available: bool, what it covers or why it is missing)] for this machine."""
    import torch

    from . import build, kernel, reason
    from ..engine import gemm

    rows = []
    ext = kernel()
    if ext is not None:
        big = "MKL's packed GEMM" if ext.packed_gemm() else "at::mm (no MKL packed GEMM in this torch: slower)"
        per_step = f"per-step GEMM: our panel GEMM for B <= {ext.PANEL_MAX_ROWS}, {big} above" if ext.panel_gemm() else \
            f"per-step GEMM: {big} (built without AVX2 and FMA: no panel GEMM)"
        rows.append(("compiled", True, f"every variant, float32 on the CPU; {per_step}; {build.built_path()}"))
    else:
        why = reason()
        hint = "" if "build-kernel" in why or "fallback" in why else f"; then `python -m lstm_core build-kernel`"
        rows.append(("compiled", False, why + hint))
    from ..engine import workspace

    why = workspace.reason()
    rows.append(("workspace", why is None, why or "standard and gate-fixing variants, float32 on the CPU, no "
                 "projection or lengths: oneDNN's training workspace read as the record (self-test passed)"))
    fused = "oneDNN" if torch.backends.mkldnn.is_available() else "ATen"
    rows.append(("replay", True, f"standard and gate-fixing variants on the fused kernel ({fused}), gates by replay"))
    rows.append(("loop", True, "every variant, the in-place Python time loop"
                 + ("; oneDNN GEMMs" if gemm.onednn_available() else "; addmm GEMMs")))
    rows.append(("reference", True, "every variant; the path for gradients, interventions and probes"))
    if torch.cuda.is_available():
        rows.append(("cuda", True, "on CUDA: cuDNN plus replay for fused cells, the loop otherwise"))
    else:
        rows.append(("cuda", False, "no CUDA device here (on CUDA: cuDNN plus replay for fused cells)"))
    return rows


def run_info(args=None):
    import torch

    print(f"lstm_core on torch {torch.__version__}, Python {platform.python_version()}, "
          f"{platform.machine()}, {torch.get_num_threads()} threads")
    print("trace paths (auto: reference when gradients are wanted, else the first available that fits the call):")
    for name, ok, what in paths():
        print(f"  {name:10s} {'yes' if ok else 'no ':3s}  {what}")
    print(f"record pool: {pool_line()}")
    return 0


def pool_line():
    """What `info` says of the record pool (`lstm_core.engine.pool`)."""
    from ..engine import pool

    try:
        budget = pool.budget_bytes()
    except ValueError as e:
        return f"{e}; trace stops with this message until it is set right"
    if budget == 0:
        return f"off ({pool.ENV}=0)"
    if not pool.POOL.works():
        return "off: its self-test failed here (record buffers come from torch's allocator)"
    return (f"on, keeps up to {budget / 2**20:g} MiB of record buffers between calls for reuse "
            f"({pool.ENV}; 0 turns it off)")


def run_build(args):
    from . import build

    why = build.why_not_buildable()
    if why:
        print(f"error: cannot build the trace kernel: {why}", file=sys.stderr)
        return 1
    print(f"building the trace kernel into {build.cache_dir()} (30-60 s) ...", flush=True)
    try:
        path = build.build(verbose=args.verbose)
    except build.BuildError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    from . import self_test

    self_test(build.load_built(path))
    print(f"built {path}; self-test passed: trace uses it from now on")
    return 0


def run(args):
    return run_info(args) if args.command == "info" else run_build(args)
