"""Eight lessons that reproduce published effects live, each as data plus a check.

A lesson is a small experiment — two to four configs trained in lockstep on the same data (or, for
lesson 2, one forward/backward at initialisation over a few seeds) — and a ``check`` that reads the
resulting metrics and says whether the expected effect appeared, with the numbers and the margin it
used. Small models and seeds can surprise; the check says so rather than assuming.

Each lesson names the paper it reproduces, the page that shows its experiment best (``compare`` or
``init``), the few settings a learner may change in workshop mode (``controls``), and two scales:
``full`` (what the app runs, tens of seconds on one CPU core) and ``reduced`` (the same effect on a
smaller or shorter run, for the tests). The margins were chosen by measuring both scales over
several seeds; what was measured is stated to learners in each lesson's note (``lesson.<id>.note``),
including where an effect is weaker than the paper's. A check never loosens itself to pass.

Texts (question, prediction, what to look at, why, verdicts) are in ``resnorm.i18n`` under
``lesson.<id>.*``; numbers go into them with ``str.format``.

Lesson 7 is a map: its variants (Post-LN, Pre-LN) are swept over depth × learning rate
(``Lesson.sweep``, ``sweep_axes``; kind ``"map"``), run as a sweep by the serving layer
(``resnorm.serving.sweep_session``) and checked from the sweep's rows (``sweep_results``).

Lesson 6 trains the seed article's encoder layer as written. That block is not a row of the variant
table (it is a bug, not a design), so it lives here only: ``SeedArticleBlock`` replaces the forward
of a Post-LN encoder's blocks after the model is built — same parameters, same initial weights,
same data as the correct block it is compared with. Nothing in ``resnorm.science.model`` changes.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..science import names
from .compare import Comparison
from ..science.config import RunConfig
from ..science.model import Block
from ..science.trainer import Trainer

SCALES = ("full", "reduced")
# where ``Lesson.seconds`` were measured (``python -m resnorm bench --lessons``)
TIMED_ON = ("the project's 2-core test machine when idle (2026-11-30, one run each, one thread per run as the "
            "server's workers; lesson 7, a sweep, with two worker processes): a busy server takes longer")


# ---- the seed article's encoder layer (lesson 6) ------------------------------------------------------
class SeedArticleBlock(Block):
    """The seed article's ``EncoderLayer.forward``, as written::

        x = norm1(x + attn(x))              # attention sublayer: Post-LN, correct
        h = linear2(relu(linear1(x)))        # feed-forward: no residual path around it
        x = h + norm3(h)                     # adds a normalised copy of h to h itself

    ``norm_attn`` plays ``norm1`` and ``norm_mlp`` plays ``norm3`` (the article's ``norm2`` is
    never used, so it is left out: it would only add parameters without gradients). The hook points
    are passed in the same places as in ``Block``, so every probe and chart works unchanged.
    """

    def forward(self, x, memory=None, values=None):  # ``values``: the value-residual cache, unused here
        x = self.hook_resid_pre(x)
        a = self.hook_attn_out(self.drop(self.attn(x, causal=self.causal)))
        x = self.hook_resid_after_attn(self.norm_attn(x + a))
        if self.cfg.mlp:
            h = self.hook_mlp_out(self.drop(self.mlp(x)))
            x = self.hook_resid_after_mlp(h + self.norm_mlp(h))
        return self.hook_resid_post(x)


BLOCKS = {"seed_article": SeedArticleBlock}


def use_block(model, kind: str | None) -> None:
    """Give every block of ``model`` the forward of ``BLOCKS[kind]`` (parameters untouched)."""
    if kind is None:
        return
    cls = BLOCKS[kind]
    for prefix in model.block_prefixes():
        block = model.get_submodule(prefix)
        if type(block) is not Block:
            raise TypeError(f"{prefix} is a {type(block).__name__}, not a standard Block")
        block.__class__ = cls


class LessonTrainer(Trainer):
    """A ``Trainer`` whose model's blocks use a lesson's block (``block=None``: the standard one)."""

    def __init__(self, cfg: RunConfig, block: str | None = None, **kw):
        super().__init__(cfg, **kw)
        self.block = block

    def prepare(self) -> None:
        super().prepare()
        use_block(self.model, self.block)


class LessonComparison(Comparison):
    """``Comparison`` (lockstep, same data) with one block kind per config."""

    def __init__(self, configs, labels=None, blocks=None, on_finish=None):
        super().__init__(configs, labels, on_finish=on_finish)
        blocks = list(blocks or [None] * len(configs))
        self.trainers = [LessonTrainer(c, b) for c, b in zip(self.configs, blocks)]


# ---- lessons as data ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Variant:
    id: str                      # stable name (metrics are keyed by it); text: lesson.<n>.variant.<id>
    changes: dict                # flat config fields on top of the lesson's base
    block: str | None = None     # a lesson-only block (``BLOCKS``), or None for the variant table's


@dataclass(frozen=True)
class Verdict:
    ok: bool
    numbers: dict                # name -> value, the arguments of the message
    message_key: str             # lesson.<n>.ok or lesson.<n>.fail
    claims: tuple = ()           # (claim key, held?) for each expected effect, in order


@dataclass
class Results:
    """What a lesson's run produced: per variant id, the metric series (training lessons) and/or
    the at-initialisation frame (``resnorm.studies.signal.depth_profile``)."""
    series: dict = field(default_factory=dict)    # id -> {metric: (steps, values)}
    status: dict = field(default_factory=dict)    # id -> final status
    init: dict = field(default_factory=dict)      # id -> depth_profile frame
    configs: dict = field(default_factory=dict)   # id -> RunConfig
    rows: pd.DataFrame | None = None              # a map lesson's sweep: cells.csv rows (``sweep_results``)


@dataclass(frozen=True)
class Lesson:
    id: int
    slug: str
    citation: str
    page: str                    # the app page that explores it further: "compare" or "init"
    kind: str                    # "train" (lockstep run) or "init" (one forward/backward per seed)
    base: dict                   # flat config shared by every variant (full scale)
    variants: tuple              # 2-4 Variant
    reduced: dict                # changes to ``base`` for the reduced scale
    controls: tuple              # fields a learner may change in workshop mode
    margins: dict                # the named margins ``check`` uses
    check_fn: Callable
    answer: str                  # the option of the prediction question the papers predict
    options: tuple = ("a", "b", "c")
    seeds: tuple = (0, 1, 2)     # init lessons and init parts: seeds of the forward/backward
    n_seeds_reduced: int = 2     # ... of which the reduced scale uses the first n
    init_variants: tuple = ()    # extra at-initialisation variants measured next to the training
    seconds: tuple = (0.0, 0.0)  # measured wall time of a run (full, reduced): see ``TIMED_ON``

    def expected_seconds(self, scale: str) -> float:
        """How long a run at ``scale`` took when measured (``TIMED_ON``): the run button shows it."""
        return self.seconds[SCALES.index(scale)]
    sweep: dict = field(default_factory=dict)          # kind "map": {field: values} swept for each variant
    sweep_reduced: dict = field(default_factory=dict)  # ... at the reduced (quick) scale

    def configs(self, scale: str = "full", changes: dict | None = None) -> list[tuple[str, RunConfig]]:
        """(variant id, config) for the training (or init) variants at ``scale``; ``changes`` are a
        learner's edits to the shared settings (workshop controls)."""
        base = self.base_flat(scale, changes)
        return [(v.id, RunConfig.from_flat({**base, **v.changes})) for v in self.variants]

    def init_configs(self, scale: str = "full", changes: dict | None = None) -> list[tuple[str, RunConfig]]:
        base = self.base_flat(scale, changes)
        return [(v.id, RunConfig.from_flat({**base, **v.changes})) for v in self.init_variants]

    def base_flat(self, scale: str = "full", changes: dict | None = None) -> dict:
        if scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES}, not {scale!r}")
        return {**self.base, **(self.reduced if scale == "reduced" else {}), **(changes or {})}

    def sweep_axes(self, scale: str = "full") -> dict:
        """A map lesson's axes: ``sweep`` (or ``sweep_reduced``), then the variants as the last axis
        (one panel each): the one field the variants set, with their values in order."""
        fields = {k for v in self.variants for k in v.changes}
        if len(fields) != 1:
            raise ValueError("a map lesson's variants must each set the same one field")
        name = fields.pop()
        axes = dict(self.sweep_reduced if scale == "reduced" and self.sweep_reduced else self.sweep)
        axes[name] = tuple(v.changes[name] for v in self.variants)
        return axes

    def blocks(self) -> list[str | None]:
        return [v.block for v in self.variants]

    def check(self, results: Results) -> Verdict:
        return self.check_fn(self, results)

    def seeds_at(self, scale: str, changes: dict | None = None) -> tuple:
        """Seeds of the at-initialisation part: ``seeds`` (the first ``n_seeds_reduced`` at the
        reduced scale) offset by the run's seed, so a learner who changes the seed changes the
        initialisations measured too (seed 0, the default, gives ``seeds`` themselves)."""
        offset = int(self.base_flat(scale, changes).get("seed", 0))
        seeds = self.seeds if scale == "full" else self.seeds[: self.n_seeds_reduced]
        return tuple(offset + s for s in seeds)


