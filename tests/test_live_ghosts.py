"""Before/after on Live (issue 13, item 7): a finished run stays on the next run's loss panel as a
faint "ghost" labelled by what differed, at most three, until Clear ghosts; and ``?view=projector``
turns on the projector's fonts for the page's charts. Driven headless with AppTest."""
import json
import time

from helpers import app_test


def _wait_done(at, steps: int):
    deadline = time.time() + 90
    while time.time() < deadline:
        at.run()
        if any("completed" in str(p.proto) and f"step {steps}/{steps}" in str(p.proto) for p in at.get("progress")):
            return
        time.sleep(0.3)
    raise AssertionError("the run did not complete")


def _loss_names(at) -> list[str]:
    chart = next(c for c in at.get("plotly_chart") if c.key == "dash_loss")
    return [t.get("name") for t in json.loads(chart.proto.spec)["data"]]


def _train(at, layers: int, steps: int = 6):
    at.number_input(key="cfg_layers").set_value(layers).run()
    at.button(key="btn_train").click().run()
    _wait_done(at, steps)


def test_previous_runs_become_labelled_ghosts_until_cleared():
    at = app_test(steps="6", probe_every="2", eval_every="0", attention_every="0", d_model="16", heads="2",
                  d_ff="32")
    # AppTest sessions share session-scoped resources (the SessionRun): start from a clean slate
    if not at.button(key="btn_reset").disabled:
        at.button(key="btn_reset").click().run()
    if not at.button(key="btn_clear_ghosts").disabled:
        at.button(key="btn_clear_ghosts").click().run()
    _train(at, 1)
    assert _loss_names(at) == ["train"]  # a first run has no ghost
    assert at.button(key="btn_clear_ghosts").disabled
    _train(at, 2)
    assert _loss_names(at) == ["ghost · layers 1", "train"]
    for layers in (3, 4, 1):
        _train(at, layers)
    names = _loss_names(at)  # the last three, newest first, each by what differed from this run
    assert names == ["ghost · layers 4", "ghost · layers 3", "ghost · layers 2", "train"], names
    assert not at.button(key="btn_clear_ghosts").disabled
    at.button(key="btn_clear_ghosts").click().run()
    assert _loss_names(at) == ["train"]
    _train(at, 2)  # the run on screen when they were cleared is the next run's "before"
    assert _loss_names(at) == ["ghost · layers 1", "train"]
    assert not at.exception


def test_projector_link_enlarges_every_live_chart_and_stays_in_the_url():
    at = app_test(view="projector", steps="4", probe_every="2", eval_every="0", attention_every="2", layers="1",
                  d_model="16", heads="2", d_ff="32")
    assert at.toggle(key="opt_projector").value is True
    at.button(key="btn_train").click().run()
    _wait_done(at, 4)
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert len(specs) >= 5  # the dashboard and, the run over, the view in detail
    for spec in specs:
        lay = spec["layout"]
        assert lay["legend"]["font"]["size"] >= 14 and lay["title"]["font"]["size"] > 14
        assert all(v["tickfont"]["size"] >= 14 for k, v in lay.items() if k.startswith(("xaxis", "yaxis")))
    assert at.query_params["view"] in ("projector", ["projector"])
    at.toggle(key="opt_projector").set_value(False).run()
    assert "view" not in at.query_params
    spec = json.loads(next(c for c in at.get("plotly_chart") if c.key == "dash_loss").proto.spec)
    assert spec["layout"]["legend"]["font"]["size"] < 14
