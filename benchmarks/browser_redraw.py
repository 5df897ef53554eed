"""From a control change to the gate heatmaps redrawn, in headless Chromium, and where the time goes.

Drives `streamlit run explorer/app.py` (one server per code tree, so the code before a change
can be measured beside the code after it, interleaved round by round) through the controls of
the Gate heatmaps page as a user does: the View row (layer, sequence, panels, time window,
exact hover values) and the sidebar (model seed, H, T). For each change it reads, on the
page's own clock:
- total: from the browser sending the change (the websocket message) to the new figure drawn
  (Plotly's data replaced, then two animation frames: the paint after it);
- server: from that message to the run's end (script or fragment finished) received;
- figure: when the message carrying the figure arrived, and its size (the transfer);
- draw: from the figure's arrival to drawn (decode, React, Plotly, paint).
The server's side is read from the network's time stamps (the DevTools protocol), which a page
busy drawing does not delay; streamlit.proto's ForwardMsg says which message is which.

    python benchmarks/app_speed.py --browser [--baseline-root /tmp/base] [--rounds 5]
"""
import base64
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# the setting (issue 21): the hand-wired random model on the remember-and-recall input
QUERY = {"source": "demo", "input": "recall", "steps": "500", "hidden": "128", "layers": "2", "batch": "4"}
CHART = ".st-key-heatmaps .js-plotly-plot"

# Before any script of the app: the time each message is sent, on the page's clock.
WS_LOG = """(() => { const Orig = window.WebSocket; window.__sent = [];
  class Logged extends Orig { send(d) { window.__sent.push(performance.now()); super.send(d); } }
  window.WebSocket = Logged; })();"""

# Resolves with the time the chart's data was replaced and painted (two frames later).
DRAWN = """async (limit) => { const frame = () => new Promise(r => requestAnimationFrame(r));
  for (const t0 = performance.now();;) { await frame(); const g = document.querySelector('%s');
    if (g && g.data && g._fullLayout && g.data !== window.__seen) break;
    if (performance.now() - t0 > limit) throw new Error('the heatmaps did not redraw within ' + limit + ' ms'); }
  await frame(); await frame(); return performance.now(); }""" % CHART
SEEN = "() => { window.__seen = (document.querySelector('%s') || {}).data; return window.__sent.length; }" % CHART


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(root=ROOT):
    """`streamlit run explorer/app.py` of the code tree `root` on a free port; yields its URL."""
    port = free_port()
    log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"app_speed-{port}.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "explorer/app.py", "--server.port", str(port),
                             "--server.headless", "true", "--browser.gatherUsageStats", "false"],
                            cwd=root, stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(480):  # up to two minutes: a busy machine imports torch slowly
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited: see {log.name}")
            time.sleep(0.25)
        yield f"http://localhost:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


# --- the controls, as a user works them -------------------------------------------------------

def select(page, label, option):
    """Pick `option` (its text) in the selectbox labelled `label`."""
    page.get_by_label(label, exact=True).click()
    page.get_by_role("option", name=str(option), exact=True).click()


def number(page, label, value):
    box = page.get_by_label(label, exact=True)
    box.fill(str(value))
    box.press("Enter")


def drop_panel(page, name):
    """Remove chip `name` from the panels multiselect (its delete button)."""
    page.locator(".st-key-fields").get_by_role("button", name=f"Remove {name}", exact=True).click()


def add_panel(page, name):
    page.locator(".st-key-fields [role=combobox]").first.click()
    page.get_by_role("option", name=name, exact=True).click()
    page.keyboard.press("Escape")


def window_step(page, key):
    """Move the time window's last step by one (ArrowLeft or ArrowRight on its upper thumb)."""
    page.locator(".st-key-window input[type=range]").last.press(key)


def toggle_exact(page):
    page.locator(".st-key-exact label").click()


def changes(k, query=None):
    """Round k's control changes, in order: (name, action). Each changes the figure, and the
    model seed first makes every later view of the round new to the caches."""
    q = QUERY if query is None else query
    H, T, batch = int(q["hidden"]), int(q["steps"]), int(q["batch"])
    return [
        ("model seed", lambda p: number(p, "model seed", 1000 + k)),
        (f"hidden size H {H} -> {H - 1}", lambda p: number(p, "hidden size H", H - 1)),
        (f"steps T {T} -> {T - 1}", lambda p: number(p, "steps T", T - 1)),
        (f"hidden size H {H - 1} -> {H}", lambda p: number(p, "hidden size H", H)),
        (f"steps T {T - 1} -> {T}", lambda p: number(p, "steps T", T)),
        ("layer", lambda p: select(p, "layer", (k + 1) % 2)),
        ("sequence", lambda p: select(p, "sequence b", (k + 1) % batch)),
        ("panels: drop c", lambda p: drop_panel(p, "c")),
        ("time window", lambda p: window_step(p, "ArrowLeft")),
        ("panels: add c", lambda p: add_panel(p, "c")),
        ("exact hover values on", toggle_exact),
        ("exact hover values off (a view seen before)", toggle_exact),
    ]


# --- one change, timed ------------------------------------------------------------------------

@dataclass
class Timing:
    total: float  # ms, change sent -> figure drawn (the page's clock)
    server: float  # ms, change sent -> the run's last message received (the network's clock)
    to_figure: float  # ms, change sent -> the figure's message received (the network's clock)
    draw: float  # ms, total - to_figure: decode, React, Plotly, paint
    figure_kb: float  # size of the figure's message (a figure the page has seen: its reference)
    kb: float  # every message of the run