# ---- numbers read from the metrics --------------------------------------------------------------------
def final_loss(series: dict, fraction: float = 0.1) -> float:
    """Mean training loss over the last ``fraction`` of the recorded steps (at least one); a run
    that diverged or never recorded counts as +inf (it did not train)."""
    _, v = series.get("train/loss", (np.zeros(0), np.zeros(0)))
    v = np.asarray(v, dtype=float)
    if not len(v) or not np.isfinite(v[-1]):
        return math.inf
    n = max(1, round(len(v) * fraction))
    return float(np.mean(v[-n:]))


def first_value(series: dict, name: str) -> float:
    """The first recorded value of ``name`` (step 1: the model as initialised)."""
    _, v = series.get(name, (np.zeros(0), np.zeros(0)))
    return float(v[0]) if len(v) else math.nan


def n_blocks(series: dict) -> int:
    return names.n_blocks(series)


def at_init_profile(series: dict, metric: str) -> np.ndarray:
    """``blocks.{i}.<metric>`` at step 1, in block order."""
    return np.array([first_value(series, names.metric("blocks", i, metric)) for i in range(n_blocks(series))])


def chance_loss(cfg: RunConfig) -> float:
    """Loss of a model that knows only which symbols can appear: ln(alphabet size) for the symbol tasks."""
    return math.log(cfg.task.vocab_size)


