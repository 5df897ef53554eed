"""Load hostile files in this (child) process under a memory limit; one JSON line per case on stdout.

    python tests/helpers/hostile_runner.py CASES.json MEMORY_BYTES SECONDS_PER_CASE

CASES.json: a list of {"name", "kind": "model" | "data", "path", "options"}. Every file
opened while a case runs is recorded (an audit hook): anything outside the case's own
directory and the Python installation is a leak. Each line says: name, outcome ("ok",
"refused" with a LoadError / DataError, "unclear" with another exception, "timeout"),
error type and message, seconds, the files opened outside, and the peak RSS during the case.
"""
import json
import os
import resource
import signal
import sys
import time
from pathlib import Path


class CaseTimeout(BaseException):
    pass


def main():
    cases = json.loads(Path(sys.argv[1]).read_text())
    memory, seconds = int(sys.argv[2]), int(sys.argv[3])
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    import h5py  # noqa: F401  every library a loader imports lazily, before the hook records opens
    import onnx  # noqa: F401
    import safetensors.torch  # noqa: F401
    from onnx import numpy_helper  # noqa: F401

    from lstm_core import LoadError, load
    from lstm_core.io.data import DataError, load_data

    allowed = [os.path.realpath(p) for p in {sys.prefix, sys.base_prefix, sys.exec_prefix}]
    allowed.append(os.path.realpath(Path(__file__).resolve().parents[2] / "lstm_core"))
    state = {"dir": None, "outside": []}

    def hook(event, args):
        if event == "open" and state["dir"] is not None and isinstance(args[0], (str, bytes, os.PathLike)):
            p = os.path.realpath(os.fsdecode(args[0]))
            if not (p.startswith(state["dir"] + os.sep) or p.startswith("/dev/") or p.startswith("/proc/")
                    or any(p.startswith(a + os.sep) for a in allowed)):
                state["outside"].append(p)

    sys.addaudithook(hook)

    def alarm(*_):
        raise CaseTimeout()

    signal.signal(signal.SIGALRM, alarm)

    def peak_mb(reset=False):
        """This process's peak RSS (VmHWM) in MB; reset=True starts a new peak (Linux clear_refs 5)."""
        try:
            if reset:
                with open("/proc/self/clear_refs", "w") as f:
                    f.write("5")
            with open("/proc/self/status") as f:
                return int(next(line for line in f if line.startswith("VmHWM")).split()[1]) // 1024
        except (OSError, StopIteration, ValueError):
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024

    for c in cases:
        path = Path(c["path"])
        opts = dict(c.get("options", {}))
        before = peak_mb(reset=True)
        state["dir"], state["outside"] = os.path.realpath(path.parent), []
        start = time.perf_counter()
        signal.alarm(seconds)
        try:
            if c["kind"] == "model":
                source = path.read_bytes() if opts.pop("as_bytes", False) else path
                load(source, **opts)
            else:
                if "vocab_json" in opts:
                    vocab = path.parent / "vocab.json"
                    vocab.write_text(opts.pop("vocab_json"))
                    opts["vocab"] = vocab
                load_data(path, **opts)
            outcome, etype, message = "ok", "", ""
        except (LoadError, DataError) as e:
            outcome, etype, message = "refused", type(e).__name__, str(e)
        except CaseTimeout:
            outcome, etype, message = "timeout", "", f"still running after {seconds} s"
        except Exception as e:  # noqa: BLE001 - the point of the runner: report what escaped
            outcome, etype, message = "unclear", type(e).__name__, str(e)[:500]
        finally:
            signal.alarm(0)
            state["dir"] = None
        print(json.dumps({"name": c["name"], "outcome": outcome, "type": etype, "message": message[:2000],
                          "seconds": round(time.perf_counter() - start, 3), "outside": state["outside"][:5],
                          "rss_before_mb": before, "peak_rss_mb": peak_mb()}), flush=True)


if __name__ == "__main__":
    main()
