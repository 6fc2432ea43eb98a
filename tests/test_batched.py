"""Batched members (issue 17): M runs that differ only in optimiser scalars trained as one vmapped
model follow their single runs (``Trainer``, the independent reference: torch.optim.AdamW, its own
clip and schedule) step by step; which configs batch together; a sweep with batching on gives the
rows of the same sweep with it off."""
from __future__ import annotations

import json

import pytest

from helpers import TINY, configs
from resnorm.science.batched import AUTO_MAX_TOKENS, MAX_MEMBERS, BatchedRun, batch_key, plan, why_not_batched
from resnorm.science.trainer import train
from resnorm.serving.sweep import cell_folder, run_sweep
from resnorm.studies.sweep_spec import SweepSpec, cells

QUIET = dict(probe_every=0, attention_every=0)
small = configs(dict(layers=2, d_model=32, heads=2, d_ff=64, batch_size=8, seq_len=6, task="sort", steps=100,
                     device="cpu", eval_every=50), QUIET)


def _series(store, name):
    f = store.frame()
    return f[f["name"] == name].set_index("step")["value"].astype(float)


def test_members_follow_their_single_runs_and_a_diverging_member_stops_alone():
    cfgs = [small(lr=1e-3, seed=0), small(lr=3e-3, seed=1),
            small(lr=1e-2, seed=0, weight_decay=0.1, warmup=10, grad_clip=0.5, schedule="cosine"),
            small(lr=30.0, seed=2)]  # diverges within a few steps
    batch = BatchedRun(cfgs, threads=1)
    summaries = batch.run()
    for m, cfg in enumerate(cfgs):
        single = train(cfg, threads=1)
        got, want = summaries[m], single.summary
        assert (got.status, got.steps, got.diverged_step) == (want.status, want.steps, want.diverged_step)
        assert got.extra["batched"] == 4
        loss, ref = _series(batch.stores[m], "train/loss"), _series(single.store, "train/loss")
        assert list(loss.index) == list(ref.index)
        if want.status == "completed":
            assert got.final_loss == pytest.approx(want.final_loss, abs=1e-4)
            assert (loss - ref).abs().max() < 1e-4
            val, ref_val = _series(batch.stores[m], "val/loss"), _series(single.store, "val/loss")
            assert list(val.index) == [50, 100] and (val - ref_val).abs().max() < 1e-4
            for name in ("grad/total_norm", "lr", "train/accuracy"):
                assert (_series(batch.stores[m], name) - _series(single.store, name)).abs().max() < 1e-3
        else:
            assert got.status == "diverged" and got.final_loss is None
    assert summaries[2].final_loss < summaries[0].final_loss  # the members really differ


@pytest.mark.parametrize("extra", [
    dict(arch="encoder-decoder", task="reverse"), dict(arch="encoder", task="copy"),
    dict(residual="hyper", streams=2), dict(residual="mhc", streams=2, hc_dynamic=True),
    dict(value_residual=True), dict(qk_norm=True, logit_softcap=5.0, attn_gate=True),
    dict(norm_position="post", residual="admin"), dict(norm="derf", norm_position="mixln"),
])
def test_every_architecture_and_variant_batches_exactly(extra):
    cfgs = [small(steps=30, eval_every=0, lr=lr, seed=s, **extra) for lr, s in ((1e-3, 0), (3e-3, 1))]
    summaries = BatchedRun(cfgs, threads=1).run()
    for got, cfg in zip(summaries, cfgs):
        assert got.final_loss == pytest.approx(train(cfg, threads=1).summary.final_loss, abs=1e-5)


def test_what_can_batch_together():
    a = small(lr=1e-3, seed=0)
    assert batch_key(a) == batch_key(small(lr=1e-2, seed=3, weight_decay=0.1, warmup=5, grad_clip=0.0))
    assert batch_key(a) != batch_key(small(layers=3)) != batch_key(small(batch_size=4))
    assert why_not_batched(a) is None
    assert "dropout" in why_not_batched(small(dropout=0.1))
    assert "AdamW" in why_not_batched(small(optimizer="sgd"))
    assert "ngpt" in why_not_batched(small(norm_position="ngpt"))
    with pytest.raises(ValueError, match="differ"):
        BatchedRun([a, small(layers=3)])


def test_plan_groups_batchable_cells_and_keeps_every_worker_busy():
    lrs = [small(lr=x, seed=s) for s in (0, 1) for x in (1e-3, 3e-3, 1e-2)]      # 6 cells, one key
    deeper = [small(layers=3, lr=x) for x in (1e-3, 1e-2)]                         # another key
    alone = [small(dropout=0.1, lr=1e-3), small(dropout=0.1, lr=1e-2)]            # cannot batch
    cfgs = lrs + deeper + alone
    units = plan(cfgs, workers=2, mode="on")
    assert sorted(i for u in units for i in u) == list(range(len(cfgs)))         # every cell once
    assert [u for u in units if len(u) == 1] == [[8], [9]]
    assert sorted(map(sorted, (u for u in units if u[0] < 6))) == [[0, 1, 2], [3, 4, 5]]  # two workers
    assert [6, 7] in units
    assert plan(cfgs, workers=2, mode="off") == [[i] for i in range(len(cfgs))]
    many = [small(lr=1e-4 * (i + 1)) for i in range(20)]
    assert max(len(u) for u in plan(many, workers=1, mode="on")) == MAX_MEMBERS
    big = [small(batch_size=64, seq_len=8, lr=x) for x in (1e-3, 1e-2)]            # 64 × 9 tokens > 256
    assert 64 * 8 > AUTO_MAX_TOKENS and plan(big, mode="auto") == [[0], [1]]
    assert plan(lrs[:2], mode="auto") == [[0, 1]]                                  # 8 × 7 tokens
    with pytest.raises(ValueError, match="auto, on, off"):
        plan(cfgs, mode="yes")


def test_a_batched_sweep_gives_the_rows_of_the_unbatched_one(tmp_path):
    spec = SweepSpec(configs(TINY, QUIET, eval_every=0)(), {"lr": (1e-3, 1e-2), "seed": (0, 1)}, steps=40)
    on = {r["key"]: r for r in run_sweep(spec, tmp_path / "on", workers=2, batch="on")}
    off = {r["key"]: r for r in run_sweep(spec, tmp_path / "off", workers=2, batch="off")}
    assert set(on) == set(off) and len(on) == 4
    for key, row in on.items():
        assert row["status"] == off[key]["status"] == "completed"
        assert row["final_loss"] == pytest.approx(off[key]["final_loss"], abs=1e-4)
        assert row["pred_rank_residual"] == pytest.approx(off[key]["pred_rank_residual"], rel=1e-6)
    for c in cells(spec):
        summary = json.loads((cell_folder(tmp_path / "on", c.key) / "summary.json").read_text())
        assert summary["batched"] == 2 and summary["sweep_cell"]["status"] == "completed"
        assert "batched" not in json.loads((cell_folder(tmp_path / "off", c.key) / "summary.json").read_text())