def init_profile(frame: pd.DataFrame, metric: str) -> np.ndarray:
    """(seeds × layers) of ``metric`` from a ``depth_profile`` frame (decoder/encoder stack)."""
    part = frame[(frame["metric"] == metric) & (frame["stack"] == "blocks")]
    return part.pivot(index="seed", columns="layer", values="value").sort_index(axis=1).to_numpy(dtype=float)


def log_slope(profile: np.ndarray) -> float:
    """Mean over seeds of the least-squares slope of ln(value) against the layer index."""
    x = np.arange(profile.shape[1])
    return float(np.mean([np.polyfit(x, np.log(row), 1)[0] for row in profile]))


def _verdict(lesson: Lesson, claims: list[tuple[str, bool]], numbers: dict) -> Verdict:
    ok = all(held for _, held in claims)
    numbers = {k: (float(v) if isinstance(v, (int, float, np.floating)) else v) for k, v in numbers.items()}
    return Verdict(ok, numbers, f"lesson.{lesson.id}.{'ok' if ok else 'fail'}",
                   tuple((f"lesson.{lesson.id}.claim.{k}", bool(h)) for k, h in claims))


# ---- the checks ---------------------------------------------------------------------------------------
def check_residuals(lesson: Lesson, r: Results) -> Verdict:
    """Dong et al. 2021: without skips the tokens collapse (rank residual of the last block at
    initialisation ≤ ``collapse``; with skips ≥ ``healthy``), and training stalls (no-skip loss finite
    and within ``stall`` nats of chance on either side — a loss far above chance or a diverged run is
    not a stall — and at least ``gap`` above the skip model's)."""
    m = lesson.margins
    on, off = r.series["skip"], r.series["noskip"]
    L = n_blocks(on)
    rr_on, rr_off = (first_value(s, names.metric("blocks", L - 1, "rank_residual")) for s in (on, off))
    loss_on, loss_off = final_loss(on), final_loss(off)
    chance = chance_loss(r.configs["skip"])
    claims = [("collapse", rr_off <= m["collapse"] and rr_on >= m["healthy"]),
              ("stall", math.isfinite(loss_off) and abs(loss_off - chance) <= m["stall"]
                        and loss_off - loss_on >= m["gap"])]
    return _verdict(lesson, claims, dict(rr_on=rr_on, rr_off=rr_off, loss_on=loss_on, loss_off=loss_off,
                                         chance=chance, layers=L, **m))


