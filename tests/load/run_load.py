"""Load test: N real browser sessions against one local server, each training and watching.

    python tests/load/run_load.py --sessions 10 --steps 200

Starts `streamlit run app.py` on a free loopback port (processes as deployed), opens N sessions
— headless Chromium pages (``--clients browser``, the default; separate contexts = separate
sessions) or websocket clients that speak Streamlit's protocol (``--clients ws``,
``ws_client.py``: the server's share alone, no browser drawing on the same cores) — presses Train
in each, then, until every run has ended, measures:

- refresh round trip: from each rerun request a page sends (its live panel's timer, a widget in
  the panel, or the whole page) to the server's ``script_finished`` for it, timed in the page from
  its websocket frames — the server's share of a refresh, without the browser's drawing;
- toggle to repaint: from clicking a training page's "log scale" toggle to its chart showing the
  new axis — end to end, the browser's Plotly drawing included (up to ``--toggles`` per page);
- steps/s of each run (from its progress line) and whether it completed, was queued first, or
  was lost (never finished);
- server memory: RSS of the server and its training processes, sampled every second.

The runs train where the server's config puts them (``device=auto``: the GPU when there is one),
and the report names that device. ``--trainings N`` sets the training-slot cap
(``RESNORM_MAX_TRAININGS``; default: one per GPU, else one per core): on a GPU, N worker processes
then share it, each capped at 1/N of its memory.

Not part of the default test run (it takes minutes); the last report is in BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def descendants(pid: int) -> list[int]:
    """A process and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(p))
            except OSError:
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def rss_tree_mb(pid: int) -> float:
    """RSS of a process and its descendants, from /proc."""
    total = 0
    for p in descendants(pid):
        try:
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def quantiles(values) -> dict:
    return {"p50": round(pct(values, 0.5)) if values else None, "p95": round(pct(values, 0.95)) if values else None,
            "samples": len(values)}


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))] if values else float("nan")


# Recorded in each page: when every websocket frame was sent, and the small frames received
# (``script_finished`` is a few bytes; chart deltas are not kept), as base64 for decoding here.
WS_RECORDER = """(() => {
  const Native = window.WebSocket;
  const frames = window.__resnormFrames = [];
  const b64 = (buf) => { const a = new Uint8Array(buf); let s = "";
    for (let i = 0; i < a.length; i += 0x8000) s += String.fromCharCode.apply(null, a.subarray(i, i + 0x8000));
    return btoa(s); };
  class Recording extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (ev) => {
        const t = performance.now();
        const keep = (buf) => { if (buf.byteLength < 1024) frames.push({t, d: "in", b: b64(buf)}); };
        if (ev.data instanceof ArrayBuffer) keep(ev.data);
        else if (ev.data instanceof Blob) ev.data.arrayBuffer().then(keep);
      });
    }
    send(data) {
      const buf = data instanceof ArrayBuffer ? data : data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
      frames.push({t: performance.now(), d: "out", b: b64(buf)});
      return super.send(data);
    }
  }
  window.WebSocket = Recording;
})();"""


def refresh_round_trips(frames: list[dict]) -> dict[str, list[float]]:
    """Milliseconds from each rerun request the page sent to the server's ``script_finished`` for
    it — the server's share of a refresh, as the browser sees it, without the browser's drawing.
    Kinds: ``auto`` (a live panel's timer), ``panel`` (a widget inside the panel, e.g. the log-scale
    toggle: the panel alone reruns), ``page`` (the whole page: first load, Train, sidebar).

    A request is answered by the first completed run after it: when a newer request interrupts
    one (``FINISHED_EARLY_FOR_RERUN``) or Streamlit merges several, every waiting request counts
    until that completion — the conservative reading, since the page waited that long for it."""
    import base64

    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    events = []
    for f in frames:
        raw = base64.b64decode(f["b"])
        if f["d"] == "out":
            msg = BackMsg.FromString(raw)
            if msg.WhichOneof("type") == "rerun_script":
                r = msg.rerun_script
                events.append((f["t"], "auto" if r.is_auto_rerun else "panel" if r.fragment_id else "page"))
        else:
            try:
                msg = ForwardMsg.FromString(raw)
            except Exception:  # noqa: BLE001 - not a whole ForwardMsg: not ours to count
                continue
            if msg.WhichOneof("type") == "script_finished" and \
                    msg.script_finished != ForwardMsg.ScriptFinishedStatus.FINISHED_EARLY_FOR_RERUN:
                events.append((f["t"], "finished"))
    out, pending = {"auto": [], "panel": [], "page": []}, []
    for t, kind in sorted(events):
        if kind == "finished":
            for t0, k in pending:
                out[k].append(t - t0)
            pending = []
        else:
            pending.append((t, kind))
    return out


