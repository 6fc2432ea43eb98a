"""Comparisons: lockstep training, automatic events, verdicts, the Compare page."""
import json
import time

import numpy as np
import pytest

from resnorm.studies.compare import Comparison, detect_events, difference, verdict
from resnorm.science.config import RunConfig, parse_query, to_cli, to_python
from resnorm.science.store import Marker
from helpers import TINY, app_test, configs, wait

cfg = configs(TINY, seq_len=8, batch_size=8, steps=15, probe_every=5, eval_every=5, attention_every=0,
              device="auto")


def test_identical_configs_in_a_comparison_give_identical_metrics():
    c = Comparison([cfg(dropout=0.1), cfg(dropout=0.1)])
    c.run()
    a, b = (tr.store.frame() for tr in c.trainers)
    assert c.status == "completed" and len(a) > 50
    assert a.equals(b)


def test_lockstep_same_clock_and_stop_for_all():
    c = Comparison([cfg(steps=100_000), cfg(steps=100_000, norm_position="post"), cfg(steps=100_000, lr=3e-3)])
    c.start()
    end = time.time() + 60
    while c.step < 5 and time.time() < end:
        time.sleep(0.01)
    c.pause()
    end = time.time() + 30
    while c.status != "paused" and time.time() < end:
        time.sleep(0.01)
    steps = [tr.step for tr in c.trainers]
    assert len(set(steps)) == 1  # the same step clock
    c.stop()
    assert c.join(30) and c.status == "stopped"
    assert {tr.status for tr in c.trainers} == {"stopped"}
    assert len({tr.step for tr in c.trainers}) == 1


def test_one_diverging_config_does_not_stop_the_others():
    bad = cfg(lr=1e3, optimizer="sgd", grad_clip=0.0, init="torch", norm_position="none", norm="none", layers=4,
              steps=40)
    c = Comparison([cfg(steps=40), bad])
    c.run()
    good, div = c.trainers
    assert div.status == "diverged" and good.status == "completed" and good.step == 40
    events = detect_events(div.store.all_series(), div.store.markers())
    assert events[-1].kind in ("diverged", "grad jump") and any(e.kind == "diverged" for e in events)
    v = verdict("B", div, 1.0)
    assert v.status == "diverged" and "diverged at step" in v.line(1.0)


def test_post_vs_pre_gradient_profiles_differ_as_xiong_et_al_report():
    """At 12 layers, Pre-LN's per-layer gradient norm falls with depth; Post-LN's does not
    (relative to Pre-LN it is larger near the output): Xiong et al. 2020, Fig. 3."""
    slopes = {"post": [], "pre": []}
    for seed in range(2):
        c = Comparison([cfg(layers=12, d_model=32, heads=4, d_ff=64, steps=1, probe_every=1, seed=seed,
                            norm_position=p, batch_size=16) for p in ("post", "pre")])
        c.run()
        for p, tr in zip(("post", "pre"), c.trainers):
            s = tr.store.all_series()
            g = np.array([s[f"blocks.{i}.mlp.grad_norm"][1][0] for i in range(12)])
            slopes[p].append(np.polyfit(np.arange(12), np.log(g), 1)[0])
    assert np.mean(slopes["pre"]) < 0  # Pre-LN: smaller gradients in later layers
    assert np.mean(slopes["post"]) > np.mean(slopes["pre"]) + 0.01, slopes


def test_events_grad_jump_and_entropy_collapse():
    steps = np.arange(1, 31)
    g = np.ones(30)
    g[20] = 50.0
    ent = np.linspace(2.0, 0.05, 30)
    s = {"grad/total_norm": (steps, g), "blocks.0.attn.entropy": (steps, ent),
         "blocks.0.attn.head0.entropy": (steps, ent)}
    # entropy collapse is judged against uniform attention's entropy (here 2.0 nats): below 5 % of it
    ev = detect_events(s, [Marker(25, "diverged", "x")], {"unigram": 9.0, "uniform": {"blocks.0.attn": 2.0}})
    kinds = {e.kind: e.step for e in ev}
    assert kinds["grad jump"] == 21 and kinds["diverged"] == 25
    assert kinds["entropy collapse"] == int(steps[np.nonzero(ent < 0.1)[0][0]])
    assert [e.step for e in ev] == sorted(e.step for e in ev)


def test_difference_is_b_minus_a_on_common_steps():
    a = {"train/loss": (np.array([1, 2, 3]), np.array([3.0, 2.0, 1.0]))}
    b = {"train/loss": (np.array([2, 3, 4]), np.array([2.5, 0.5, 0.1]))}
    s, d = difference(a, b, "train/loss")
    assert list(s) == [2, 3] and list(d) == [0.5, -0.5]