def check_post_pre_init(lesson: Lesson, r: Results) -> Verdict:
    """Xiong et al. 2020. Fig. 3: per-block gradient norm at init falls with the layer index in
    Pre-LN (slope of ln‖∇‖ ≤ −``pre_slope``) and is steeper towards the output in Post-LN (slope at
    least ``slope_gap`` above Pre-LN's). Lemma 2: Pre-LN's stream grows (last/first block mean
    square ≥ ``growth``). Post-LN's growth is reported but not checked: each Post-LN block ends with a
    LayerNorm (γ = 1, β = 0 at init), so its mean square is 1 by construction — a definition, not a
    finding."""
    m = lesson.margins
    g_post, g_pre = (init_profile(r.init[k], "grad_norm") for k in ("post", "pre"))
    s_post, s_pre = log_slope(g_post), log_slope(g_pre)
    ms_post, ms_pre = (init_profile(r.init[k], "resid_ms") for k in ("post", "pre"))
    growth_pre = float(np.mean(ms_pre[:, -1] / ms_pre[:, 0]))
    growth_post = float(np.mean(ms_post[:, -1] / ms_post[:, 0]))
    claims = [("gradients", s_pre <= -m["pre_slope"] and s_post - s_pre >= m["slope_gap"]),
              ("growth", growth_pre >= m["growth"])]
    return _verdict(lesson, claims, dict(slope_post=s_post, slope_pre=s_pre, growth_pre=growth_pre,
                                         growth_post=growth_post, layers=g_pre.shape[1], seeds=g_pre.shape[0],
                                         **m))


def check_warmup(lesson: Lesson, r: Results) -> Verdict:
    """Xiong et al. 2020 §3 (and Liu et al. 2020): at a high learning rate Post-LN without warm-up
    fails or lags (loss at least ``gap`` above Post-LN with warm-up), with warm-up it trains (loss ≤
    ``trained``), and Pre-LN trains either way (both ≤ ``trained``)."""
    m = lesson.margins
    loss = {k: final_loss(s) for k, s in r.series.items()}
    claims = [("post_fails", loss["post"] - loss["post_warmup"] >= m["gap"]),
              ("warmup_rescues", loss["post_warmup"] <= m["trained"]),
              ("pre_either", max(loss["pre"], loss["pre_warmup"]) <= m["trained"])]
    return _verdict(lesson, claims, dict(loss_post=loss["post"], loss_post_warmup=loss["post_warmup"],
                                         loss_pre=loss["pre"], loss_pre_warmup=loss["pre_warmup"],
                                         chance=chance_loss(r.configs["post"]), **m))


def check_norms(lesson: Lesson, r: Results) -> Verdict:
    """LayerNorm and RMSNorm both train (loss ≤ ``trained``) and end within ``same`` nats of each
    other (Zhang & Sennrich 2019) — alike at chance would not count; DyT
    trains too (loss ≤ ``trained``; Zhu et al. 2025); without a norm the stream at initialisation is
    at least ``blowup``× LayerNorm's after the last block and the loss stays at least ``gap`` above."""
    m = lesson.margins
    loss = {k: final_loss(s) for k, s in r.series.items()}
    L = n_blocks(r.series["layernorm"])
    rms = {k: first_value(s, names.metric("blocks", L - 1, "resid_post.rms")) for k, s in r.series.items()}
    blowup = rms["none"] / rms["layernorm"]
    claims = [("ln_rms", max(loss["layernorm"], loss["rmsnorm"]) <= m["trained"]
               and abs(loss["layernorm"] - loss["rmsnorm"]) <= m["same"]),
              ("dyt", loss["dyt"] <= m["trained"]),
              ("none", blowup >= m["blowup"] and loss["none"] - loss["layernorm"] >= m["gap"])]
    return _verdict(lesson, claims, dict(loss_ln=loss["layernorm"], loss_rms=loss["rmsnorm"], loss_dyt=loss["dyt"],
                                         loss_none=loss["none"], rms_ln=rms["layernorm"], rms_none=rms["none"],
                                         ratio=blowup, layers=L, **m))


