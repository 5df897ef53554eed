"""How fast the explorer redraws after a control change (issue 4: < 300 ms median at T=500, H=128, 2 layers).

Three layers of measurement, each against the float32-heatmap baseline in the same run:
1. the pure work: trace, slicing, figure building, and the JSON Streamlit sends;
2. AppTest reruns of the whole page after a control change, with the app's caches
   as a server has them (a new value every time, so nothing is served from a cache
   that a real change would miss);
3. with --browser (needs /usr/bin/chromium and playwright): every control of the Gate heatmaps
   page changed in a real headless Chromium, and the time until the heatmaps have redrawn, split
   into the server's run, the figure's transfer and the browser's drawing (browser_redraw.py);
   --baseline-root runs another code tree (a `git worktree` of an older commit) beside this
   one, round by round, as the baseline.

    python benchmarks/app_speed.py [--repeats 15] [--browser [--rounds 5] [--baseline-root DIR]]
    python benchmarks/app_speed.py --compare [--repeats 11]   # the Compare page (issue 13) against the heatmap page
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import plotly  # noqa: E402
import plotly.io as pio  # noqa: E402
import streamlit  # noqa: E402
import torch  # noqa: E402

from explorer.figures import heatmaps  # noqa: E402
from explorer.logic import inputs as signals  # noqa: E402
from explorer.logic import models as demo  # noqa: E402
from explorer.logic.settings import ModelSettings  # noqa: E402
from explorer.ui.state import STEP  # noqa: E402

from browser_redraw import QUERY  # noqa: E402  (the setting: the hand-wired demo model, issue 21's size)

T, H, L, B = (int(QUERY[k]) for k in ("steps", "hidden", "layers", "batch"))


def median_ms(f, repeats, warmup=2):
    for _ in range(warmup):
        f()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        times.append(1000 * (time.perf_counter() - t))
    return statistics.median(times)


def pure(repeats):
    """Trace and figure building without Streamlit, with the app's thread setting (explorer/app.py)."""
    torch.set_num_threads(int(os.environ.get("LSTM_EXPLORER_THREADS", 1)))
    ms = ModelSettings(hidden_size=H, num_layers=L)
    sig = signals.generate("recall", T, B, 3)
    model = demo.build(ms)
    x = torch.from_numpy(sig.x)

    def trace():
        with torch.no_grad():
            return model.trace(x).detach()
    tr = trace()
    fields = lambda: {k: tr.get(k, 1)[:, 0].T.contiguous().numpy() for k in "ifgoch"}  # noqa: E731
    out = {"trace": median_ms(trace, repeats)}
    torch.set_num_threads(os.cpu_count())
    out[f"trace, {os.cpu_count()} threads (torch's default)"] = median_ms(trace, repeats)
    torch.set_num_threads(int(os.environ.get("LSTM_EXPLORER_THREADS", 1)))
    for name, exact in (("image", False), ("float32 heatmap (baseline)", True)):
        fig = heatmaps.gate_heatmaps(fields(), sig.x[:, 0], sig.feature_names, exact=exact)
        out[f"figure build, {name}"] = median_ms(
            lambda: heatmaps.gate_heatmaps(fields(), sig.x[:, 0], sig.feature_names, exact=exact), repeats)
        out[f"to_dict + to_json, {name}"] = median_ms(lambda: pio.to_json(fig.to_dict(), validate=False), repeats)
        out[f"payload MB, {name}"] = len(pio.to_json(fig, validate=False)) / 1e6
    return out


def apptest(repeats):
    """Whole-page reruns after control changes, as AppTest runs them."""
    from streamlit.testing.v1 import AppTest
    out = {}
    for exact in (False, True):
        at = AppTest.from_file(str(ROOT / "explorer" / "app.py"), default_timeout=120)
        at.query_params.update(QUERY | ({"exact": "true"} if exact else {}))
        at.run()
        assert not at.exception and not at.error, [e.value for e in at.error]
        label = "float32 heatmap (baseline)" if exact else "image"
        counter = iter(range(1, 10_000))

        def change(widget, values):
            def run():
                widget(at).set_value(values(next(counter)))
                at.run()
                assert not at.exception
            return run
        out[f"view change (time window), {label}"] = median_ms(
            change(lambda a: a.slider(key="window"), lambda k: (k, T - 1)), repeats)
        out[f"view change (layer), {label}"] = median_ms(
            change(lambda a: a.selectbox(key="layer"), lambda k: k % L), repeats)
        if not exact:
            out["model change (seed: new weights, new trace)"] = median_ms(
                change(lambda a: a.number_input(key="seed"), lambda k: 1000 + k), repeats)
            out["input change (input seed: new input, new trace)"] = median_ms(
                change(lambda a: a.number_input(key="iseed"), lambda k: 1000 + k), repeats)
            at.switch_page(STEP).run()
            out["step page: step slider"] = median_ms(change(lambda a: a.slider(key="t"), lambda k: k % T), repeats)
    return out