def browser_sessions(args, url):
    """N headless Chromium pages (one browser context = one session each): Train, then sample."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking"])
        pages = []
        for i in range(args.sessions):
            page = browser.new_page(viewport={"width": 1300, "height": 1100})
            page.add_init_script(WS_RECORDER)
            page.goto(f"{url}/?steps={args.steps}&seed={i}", wait_until="domcontentloaded")
            pages.append(page)
        for page in pages:
            page.get_by_role("button", name=re.compile("Train")).wait_for(timeout=120_000)
        if args.browser_nice:
            for pid in descendants(os.getpid()):
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as fh:
                        if b"chrom" in fh.read():
                            os.setpriority(os.PRIO_PROCESS, pid, args.browser_nice)
                except OSError:
                    pass
        queued = set()
        for i, page in enumerate(pages):
            page.get_by_role("button", name=re.compile("Train")).click()
        for i, page in enumerate(pages):
            page.wait_for_timeout(300)
            if page.get_by_text(re.compile("[Qq]ueued")).count():
                queued.add(i)
        latencies, errors, toggled, results = [], 0, [0] * len(pages), {}
        deadline = time.time() + args.timeout
        while len(results) < len(pages) and time.time() < deadline:
            for i, page in enumerate(pages):
                if i in results:
                    continue
                txt = page.get_by_text(re.compile(r"step \d+/\d+")).first
                status = txt.inner_text() if txt.count() else ""
                if re.search(r"completed|failed|stopped|diverged", status):
                    m = re.search(r"step (\d+)/(\d+) · ([\d.]+) steps/s", status)
                    results[i] = {"session": i, "status": status.split("·")[0].strip(" *"),
                                  "steps": int(m.group(1)) if m else 0,
                                  "steps_per_s": float(m.group(3)) if m else 0.0, "queued_first": i in queued,
                                  "exceptions": page.locator('[data-testid="stException"]').count()}
                    continue
                # a latency sample on a page whose run is training now
                if "running" not in status or toggled[i] >= args.toggles or \
                        not page.locator(".js-plotly-plot").count():
                    continue
                toggle = page.get_by_text("log scale", exact=True)
                if not toggle.count():
                    continue
                before = page.evaluate("() => { const p = document.querySelector('.js-plotly-plot');"
                                       " return p && p._fullLayout ? p._fullLayout.yaxis.type : null }")
                start = time.perf_counter()
                toggle.click()
                toggled[i] += 1
                try:
                    page.wait_for_function(
                        "(b) => { const p = document.querySelector('.js-plotly-plot');"
                        " return p && p._fullLayout && p._fullLayout.yaxis.type !== b }", arg=before,
                        timeout=30_000)
                    latencies.append((time.perf_counter() - start) * 1000)
                except Exception:  # noqa: BLE001 - counted, reported
                    errors += 1
            pages[0].wait_for_timeout(100)
        results = [results.get(i, {"session": i, "status": "lost (timed out)", "steps": 0, "steps_per_s": 0.0,
                                   "queued_first": i in queued, "exceptions": 0}) for i in range(len(pages))]
        round_trips = {"auto": [], "panel": [], "page": []}
        for page in pages:
            for kind, values in refresh_round_trips(page.evaluate("() => window.__resnormFrames || []")).items():
                round_trips[kind].extend(values)
        browser.close()
    return results, latencies, errors, round_trips


async def ws_sessions(args, url):
    """N websocket sessions (``ws_client.live_session``), started together."""
    from ws_client import live_session

    deadline = time.time() + args.timeout
    outs = await asyncio.gather(*(live_session(url, f"steps={args.steps}&seed={i}", deadline)
                                  for i in range(args.sessions)))
    results, trips = [], []
    for i, o in enumerate(outs):
        m = re.search(r"step (\d+)/(\d+) · ([\d.]+) steps/s", o["status"])
        results.append({"session": i, "status": re.sub(r":material/\w+:|\*", "", o["status"].split("·")[0]).strip(),
                        "steps": int(m.group(1)) if m else 0, "steps_per_s": float(m.group(3)) if m else 0.0,
                        "queued_first": o["queued"], "exceptions": len(o["errors"])})
        trips.extend(o["round_trips_ms"])
    return results, {"auto": trips}


def training_device() -> str:
    """The device the server's runs train on (``device=auto``), e.g. ``cpu`` or ``cuda: NVIDIA H200``."""
    sys.path.insert(0, ROOT)
    from resnorm.bench import device_name
    from resnorm.trainer import resolve_device

    return device_name(resolve_device("auto"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--toggles", type=int, default=6, help="latency samples per session")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--browser-nice", type=int, default=0, metavar="N",
                    help="run the Chromium processes at this nice value (0-19): stands in for browsers on the "
                         "learners' own machines, which do not take the server's cores")
    ap.add_argument("--clients", choices=("browser", "ws"), default="browser",
                    help="browser: headless Chromium pages (end to end, drawing included); ws: websocket "
                         "sessions that speak Streamlit's protocol (the server alone)")
    ap.add_argument("--trainings", type=int, default=None, metavar="N",
                    help="training-slot cap, RESNORM_MAX_TRAININGS (default: the server's own)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    port = free_port()
    log = open(os.path.join(os.environ.get("TMPDIR", "/tmp"), f"resnorm-load-{port}.log"), "w")
    env = {**os.environ, "RESNORM_WORKERS": "process", "PYTHONUNBUFFERED": "1"}
    if args.trainings is not None:
        env["RESNORM_MAX_TRAININGS"] = str(args.trainings)
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                               "--server.port", str(port), "--server.address", "127.0.0.1"],
                              cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    mem, stop_sampling = [], threading.Event()
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(url + "/_stcore/health", timeout=2)
                break
            except OSError:
                time.sleep(0.3)

        def sample():
            while not stop_sampling.is_set():
                mem.append(rss_tree_mb(server.pid))
                time.sleep(1.0)

        threading.Thread(target=sample, daemon=True).start()
        base_mem = rss_tree_mb(server.pid)
        t0 = time.time()
        if args.clients == "browser":
            results, latencies, errors, round_trips = browser_sessions(args, url)
        else:
            results, round_trips = asyncio.run(ws_sessions(args, url))
            latencies, errors = [], 0
        wall = time.time() - t0
    finally:
        stop_sampling.set()
        server.terminate()
        server.wait(20)
        log.close()
    done = [r for r in results if "completed" in r["status"]]
    report = {
        "sessions": args.sessions, "steps_per_run": args.steps, "wall_s": round(wall, 1),
        "clients": args.clients,
        "refresh_round_trip_ms": {kind: quantiles(v) for kind, v in round_trips.items()},
        "toggle_to_repaint_ms": {**quantiles(latencies), "timeouts": errors} if args.clients == "browser" else None,
        "steps_per_s_per_run": {"median": round(statistics.median([r["steps_per_s"] for r in done]), 1) if done else 0,
                                "min": round(min((r["steps_per_s"] for r in done), default=0), 1)},
        "runs": {"completed": len(done), "queued_first": sum(r["queued_first"] for r in results),
                 "lost": args.sessions - len(done), "page_exceptions": sum(r["exceptions"] for r in results)},
        "server_memory_mb": {"idle": round(base_mem), "peak": round(max(mem, default=0)),
                             "per_session_peak": round((max(mem, default=0) - base_mem) / args.sessions, 1)},
        "device": training_device(), "training_slots": args.trainings or "server default",
        "machine": f"{os.cpu_count()} cores; the server, the trainings and the "
                   + (f"{args.sessions} Chromium pages" + (f" (at nice {args.browser_nice})" if args.browser_nice else "")
                      if args.clients == "browser" else f"{args.sessions} websocket clients") + " share them",
    }
    print(json.dumps(report, indent=2) if args.json else json.dumps(report))
    return 0 if report["runs"]["lost"] == 0 and errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
