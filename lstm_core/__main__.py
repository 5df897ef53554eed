"""The command line: trace a trained LSTM on your data, diagnose it, export for LSTMVis.

    python -m lstm_core trace    --model M --input X --out trace.npz [--format npz|csv|parquet]
    python -m lstm_core diagnose --model M --input X [--json]
    python -m lstm_core lstmvis  --model M --input X --out lstmvis_dir
    python -m lstm_core check    path/to/my_lstm.py:LSTMCell --input-size 3 --hidden-size 5
    python -m lstm_core info         which trace paths this machine has (docs/kernel.md)
    python -m lstm_core build-kernel build the compiled trace kernel, once

M: .pt/.pth, .safetensors, .keras/.h5, .onnx (`lstm_core.load`); choose among several LSTMs
with --prefix (state dicts) or --layer (Keras layers, ONNX nodes; repeat it to stack).
X: .csv, .npy/.npz, or text with --vocab (`lstm_core.io.data`).
Bad input ends with a one-line message on stderr and exit status 1 (usage errors: 2);
every sub-command gets this from `guarded`. Limits on what a file may ask for: docs/limits.md.
"""
import argparse
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .checker import cli as check_cli
from .kernel import cli as kernel_cli

OUT_FORMATS = ("npz", "csv", "parquet")


@dataclass
class ModelArgs:
    path: Path  # the model file
    prefix: str | None = None  # which LSTM of a state dict, e.g. "encoder.rnn."
    layer: list = field(default_factory=list)  # Keras layer / ONNX node names or indices; several stack
    format: str | None = None  # torch, safetensors, keras or onnx; None: from the file
    variant: str | None = None  # for state dicts with 3 gate blocks
    allow_external_data: bool = False  # ONNX: read tensors from files inside the model's directory


@dataclass
class DataArgs:
    path: Path  # the data file
    vocab: Path | None = None  # a JSON vocabulary: the input is text
    encoding: str = "onehot"  # text: onehot or index
    tokens: str = "auto"  # text: char, word or auto
    lines: bool = False  # text: one sequence per line
    sequence_column: str | None = None  # CSV: the column naming each row's sequence


@dataclass
class TraceArgs:
    model: ModelArgs
    data: DataArgs
    out: Path  # where the trace goes
    format: str  # npz, csv or parquet


@dataclass
class DiagnoseArgs:
    model: ModelArgs
    data: DataArgs
    json: bool = False  # print the report as JSON instead of a table
    gradients: bool = True  # run the gradient-flow diagnostic (the slowest)
    max_rows: int = 40  # findings printed in the table (JSON has them all)


@dataclass
class LstmvisArgs:
    model: ModelArgs
    data: DataArgs
    out: Path  # the LSTMVis project directory
    gates: bool = False  # export the gates too


def _parser():
    p = argparse.ArgumentParser(prog="python -m lstm_core", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp):
        sp.add_argument("--model", required=True, type=Path, help="model file: .pt .pth .safetensors .keras .h5 .onnx")
        sp.add_argument("--prefix", help="which LSTM of a state dict (the key prefix, e.g. encoder.rnn.)")
        sp.add_argument("--layer", action="append", default=[], help="Keras layer or ONNX node (repeat to stack)")
        sp.add_argument("--model-format", choices=("torch", "safetensors", "keras", "onnx"))
        sp.add_argument("--variant", help="a state dict with 3 gate blocks: gru, or the LSTM variant it is")
        sp.add_argument("--allow-external-data", action="store_true",
                        help="ONNX: read tensors kept in files beside the model (inside its directory only)")
        sp.add_argument("--input", required=True, type=Path, help="data: .csv .npy .npz, or text with --vocab")
        sp.add_argument("--vocab", type=Path, help="JSON vocabulary (list, or dict token -> index)")
        sp.add_argument("--encoding", choices=("onehot", "index"), default="onehot")
        sp.add_argument("--tokens", choices=("auto", "char", "word"), default="auto")
        sp.add_argument("--lines", action="store_true", help="text: one sequence per line")
        sp.add_argument("--sequence-column", help="CSV: the column naming each row's sequence")

    t = sub.add_parser("trace", help="record every gate and state to a file")
    common(t)
    t.add_argument("--out", required=True, type=Path)
    t.add_argument("--format", choices=OUT_FORMATS, help="default: from the --out suffix")
    d = sub.add_parser("diagnose", help="print the findings as a table")
    common(d)
    d.add_argument("--json", action="store_true", help="print the whole report as JSON")
    d.add_argument("--no-gradients", action="store_true", help="skip gradient flow (faster)")
    d.add_argument("--max-rows", type=_positive, default=40, help="findings shown in the table (>= 1)")
    v = sub.add_parser("lstmvis", help="write an LSTMVis project (states HDF5, words dict, lstm.yml)")
    common(v)
    v.add_argument("--out", required=True, type=Path)
    v.add_argument("--gates", action="store_true", help="export the gates too (i, f, o of an LSTM; r, z of a GRU)")
    check_cli.add_parser(sub)  # check your own LSTM (lstm_core/checker/cli.py)
    kernel_cli.add_commands(sub)  # info, build-kernel (lstm_core/kernel/cli.py)
    return p