def browser(rounds, baseline_root=None):
    """Every control of the Gate heatmaps page changed in headless Chromium (browser_redraw.py);
    with baseline_root, that code tree's server beside this one's, round by round."""
    import browser_redraw
    roots = {"this tree": ROOT} if baseline_root is None else {"baseline": Path(baseline_root), "this tree": ROOT}
    loads = [os.getloadavg()[0]]
    results = browser_redraw.measure(roots, rounds, on_round=lambda k: loads.append(os.getloadavg()[0]))
    print(f"Chromium, {rounds} rounds (the first is warm-up), load average (1 min) during the rounds: "
          f"{min(loads):.1f} to {max(loads):.1f}, median {statistics.median(loads):.1f}")
    print("total: change sent -> new figure drawn; server: -> the run's last message; figure arrives: -> "
          "its message received; draw: figure received -> drawn\n")
    print("\n".join(browser_redraw.table(results)))
    print()


def compare_browser(repeats):
    """The Compare page with three shipped recall models (issue 13): a shared control (input seed)
    changed -> every column redrawn, in headless Chromium; the baseline is the gate heatmap page's
    redraw after the same change, measured interleaved in the same server (the machine is shared)."""
    sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "explorer")]  # the browser tests' launcher, its helpers
    from playwright.sync_api import sync_playwright
    from test_explorer_browser import ARGS, CHROMIUM, FINGERPRINT, number_input, serve, wait_redrawn
    paths = {"compare page, 3 recall models (standard, coupled, peephole)":
             "compare?task=recall&variants=standard,coupled,peephole",
             "gate heatmap page, shipped recall/coupled (baseline)": "?source=shipped&task=recall&input=task"}
    times = {name: [] for name in paths}
    with serve() as url, sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            pages = {}
            for name, path in paths.items():
                pages[name] = chromium.new_page(viewport={"width": 1600, "height": 1200})
                pages[name].goto(f"{url}/{path}")
                pages[name].wait_for_function(FINGERPRINT, timeout=300_000)
            for k in range(repeats + 2):  # interleaved: one change on each page per round
                for name, page in pages.items():
                    before = page.evaluate(FINGERPRINT)
                    t = time.perf_counter()
                    number_input(page, "input seed", 700 + k)
                    wait_redrawn(page, before)
                    times[name].append(1000 * (time.perf_counter() - t) - 300)  # wait_redrawn's paint allowance
        finally:
            chromium.close()
    out = {f"browser: input seed -> redrawn, {name}": statistics.median(v[2:]) for name, v in times.items()}
    a, b = out.values()
    out["browser: compare page / gate heatmap page"] = a / b
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--browser", action="store_true", help="only the Gate heatmaps page in headless Chromium")
    p.add_argument("--rounds", type=int, default=5, help="--browser: rounds of every control change")
    p.add_argument("--baseline-root", help="--browser: a code tree (git worktree) measured beside this one")
    p.add_argument("--compare", action="store_true", help="only the Compare page in Chromium, against the heatmap page")
    args = p.parse_args()
    print(f"device cpu ({os.cpu_count()} cores, {platform.processor() or platform.machine()}), dtype float32, "
          f"torch {torch.__version__} (app: {os.environ.get('LSTM_EXPLORER_THREADS', 1)} thread), streamlit {streamlit.__version__}, "
          f"plotly {plotly.__version__}, numpy {np.__version__}, python {platform.python_version()}")
    print(f"T={T}, H={H}, L={L}, B={B}, remember-and-recall input, hand-wired random model, median of {args.repeats}\n")
    if args.compare:
        results = compare_browser(args.repeats)
        for name, value in results.items():
            print(f"{name:<80}  {value:8.2f}{'x' if name.endswith('heatmap page') else ' ms'}")
        return
    if args.browser:
        return browser(args.rounds, args.baseline_root)
    results = pure(args.repeats) | apptest(args.repeats)
    width = max(map(len, results))
    for name, value in results.items():
        unit = "" if name.startswith("payload") else " ms"
        print(f"{name:<{width}}  {value:8.1f}{unit}")
    print(json.dumps({k: round(v, 2) for k, v in results.items()}), file=sys.stderr)


if __name__ == "__main__":
    main()