def test_link_cli_and_python_round_trip():
    c = cfg(norm_position="post", mlp=False, lr=3e-4, layers=12)
    values, ignored = parse_query({k: str(v).lower() if isinstance(v, bool) else str(v)
                                   for k, v in c.to_flat().items() if k != "text_file"})
    assert not ignored and RunConfig.from_flat(values) == c
    from resnorm.cli import _config_from_args, build_parser
    import shlex

    argv = shlex.split(to_cli(c, out="/tmp/x"))[4:]  # after "python -m resnorm train"
    assert _config_from_args(build_parser().parse_args(["train"] + argv)).model == c.model
    ns = {}
    exec(to_python(c).split("trainer = ")[0], ns)
    assert ns["cfg"] == c


def test_compare_page_from_a_shared_link_runs_to_a_verdict():
    at = app_test(run=False)
    at.query_params.update({"norm_position": "post,pre", "layers": "3", "steps": "20", "lr": "bogus"})
    at.switch_page("app_pages/compare.py").run()
    assert not at.exception
    assert at.session_state["cmp_0_norm_position"] == "post" and at.session_state["cmp_1_norm_position"] == "pre"
    assert at.session_state["cmpb_layers"] == 3  # the Compare sidebar: shared settings
    assert any("lr='bogus'" in i.value for i in at.info)  # ignored values are listed
    at.button(key="cmp_train").click().run()
    end = time.time() + 90
    while time.time() < end and not any("Verdict" in m.value for m in at.markdown):
        time.sleep(0.3)
        at.run()
    assert any("Verdict" in m.value for m in at.markdown)
    lines = [m.value for m in at.markdown if m.value.startswith("- ")]
    assert len(lines) == 2 and lines[0].startswith("- A · Post-LN: final loss") and lines[1].startswith("- B · Pre-LN:")
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    loss = next(s for s in specs if "Training loss" in json.dumps(s["layout"].get("title", "")))
    assert {t["name"] for t in loss["data"]} == {"A · Post-LN", "B · Pre-LN"}  # named by what differs
    assert at.query_params["norm_position"] == ["post,pre"] or at.query_params["norm_position"] == "post,pre"


def test_invalid_variant_is_explained_and_blocks_training():
    at = app_test(run=False)
    at.switch_page("app_pages/compare.py").run()
    at.selectbox(key="cmp_1_norm_position").set_value("deepnorm")
    at.selectbox(key="cmp_1_residual").set_value("off")
    at.run()
    assert any("deepnorm defines its own skip path" in e.value for e in at.error)
    assert at.button(key="cmp_train").disabled


# ---- comparisons in a worker process and in the training-slot queue ---------------------------------------------
@pytest.mark.slow
def test_process_comparison_matches_the_thread_comparison_and_obeys_controls():
    from resnorm.serving.procworker import ProcessComparison

    configs = [cfg(steps=20, attention_every=10), cfg(steps=20, norm_position="post", attention_every=10),
               cfg(steps=12, lr=3e-3)]  # a shorter run ends first; the others go on
    here = Comparison(configs, ["A", "B", "C"])
    here.run()
    there = ProcessComparison(configs, ["A", "B", "C"]).start()
    assert there.join(120) and there.status == "completed" and there.step == here.step
    for a, b in zip(here.trainers, there.trainers):
        assert (b.status, b.step, b.summary.final_loss) == (a.status, a.step, a.summary.final_loss)
        assert b.store.frame().equals(a.store.frame())
        assert len(b.store.attention()) == len(a.store.attention())
        assert all(np.array_equal(v.numpy(), a.model.state_dict()[k].numpy()) for k, v in b.model.state_dict().items())

    long = ProcessComparison([cfg(steps=100_000), cfg(steps=100_000, norm_position="post")]).start()
    assert wait(lambda: long.step >= 3)
    long.pause()
    assert wait(lambda: long.status == "paused")
    s = [tr.step for tr in long.trainers]
    assert len(set(s)) == 1  # the same step clock
    time.sleep(0.5)
    assert [tr.step for tr in long.trainers] == s
    long.resume()
    assert wait(lambda: long.trainers[0].step > s[0] + 2)
    long.stop()
    assert long.join(30) and long.status == "stopped" and {tr.status for tr in long.trainers} == {"stopped"}