def check_deep(lesson: Lesson, r: Results) -> Verdict:
    """At depth, plain Post-LN fails or lags (loss at least ``gap`` above the better of DeepNorm and
    ReZero), DeepNorm (Wang et al. 2022) and ReZero (Bachlechner et al. 2020) train (≤ ``trained``);
    at initialisation Pre-LN's stream grows with depth (last/first mean square ≥ ``growth``) and
    LN-Scaling's 1/√ℓ keeps it at most ``lns_fraction`` of Pre-LN's growth (Sun et al. 2025)."""
    m = lesson.margins
    loss = {k: final_loss(s) for k, s in r.series.items()}
    growth = {k: float(np.mean((p := init_profile(f, "resid_ms"))[:, -1] / p[:, 0])) for k, f in r.init.items()}
    best = min(loss["deepnorm"], loss["rezero"])
    claims = [("post_fails", loss["post"] - best >= m["gap"]),
              ("deep_trains", max(loss["deepnorm"], loss["rezero"]) <= m["trained"]),
              ("growth", growth["pre"] >= m["growth"] and growth["lns"] <= m["lns_fraction"] * growth["pre"])]
    layers = r.configs["post"].model.layers
    return _verdict(lesson, claims, dict(loss_post=loss["post"], loss_deepnorm=loss["deepnorm"],
                                         loss_rezero=loss["rezero"], loss_pre=loss["pre"], growth_pre=growth["pre"],
                                         growth_lns=growth["lns"], layers=layers, **m))


def check_seed_bug(lesson: Lesson, r: Results) -> Verdict:
    """The seed article's block: its stream is no longer normalised (mean RMS after the blocks at
    init ≥ ``rms_bug``; the correct Post-LN block's RMS is reported but not checked: it is a LayerNorm
    output, 1 by construction — a definition, not a finding), and it trains worse (final loss at least
    ``gap`` above the correct block's)."""
    m = lesson.margins
    ok, bug = r.series["correct"], r.series["seed_article"]
    rms_ok, rms_bug = float(np.mean(at_init_profile(ok, "resid_post.rms"))), \
        float(np.mean(at_init_profile(bug, "resid_post.rms")))
    loss_ok, loss_bug = final_loss(ok), final_loss(bug)
    claims = [("stream", rms_bug >= m["rms_bug"]),
              ("training", loss_bug - loss_ok >= m["gap"])]
    return _verdict(lesson, claims, dict(rms_correct=rms_ok, rms_seed=rms_bug, loss_correct=loss_ok,
                                         loss_seed=loss_bug, chance=chance_loss(r.configs["correct"]), **m))


def max_logit(series: dict, index: int | None = None) -> float:
    """The largest ``blocks.{i}.attn.max_logit`` over the blocks: at one recorded probe step (``index``
    0 = step 1, the model as initialised; -1 = the latest) or, with ``index=None``, over the whole run
    (its peak). Non-finite values (a diverged run's) are left out; NaN when none is left."""
    vals = []
    for i in range(n_blocks(series)):
        k = names.metric("blocks", i, "attn.max_logit")
        v = np.asarray(series[k][1], dtype=float) if k in series else np.zeros(0)
        v = v if index is None or not len(v) else v[index:][:1]
        vals.extend(v[np.isfinite(v)].tolist())
    return float(np.max(vals)) if vals else math.nan


def check_qk_norm(lesson: Lesson, r: Results) -> Verdict:
    """Wortsman et al. 2023 §3.1 (Dehghani et al. 2023): at a high learning rate the attention logits of a
    plain block grow — its largest logit over the run is at least ``grows``× its value at initialisation
    and at least ``ratio``× the QK-norm model's largest — while QK-norm, a LayerNorm over each head's
    queries and keys, keeps them bounded (|q·k|/√d ≲ √d · γ_q γ_k); and the QK-norm model trains (final
    loss ≤ ``trained``) at least ``gap`` lower than the plain one (a diverged plain run counts as +inf)."""
    m = lesson.margins
    plain, qk = r.series["plain"], r.series["qknorm"]
    start, peak, peak_qk = max_logit(plain, 0), max_logit(plain), max_logit(qk)
    loss_plain, loss_qk = final_loss(plain), final_loss(qk)
    grew, ratio = peak / start, peak / peak_qk
    claims = [("logits", grew >= m["grows"] and ratio >= m["ratio"]),
              ("training", loss_qk <= m["trained"] and loss_plain - loss_qk >= m["gap"])]
    return _verdict(lesson, claims, dict(logit_start=start, logit_end=peak, logit_qk=peak_qk, grew=grew,
                                         logit_ratio=ratio, loss_plain=loss_plain, loss_qk=loss_qk,
                                         lr=r.configs["plain"].train.lr, **m))


