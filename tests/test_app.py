"""The Streamlit app, driven headless with AppTest: controls, formula, validation, a short run."""
import base64
import json
import os
import time

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import resnorm
from resnorm.science.config import RunConfig
from resnorm.science.variants import block_latex
from helpers import ROOT, app_test



def app() -> AppTest:
    return app_test()


def train_button(at):
    return at.button(key="btn_train")


def test_page_opens_with_version_and_default_formula():
    at = app()
    assert not at.exception
    assert any(resnorm.__version__ in c.value for c in at.sidebar.caption)
    assert any(r"x \leftarrow x + F\big(\mathrm{LN}(x)\big)" in l.body for l in at.latex)
    assert not train_button(at).disabled


@pytest.mark.parametrize("key,value,expected", [
    ("cfg_norm_position", "post", r"x \leftarrow \mathrm{LN}\big(x + F(x)\big)"),
    ("cfg_norm_position", "sandwich", r"\mathrm{LN}_{\mathrm{out}}"),
    ("cfg_norm", "rmsnorm", r"F\big(\mathrm{RMS}(x)\big)"),
    ("cfg_residual", "off", r"x \leftarrow F\big(\mathrm{LN}(x)\big)"),
    ("cfg_residual", "rezero", r"\alpha_{\mathrm{rz}}"),
])
def test_toggles_change_the_displayed_formula(key, value, expected):
    at = app()
    before = at.latex[0].body
    at.selectbox(key=key).set_value(value).run()
    assert not at.exception
    assert at.latex[0].body != before
    assert expected in at.latex[0].body
    # the page shows exactly what the variant table says for the current choice
    s = at.session_state
    assert block_latex(s["cfg_norm_position"], s["cfg_residual"], s["cfg_norm"]) in at.latex[0].body


@pytest.mark.parametrize("changes,field_text", [
    ({"cfg_d_model": 30}, "divisible by heads"),
    ({"cfg_norm_position": "deepnorm", "cfg_residual": "off"}, "deepnorm defines its own skip path"),
    ({"cfg_arch": "encoder", "cfg_task": "add"}, "does not fit the encoder"),
])
def test_invalid_combination_shows_message_and_disables_train(changes, field_text):
    at = app()
    for key, value in changes.items():
        widget = at.number_input(key=key) if isinstance(value, int) else at.selectbox(key=key)
        widget.set_value(value)
    at.run()
    assert not at.exception
    assert any(field_text in e.value for e in at.sidebar.error), [e.value for e in at.sidebar.error]
    assert train_button(at).disabled
    assert any(field_text in w.value for w in at.warning)


def test_text_lm_without_text_explains_itself():
    at = app()
    at.selectbox(key="cfg_task").set_value("text-lm").run()
    assert any("upload a file of at most 5 MB (5,000,000 bytes) or paste" in e.value for e in at.sidebar.error)
    assert train_button(at).disabled
    at.text_area(key="cfg_text").set_value("   \n  ").run()
    assert any("empty or only whitespace" in e.value for e in at.sidebar.error)
    at.text_area(key="cfg_text").set_value("hello world, " * 50).run()
    assert not at.sidebar.error and not train_button(at).disabled


def test_short_run_completes_and_charts_contain_data():
    at = app()
    at.number_input(key="cfg_steps").set_value(40)
    at.number_input(key="cfg_layers").set_value(2)
    at.run()
    train_button(at).click().run()
    assert not at.exception
    deadline = time.time() + 90
    while time.time() < deadline:
        at.run()
        if any("completed" in str(getattr(p, "proto", "")) for p in at.get("progress")):
            break
        time.sleep(0.3)
    text = " ".join(str(p.proto) for p in at.get("progress"))
    assert "completed" in text and "step 40/40" in text, text
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    loss = [t for s in specs for t in s["data"] if t.get("name") == "training loss"]  # train/loss by its name
    assert loss, "no loss chart"
    # every chart view renders with data
    for view in ["Residual stream", "Gradients", "Ratios", "Attention", "Rank"]:
        at.segmented_control(key="opt_view").set_value(view).run()
        assert not at.exception
        specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
        assert specs and all(s["data"] for s in specs), view
    assert not at.button(key="btn_train").disabled  # ready for the next run
    assert at.button(key="btn_stop").disabled


