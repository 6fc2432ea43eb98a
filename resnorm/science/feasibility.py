"""Can this config train here? The one question a config itself does not answer (a config is a
pure value: ``resnorm.science.config``), asked once by whoever is about to train one — the sidebar and the
other pages that build configs, the command line, the trainer before it builds anything, the
server before it queues a job, and the runs folder when a saved run is opened:

- the task fits the architecture and its positions (``resnorm.science.tasks.task_problems``);
- its data is readable: a text-lm file is a UTF-8 text file within the limit, long enough for the
  context (Python's own sources always are);
- one training step fits in memory: the estimate of weights, optimizer state, activations and
  attention snapshots (``run_memory``) is within ``RESNORM_MAX_RUN_GB``; a comparison trains its
  configs together and they share that one cap (``together``).

``check(cfg)`` lists the problems as (field, message) pairs naming the field, as a ``ConfigError``
does; ``require(cfg)`` raises ``ConfigError`` with them. ``read_text=False`` never opens the text
file: a path that came from the runs folder is not opened (``resnorm.serving.runs``), the rest is checked.
"""
from __future__ import annotations

from .. import settings
from .config import ConfigError, ModelConfig, RunConfig
from ..messages import msg
from .store import ATTENTION_BYTES
from .tasks import task_problems, task_shape


def check(cfg: RunConfig, *, read_text: bool = True) -> list[tuple[str, str]]:
    """What stops ``cfg`` from training here, as (field, message) pairs; [] when it can. The task
    first (it fits, its text is readable); the memory estimate once the task is sound."""
    problems = task_problems(cfg.task, cfg.model.arch, read_text=read_text)
    return problems or memory_problems(cfg)


def require(cfg: RunConfig, *, read_text: bool = True) -> RunConfig:
    """``cfg`` if it can train here, else ``ConfigError`` naming each field (``check``)."""
    problems = check(cfg, read_text=read_text)
    if problems:
        raise ConfigError(problems)
    return cfg


def build(values: dict, base: RunConfig | None = None) -> tuple[RunConfig | None, list[tuple[str, str]]]:
    """``RunConfig.from_flat(values, base)`` and ``check`` of it, for a page drawing its controls:
    (the config, []) when it can train here, else (None or the config, every problem). Never raises
    ``ConfigError``."""
    try:
        cfg = RunConfig.from_flat(values, base=base)
    except ConfigError as e:
        return None, e.problems
    return cfg, check(cfg)


def together(configs: list[RunConfig]) -> str | None:
    """Why configs trained together (a comparison, in one slot) cannot share the one memory cap,
    or None: each is checked alone by ``check``, their sum here."""
    if len(configs) < 2:
        return None
    total, limit = sum(run_memory(c) for c in configs), max_run_bytes()
    if total <= limit:
        return None
    return msg("start.together", n=len(configs), need=total / 2**30, limit=limit / 2**30, env=MEMORY_ENV)


# ---- memory ---------------------------------------------------------------------------------------
MEMORY_ENV = "RESNORM_MAX_RUN_GB"
_DTYPE_BYTES = {"float32": 4, "float64": 8, "bfloat16": 2}


def max_run_bytes() -> int:
    """Memory one run may need: ``RESNORM_MAX_RUN_GB`` GiB (``resnorm.settings``, default 4; a malformed
    value is a ``SettingError`` naming it, as for every setting)."""
    return int(settings.get(MEMORY_ENV) * 2**30)


def step_memory(model: ModelConfig, src_len: int, tgt_len: int, vocab: int, batch: int) -> tuple[int, int]:
    """(bytes of parameter state, bytes of one training step's activations): a deliberately generous
    estimate from the sizes alone (no model is built).

    Parameter state counts each weight seven times: the weight, its gradient, two Adam moments, the
    snapshot the update-ratio probe takes and the optimizer's temporaries. Activations count, per
    token and block, what autograd keeps for the backward pass (inputs of every linear layer and
    norm, q/k/v, the attention scores, their mask and softmax, the MLP's hidden layer before and after
    the activation) and half as much again for the gradients flowing back, plus the logits.
    Measured against the peak resident memory of one step on CPU (float32, bfloat16, float64; decoder,
    encoder, encoder-decoder), the estimate was 1.2-2.8 times the real figure."""
    d, h, L = model.d_model, model.heads, model.layers
    f = model.d_ff if model.mlp else 0
    per_attn_p, per_mlp_p = 4 * d * d + 4 * d, (2 * d * f + f + d) if f else 0
    per_norms_p = 3 * 4 * d
    stacks = [(src_len, src_len, False)]  # (tokens, attended keys, cross-attention)
    if model.arch == "encoder-decoder":
        stacks.append((tgt_len, tgt_len, True))
    params = vocab * d + max(src_len, tgt_len) * d + d * vocab + vocab
    acts = 0
    for T, S, cross in stacks:
        params += L * (per_attn_p * (2 if cross else 1) + per_mlp_p + per_norms_p)
        per_token = (16 * d + 4 * h * S) + (6 * d + 4 * f if f else 0)
        if cross:
            per_token += 16 * d + 4 * h * src_len
        acts += batch * T * L * per_token
    out_len = tgt_len if model.arch == "encoder-decoder" else src_len
    acts += 4 * batch * out_len * vocab
    b = _DTYPE_BYTES.get(model.dtype, 4)
    return 7 * params * b, 3 * acts * b // 2


def attention_store_bytes(cfg: RunConfig) -> int:
    """Memory the run's attention snapshots may take: the worker's store and the server's mirror,
    each bounded by ``store.ATTENTION_BYTES`` (maps are cut to 8 heads and 64 positions)."""
    return 2 * ATTENTION_BYTES if cfg.train.attention_every else 0


def _estimate(cfg: RunConfig) -> tuple[int, int]:
    """(bytes of parameter state, bytes of activations and attention snapshots) of one run."""
    src, tgt, vocab = task_shape(cfg.task, cfg.model.arch)
    param_b, act_b = step_memory(cfg.model, src, tgt, vocab, cfg.train.batch_size)
    return param_b, act_b + attention_store_bytes(cfg)


def run_memory(cfg: RunConfig) -> int:
    """The estimate ``RESNORM_MAX_RUN_GB`` is checked against: weights and optimizer state, one
    step's activations and the attention snapshots kept."""
    return sum(_estimate(cfg))


def memory_problems(cfg: RunConfig) -> list[tuple[str, str]]:
    """Refuse a config whose training step would not fit in ``max_run_bytes()``: in a shared server
    an oversized run would not fail cleanly, it would be killed by the kernel with every session."""
    param_b, act_b = _estimate(cfg)
    limit = max_run_bytes()
    if param_b + act_b <= limit:
        return []
    gib = lambda n: f"{n / 2**30:.1f} GiB"  # noqa: E731
    if param_b > limit // 2:
        return [("d_model", msg("problem.model_too_large", need=gib(param_b), limit=gib(limit), env=MEMORY_ENV))]
    return [("batch_size", msg("problem.step_too_large", need=gib(param_b + act_b), activations=gib(act_b),
                               batch=cfg.train.batch_size, limit=gib(limit), env=MEMORY_ENV))]