def largest_trainable(rows: pd.DataFrame, where: dict, trained: float, depth: str = "layers",
                      rate: str = "lr") -> dict[int, float]:
    """Per depth, the largest learning rate whose cell (among ``rows`` with the ``where`` values)
    completed with a final loss ≤ ``trained``; 0.0 when none did (a diverged cell never counts)."""
    out: dict[int, float] = {}
    for r in rows.to_dict("records"):
        if any(str(r.get(k)) != str(v) for k, v in where.items()):
            continue
        d = int(float(r[depth]))
        out.setdefault(d, 0.0)
        loss = pd.to_numeric(pd.Series([r.get("final_loss")]), errors="coerce").iloc[0]
        if r.get("status") == "completed" and math.isfinite(loss) and loss <= trained:
            out[d] = max(out[d], float(r[rate]))
    return dict(sorted(out.items()))


def _fall(best: dict[int, float], lo: int, hi: int) -> float:
    """How many times smaller the largest trainable rate is at depth ``hi`` than at ``lo`` (inf when
    none trains at ``hi``; NaN when none trains at ``lo`` either: nothing to compare)."""
    if best.get(lo, 0.0) <= 0:
        return math.nan
    return best[lo] / best[hi] if best.get(hi, 0.0) > 0 else math.inf


def check_map_post_ln(lesson: Lesson, r: Results) -> Verdict:
    """Xiong et al. 2020 on a depth × learning-rate map (no warm-up): Post-LN's largest trainable
    learning rate (final loss ≤ ``trained``) falls with depth — at the deepest depth it is at least
    ``fall``× smaller than at the shallowest (or none trains there) — and Pre-LN's falls much less
    (its fall × ``less`` ≤ Post-LN's) while still training at the deepest depth."""
    m = lesson.margins
    best = {vid: largest_trainable(r.rows, {"norm_position": vid}, m["trained"]) for vid in ("post", "pre")}
    depths = sorted(set(best["post"]) & set(best["pre"]))
    lo, hi = depths[0], depths[-1]
    fall_post, fall_pre = _fall(best["post"], lo, hi), _fall(best["pre"], lo, hi)
    claims = [("post_falls", fall_post >= m["fall"]),
              ("pre_less", best["pre"][hi] > 0 and fall_pre * m["less"] <= fall_post)]
    return _verdict(lesson, claims, dict(lo=lo, hi=hi, lr_post_lo=best["post"][lo], lr_post_hi=best["post"][hi],
                                         lr_pre_lo=best["pre"][lo], lr_pre_hi=best["pre"][hi], fall_post=fall_post,
                                         fall_pre=fall_pre, **m))


def sweep_results(lesson: Lesson, rows: pd.DataFrame, scale: str = "full", changes: dict | None = None) -> Results:
    """A map lesson's results: its sweep's rows (cells.csv) and the variants' configs."""
    return Results(rows=rows, configs=dict(lesson.configs(scale, changes)))


# probes every 10 steps, no attention maps (the lessons do not use them), validation every 50
_RUN = dict(d_model=32, heads=4, d_ff=64, batch_size=16, task="reverse", vocab_size=10, seq_len=8,
            probe_every=10, attention_every=0, eval_every=50, init="xavier")