@pytest.mark.slow
def test_comparisons_queue_for_a_slot_and_a_killed_worker_fails_all_its_runs(monkeypatch):
    from resnorm.serving.sessions import SessionCompare
    from resnorm.serving.slots import TrainingSlots

    monkeypatch.setenv("RESNORM_WORKERS", "process")
    slots = TrainingSlots(capacity=1)
    first, second = SessionCompare(slots, save=False), SessionCompare(slots, save=False)
    assert first.start([cfg(steps=100_000), cfg(steps=100_000, norm_position="post")]) is None
    assert second.start([cfg(steps=8), cfg(steps=8, norm="rmsnorm")]) is None
    assert (second.status, second.queue_position, second.comparison) == ("queued", 1, None)
    assert wait(lambda: first.comparison.step >= 3)
    first.comparison.kill()  # a crash: every run of the comparison ends failed, what arrived is kept
    assert wait(lambda: first.comparison.done) and first.status == "failed"
    assert all(tr.status == "failed" and "ended unexpectedly" in tr.reason for tr in first.comparison.trainers)
    assert all(len(tr.store.series("train/loss")[0]) >= 1 for tr in first.comparison.trainers)
    # the slot went to the queued comparison, which runs to its end
    assert wait(lambda: second.comparison is not None and second.comparison.done, 120)
    assert second.status == "completed" and [tr.step for tr in second.comparison.trainers] == [8, 8]
    assert wait(lambda: slots.busy == 0) and slots.queued == 0
    assert "2 to 4 configs" in second.start([cfg()])  # refused before queueing


def test_leaving_the_compare_queue_gives_the_slot_to_the_next(monkeypatch):
    from resnorm.serving.sessions import SessionCompare
    from resnorm.serving.slots import TrainingSlots

    slots = TrainingSlots(capacity=1)
    a, b, c = (SessionCompare(slots, save=False) for _ in range(3))
    assert a.start([cfg(steps=100_000), cfg(steps=100_000)]) is None
    assert b.start([cfg(steps=5), cfg(steps=5)]) is None and c.start([cfg(steps=5), cfg(steps=5)]) is None
    assert (b.queue_position, c.queue_position) == (1, 2)
    b.close()  # b's tab closes while it waits
    assert b.status == "idle" and c.queue_position == 1
    a.close()
    assert wait(lambda: c.comparison is not None and c.comparison.done) and c.status == "completed"
    assert b.comparison is None and wait(lambda: slots.busy == 0)


def test_compare_page_shows_its_place_in_the_queue_and_starts_when_a_slot_frees():
    from resnorm.serving.slots import global_slots

    slots = global_slots()  # the server's slots (the page's session may already hold its SessionCompare)
    held = []
    while (token := slots.acquire()) is not None:  # somebody else's trainings hold every slot
        held.append(token)
    at = app_test(run=False)
    at.query_params.update({"steps": "10", "layers": "1"})
    at.switch_page("app_pages/compare.py").run()
    at.button(key="cmp_train").click().run()
    assert not at.exception and not at.error
    assert any("Queued: position 1" in i.value for i in at.info)
    assert at.button(key="cmp_train").disabled and not at.button(key="cmp_stop").disabled
    for token in held:
        slots.release(token)
    end = time.time() + 90
    while time.time() < end and not any("Verdict" in m.value for m in at.markdown):
        time.sleep(0.3)
        at.run()
    assert any("Verdict" in m.value for m in at.markdown) and not any("Queued" in i.value for i in at.info)
    assert wait(lambda: slots.busy == 0)


def test_a_run_that_ends_early_shows_it_while_the_others_train_on():
    """In a worker process too, a diverged config says so at once, not when the comparison ends."""
    from resnorm.serving.procworker import ProcessComparison

    bad = cfg(lr=1e3, optimizer="sgd", grad_clip=0.0, init="torch", norm_position="none", norm="none", layers=4,
              steps=100_000)
    c = ProcessComparison([cfg(steps=100_000), bad]).start()
    try:
        assert wait(lambda: c.trainers[1].status == "diverged")
        assert c.status == "running" and c.trainers[0].status == "running"
        assert c.trainers[1].diverged_step and "at step" in c.trainers[1].reason
    finally:
        c.stop()
        assert c.join(30)
    assert c.trainers[0].status == "stopped" and c.trainers[1].status == "diverged"


@pytest.mark.slow
def test_a_job_the_worker_cannot_set_up_fails_with_the_reason():
    from functools import partial

    from resnorm.serving.procworker import ProcessComparison, make_comparison

    c = ProcessComparison([cfg(), cfg()], factory=partial(make_comparison, [{"layers": -1}, {}], ["A", "B"]))
    assert c.start().join(60) and c.status == "failed"
    assert all(tr.status == "failed" and "could not set up" in tr.reason and "layers" in tr.reason
               for tr in c.trainers)
