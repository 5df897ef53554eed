"""Where the CPU of one rerun goes on a real server (issue 12): cProfile of the script runs.

Starts `streamlit run explorer/app.py` in a child process whose ScriptRunner profiles
every script run (the script, the widget and element protos, Streamlit's post-script
work, its gc.collect), drives one session through benchmarks/classroom_load.py's
client (the opening view, --changes control changes), and prints the server's CPU per
run measured from /proc, the share of gc.collect, and the top functions by cumulative
time. Extra arguments after `--` go to `streamlit run` (e.g. `-- --runner.postScriptGC false`).

    python benchmarks/rerun_profile.py [--changes 40] [--controls seq,window,fields,iseed] [-- ...]
"""
import argparse
import asyncio
import cProfile
import os
import pstats
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def serve(stats_path, streamlit_args):
    """In the child: profile every ScriptRunner._run_script, dump the cumulative stats after each."""
    from streamlit.runtime.scriptrunner import script_runner
    from streamlit.web import cli

    prof = cProfile.Profile()
    original = script_runner.ScriptRunner._run_script
    runs = [0]

    def profiled(self, rerun_data):
        runs[0] += 1
        if runs[0] == 1 or stats_path == "-":  # the first run imports torch and the app: not a rerun
            return original(self, rerun_data)
        prof.enable()
        try:
            return original(self, rerun_data)
        finally:
            prof.disable()
            prof.dump_stats(stats_path)

    script_runner.ScriptRunner._run_script = profiled
    sys.argv = ["streamlit", "run", str(ROOT / "explorer" / "app.py"), *streamlit_args]
    cli.main()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def drive(port, changes, controls, think):
    sys.path.insert(0, str(Path(__file__).parent))
    import classroom_load as cl
    import websockets

    for _ in range(120):  # the server starts in a few seconds; give up after 60
        try:
            if (await cl.http_get("127.0.0.1", port, "/_stcore/health", timeout=2))[0] == 200:
                break
        except cl.Failure:
            pass
        await asyncio.sleep(0.5)
    else:
        raise SystemExit("the profiled server did not start within 60 s")
    pids = cl.listeners(port)
    rng = random.Random(0)
    async with websockets.connect(f"ws://127.0.0.1:{port}/_stcore/stream", subprotocols=["streamlit"],
                                  max_size=2**27, ping_interval=None) as ws:
        page = cl.Page()
        await ws.send(page.rerun())
        await cl.run_until_finished(ws, page, 300)  # the first run imports torch: slow on a busy machine
        cpu0 = cl.usage(pids)[0]
        lat, cpu, frag = [], [], []
        for k in range(changes):
            await asyncio.sleep(think)
            wid, w = page.find(controls[k % len(controls)])
            if w is None:
                raise SystemExit(f"no widget {controls[k % len(controls)]!r} on the opening view")
            w.value = cl.new_value(w, rng)
            c0, t0 = cl.usage(pids)[0], time.perf_counter()
            await ws.send(page.rerun(w.fragment))
            await cl.run_until_finished(ws, page, 60)
            lat.append(time.perf_counter() - t0)
            await asyncio.sleep(0.05)  # the last messages leave the event loop
            cpu.append(cl.usage(pids)[0] - c0)
            frag.append(bool(w.fragment))
        return lat, cpu, frag, cl.usage(pids)[0] - cpu0


def main():
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--changes", type=int, default=40)
    p.add_argument("--controls", default="seq,window,fields,iseed")
    p.add_argument("--think", type=float, default=0.3, help="seconds between changes")
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--no-profile", action="store_true", help="only the CPU per change, without cProfile's overhead")
    p.add_argument("--serve", help=argparse.SUPPRESS)  # internal: the child
    a = p.parse_args(argv)
    if a.serve:
        return serve(a.serve, extra)
    port = free_port()
    stats = Path(f"/tmp/rerun_profile_{port}.pstats")
    child = subprocess.Popen([sys.executable, __file__, "--serve", "-" if a.no_profile else str(stats), "--",
                              "--server.port", str(port),
                              "--server.address", "127.0.0.1", "--server.headless", "true", *extra],
                             cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        lat, cpu, frag, total = asyncio.run(drive(port, a.changes, a.controls.split(","), a.think))
    finally:
        child.terminate()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
    med = sorted(cpu)[len(cpu) // 2]
    print(f"# {a.changes} changes ({a.controls}), streamlit args {extra or 'none'}, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"server CPU per change: median {1000 * med:.0f} ms, mean {1000 * total / len(cpu):.0f} ms; "
          f"latency median {1000 * sorted(lat)[len(lat) // 2]:.0f} ms")
    for name, want in (("fragment runs (View controls)", True), ("full runs (sidebar controls)", False)):
        xs = sorted(c for c, f in zip(cpu, frag) if f == want)
        if xs:  # /proc counts clock ticks (10 ms): a median is a multiple of 10 ms, the mean is finer
            print(f"  {name}: {len(xs)} changes, median CPU {1000 * xs[len(xs) // 2]:.0f} ms, "
                  f"mean {1000 * sum(xs) / len(xs):.0f} ms")
    if a.no_profile:
        return
    st = pstats.Stats(str(stats))
    runs = a.changes
    gc_time = sum(v[2] for k, v in st.stats.items() if k[2] == "<built-in method gc.collect>")
    print(f"profiled reruns: {1000 * st.total_tt / runs:.0f} ms per change (with cProfile's overhead); "
          f"gc.collect {1000 * gc_time / runs:.0f} ms per change ({100 * gc_time / max(st.total_tt, 1e-9):.0f}%)")
    st.sort_stats("cumulative").print_stats(a.top)
    stats.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
