"""The load test's measuring code (the load test itself runs by hand: tests/load/run_load.py)."""
import base64
import os
import sys

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "load"))
from run_load import refresh_round_trips  # noqa: E402


def sent(t, fragment="", auto=False):
    m = BackMsg()
    m.rerun_script.fragment_id, m.rerun_script.is_auto_rerun = fragment, auto
    return {"t": t, "d": "out", "b": base64.b64encode(m.SerializeToString()).decode()}


def finished(t, status):
    m = ForwardMsg()
    m.script_finished = status
    return {"t": t, "d": "in", "b": base64.b64encode(m.SerializeToString()).decode()}


def test_each_rerun_request_is_timed_to_the_first_completed_run_after_it():
    S = ForwardMsg.ScriptFinishedStatus
    frames = [sent(0, "f", auto=True), finished(10, S.FINISHED_EARLY_FOR_RERUN),  # interrupted by the next
              sent(20, "f"), finished(50, S.FINISHED_FRAGMENT_RUN_SUCCESSFULLY),
              sent(100), finished(130, S.FINISHED_SUCCESSFULLY),
              sent(200, "f", auto=True), finished(240, S.FINISHED_FRAGMENT_RUN_SUCCESSFULLY)]
    trips = refresh_round_trips(frames)
    # the interrupted timer refresh waited until the completed run at 50: counted as 50 ms, not dropped
    assert trips == {"auto": [50, 40], "panel": [30], "page": [30]}
