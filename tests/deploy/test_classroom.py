"""deploy/classroom.sh with two replicas behind nginx, driven through Streamlit's own websocket (issue 12).

A short load test (benchmarks/classroom_load.py), stickiness (every response of a session names
the replica nginx sent it to, X-Replica), a replica killed during a run, and a clean stop. Skips
with a reason where nginx is absent. CLASSROOM_TEST_SESSIONS / CLASSROOM_TEST_CHANGES run a longer
load locally (defaults 4 and 3).
"""
import asyncio
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
import classroom_load as cl  # noqa: E402

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (Debian: apt-get install nginx-light)")
SESSIONS = int(os.environ.get("CLASSROOM_TEST_SESSIONS", 4))
CHANGES = int(os.environ.get("CLASSROOM_TEST_CHANGES", 3))
TIMEOUT = 60  # s: any one wait; the machine running CI may be busy


def free_base(n):
    """A port P with P..P+n free on 127.0.0.1."""
    rng = random.Random(os.getpid())
    for _ in range(50):
        base = rng.randrange(20000, 40000)
        try:
            socks = []
            for p in range(base, base + n + 1):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    pytest.skip("no free ports")


@pytest.fixture(scope="module")
def classroom(tmp_path_factory):
    port = free_base(2)
    run = tmp_path_factory.mktemp("classroom")
    log = open(run / "classroom.out", "w+")
    proc = subprocess.Popen(["bash", str(ROOT / "deploy" / "classroom.sh"), "--replicas", "2", "--port", str(port),
                             "--address", "127.0.0.1", "--run-dir", str(run / "run")],
                            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHON": sys.executable},
                            start_new_session=True)
    end = time.monotonic() + 240  # two replicas import torch and warm up on a shared 2-core machine
    while "ready:" not in (run / "classroom.out").read_text():
        if proc.poll() is not None or time.monotonic() > end:
            proc.kill()
            pytest.fail(f"classroom.sh did not become ready:\n{(run / 'classroom.out').read_text()}")
        time.sleep(0.5)
    yield dict(proc=proc, port=port, url=f"http://127.0.0.1:{port}/", out=run / "classroom.out", run=run / "run")
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)


async def open_session(port, cookies=""):
    """GET the page and open its websocket like a browser: (replicas named, cookies, ws, page) after the first run."""
    status, headers, _ = await cl.http_get("127.0.0.1", port, "/", cookies, timeout=TIMEOUT)
    assert status == 200
    jar = dict(c.split("=", 1) for c in cookies.split("; ") if c)
    cookies = cl.cookie_jar(headers, jar)
    ws = await cl.websockets.connect(f"ws://127.0.0.1:{port}/_stcore/stream", subprotocols=["streamlit"],
                                     additional_headers={"Cookie": cookies}, max_size=2**27, open_timeout=TIMEOUT,
                                     ping_interval=None)
    replicas = headers[cl.REPLICA_HEADER] + ws.response.headers.get_all(cl.REPLICA_HEADER)
    page = cl.Page()
    await ws.send(page.rerun())
    await cl.run_until_finished(ws, page, TIMEOUT)
    return replicas, cookies, ws, page


async def change(ws, page, key, rng):
    wid, w = page.find(key)
    w.value = cl.new_value(w, rng)
    await cl.send(ws, page.rerun(w.fragment))
    await cl.run_until_finished(ws, page, TIMEOUT)


def test_short_load_through_the_proxy_has_no_errors(classroom):
    rows = asyncio.run(cl.main(["--url", classroom["url"], "--sessions", str(SESSIONS), "--changes", str(CHANGES),
                                "--think", "0.1-0.4", "--timeout", str(TIMEOUT)]))
    (r,) = rows
    assert r["errors"] == {}, r["error_examples"]
    assert r["changes"] == SESSIONS * CHANGES
    assert r["sticky"] == f"{SESSIONS}/{SESSIONS}"
    assert len(r["pids"]) == 2 and r["rss_mib"] > 0  # both replicas measured (nginx lists them)
    assert r["health_ok"] > 0  # answered while loaded (its latency is the benchmark's business)


