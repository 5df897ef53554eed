"""A classroom against the explorer: real sessions over Streamlit's own websocket (issue 12).

Each simulated student opens the page like a browser (GET, then the websocket
/_stcore/stream with the cookies it got), asks for the first run (BackMsg
rerun_script), then changes one control every --think seconds, in turn from
--controls: the opening view's View controls (seq, window, fields) live in an
st.fragment, so their change is a fragment run; iseed is a sidebar control, a
full run. The latency of a change runs from sending its BackMsg until the
ForwardMsg script_finished of the run it caused; it is reported for both kinds. Widget states are sent the way the
frontend sends them: every widget of the page with its current value, the
fragment id of the widget that changed, the hashes of the messages it holds in its
cache (so the server answers with references, as it does a browser).

    python benchmarks/classroom_load.py --url http://localhost:8501/ --sessions 1,10,25,50 \
        --changes 10 --think 2-5

Printed per level: p50/p95/max latency, errors (timeouts, exception elements,
closed sockets, refused connections), /_stcore/health latency while loaded, the
server's CPU and RSS (the process listening on the URL's port; behind
deploy/classroom.sh the replicas named by nginx's X-Replica header) and, through
the proxy, whether every session stayed on one replica. Only localhost URLs;
every wait is bounded by --timeout, so a run always ends.
"""
import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import sys
import time
import urllib.parse
from dataclasses import dataclass, field

import streamlit
import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
CONTROLS = "seq,window,fields,iseed"  # view-only changes and one input change, on the opening view
REPLICA_HEADER = "x-replica"  # added by deploy/nginx.conf.template: the upstream that answered
FINISHED_OK = (ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY)


# ---------------------------------------------------------------------------------------------
# The page, as a browser holds it: widgets with their values, the query string, the cookies.

@dataclass
class Widget:
    kind: str  # the element type: selectbox, number_input, slider, ...
    proto: object  # the element's proto as last drawn
    fragment: str  # fragment id of the delta that drew it ("" outside a fragment)
    value: object  # what this "browser" holds


def initial_value(kind, el):
    """The value the frontend would hold for a freshly drawn widget (its default, or a value set by the server)."""
    if kind in ("selectbox", "radio"):
        if kind == "selectbox" and el.set_value and el.HasField("raw_value"):
            return el.raw_value
        return el.options[el.default] if len(el.options) and el.HasField("default") else None
    if kind in ("multiselect", "select_slider"):
        if kind == "multiselect" and el.set_value:
            return list(el.raw_values)
        return [el.options[i] for i in el.default]
    if kind == "slider":
        return list(el.value) if el.set_value else list(el.default)
    if kind == "number_input":
        return el.value if el.set_value else el.default
    if kind == "checkbox":
        return el.value if el.set_value else el.default
    if kind in ("text_input", "text_area"):
        return el.value if el.set_value and el.HasField("value") else el.default
    return None  # buttons, uploads, ...: not sent until used


def fill_state(ws, wid, w):
    kind, v = w.kind, w.value
    if v is None:
        return
    s = ws.widgets.add()
    s.id = wid
    if kind in ("selectbox", "radio", "text_input", "text_area"):
        s.string_value = str(v)
    elif kind in ("multiselect", "select_slider"):
        s.string_array_value.data.extend(v)
    elif kind == "slider":
        s.double_array_value.data.extend(float(x) for x in v)
    elif kind == "number_input":
        s.double_value = float(v)
    elif kind == "checkbox":
        s.bool_value = bool(v)
    else:
        ws.widgets.pop()


def new_value(w, rng):
    """A different value a student might pick for widget `w`."""
    el = w.proto
    if w.kind in ("selectbox", "radio"):
        others = [o for o in el.options if o != w.value] or list(el.options)
        return rng.choice(others)
    if w.kind == "multiselect":
        opts = list(el.options)
        return [o for o in opts if o in set(rng.sample(opts, rng.randint(1, len(opts))))]
    if w.kind == "slider":
        lo, hi = sorted(rng.sample(range(int(el.min), int(el.max) + 1), 2)) if el.max > el.min else (el.min, el.max)
        return [lo, hi] if len(w.value) == 2 else [lo]
    if w.kind == "number_input":
        low = el.min if el.has_min else 0
        high = min(el.max if el.has_max else low + 1000, low + 1000)  # a seed a student would type
        return float(rng.randint(int(low), int(high)))
    if w.kind == "checkbox":
        return not w.value
    raise SystemExit(f"cannot change a {w.kind} widget; choose --controls among selectbox, radio, "
                     f"multiselect, slider, number_input and checkbox widgets")


