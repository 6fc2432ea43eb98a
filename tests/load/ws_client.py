"""A Streamlit session without a browser: speaks the app's websocket protocol (the protobuf
messages the frontend sends and receives), so a load test can time the server alone.

``live_session`` opens the Live page with a query string, presses Train, then behaves like the
page's live panel: every time the server asks for an automatic rerun (``auto_rerun``: fragment id
and interval) it requests one, and it times each request until the server's ``script_finished``
for it. A request that a newer one interrupts (``FINISHED_EARLY_FOR_RERUN``) counts until the
first completed run after it, as in the browser measurement.
"""
from __future__ import annotations

import asyncio
import re
import time

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

EARLY = ForwardMsg.ScriptFinishedStatus.FINISHED_EARLY_FOR_RERUN
FINAL = re.compile(r"completed|failed|stopped|diverged")


async def live_session(url: str, query: str, deadline: float) -> dict:
    """Run one session to the end of its training; returns its samples and last progress line."""
    ws_url = url.replace("http://", "ws://") + "/_stcore/stream"
    out = {"round_trips_ms": [], "status": "", "queued": False, "errors": []}
    async with websockets.connect(ws_url, subprotocols=["streamlit"], max_size=None) as ws:
        page_hash = ""
        pending: list[float] = []
        fragment, interval = None, None
        buttons: dict[str, str] = {}

        async def rerun(widget_trigger: str | None = None, auto: bool = False) -> None:
            msg = BackMsg()
            r = msg.rerun_script
            r.query_string, r.page_script_hash = query, page_hash
            if widget_trigger:
                w = r.widget_states.widgets.add()
                w.id, w.trigger_value = widget_trigger, True
            if auto and fragment:
                r.fragment_id, r.is_auto_rerun = fragment, True
            pending.append(time.perf_counter())
            await ws.send(msg.SerializeToString())

        async def until_finished() -> None:
            """Read messages until a completed script run; note buttons, progress, auto-rerun."""
            nonlocal page_hash, fragment, interval
            while True:
                raw = await asyncio.wait_for(ws.recv(), max(1.0, deadline - time.time()))
                f = ForwardMsg.FromString(raw)
                kind = f.WhichOneof("type")
                if kind == "new_session":
                    page_hash = f.new_session.page_script_hash
                elif kind == "auto_rerun":
                    fragment, interval = f.auto_rerun.fragment_id, f.auto_rerun.interval
                elif kind == "delta" and f.delta.WhichOneof("type") == "new_element":
                    el = f.delta.new_element
                    which = el.WhichOneof("type")
                    if which == "button":
                        buttons[el.button.label] = el.button.id
                    elif which == "progress":
                        out["status"] = el.progress.text
                    elif which == "alert" and "Queued" in el.alert.body:
                        out["queued"] = True
                        out["status"] = "queued"
                    elif which == "exception":
                        out["errors"].append(el.exception.message)
                elif kind == "script_finished" and f.script_finished != EARLY:
                    now = time.perf_counter()
                    out["round_trips_ms"].extend((now - t0) * 1000 for t0 in pending)
                    pending.clear()
                    return

        await rerun()  # the first page load
        await until_finished()
        out["round_trips_ms"].clear()  # the page load is not a refresh
        if "Train" not in buttons:
            out["errors"].append("no Train button")
            return out
        await rerun(widget_trigger=buttons["Train"])
        await until_finished()
        out["round_trips_ms"].clear()  # nor is the Train click (a whole-page rerun)
        while time.time() < deadline and not FINAL.search(out["status"]):
            await asyncio.sleep(interval or 0.5)
            await rerun(auto=True)
            await until_finished()
    return out
