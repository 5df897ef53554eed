"""`python -m lstm_core check path/to/my_lstm.py:LSTMCell --input-size 3 --hidden-size 5`
(a GRU: `... my_gru.py:GRUCell ... [--cell gru] [--reset after|before]`)

Prints the verdict; exit status 0 when the cell matches the reference, 1 when it does not
(or cannot be run), 2 for bad usage: a missing file or class, a file that does not import.
This runs the code of the file named, on request, as the student's notebook would: the
only place in the project where code from a file runs.
"""
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

from ..io.paths import file_problem
from .layouts import FUSED_NAMES, PER_GATE_NAMES, CheckError


@dataclass
class CheckArgs:
    file: Path  # the student's .py file
    name: str  # the class (or instance) in it to check
    input_size: int  # I
    hidden_size: int  # H
    variant: str | None = None  # an LSTM's "standard" or "coupled"; None: from the layout
    cell: str | None = None  # "lstm" or "gru"; None: from the weights and the way the module is called
    reset: str | None = None  # a GRU's "after" (torch) or "before" (Cho et al. 2014); None: both tried
    save: Path | None = None  # where to write the report for the app, e.g. check.npz
    seed: int = 0  # of our weights and probes
    layout: dict | None = None  # our weight names -> the student's attribute paths (layout= of check)


def add_parser(sub):
    c = sub.add_parser("check", help="run your own LSTM or GRU cell beside the reference and name its bug",
                       description="Check your own LSTM or GRU: runs the class in your file on our weights and "
                                   "inputs, compares every step with lstm_core, and names the mistake.")
    c.add_argument("target", help="path/to/my_lstm.py:ClassName (this runs that file's code)")
    c.add_argument("--input-size", type=int, required=True, help="I, features of x")
    c.add_argument("--hidden-size", type=int, required=True, help="H, features of h and c")
    c.add_argument("--cell", choices=("lstm", "gru"),
                   help="default: from your weights (4 blocks: LSTM; W_r, W_z: GRU) and, for 3 fused blocks (a GRU "
                        "or an LSTM without the input gate), from how your module is called")
    c.add_argument("--variant", choices=("standard", "coupled"),
                   help="an LSTM's; default: coupled if there is no input gate")
    c.add_argument("--reset", choices=("after", "before"),
                   help="a GRU's: after the matmul, r ⊙ (W_hn h + b_hn), as torch.nn.GRU; before it, "
                        "W_hn (r ⊙ h) + b_hn, as Cho et al. 2014. Default: both tried; the report says which")
    c.add_argument("--save", type=Path, help="write the report for the app's Check page, e.g. check.npz")
    c.add_argument("--seed", type=int, default=0, help="of the checker's weights and inputs")
    c.add_argument("--layout", action="append", default=[], metavar="NAME=PATH[,NAME=PATH...]",
                   help="where your module keeps each weight, when the checker cannot tell (check's layout=): "
                        "NAME is one of weight_ih, weight_hh, bias_ih, bias_hh (all gates), or W_ik, W_hk, "
                        "b_ik, b_hk for gate k in i f g o (a GRU: r z n); PATH an attribute path such as W.weight or "
                        "params.3, with .T when stored transposed. Repeat it or separate pairs with commas")
    return c


def args_from(a, error):
    """CheckArgs from parsed arguments; `error` (argparse's) ends with usage and exit status 2."""
    file, sep, name = a.target.rpartition(":")
    if not sep or not file or not name.isidentifier():
        error(f"target: expected path/to/file.py:ClassName, got {a.target!r}")
    for flag, v in (("--input-size", a.input_size), ("--hidden-size", a.hidden_size)):
        if v < 1:
            error(f"{flag}: expected an int >= 1, got {v}")
    if a.save is not None and a.save.suffix != ".npz":
        error(f"--save: the report is an .npz file, got {a.save}")
    if a.cell == "gru" and a.variant:
        error(f"--variant {a.variant} is an LSTM's; a GRU's two forms are --reset after|before")
    if a.cell == "lstm" and a.reset:
        error("--reset is a GRU's (where r acts); an LSTM has --variant standard|coupled")
    if a.variant and a.reset:
        error("--variant is an LSTM's and --reset a GRU's: give the one of your cell")
    layout = _layout(a.layout, error) if a.layout else None
    return CheckArgs(Path(file), name, a.input_size, a.hidden_size, a.variant, a.cell, a.reset, a.save, a.seed,
                     layout)


def _layout(values, error):
    """{name: path} from --layout values "NAME=PATH[,NAME=PATH...]", the names those of check's layout=."""
    layout = {}
    for pair in (p.strip() for v in values for p in v.split(",")):
        name, sep, path = (s.strip() for s in pair.partition("="))
        if not sep or not name or not path:
            error(f"--layout: expected NAME=PATH, e.g. weight_ih=W.weight, got {pair!r}")
        if name not in FUSED_NAMES + PER_GATE_NAMES:
            error(f"--layout: unknown name {name!r}; expected one of {', '.join(FUSED_NAMES)} (all gates), or "
                  f"W_ik, W_hk, b_ik, b_hk for gate k in i f g o (a GRU: r z n)")
        if name in layout:
            error(f"--layout: {name} given twice ({layout[name]!r} and {path!r})")
        layout[name] = path
    return layout


def load_student(file, name):
    """The object `name` of the Python file `file`, running the file (CheckError when it cannot)."""
    problem = file_problem(file)
    if problem:
        raise CheckError(f"{file}: {problem}")
    if file.suffix != ".py":
        raise CheckError(f"{file}: expected a Python file (.py)")
    spec = importlib.util.spec_from_file_location(f"_lstm_check_{file.stem}", file)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(file.resolve().parent))  # so the file's own imports of its neighbours work
    try:
        spec.loader.exec_module(module)
    except SyntaxError as e:
        raise CheckError(f"{file}, line {e.lineno}: SyntaxError: {e.msg}") from None
    except Exception as e:  # noqa: BLE001 - the student's file
        raise CheckError(f"{file}: running the file failed: {type(e).__name__}: {e}") from None
    finally:
        sys.path.remove(str(file.resolve().parent))
    if not hasattr(module, name):
        defined = sorted(k for k, v in vars(module).items() if isinstance(v, type) and v.__module__ == module.__name__)
        raise CheckError(f"{file}: has no {name!r}; it defines {', '.join(defined) or 'no classes'}")
    return getattr(module, name)


def run(args):
    from .core import check

    try:
        student = load_student(args.file, args.name)
    except CheckError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        report = check(student, args.input_size, args.hidden_size, cell=args.cell, variant=args.variant,
                       reset=args.reset, seed=args.seed, layout=args.layout)
    except CheckError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(report)
    if args.save is not None:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        report.save(args.save)
        print(f"wrote {args.save}: open it in the app's 'Check your implementation' page")
    return 0 if report.ok else 1