class Page:
    def __init__(self):
        self.widgets = {}  # widget id -> Widget
        self.query = ""
        self.page_hash = ""
        self.exceptions = []
        self.cached = {}  # hash -> raw ForwardMsg: the frontend's message cache
        self.drawn = []  # widget keys drawn by the current run, in order (a fragment run draws only its own)

    def take(self, m, raw=b""):
        """Update from one ForwardMsg; its type."""
        kind = m.WhichOneof("type")
        if kind == "ref_hash":  # "you have this one": the cached message, at this message's place
            if m.ref_hash not in self.cached:
                raise Failure("http", f"the server referred to a message this client never cached ({m.ref_hash})")
            cached = ForwardMsg()
            cached.ParseFromString(self.cached[m.ref_hash])
            cached.metadata.CopyFrom(m.metadata)
            m, kind = cached, cached.WhichOneof("type")
        elif m.metadata.cacheable and m.hash and raw:
            self.cached[m.hash] = raw
        if kind == "new_session":
            self.page_hash = m.new_session.page_script_hash or self.page_hash
        elif kind == "page_info_changed":
            self.query = m.page_info_changed.query_string
        elif kind == "delta" and m.delta.WhichOneof("type") == "new_element":
            ek = m.delta.new_element.WhichOneof("type")
            el = getattr(m.delta.new_element, ek)
            if ek == "exception":
                self.exceptions.append(f"{el.type}: {el.message}"[:200])
            wid = getattr(el, "id", "")
            if wid.startswith("$$ID-"):
                old = self.widgets.get(wid)
                value = initial_value(ek, el)
                if old is not None and not getattr(el, "set_value", False):
                    value = old.value  # the browser keeps what it holds unless the server sets it
                self.widgets[wid] = Widget(ek, el, m.delta.fragment_id, value)
                self.drawn.append(wid.rsplit("-", 1)[-1])
        return kind

    def find(self, key):
        for wid, w in self.widgets.items():
            if wid.endswith("-" + key):
                return wid, w
        return None, None

    def rerun(self, fragment=""):
        self.drawn = []
        b = BackMsg()
        cs = b.rerun_script
        cs.query_string = self.query
        cs.page_script_hash = self.page_hash
        cs.fragment_id = fragment
        cs.cached_message_hashes.extend(self.cached)
        for wid, w in self.widgets.items():
            fill_state(cs.widget_states, wid, w)
        return b.SerializeToString()


# ---------------------------------------------------------------------------------------------
# One student.

class Failure(Exception):
    """A counted error: kind is timeout, exception, closed, refused or http."""

    def __init__(self, kind, detail):
        super().__init__(detail)
        self.kind = kind


async def http_get(host, port, path, cookies="", timeout=10.0):
    """(status, headers {lower name: [values]}, body) of a plain HTTP/1.1 GET, bounded by timeout."""
    async def go():
        reader, writer = await asyncio.open_connection(host, port)
        req = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n"
        req += f"Cookie: {cookies}\r\n" if cookies else ""
        writer.write((req + "\r\n").encode())
        data = await reader.read(-1)
        writer.close()
        return data
    try:
        data = await asyncio.wait_for(go(), timeout)
    except asyncio.TimeoutError:
        raise Failure("timeout", f"GET {path} took over {timeout:g} s") from None
    except OSError as e:
        raise Failure("refused", f"GET {path}: {e}") from None
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    try:
        status = int(lines[0].split()[1])
    except (IndexError, ValueError):
        raise Failure("http", f"GET {path}: no HTTP status line") from None
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return status, headers, body


def cookie_jar(headers, jar):
    for c in headers.get("set-cookie", []):
        name, _, rest = c.partition("=")
        jar[name.strip()] = rest.split(";")[0]
    return "; ".join(f"{k}={v}" for k, v in jar.items())


@dataclass
class Student:
    n: int
    replicas: list = field(default_factory=list)  # the replica named by every response, in order
    opened: float | None = None  # seconds until the first run finished
    latencies: list = field(default_factory=list)
    fragment: list = field(default_factory=list)  # per change: True if it was a fragment run
    errors: list = field(default_factory=list)  # (kind, detail)


async def close(ws):
    """Close a websocket, whatever state it is in, within 5 s."""
    try:
        await asyncio.wait_for(ws.close(), 5)
    except (websockets.ConnectionClosed, asyncio.TimeoutError, OSError):
        pass


async def send(ws, data):
    try:
        await ws.send(data)
    except websockets.ConnectionClosed as e:
        raise Failure("closed", f"websocket closed: {e}") from None