def test_charts_are_rebuilt_only_when_the_data_or_their_options_change(monkeypatch):
    """Redrawing a finished run's page (any widget rerun) reuses its figures; new data, a new
    option or a new run builds them again — and what is drawn is always the current state."""
    from resnorm.studies import figures as F

    builds = []
    real = F.loss_figure
    monkeypatch.setattr(F, "loss_figure", lambda *a, **k: builds.append(k.get("log_y")) or real(*a, **k))
    at = app()
    at.number_input(key="cfg_steps").set_value(12)
    at.number_input(key="cfg_layers").set_value(1)
    at.run()
    train_button(at).click().run()
    deadline = time.time() + 60
    while time.time() < deadline and not any("completed" in str(p.proto) for p in at.get("progress")):
        time.sleep(0.2)
        at.run()
    assert any("step 12/12" in str(p.proto) for p in at.get("progress"))

    def loss_spec():  # the Loss view's chart (the dashboard's loss panel above it is another builder)
        specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
        return next(s for s in specs if any(t.get("name") == "training loss" for t in s["data"]))

    def loss_points():
        spec = loss_spec()
        x = [t["x"] for t in spec["data"] if t.get("name") == "training loss"][0]
        if isinstance(x, dict):  # Plotly's typed-array encoding: {"dtype": …, "bdata": base64}
            return len(np.frombuffer(base64.b64decode(x["bdata"]), dtype=x["dtype"]))
        return len(x)

    assert loss_points() == 12
    n = len(builds)
    for _ in range(3):  # reruns with nothing new: the cached figure is sent again
        at.run()
    assert len(builds) == n and loss_points() == 12
    at.toggle(key="opt_log_loss").set_value(True).run()  # a new option: rebuilt, with the log axis
    assert builds[n:] == [True]
    assert loss_spec()["layout"]["yaxis"]["type"] == "log"
    at.number_input(key="cfg_steps").set_value(5).run()
    train_button(at).click().run()  # a new run: new data, new figure
    deadline = time.time() + 60
    while time.time() < deadline and not any("step 5/5" in str(p.proto) and "completed" in str(p.proto)
                                             for p in at.get("progress")):
        time.sleep(0.2)
        at.run()
    assert loss_points() == 5 and len(builds) > n + 1


def test_upload_limit_agrees_with_package():
    import tomllib

    from resnorm.science.tasks import MAX_TEXT_BYTES

    with open(os.path.join(ROOT, ".streamlit", "config.toml"), "rb") as fh:
        cfg = tomllib.load(fh)
    assert cfg["server"]["maxUploadSize"] * 1000 * 1000 == MAX_TEXT_BYTES  # the browser counts MB of 10**6 bytes
    assert cfg["client"]["toolbarMode"] == "viewer"  # no "Deploy" button or developer menu in front of a room


@pytest.mark.parametrize("env, value", [("RESNORM_MAX_TRAININGS", "0"), ("RESNORM_MAX_TRAININGS", "abc"),
                                        ("RESNORM_WORKERS", "fork"), ("RESNORM_WORKER_NICE", "high"),
                                        ("RESNORM_CPU_THREADS", "two"), ("RESNORM_MAX_RUN_GB", "lots"),
                                        ("RESNORM_PAUSE_GRACE_S", "-1")])
def test_a_bad_server_setting_is_named_on_the_page_not_a_traceback(env, value, monkeypatch):
    monkeypatch.setenv(env, value)
    at = app()
    assert not at.exception
    assert any(env in e.value and value in e.value for e in at.error), [e.value for e in at.error]
    assert not at.get("button")  # the page stops there: nothing to press that would fail later


def test_a_preempted_pause_is_explained_on_the_page(monkeypatch):
    from resnorm.serving.sessions import SessionRun
    from resnorm.serving.slots import global_slots

    monkeypatch.setenv("RESNORM_PAUSE_GRACE_S", "1")
    slots = global_slots()
    held = []
    at = app()
    at.number_input(key="cfg_steps").set_value(1_000_000)
    at.number_input(key="cfg_layers").set_value(1)
    at.run()
    while slots.busy < slots.capacity - 1 and (token := slots.acquire()) is not None:
        held.append(token)  # this page's run will take the last free slot
    try:
        train_button(at).click().run()
        deadline = time.time() + 30  # "starting…" until the worker's first step, then "running"
        while time.time() < deadline and not any("running" in str(p.proto) for p in at.get("progress")):
            time.sleep(0.2)
            at.run()
        assert any("running" in str(p.proto) for p in at.get("progress"))
        at.button(key="btn_pause").click().run()
        waiter = SessionRun(slots, save=False)
        assert waiter.start(RunConfig.from_flat({"steps": 3, "layers": 1})) is None and waiter.status == "queued"
        deadline = time.time() + 30
        while time.time() < deadline and not any("paused while others waited" in i.value for i in at.info):
            time.sleep(0.3)
            at.run()
        assert any("Stopped after 1 s paused while others waited" in i.value for i in at.info)
        assert any("stopped" in str(p.proto) for p in at.get("progress"))
        deadline = time.time() + 60
        while time.time() < deadline and not (waiter.trainer is not None and waiter.trainer.done):
            time.sleep(0.1)
        assert waiter.status == "completed"  # the slot went to the one waiting
    finally:
        for token in held:
            slots.release(token)
        stop = at.button(key="btn_stop")
        if not stop.disabled:  # never leave a million-step run behind for the next test's session
            stop.click().run()