def test_a_view_change_reruns_the_view_and_not_the_sidebar(classroom):
    """The opening view's View controls are in an st.fragment: a change of one draws that fragment's
    widgets and the heatmap, not the sidebar's; a sidebar change draws everything."""
    rng = random.Random(2)

    async def go():
        _, _, ws, page = await open_session(classroom["port"])
        try:
            sidebar, view = page.find("iseed")[1], page.find("seq")[1]
            assert sidebar.fragment == "" and view.fragment != ""
            assert {"iseed", "input", "source", "seq", "window", "fields"} <= set(page.drawn)
            for key in ("seq", "window", "fields"):
                await change(ws, page, key, rng)
                assert {"seq", "window", "fields", "exact"} <= set(page.drawn), page.drawn
                assert not {"iseed", "input", "source", "task"} & set(page.drawn), page.drawn
            await change(ws, page, "iseed", rng)
            assert {"iseed", "input", "seq"} <= set(page.drawn)
        finally:
            await cl.close(ws)
    asyncio.run(go())


async def sessions_on_both_replicas(port):
    """Open sessions until each replica holds one (nginx hashes fresh browsers at random)."""
    by_replica = {}
    for _ in range(24):
        s = await open_session(port)
        by_replica.setdefault(s[0][0], []).append(s)
        if len(by_replica) == 2:
            return by_replica
    raise AssertionError(f"24 fresh sessions all went to {list(by_replica)}")


def test_sessions_stay_on_their_replica_and_outlive_a_killed_one(classroom):
    port, rng = classroom["port"], random.Random(1)

    async def go():
        by_replica = await sessions_on_both_replicas(port)
        # Stickiness: the page, its websocket upgrade, a reload all name the replica of the first page;
        # reruns travel on that websocket.
        for replica, sessions in by_replica.items():
            replicas, cookies, ws, page = sessions[0]
            assert set(replicas) == {replica}
            await change(ws, page, "iseed", rng)
            again, _, ws2, _ = await open_session(port, cookies)
            assert set(again) == {replica}
            await cl.close(ws2)
        # A replica killed during the run: the other students go on...
        (victim, victims), (survivor, survivors) = sorted(by_replica.items())
        pid = cl.listeners(int(victim.rsplit(":", 1)[1]))
        assert len(pid) == 1
        os.kill(pid[0], signal.SIGKILL)
        for _, _, ws, page in survivors:
            await change(ws, page, "seq", rng)
        _, cookies, ws, page = victims[0]
        with pytest.raises(cl.Failure, match="closed"):
            await change(ws, page, "seq", rng)
        # ...and the killed replica's students get a working page on reload (another replica, or
        # the restarted one).
        _, _, ws2, page2 = await open_session(port, cookies)
        await change(ws2, page2, "window", rng)
        for s in [*survivors, *victims]:
            await cl.close(s[2])
        await cl.close(ws2)
    asyncio.run(go())
    end = time.monotonic() + 30
    while "exited; restarting it" not in classroom["out"].read_text():
        assert time.monotonic() < end, classroom["out"].read_text()
        time.sleep(0.5)


def test_sigterm_stops_everything_it_started(classroom):
    port, proc = classroom["port"], classroom["proc"]
    pids = cl.listeners(port) + cl.listeners(port + 1) + cl.listeners(port + 2)
    assert pids
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 143
    time.sleep(0.5)
    alive = [p for p in pids if os.path.exists(f"/proc/{p}") and cl.comm(p) not in ("", "zombie")]
    assert not alive, [cl.comm(p) for p in alive]
    assert not classroom["run"].exists() or not (classroom["run"] / "nginx.pid").exists()
