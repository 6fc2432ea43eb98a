"""Issue 14: what the app teaches is what the papers say and what the runs show.

Each test here failed on the code before the fix it accompanies. Checks are fed constructed
metrics (what a run would record) so that a claim's logic is tested against hand-made cases; the
probes and tasks are tested against hand computations on tiny models.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from resnorm.studies import lessons as LS
from resnorm.science.config import RunConfig

STEPS = np.arange(1, 101)


def _loss_series(final: float, layers: int = 2, **extra) -> dict:
    """Metrics of a run whose training loss ends at ``final`` (inf: diverged), ``layers`` blocks."""
    s = {"train/loss": (STEPS, np.full(len(STEPS), final, dtype=float))}
    for i in range(layers):
        s[f"blocks.{i}.resid_post.rms"] = (STEPS[:1], np.array([1.0]))
    for k, v in extra.items():
        s[k] = (STEPS[:1], np.array([v]))
    return s


def _results(lesson, series: dict, init: dict | None = None) -> LS.Results:
    configs = dict(lesson.configs("reduced"))
    return LS.Results(series=series, status={k: "completed" for k in series}, init=init or {}, configs=configs)


# ---- item 3: lesson 1's stall is two-sided and finite ---------------------------------------------------
@pytest.mark.parametrize("loss_off, stalls", [(math.log(10), True), (math.log(10) + 0.05, True),
                                              (math.log(10) + 1.7, False), (math.inf, False)])
def test_lesson_1_stall_is_near_chance_on_both_sides_and_finite(loss_off, stalls):
    lesson = LS.LESSONS[1]
    rr = "blocks.1.rank_residual"
    r = _results(lesson, {"skip": _loss_series(0.01, **{rr: 0.5}), "noskip": _loss_series(loss_off, **{rr: 1e-7})})
    claims = dict(lesson.check(r).claims)
    assert claims["lesson.1.claim.collapse"]
    assert claims["lesson.1.claim.stall"] is stalls


# ---- item 4: checks that could fail -----------------------------------------------------------------------
def test_lesson_4_layernorm_and_rmsnorm_alike_at_chance_is_not_a_pass():
    lesson = LS.LESSONS[4]
    rms = "blocks.1.resid_post.rms"
    series = {"layernorm": _loss_series(2.30), "rmsnorm": _loss_series(2.31), "dyt": _loss_series(0.02),
              "none": _loss_series(3.5)}
    series["none"][rms] = (STEPS[:1], np.array([20.0]))
    claims = dict(lesson.check(_results(lesson, series)).claims)
    assert claims["lesson.4.claim.ln_rms"] is False
    series["layernorm"], series["rmsnorm"] = _loss_series(0.01), _loss_series(0.012)
    series["none"][rms] = (STEPS[:1], np.array([20.0]))
    claims = dict(lesson.check(_results(lesson, series)).claims)
    assert claims["lesson.4.claim.ln_rms"] and claims["lesson.4.claim.none"]


def _init_frame(grad: np.ndarray, ms: np.ndarray) -> pd.DataFrame:
    rows = [(seed, layer, "blocks", metric, float(v)) for metric, arr in (("grad_norm", grad), ("resid_ms", ms))
            for seed, row in enumerate(arr) for layer, v in enumerate(row)]
    return pd.DataFrame(rows, columns=["seed", "layer", "stack", "metric", "value"])


def test_lesson_2_does_not_count_post_ln_mean_square_of_one_as_a_finding():
    """Post-LN's stream ends every block in a LayerNorm: its mean square is 1 by construction. The check
    must not rest on it, and the text must call it a definition."""
    from resnorm.i18n import TABLES

    lesson = LS.LESSONS[2]
    L = 12
    layers = np.arange(L)
    pre = _init_frame(np.exp(-0.06 * layers)[None].repeat(2, 0), (1 + layers)[None].repeat(2, 0).astype(float))
    post_ms = np.ones((2, L))
    for ms_post in (post_ms, post_ms * 1.5):  # a Post-LN mean square other than 1 cannot occur; it must not matter
        post = _init_frame(np.ones((2, L)), ms_post)
        v = lesson.check(LS.Results(init={"post": post, "pre": pre}, configs=dict(lesson.configs("reduced"))))
        assert dict(v.claims)["lesson.2.claim.growth"]
    assert "flat" not in lesson.margins
    assert "definition" in TABLES["en"]["lesson.2.claim.growth"] and "定义" in TABLES["zh"]["lesson.2.claim.growth"]


def test_lesson_6_does_not_count_the_correct_blocks_rms_of_one_as_a_finding():
    from resnorm.i18n import TABLES

    lesson = LS.LESSONS[6]
    metric = "blocks.{}.resid_post.rms"

    def run(loss, rms):
        s = _loss_series(loss, layers=0)
        for i in range(2):
            s[metric.format(i)] = (STEPS[:1], np.array([rms]))
        return s

    for rms_correct in (1.0, 1.2):
        v = lesson.check(_results(lesson, {"correct": run(0.05, rms_correct), "seed_article": run(2.0, 1.7)}))
        assert dict(v.claims)["lesson.6.claim.stream"]
    assert "rms_ok" not in lesson.margins
    assert "definition" in TABLES["en"]["lesson.6.claim.stream"] and "定义" in TABLES["zh"]["lesson.6.claim.stream"]


def test_lesson_5_measures_the_initialisation_of_the_learners_seed():
    lesson = LS.LESSONS[5]
    assert lesson.seeds_at("full") == (0, 1, 2)
    assert lesson.seeds_at("full", {"seed": 7}) == (7, 8, 9)
    assert lesson.seeds_at("reduced", {"seed": 7}) == (7, 8)
    frames = [LS.run_init(lesson, lesson.init_configs("reduced", {"seed": s, "layers": 3}),
                          lesson.seeds_at("reduced", {"seed": s}))["pre"] for s in (0, 5)]
    g0, g5 = (LS.init_profile(f, "resid_ms") for f in frames)
    assert not np.allclose(g0, g5)


# ---- item 5: how much a sublayer changes the stream -------------------------------------------------------
def _hand_changes(model, inputs) -> dict[str, float]:
    """‖x_out − x_in‖/‖x_in‖ per sublayer from the model's own hook points, without the probe: x_in is
    the stream entering the sublayer (the block's input, or the stream after the previous sublayer)."""
    from resnorm.science.model import Block

    seen: dict[str, torch.Tensor] = {}
    handles = []
    for p in model.block_prefixes():
        block: Block = model.get_submodule(p)
        names = ["hook_resid_pre"] + [f"hook_resid_after_{s}" for s in block.sublayers]
        for n in names:
            handles.append(model.get_submodule(f"{p}.{n}").register_forward_hook(
                lambda m, a, out, key=f"{p}.{n}": seen.__setitem__(key, out.detach().double())))
    model(inputs)
    for h in handles:
        h.remove()
    out = {}
    for p in model.block_prefixes():
        block = model.get_submodule(p)
        prev = seen[f"{p}.hook_resid_pre"]
        for s in block.sublayers:
            cur = seen[f"{p}.hook_resid_after_{s}"]
            out[f"{p}.{s}_out.change"] = float((cur - prev).norm() / prev.norm())
            prev = cur
    return out


@pytest.mark.parametrize("changes", [
    dict(norm_position="none", norm="none", residual="rezero"),
    dict(norm_position="pre", residual="scaled"),
    dict(norm_position="sandwich"),
    dict(norm_position="deepnorm"),
    dict(norm_position="post"),
])
def test_stream_change_is_the_actual_update_of_the_stream(changes):
    from resnorm.science.model import build_model
    from resnorm.science.probes import ActivationProbe

    cfg = RunConfig.from_flat(dict(layers=3, d_model=16, heads=2, d_ff=32, init="xavier", **changes))
    model = build_model(cfg.model, 12, 16, seed=3)
    x = torch.randint(0, 12, (4, 16), generator=torch.Generator().manual_seed(0))
    probe = ActivationProbe(model)
    with torch.no_grad(), probe.capture():
        model(x)
    got = probe.pop()
    hand = _hand_changes(model, x)
    for name, v in hand.items():
        assert got[name] == pytest.approx(v, rel=1e-5, abs=1e-12), name
    if changes.get("residual") == "rezero":  # a = 0 at init: the stream is not changed at all ...
        assert all(got[n] == 0.0 for n in hand)
        assert all(got[n.replace(".change", ".ratio")] > 0.1 for n in hand)  # ... though the raw branch is not 0
    if changes.get("residual") == "scaled":  # pre + 1/√(2L): the change is the raw branch ratio / √(2L) = /√6
        for n in hand:
            assert got[n] == pytest.approx(got[n.replace(".change", ".ratio")] / math.sqrt(6), rel=1e-5)


def test_live_chart_shows_the_stream_change_and_names_an_old_runs_raw_ratio_for_what_it_is():
    from resnorm.studies import figures as F

    steps = np.arange(1, 4)
    new = {f"blocks.{i}.{m}": (steps, np.ones(3)) for i in range(2)
           for m in ("attn_out.change", "attn_out.ratio", "update_ratio", "resid_post.rms")}
    old = {k: v for k, v in new.items() if ".change" not in k}  # a run saved before the metric existed
    titles = lambda fig: [a["text"] for a in fig["layout"]["annotations"]]  # noqa: E731
    assert titles(F.ratio_figure(new))[0].startswith("stream change ‖x_out − x_in‖/‖x_in‖")
    assert titles(F.ratio_figure(old))[0].startswith("raw branch ‖F‖/‖x‖ (before gate")


# ---- item 2: events ---------------------------------------------------------------------------------------
def _events(series, context=None):
    from resnorm.studies.compare import detect_events

    return [(e.kind, e.step) for e in detect_events(series, (), context)]


def test_grad_jump_ignores_a_converged_runs_small_fluctuation_and_reports_every_real_jump():
    steps = np.arange(1, 1001)
    g = np.full(1000, 0.02)
    g[:20] = 2.0                      # early training: norm ~2
    g[600] = 0.31                     # converged run: ×15 but far below the early norm -> no event
    calm = {"grad/total_norm": (steps, g.copy())}
    assert _events(calm) == []
    g[300] = 5.0                      # a real jump ...
    g[990] = 0.02 * 673               # ... and a later one, ×673 at step 991
    jumps = _events({"grad/total_norm": (steps, g)})
    assert jumps == [("grad jump", 301), ("grad jump", 991)]


CTX = {"unigram": math.log(10), "uniform": {"blocks.0.attn": 1.9, "blocks.1.attn": 1.9}}


def test_a_run_stuck_at_the_unigram_loss_is_marked_stalled_once():
    steps = np.arange(1, 301)
    rng = np.random.default_rng(0)
    loss = np.concatenate([np.linspace(4.0, 2.5, 50), math.log(10) + rng.uniform(-0.05, 0.05, 250)])
    assert _events({"train/loss": (steps, loss)}, CTX) == [("stalled", 51)]
    learning = np.concatenate([np.linspace(4.0, 2.3, 50), np.linspace(2.3, 0.1, 250)])  # passes through
    assert _events({"train/loss": (steps, learning)}, CTX) == []
    assert _events({"train/loss": (steps, loss)}) == []  # no task known: not checked


def _entropy_series(probe_model_pairs):
    """Entropy metrics at steps 1, 2, ... from the probe on each (model, inputs)."""
    from resnorm.science.probes import ActivationProbe

    series: dict = {}
    for step, (model, x) in enumerate(probe_model_pairs, 1):
        probe = ActivationProbe(model)
        with torch.no_grad(), probe.capture():
            model(x)
        for k, v in probe.pop().items():
            s, vals = series.get(k, ([], []))
            series[k] = (s + [step], vals + [v])
    return {k: (np.array(s), np.array(v)) for k, (s, v) in series.items()}


def test_entropy_collapse_fires_on_a_constructed_collapse_and_not_on_a_healthy_run():
    import copy

    from resnorm.studies.compare import event_context
    from resnorm.science.trainer import train

    cfg = RunConfig.from_flat(dict(arch="decoder", layers=2, d_model=16, heads=2, d_ff=32, task="reverse",
                                   vocab_size=10, seq_len=4, batch_size=8, steps=60, probe_every=5,
                                   attention_every=0, eval_every=0, init="xavier"))
    ctx = event_context(cfg)
    assert ctx["uniform"]["blocks.0.attn"] == pytest.approx(np.mean(np.log(np.arange(1, 9))))  # 8 causal keys
    tr = train(cfg)
    healthy = tr.store.all_series()
    assert not [e for e in _events(healthy, ctx) if e[0] == "entropy collapse"]
    # the same model with its queries and keys scaled ×100: softmax turns one-hot, every query reads one key
    collapsed = copy.deepcopy(tr.model)
    with torch.no_grad():
        for p in collapsed.block_prefixes():
            attn = collapsed.get_submodule(f"{p}.attn")
            for lin in (attn.W_Q, attn.W_K):
                lin.weight.mul_(100.0)
                lin.bias.mul_(100.0)
    x = tr.task.sample(8, torch.Generator().manual_seed(0)).inputs
    series = _entropy_series([(tr.model, x), (collapsed, x)])
    assert series["blocks.1.attn.entropy"][1][1] < 0.05 * ctx["uniform"]["blocks.1.attn"]
    assert ("entropy collapse", 2) in _events(series, ctx)
    # a layer already near zero at its first record has not collapsed during the run
    near_zero = {"blocks.0.attn.entropy": (np.array([1, 2]), np.array([0.02, 0.001]))}
    assert _events(near_zero, CTX) == []


# ---- item 6: validation is held out -----------------------------------------------------------------------
@pytest.mark.parametrize("task, arch, kw", [("add", "decoder", dict(seq_len=2)),
                                            ("copy", "encoder", dict(vocab_size=4, seq_len=5)),
                                            ("sort", "encoder-decoder", dict(vocab_size=3, seq_len=4))])
def test_validation_examples_are_never_training_examples(task, arch, kw):
    """500 training steps of 16 examples against the 4 validation batches: no input in common, though
    the space is small enough that drawing both from it would make most validation inputs seen ones
    (10⁴ inputs for add with 2 digits, 4⁵ = 1,024 for copy with 4 symbols × 5, 3⁴ = 81 for sort)."""
    from resnorm.science.config import TaskConfig
    from resnorm.science.tasks import make_task

    t = make_task(TaskConfig(task=task, **kw), arch)
    g_train, g_val = torch.Generator().manual_seed(1), torch.Generator().manual_seed(2)
    seen = {tuple(r) for _ in range(500) for r in t.sample(16, g_train, "train").inputs.tolist()}
    val = [tuple(r) for _ in range(4) for r in t.sample(16, g_val, "val").inputs.tolist()]
    assert len(seen & set(val)) == 0
    assert len(set(val)) > 1 and t.held_out
    # and the training part is most of the space: a tenth (by the hash) is set aside, no more
    space = t.space_size()
    assert 0.05 < t.val_fraction < 0.15 and (len(seen) > 0.8 * space if space <= 1024 else True)


def test_a_space_too_small_to_hold_out_anything_says_so():
    from resnorm.science.config import TaskConfig
    from resnorm.science.tasks import make_task, not_held_out, validation_note
    from resnorm.science.trainer import train

    t = make_task(TaskConfig(task="copy", vocab_size=2, seq_len=1), "encoder")
    assert not t.held_out and t.space_size() == 2
    assert not_held_out(TaskConfig(task="copy", vocab_size=2, seq_len=1), "encoder") == 2
    assert "not held out" in validation_note(t)
    tr = train(RunConfig.from_flat(dict(arch="encoder", task="copy", vocab_size=2, seq_len=1, layers=1, d_model=8,
                                        heads=1, d_ff=8, steps=2, probe_every=0, attention_every=0)))
    assert tr.summary.to_dict()["validation"].startswith("not held out")


# ---- item 7: separate random streams --------------------------------------------------------------------
def _trainer(seed: int):
    from resnorm.science.trainer import Trainer

    tr = Trainer(RunConfig.from_flat(dict(layers=1, d_model=8, heads=1, d_ff=8, batch_size=8, steps=1, seed=seed,
                                          task="copy", vocab_size=10, seq_len=8)))
    tr.prepare()
    return tr


def test_weights_train_val_and_dropout_draw_from_separate_streams_of_the_seed():
    from resnorm.science.model import Transformer

    for s in range(3):
        a, b = _trainer(s), _trainer(s + 1)
        # seed s's validation batches are not seed s + 1's training batches ...
        b_train = b.task.sample(8, b.data_gen, "train")
        assert not torch.equal(a.val_batches[0].inputs, b_train.inputs)
        # ... and neither the data nor the weights are drawn from the bare integer s
        bare = a.task.sample(8, torch.Generator().manual_seed(s), "train")
        assert not torch.equal(a.task.sample(8, a.data_gen, "train").inputs, bare.inputs)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(s)
            bare_model = Transformer(a.cfg.model, a.task.vocab_size, a.task.max_len)
        assert not torch.equal(a.model.embed.weight, bare_model.embed.weight)

    import numpy as _np

    from resnorm.science.seeds import STREAMS, stream_seed

    # documented: SeedSequence(entropy=seed, spawn_key=(k,)), first 63 bits
    lo, hi = _np.random.SeedSequence(entropy=5, spawn_key=(STREAMS.index("val"),)).generate_state(2, _np.uint32)
    assert stream_seed(5, "val") == (int(hi) << 32 | int(lo)) >> 1
    values = [stream_seed(s, k) for s in range(100) for k in STREAMS]
    assert len(set(values)) == len(values)  # no stream of one seed is another seed's (or stream's)


# ---- item 8: DyT after the addition is allowed, with a note ---------------------------------------------
def test_dyt_after_the_addition_is_allowed_and_noted_and_the_stream_it_leaves_is_tiny():
    from resnorm.i18n import TABLES
    from resnorm.science.model import build_model
    from resnorm.science.probes import ActivationProbe
    from resnorm.science.variants import caution

    for position in ("post", "deepnorm"):
        RunConfig.from_flat(dict(norm="dyt", norm_position=position))  # allowed
        key = caution(position, "on", "dyt", "decoder")
        assert key and "Zhu" in TABLES["en"][key] and "Zhu" in TABLES["zh"][key]
    assert caution("pre", "on", "dyt", "decoder") is None and caution("post", "on", "layernorm", "decoder") is None
    # what the note says: with DyT after every addition the stream shrinks block after block
    cfg = RunConfig.from_flat(dict(norm="dyt", norm_position="post", layers=6, d_model=16, heads=2, d_ff=32,
                                   init="xavier"))
    model = build_model(cfg.model, 12, 16, seed=0)
    probe = ActivationProbe(model)
    with torch.no_grad(), probe.capture():
        model(torch.randint(0, 12, (4, 16), generator=torch.Generator().manual_seed(0)))
    rms = [probe_v for k, probe_v in sorted(probe.pop().items()) if k.endswith("resid_post.rms")]
    assert max(rms) < 0.5 and min(rms) ** 2 < 1e-3


# ---- item 9: the rank residual, Frobenius and Dong et al.'s ℓ1,∞ -----------------------------------------
def test_rank_residual_in_frobenius_and_in_dongs_composite_norm_by_hand():
    from resnorm.science.probes import RESID_STATS, stream_stats

    X = torch.tensor([[[1.0, 2.0], [3.0, -1.0], [2.0, 2.0]]], dtype=torch.float64)  # 3 tokens × d 2
    stats = dict(zip(RESID_STATS, stream_stats(X).tolist()))
    # token mean (2, 1); R = [[-1, 1], [1, -2], [0, 1]]
    fro = math.sqrt(1 + 1 + 1 + 4 + 0 + 1) / math.sqrt(1 + 4 + 9 + 1 + 4 + 4)
    # ‖R‖₁ = max column sum |R| = max(2, 4) = 4; ‖R‖_∞ = max row sum = max(2, 3, 1) = 3
    # ‖X‖₁ = max(6, 5) = 6; ‖X‖_∞ = max(3, 4, 4) = 4
    l1inf = math.sqrt(4 * 3) / math.sqrt(6 * 4)
    assert stats["rank_residual"] == pytest.approx(fro, rel=1e-12)
    assert stats["rank_residual_l1inf"] == pytest.approx(l1inf, rel=1e-12)
    same = torch.ones(1, 4, 3, dtype=torch.float64) * torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    zero = dict(zip(RESID_STATS, stream_stats(same).tolist()))
    assert zero["rank_residual"] == 0.0 and zero["rank_residual_l1inf"] == 0.0


# ---- item 1: Xiong et al. 2020 as the paper says it, and Theorem 1's own picture -----------------------------
def test_theorem_1_is_about_total_depth_and_the_texts_no_longer_misquote_it():
    from resnorm.i18n import TABLES

    for table in (TABLES["en"], TABLES["zh"]):
        assert "1/√L" not in table["lesson.2.why"]          # was: gradients shrink towards the output like 1/√L
        assert "L^-½" in table["init.thm1.what"] and "O(d·√(ln d / L))" in table["lesson.2.why"]
    assert "Theorem 1, Fig. 3" not in TABLES["en"]["init.look.grad_norm"]
    assert "total depth" in TABLES["en"]["init.look.grad_norm"].replace("*", "")
    assert "总深度" in TABLES["zh"]["init.look.grad_norm"].replace("*", "")
    with open("README.md", encoding="utf-8") as fh:
        assert "gradients concentrate near the output" not in fh.read()


def test_theorem_1_sweep_is_the_last_blocks_gradient_of_each_total_depth():
    from resnorm.studies import figures_init as FI
    from resnorm.studies import signal as S

    cfg = RunConfig.from_flat(dict(layers=2, d_model=16, heads=2, d_ff=32, batch_size=4, init="xavier"))
    frame = S.theorem1_sweep(cfg, (2, 4), (0, 1))
    assert set(frame["position"]) == {"post", "pre"} and sorted(set(frame["depth"])) == [2, 4]
    for position in ("post", "pre"):
        for L in (2, 4):
            prof = S.depth_profile(cfg.replace(norm_position=position, layers=L), (0, 1))
            last = prof[(prof.metric == "grad_norm") & (prof.layer == L - 1)].sort_values("seed")["value"].to_numpy()
            got = frame[(frame.position == position) & (frame.depth == L)].sort_values("seed")["value"].to_numpy()
            np.testing.assert_allclose(got, last, rtol=1e-12)
    # slopes by hand: a curve ∝ L^-½ has slope −½ and a flat one 0
    made = pd.DataFrame({"position": ["post"] * 3 + ["pre"] * 3, "depth": [2, 8, 32] * 2, "seed": 0,
                         "value": [1.0, 1.0, 1.0] + [2 ** -0.5, 8 ** -0.5, 32 ** -0.5]})
    slopes = S.theorem1_slopes(made)
    assert slopes["post"] == pytest.approx(0.0, abs=1e-12) and slopes["pre"] == pytest.approx(-0.5, rel=1e-9)
    refs = [tr for tr in FI.theorem1_figure(made).data if (tr.meta or {}).get("role") == "reference"]
    np.testing.assert_allclose(refs[1].y, made["value"][3:], rtol=1e-12)  # the ∝ L^-½ reference
    np.testing.assert_allclose(refs[0].y, 1.0)


def test_the_init_page_draws_theorem_1_when_asked():
    import json
    import os

    from streamlit.testing.v1 import AppTest

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    at = AppTest.from_file(os.path.join(root, "app.py"), default_timeout=120).run()
    at.switch_page("app_pages/init.py").run()
    at.slider(key="init_seeds").set_value(1).run()
    assert not at.exception, at.exception
    titles = lambda: [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]  # noqa: E731
    assert not any("Theorem 1" in x for x in titles())
    at.button(key="init_thm1_btn").click().run()
    assert not at.exception, at.exception
    spec = next(json.loads(c.proto.spec) for c in at.get("plotly_chart")
                if "Theorem 1" in json.loads(c.proto.spec)["layout"]["title"]["text"])
    names = [tr.get("name") for tr in spec["data"]]
    assert "Post-LN" in names and "Pre-LN" in names and "∝ L^-½ (Theorem 1, Pre-LN)" in names


def test_lesson_2_shows_theorem_1_after_its_run_in_chinese():
    import json
    import os

    from streamlit.testing.v1 import AppTest

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    at = AppTest.from_file(os.path.join(root, "app.py"), default_timeout=120)
    at.query_params.update(lesson="2", lang="zh")
    at.run()
    at.button(key="lesson_run").click().run()
    assert not at.exception, at.exception
    at.button(key="lesson2_thm1_btn").click().run()
    assert not at.exception, at.exception
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    assert "最后一个块的梯度范数与总深度的关系（Xiong 等人 2020，定理 1）" in titles