@dataclass
class Session:
    """One page of one server, and its websocket's messages as the network saw them: (time in ms,
    'out' or what came in (kind_of), size), through the DevTools protocol, whose time stamps are
    taken when a message arrives, not when a page busy drawing gets to it."""

    page: object
    limit_ms: int = 120_000  # a change that has not redrawn by then is an error
    frames: list = field(default_factory=list)

    def listen(self):
        cdp = self.page.context.new_cdp_session(self.page)
        cdp.on("Network.webSocketFrameSent", lambda e: self.frames.append((1e3 * e["timestamp"], "out", 0)))
        cdp.on("Network.webSocketFrameReceived", self._received)
        cdp.send("Network.enable")

    def _received(self, e):
        r = e["response"]
        payload = base64.b64decode(r["payloadData"]) if r["opcode"] == 2 else r["payloadData"].encode()
        self.frames.append((1e3 * e["timestamp"], kind_of(payload), len(payload)))


def kind_of(payload):
    """What a ForwardMsg is: 'figure' (the heatmaps' plotly_chart), 'finished', 'ref' or another kind."""
    msg = ForwardMsg()
    try:
        msg.ParseFromString(payload)
    except Exception:  # noqa: BLE001  (not a ForwardMsg: nothing to time)
        return "other"
    kind = msg.WhichOneof("type")
    if kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
        el = msg.delta.new_element
        if el.WhichOneof("type") == "plotly_chart" and "heatmaps" in el.plotly_chart.id:
            return "figure"
    if kind == "ref_hash":
        return "ref"
    return "finished" if kind == "script_finished" else kind


def timed(s, action):
    """Do `action` on the session's page; its Timing once the figure has redrawn."""
    first_sent, first = s.page.evaluate(SEEN), len(s.frames)
    action(s.page)
    drawn = s.page.evaluate(DRAWN, s.limit_ms)
    for _ in range(400):  # the run's last message may come after the figure is drawn
        frames = s.frames[first:]
        if any(k == "finished" for _, k, _ in frames):
            break
        s.page.wait_for_timeout(25)
    sent = s.page.evaluate("() => window.__sent")[first_sent]
    out = next(t for t, k, _ in frames if k == "out")
    ins = [f for f in frames if f[1] != "out"]
    fig = [f for f in ins if f[1] == "figure"] or [max(ins, key=lambda f: f[2])]  # else its reference
    done = [t for t, k, _ in ins if k == "finished"]
    to_figure = fig[-1][0] - out
    return Timing(drawn - sent, (done[0] if done else fig[-1][0]) - out, to_figure, drawn - sent - to_figure,
                  fig[-1][2] / 1e3, sum(f[2] for f in ins) / 1e3)


def open_session(chromium, url, query=None, width=1600, height=1000, limit_ms=120_000):
    """A page on the Gate heatmaps at `query` (QUERY), its first figure drawn."""
    page = chromium.new_page(viewport={"width": width, "height": height})
    page.set_default_timeout(min(limit_ms, 30_000))  # finding a control
    page.add_init_script(WS_LOG)
    s = Session(page, limit_ms)
    s.listen()
    page.goto(url + "/?" + "&".join(f"{k}={v}" for k, v in (query or QUERY).items()))
    page.wait_for_function(f"() => {{ const g = document.querySelector('{CHART}'); return g && g._fullLayout; }}",
                           timeout=max(limit_ms, 180_000))
    page.wait_for_timeout(1000)
    return s


def measure(roots, rounds, on_round=None):
    """{root name: {change: [Timing per round]}}: the rounds interleaved between the code trees
    (`roots`: {name: repository root}); on_round(k) after each round."""
    from playwright.sync_api import sync_playwright
    out = {name: {} for name in roots}
    with sync_playwright() as pw, contextlib.ExitStack() as stack:
        urls = {name: stack.enter_context(serve(root)) for name, root in roots.items()}
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        stack.callback(chromium.close)
        sessions = {name: open_session(chromium, url) for name, url in urls.items()}
        for k in range(rounds):
            for name, s in sessions.items():
                for change, action in changes(k):
                    out[name].setdefault(change, []).append(timed(s, action))
            if on_round:
                on_round(k)
    return out


def table(results, warmup=1):
    """Markdown lines: per change, the median of each column per code tree (rounds after `warmup`)."""
    names = list(results)
    cols = ("total", "server", "to_figure", "draw", "figure_kb")
    lines = ["| change | " + " | ".join(f"{n}: total ms (server, figure arrives, draw; figure kB)" for n in names) + " |",
             "|---" * (len(names) + 1) + "|"]
    alls = {n: [] for n in names}
    for change in results[names[0]]:
        cells = []
        for n in names:
            ts = results[n][change][warmup:] or results[n][change]
            med = {c: statistics.median(getattr(t, c) for t in ts) for c in cols}
            alls[n] += [t.total for t in ts]
            cells.append(f"{med['total']:.0f} ({med['server']:.0f}, {med['to_figure']:.0f}, {med['draw']:.0f}; "
                         f"{med['figure_kb']:.0f})")
        lines.append(f"| {change} | " + " | ".join(cells) + " |")
    lines.append("| **median of every change** | " + " | ".join(f"**{statistics.median(alls[n]):.0f}**"
                                                                   for n in names) + " |")
    return lines