LESSONS: dict[int, Lesson] = {lesson.id: lesson for lesson in [
    Lesson(
        1, "why-residuals", "Dong, Cordonnier & Loukas 2021, “Attention is not all you need: pure attention "
        "loses rank doubly exponentially with depth” (ICML)", "compare", "train",
        base={**_RUN, "arch": "encoder", "layers": 12, "norm_position": "pre", "lr": 1e-3, "steps": 300},
        variants=(Variant("skip", {"residual": "on"}), Variant("noskip", {"residual": "off"})),
        reduced={"steps": 100},
        controls=("layers", "mlp", "steps", "seed"),
        margins={"collapse": 0.01, "healthy": 0.1, "stall": 0.2, "gap": 0.3},
        seconds=(14, 6), check_fn=check_residuals, answer="b"),
    Lesson(
        2, "post-vs-pre-at-init", "Xiong et al. 2020, “On Layer Normalization in the Transformer "
        "Architecture” (ICML), Fig. 3 and Lemma 2", "init", "init",
        base={**_RUN, "arch": "decoder", "layers": 12, "steps": 1},
        variants=(Variant("post", {"norm_position": "post"}), Variant("pre", {"norm_position": "pre"})),
        reduced={},
        controls=("layers", "d_model", "init"),
        margins={"pre_slope": 0.02, "slope_gap": 0.03, "growth": 3.0},
        seconds=(0.3, 0.5), check_fn=check_post_pre_init, answer="a", seeds=tuple(range(8)), n_seeds_reduced=5),
    Lesson(
        3, "warmup-rescues-post-ln", "Xiong et al. 2020 (ICML) §3; Liu et al. 2020, “On the Variance of the "
        "Adaptive Learning Rate and Beyond” (ICLR)", "compare", "train",
        base={**_RUN, "arch": "decoder", "layers": 6, "lr": 1e-2, "steps": 300, "schedule": "constant"},
        variants=(Variant("post", {"norm_position": "post", "warmup": 0}),
                  Variant("post_warmup", {"norm_position": "post", "warmup": 150}),
                  Variant("pre", {"norm_position": "pre", "warmup": 0}),
                  Variant("pre_warmup", {"norm_position": "pre", "warmup": 150})),
        reduced={"steps": 200},
        controls=("lr", "layers", "steps", "seed"),
        margins={"gap": 1.0, "trained": 0.5},
        seconds=(18, 12), check_fn=check_warmup, answer="b"),
    Lesson(
        4, "norm-types", "Ba et al. 2016 (LayerNorm); Zhang & Sennrich 2019 (RMSNorm, NeurIPS); Zhu et al. 2025, "
        "“Transformers without Normalization” (DyT, CVPR)", "compare", "train",
        base={**_RUN, "arch": "decoder", "layers": 6, "norm_position": "pre", "lr": 1e-3, "steps": 300},
        variants=(Variant("layernorm", {"norm": "layernorm"}), Variant("rmsnorm", {"norm": "rmsnorm"}),
                  Variant("dyt", {"norm": "dyt"}), Variant("none", {"norm": "none"})),
        reduced={"steps": 150, "lr": 3e-3},
        controls=("layers", "lr", "steps", "seed"),
        margins={"same": 0.1, "trained": 0.5, "blowup": 5.0, "gap": 1.0},
        seconds=(17, 9), check_fn=check_norms, answer="c"),
    Lesson(
        5, "going-deep", "Wang et al. 2022, “DeepNet: Scaling Transformers to 1,000 Layers”; Bachlechner et al. "
        "2020, “ReZero is All You Need”; Sun et al. 2025, “The Curse of Depth in Large Language Models”",
        "compare", "train",
        base={**_RUN, "arch": "decoder", "layers": 24, "lr": 1e-3, "steps": 300},
        variants=(Variant("post", {"norm_position": "post"}), Variant("deepnorm", {"norm_position": "deepnorm"}),
                  Variant("rezero", {"norm_position": "none", "norm": "none", "residual": "rezero"}),
                  Variant("pre", {"norm_position": "pre"})),
        reduced={"steps": 80, "lr": 3e-3},
        controls=("layers", "lr", "steps", "seed"),
        margins={"gap": 1.0, "trained": 0.5, "growth": 5.0, "lns_fraction": 0.5},
        seconds=(63, 21), check_fn=check_deep, answer="c",
        init_variants=(Variant("pre", {"norm_position": "pre"}), Variant("lns", {"norm_position": "lns"}))),
    Lesson(
        6, "spot-the-bug", "Vaswani et al. 2017, “Attention Is All You Need”; Devlin et al. 2019, “BERT” "
        "(the correct Post-LN block)", "compare", "train",
        base={**_RUN, "arch": "encoder", "layers": 6, "norm_position": "post", "d_ff": 32, "activation": "relu",
              "lr": 1e-3, "steps": 300},
        variants=(Variant("correct", {}), Variant("seed_article", {}, block="seed_article")),
        reduced={"steps": 200, "lr": 3e-3},
        controls=("layers", "lr", "steps", "seed"),
        margins={"rms_bug": 1.3, "gap": 0.5},
        seconds=(6, 4), check_fn=check_seed_bug, answer="b"),
    Lesson(
        7, "where-does-post-ln-train", "Xiong et al. 2020, “On Layer Normalization in the Transformer "
        "Architecture” (ICML) §3; Wortsman et al. 2023, “Small-scale proxies for large-scale Transformer "
        "training instabilities” §3.1", "map", "map",
        base={**_RUN, "arch": "decoder", "layers": 2, "lr": 1e-3, "steps": 300, "schedule": "constant",
              "warmup": 0, "probe_every": 0, "eval_every": 0},
        variants=(Variant("post", {"norm_position": "post"}), Variant("pre", {"norm_position": "pre"})),
        reduced={"steps": 150},
        controls=("steps", "seed"),
        margins={"trained": 0.2, "fall": 3.0, "less": 3.0},
        check_fn=check_map_post_ln, answer="b",
        sweep={"layers": (2, 4, 8, 12), "lr": (3e-4, 1e-3, 3e-3, 1e-2)},
        sweep_reduced={"layers": (2, 8), "lr": (3e-3, 1e-2)},
        seconds=(68, 11)),  # timed on the quiet 2-core machine, 2 workers: full 67.5 s, quick 10.2 s (+1.4 s start)
    Lesson(
        8, "why-qk-norm", "Wortsman et al. 2023, “Small-scale proxies for large-scale Transformer training "
        "instabilities” §3.1; Dehghani et al. 2023, “Scaling Vision Transformers to 22 Billion Parameters”",
        "compare", "train",
        base={**_RUN, "arch": "decoder", "layers": 4, "lr": 1e-1, "steps": 300, "schedule": "constant",
              "warmup": 0},
        variants=(Variant("plain", {"qk_norm": False}), Variant("qknorm", {"qk_norm": True})),
        reduced={"steps": 150},
        controls=("lr", "layers", "steps", "seed"),
        margins={"grows": 10.0, "ratio": 10.0, "trained": 0.5, "gap": 1.0},
        seconds=(6, 3), check_fn=check_qk_norm, answer="b"),
]}