def _positive(text):
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {n}")
    return n


def parse(argv):
    """Command-line arguments -> TraceArgs, DiagnoseArgs or LstmvisArgs."""
    p = _parser()
    a = p.parse_args(argv)
    if a.command in kernel_cli.COMMANDS:
        return kernel_cli.from_namespace(a)
    if a.command == "check":
        return check_cli.args_from(a, p.error)
    # an index in digits 0-9 ('²'.isdigit() is True, but int('²') fails), else a layer's name
    layers = [int(s) if s.isascii() and s.isdecimal() and len(s) <= 18 else s for s in a.layer]
    model = ModelArgs(a.model, a.prefix, layers, a.model_format, a.variant, a.allow_external_data)
    data = DataArgs(a.input, a.vocab, a.encoding, a.tokens, a.lines, a.sequence_column)
    if a.command == "trace":
        fmt = a.format or a.out.suffix.lstrip(".").lower()
        if fmt not in OUT_FORMATS:
            _parser().error(f"--format: cannot tell it from --out {a.out}; pass --format npz, csv or parquet")
        return TraceArgs(model, data, a.out, fmt)
    if a.command == "diagnose":
        return DiagnoseArgs(model, data, a.json, not a.no_gradients, a.max_rows)
    return LstmvisArgs(model, data, a.out, a.gates)


def open_model(m):
    from .io.loaders import load

    options = {"variant": m.variant} if m.variant else {}
    layer = None if not m.layer else (m.layer[0] if len(m.layer) == 1 else m.layer)
    return load(m.path, format=m.format, prefix=m.prefix, layer=layer, allow_external_data=m.allow_external_data,
                **options)


def open_data(d, model):
    from .io.data import check_input_size, load_data

    if d.vocab is not None:
        seqs = load_data(d.path, vocab=d.vocab, encoding=d.encoding, tokens=d.tokens, lines=d.lines)
    elif d.sequence_column is not None:
        seqs = load_data(d.path, sequence_column=d.sequence_column)
    else:
        seqs = load_data(d.path)
    check_input_size(model, seqs)
    return seqs


def describe(model, seqs):
    info = getattr(model, "load_info", None)
    where = f" ({', '.join(map(repr, info.chosen))} of {info.source})" if info else ""
    return (f"model: {model!r}{where}\n"
            f"data: {seqs.source}: {seqs.batch_size} sequence(s), up to {seqs.steps} steps, {seqs.input_size} features")


def traced(args):
    """The model and data the arguments name, and the trace of one on the other."""
    import torch

    model = open_model(args.model)
    seqs = open_data(args.data, model)
    x, lengths = seqs.for_model(model)
    with torch.no_grad():
        return model, seqs, model.trace(x, lengths=lengths)