async def run_until_finished(ws, page, timeout):
    """Read ForwardMsgs until the script_finished of the current run; raise Failure on trouble."""
    end = time.perf_counter() + timeout
    n_exc = len(page.exceptions)
    seen = []  # what did arrive, for the message of a timeout

    def late():
        kinds = ", ".join(seen[-4:]) if seen else "nothing"
        return Failure("timeout", f"no script_finished within {timeout:g} s ({len(seen)} messages; last: {kinds})")
    while True:
        left = end - time.perf_counter()
        if left <= 0:
            raise late()
        try:
            raw = await asyncio.wait_for(ws.recv(), left)
        except asyncio.TimeoutError:
            raise late() from None
        except websockets.ConnectionClosed as e:
            raise Failure("closed", f"websocket closed: {e}") from None
        m = ForwardMsg()
        m.ParseFromString(raw)
        kind = page.take(m, raw)
        seen.append(f"{kind} {m.script_finished}" if kind == "script_finished" else kind)
        if kind == "script_finished" and m.script_finished in FINISHED_OK:
            if len(page.exceptions) > n_exc:
                raise Failure("exception", page.exceptions[-1])
            return


async def student(s, args, host, port, path, stop_at, rng):
    jar = {}
    t = args.timeout
    try:
        await asyncio.sleep(rng.uniform(0, args.think[1]))  # students do not all click at once
        status, headers, _ = await http_get(host, port, path, timeout=t)
        if status != 200:
            raise Failure("http", f"GET {path}: status {status}")
        s.replicas += headers.get(REPLICA_HEADER, [])
        cookies = cookie_jar(headers, jar)
        scheme_path = path.rstrip("/").rsplit("/", 1)[0] if "." in path.rsplit("/", 1)[-1] else path.rstrip("/")
        url = f"ws://{host}:{port}{scheme_path}/_stcore/stream"
        try:
            ws = await asyncio.wait_for(websockets.connect(
                url, subprotocols=["streamlit"], additional_headers={"Cookie": cookies} if cookies else None,
                max_size=2**27, open_timeout=t, ping_interval=None, compression=None), t)
        except (OSError, asyncio.TimeoutError, websockets.InvalidHandshake) as e:
            raise Failure("refused", f"websocket: {e}") from None
        try:
            s.replicas += ws.response.headers.get_all(REPLICA_HEADER)
            page = Page()
            page.query = urllib.parse.urlsplit(args.url).query
            t0 = time.perf_counter()
            await send(ws, page.rerun())
            await run_until_finished(ws, page, t)
            s.opened = time.perf_counter() - t0
            keys = args.controls
            for k in range(args.changes):
                if time.perf_counter() > stop_at:
                    raise Failure("timeout", "the level ran past its time limit")
                await asyncio.sleep(rng.uniform(*args.think))
                key = keys[(s.n + k) % len(keys)]
                wid, w = page.find(key)
                if w is None:
                    names = sorted(i.rsplit("-", 1)[-1] for i in page.widgets)
                    raise SystemExit(f"--controls: no widget with key {key!r} on this page; it has {names}")
                w.value = new_value(w, rng)
                t0 = time.perf_counter()
                await send(ws, page.rerun(w.fragment))
                await run_until_finished(ws, page, t)
                s.latencies.append(time.perf_counter() - t0)
                s.fragment.append(bool(w.fragment))
        finally:
            await close(ws)
    except Failure as e:
        s.errors.append((e.kind, str(e)))


# ---------------------------------------------------------------------------------------------
# The server: CPU and RSS of the processes listening on the ports, health while loaded.