def get(lesson_id) -> Lesson | None:
    """The lesson with this id (an int or its text, as in ``?lesson=2``), or None."""
    try:
        return LESSONS.get(int(str(lesson_id).strip()))
    except (TypeError, ValueError):
        return None


# ---- running a lesson ---------------------------------------------------------------------------------
def run_init(lesson: Lesson, variants: list[tuple[str, RunConfig]], seeds) -> dict[str, pd.DataFrame]:
    from .signal import depth_profile

    return {vid: depth_profile(cfg, seeds) for vid, cfg in variants}


def comparison(lesson: Lesson, scale: str = "full", changes: dict | None = None, on_finish=None) -> LessonComparison:
    """The lesson's training variants as one lockstep comparison (labels = variant ids)."""
    configs = lesson.configs(scale, changes)
    return LessonComparison([c for _, c in configs], [vid for vid, _ in configs], lesson.blocks(),
                            on_finish=on_finish)


def collect(lesson: Lesson, comp: LessonComparison | None, init: dict | None = None,
            configs: list[tuple[str, RunConfig]] | None = None) -> Results:
    """Results from a finished comparison and/or init frames."""
    r = Results(init=dict(init or {}))
    if comp is not None:
        for vid, tr in zip(comp.labels, comp.trainers):
            r.series[vid] = tr.store.all_series()
            r.status[vid] = tr.status
            r.configs[vid] = tr.cfg
    for vid, cfg in configs or ():
        r.configs.setdefault(vid, cfg)
    return r


def run_results(lesson: Lesson, scale: str = "full", changes: dict | None = None) -> Results:
    """Run the lesson in this thread: its at-initialisation part, then its training (if any)."""
    seeds = lesson.seeds_at(scale, changes)
    configs = lesson.configs(scale, changes)
    if lesson.kind == "init":
        return collect(lesson, None, run_init(lesson, configs, seeds), configs)
    init = run_init(lesson, lesson.init_configs(scale, changes), seeds) if lesson.init_variants else {}
    comp = comparison(lesson, scale, changes)
    comp.run()
    return collect(lesson, comp, init, configs)


def run_lesson(lesson: Lesson | int, scale: str = "reduced", changes: dict | None = None) -> Verdict:
    """Run a lesson's configs at ``scale`` and return its verdict."""
    lesson = lesson if isinstance(lesson, Lesson) else LESSONS[int(lesson)]
    return lesson.check(run_results(lesson, scale, changes))


CORRECT_CODE = '''\
def forward(self, x, mask=None):
    attn = self.attn(x, x, x)
    x = x + self.dropout(attn[0])
    x = self.norm1(x)
    h = self.linear2(self.activation(self.linear1(x)))
    x = x + self.dropout(h)
    x = self.norm2(x)
    return x'''  # the Post-LN block the lesson compares with (BERT's), in the listing's own words

SEED_ARTICLE_CODE = '''\
def forward(self, x, mask=None):
    attn = self.attn(x, x, x)
    x = x + self.dropout(attn[0])
    x = self.norm1(x)
    x = self.linear2(self.activation(self.linear1(x)))
    x = x + self.norm3(x)
    return x'''