def run_trace(args):
    from .io import export

    model, seqs, tr = traced(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.format == "npz":
        with open(args.out, "wb") as f:  # a file object: numpy would add ".npz" to a path (/dev/full.npz)
            export.to_npz(tr, f)
    elif args.format == "csv":
        export.to_csv(tr, args.out)
    else:
        try:
            export.to_parquet(tr, args.out)
        except ImportError:
            raise ValueError("--format parquet needs pyarrow: pip install pyarrow, or use --format csv") from None
    print(describe(model, seqs))
    print(f"wrote {args.out}: {', '.join(tr.fields)} of a {tr.declaration.title}, {tr.num_layers} layer(s) x "
          f"{tr.num_directions} direction(s), "
          f"{tr.T} steps, {tr.batch_size} sequence(s), {tr.hidden_size} units")
    return 0


def findings_table(findings, max_rows):
    """The findings as left-aligned text columns, at most max_rows rows ("-" where not applicable)."""
    if not len(findings):
        return "no findings"
    heads = ("severity", "layer", "dir", "unit", "gate", "finding", "view")
    cols = ("severity", "layer", "direction", "unit", "gate", "what", "view")
    shown = findings[list(cols)].head(max_rows).itertuples(index=False)
    rows = [["-" if _missing(v) else str(v) for v in r] for r in shown]
    widths = [max(len(h), *(len(r[j]) for r in rows)) for j, h in enumerate(heads)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [list(heads)] + rows]
    if len(findings) > max_rows:
        lines.append(f"... {len(findings) - max_rows} more (--max-rows, or --json for all)")
    return "\n".join(lines)


def _missing(v):
    return v is None or (isinstance(v, float) and v != v) or str(v) == "<NA>"


def run_diagnose(args):
    from .analysis.diagnostics import diagnose

    model = open_model(args.model)
    seqs = open_data(args.data, model)
    report = diagnose(model, seqs, gradients=args.gradients)
    if args.json:
        info = model.load_info
        out = {"model": {"repr": repr(model), "format": info.format, "source": info.source,
                         "chosen": list(info.chosen), "notes": info.notes, "assumed": info.assumed},
               "data": {"source": seqs.source, "lengths": seqs.lengths.tolist()}, **report.to_dict()}
        print(json.dumps(out, indent=1))
        return 0
    print(describe(model, seqs))
    for note in model.load_info.notes:
        print(f"note: {note}")
    print()
    print(findings_table(report.findings, args.max_rows))
    for name, note in model.declaration.notes.items():  # what a gate means where it is easy to misread (GRU z)
        if name in set(report.findings.gate.dropna()):
            print(f"{name}: {note}")
    counts = report.findings.severity.value_counts()
    print(f"\n{len(report.findings)} findings: " + ", ".join(f"{counts.get(s, 0)} {s}"
                                                         for s in ("warning", "info")))
    return 0


def run_lstmvis(args):
    from .io.lstmvis import write_lstmvis

    model, seqs, tr = traced(args)
    config = write_lstmvis(tr, args.out, tokens=seqs.tokens, gates=args.gates, name=Path(args.model.path).stem)
    print(f"wrote an LSTMVis project to {args.out} ({config})")
    return 0


# What bad input raises: LoadError and DataError (ValueErrors), TypeError from argument checks,
# OSError from reading and writing files, MemoryError when the machine runs out despite the limits.
EXPECTED = (ValueError, TypeError, OSError, MemoryError)
TRACEBACK_VAR = "LSTM_CORE_TRACEBACK"  # set to 1 to see the traceback of any failure


def _one_line(e):
    text = " ".join(str(e).split()) or type(e).__name__
    if isinstance(e, MemoryError):
        text = f"out of memory ({text}); lower the input's size, or the limits in docs/limits.md"
    elif isinstance(e, OSError) and e.strerror:
        text = e.strerror if e.filename is None else f"{e.filename}: {e.strerror}"
    return text


def guarded(run, args):
    """run(args), its failures as one `error: ...` line on stderr and exit status 1.

    Output is flushed inside, so a failed write (a full disk, a closed pipe) is a failure too.
    An exception outside EXPECTED is a bug of ours: one line that says so, and its traceback
    with LSTM_CORE_TRACEBACK=1.
    """
    try:
        code = run(args)
        try:
            sys.stdout.flush()
        except OSError as e:
            raise OSError(f"cannot write to standard output: {e.strerror or e}") from None
        return code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except EXPECTED as e:
        if os.environ.get(TRACEBACK_VAR):
            raise
        print(f"error: {_one_line(e)}", file=sys.stderr)
    except Exception as e:  # noqa: BLE001 - reported as our bug, never as the user's input
        if os.environ.get(TRACEBACK_VAR):
            raise
        print(f"error: internal error ({type(e).__name__}: {_one_line(e)}); this is a bug in lstm_core, please "
              f"report it with the command; {TRACEBACK_VAR}=1 shows the traceback", file=sys.stderr)
    try:
        sys.stdout.flush()
    except OSError:  # stdout itself is what failed: send what is left nowhere, so exit is quiet
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):  # no real file descriptor (captured output)
            pass
    return 1


RUNS = {TraceArgs: run_trace, DiagnoseArgs: run_diagnose, LstmvisArgs: run_lstmvis,  # sub-command -> function
        kernel_cli.KernelArgs: kernel_cli.run, check_cli.CheckArgs: check_cli.run}


def main(argv=None):
    """Run the command line; returns the exit status (0 ok, 1 bad input, 2 usage)."""
    try:
        args = parse(sys.argv[1:] if argv is None else argv)
    except SystemExit as e:  # argparse has printed the usage error
        return int(e.code or 0)
    return guarded(RUNS[type(args)], args)


if __name__ == "__main__":
    sys.exit(main())