def listeners(port):
    """PIDs of the processes with a listening TCP socket on `port` (Linux /proc; [] elsewhere)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                for line in f.readlines()[1:]:
                    parts = line.split()
                    if parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                        inodes.add(parts[9])
        except OSError:
            pass
    pids = set()
    for pid in filter(str.isdigit, os.listdir("/proc") if inodes else []):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd}").strip("socket:[]") in inodes:
                    pids.add(int(pid))
                    break
        except OSError:
            continue
    return sorted(pids)


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def usage(pids):
    """(CPU seconds, RSS bytes) summed over pids."""
    tick, page = os.sysconf("SC_CLK_TCK"), os.sysconf("SC_PAGE_SIZE")
    cpu = rss = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            cpu += (int(fields[11]) + int(fields[12])) / tick  # utime + stime
            with open(f"/proc/{pid}/statm") as f:
                rss += int(f.read().split()[1]) * page
        except (OSError, IndexError, ValueError):
            continue
    return cpu, rss


async def watch(host, port, path, pids_of, state, until, out):
    """Every second: /_stcore/health latency and the servers' RSS, until `until` is set.

    Finding the servers' PIDs scans /proc (a second or more on a busy machine): it runs in a
    thread every 10 s, so it never holds up the students' event loop.
    """
    tick = 0
    while not until.is_set():
        t0 = time.perf_counter()
        try:
            status, _, _ = await http_get(host, port, path + "_stcore/health", timeout=5.0)
            out["health"].append(time.perf_counter() - t0 if status == 200 else float("inf"))
        except Failure:
            out["health"].append(float("inf"))
        out["rss"].append(usage(state["pids"])[1])
        tick += 1
        if tick % 10 == 0:
            state["pids"] = await asyncio.to_thread(pids_of) or state["pids"]
        try:
            await asyncio.wait_for(until.wait(), 1.0)
        except asyncio.TimeoutError:
            pass


async def upstream_ports(host, port, path, timeout):
    """The replicas' ports when `port` is deploy/classroom.sh's nginx (it lists them), else []."""
    own = await asyncio.to_thread(listeners, port)
    if not own or not all(comm(p) == "nginx" for p in own):
        return []
    status, _, body = await http_get(host, port, path + "_classroom/replicas", timeout=timeout)
    if status != 200:
        return []
    return [int(x.rsplit(":", 1)[1]) for x in body.decode().split() if ":" in x]


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q / 100 * (len(xs) - 1))))] if xs else float("nan")


async def level(n, args, host, port, path, explicit_pids):
    rng = random.Random(args.seed * 1000 + n)
    students = [Student(i) for i in range(n)]
    replica_ports = await upstream_ports(host, port, path, args.timeout)

    def pids_of():
        if explicit_pids:
            return explicit_pids
        if replica_ports:
            return sorted({p for q in replica_ports for p in listeners(q)})
        return listeners(port)

    budget = args.think[1] * (args.changes + 1) + args.timeout * (args.changes + 2)
    state = {"pids": await asyncio.to_thread(pids_of)}
    cpu0, _ = usage(state["pids"])
    stop_at = time.perf_counter() + budget
    done = asyncio.Event()
    out = {"health": [], "rss": []}
    watcher = asyncio.create_task(watch(host, port, path, pids_of, state, done, out))
    t0 = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(student(s, args, host, port, path, stop_at, rng) for s in students)),
                           budget + 10)
    wall = time.perf_counter() - t0
    done.set()
    await watcher
    pids = state["pids"]
    cpu1, rss = usage(pids)
    lat = [x for s in students for x in s.latencies]
    errors = {}
    for s in students:
        for kind, detail in s.errors:
            errors.setdefault(kind, []).append(detail)
    sticky = [len(set(s.replicas)) <= 1 for s in students if s.replicas]
    frag = [x for s in students for x, f in zip(s.latencies, s.fragment) if f]
    full = [x for s in students for x, f in zip(s.latencies, s.fragment) if not f]
    return dict(
        fragment_changes=len(frag), fragment_p50=pct(frag, 50), fragment_p95=pct(frag, 95),
        full_changes=len(full), full_p50=pct(full, 50), full_p95=pct(full, 95),
        sessions=n, changes=len(lat), p50=pct(lat, 50), p95=pct(lat, 95), max=max(lat, default=float("nan")),
        open_p95=pct([s.opened for s in students if s.opened is not None], 95),
        errors={k: len(v) for k, v in errors.items()}, error_examples={k: v[0] for k, v in errors.items()},
        health_ok=sum(h != float("inf") for h in out["health"]), health_p95=pct(out["health"], 95),
        health_max=max(out["health"], default=float("nan")),
        cpu_s=cpu1 - cpu0, wall_s=wall,
        cpu_per_run_ms=1000 * (cpu1 - cpu0) / max(len(lat) + sum(s.opened is not None for s in students), 1),
        rss_mib=max(out["rss"] + [rss]) / 2**20, pids=pids,
        replicas=sorted({r for s in students for r in s.replicas}),
        sticky=f"{sum(sticky)}/{len(sticky)}" if sticky else "n/a")


# ---------------------------------------------------------------------------------------------

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", default="http://localhost:8501/", help="the app, on this machine (default %(default)s)")
    p.add_argument("--sessions", default="1,10,25,50", help="students per level, comma-separated")
    p.add_argument("--changes", type=int, default=10, help="control changes per student (default %(default)s)")
    p.add_argument("--think", default="2-5", help="seconds between changes, uniform in LOW-HIGH")
    p.add_argument("--controls", default=CONTROLS,
                   help="widget keys the students change in turn (default %(default)s)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds any one wait may take")
    p.add_argument("--pids", default="", help="server PIDs to measure (default: found from the URL's port)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pause", type=float, default=3.0, help="seconds between levels")
    p.add_argument("--json", help="also write the results to this file")
    p.add_argument("--no-warmup", dest="warmup", action="store_false",
                   help="measure from a cold server (default: one session first, not counted)")
    a = p.parse_args(argv)
    u = urllib.parse.urlsplit(a.url)
    if u.scheme != "http" or u.hostname not in LOCAL_HOSTS:
        p.error(f"--url must be http:// on this machine ({', '.join(LOCAL_HOSTS)}); got {a.url!r}")
    try:
        a.levels = [int(x) for x in a.sessions.split(",")]
        lo, hi = (float(x) for x in a.think.split("-"))
        a.pids_list = [int(x) for x in a.pids.split(",") if x.strip()]
    except ValueError:
        p.error("--sessions: integers like 1,10,25; --think: LOW-HIGH seconds like 2-5; --pids: integers")
    if not a.levels or min(a.levels) < 1 or max(a.levels) > 500:
        p.error(f"--sessions: 1 to 500 students per level; got {a.sessions!r}")
    if not 0 <= lo <= hi <= 600:
        p.error(f"--think: 0 <= LOW <= HIGH <= 600 seconds; got {a.think!r}")
    if not 0 <= a.changes <= 1000 or not 0 < a.timeout <= 600:
        p.error("--changes: 0 to 1000; --timeout: above 0, at most 600 s")
    a.think = (lo, hi)
    a.controls = [k.strip() for k in a.controls.split(",") if k.strip()]
    if not a.controls:
        p.error("--controls: at least one widget key")
    return a


def fmt(x):
    return f"{x:.2f}" if x == x and x != float("inf") else ("inf" if x == float("inf") else "-")


async def main(argv=None):
    args = parse_args(argv)
    u = urllib.parse.urlsplit(args.url)
    host, port = u.hostname, u.port or 80
    path = (u.path or "/") if (u.path or "/").endswith("/") else u.path + "/"
    print(f"# classroom_load: {args.url} | streamlit {streamlit.__version__} | websockets {websockets.__version__} "
          f"| python {platform.python_version()} | {os.cpu_count()} cores | think {args.think[0]:g}-"
          f"{args.think[1]:g} s | {args.changes} changes | controls {','.join(args.controls)}")
    status, _, _ = await http_get(host, port, path + "_stcore/health", timeout=args.timeout)
    if status != 200:
        raise SystemExit(f"{args.url}: /_stcore/health answered {status}; is the app running there?")
    if args.warmup:  # a cold server imports torch on its first run: not a student's latency
        warm = argparse.Namespace(**{**vars(args), "changes": 0, "think": (0, 0), "timeout": 180})
        await level(1, warm, host, port, path, args.pids_list)
    rows = []
    print("| sessions | changes | p50 s | p95 s | max s | open p95 s | errors | health p95/max s "
          "| CPU ms/run | server CPU % | RSS MiB | sticky |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for i, n in enumerate(args.levels):
        if i:
            await asyncio.sleep(args.pause)
        r = await level(n, args, host, port, path, args.pids_list)
        rows.append(r)
        errs = ", ".join(f"{v} {k}" for k, v in r["errors"].items()) or "0"
        print(f"| {n} | {r['changes']} | {fmt(r['p50'])} | {fmt(r['p95'])} | {fmt(r['max'])} | {fmt(r['open_p95'])} "
              f"| {errs} | {fmt(r['health_p95'])}/{fmt(r['health_max'])} | {r['cpu_per_run_ms']:.0f} "
              f"| {100 * r['cpu_s'] / r['wall_s']:.0f} | {r['rss_mib']:.0f} | {r['sticky']} |", flush=True)
        print(f"#   fragment runs (View controls): {r['fragment_changes']} changes, p50 {fmt(r['fragment_p50'])} s, "
              f"p95 {fmt(r['fragment_p95'])} s; full runs (sidebar controls): {r['full_changes']} changes, "
              f"p50 {fmt(r['full_p50'])} s, p95 {fmt(r['full_p95'])} s")
        for k, v in r["error_examples"].items():
            print(f"#   e.g. {k}: {v}")
    print(f"# server pids measured: {rows[-1]['pids']}; replicas seen: {rows[-1]['replicas'] or 'none (one server)'}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return rows


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(130)
