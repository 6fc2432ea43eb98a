"""Frozen, validated configs: what to build (ModelConfig), what to learn (TaskConfig) and how to
train it (TrainConfig), bundled as a RunConfig with a JSON round-trip.

A config is a pure value: building one checks its fields and the rules between fields, and reads
nothing (no file, no task, no memory estimate). Whether it can train on this machine is asked
separately, once, of ``resnorm.science.feasibility`` (``check`` / ``require``).

Every field carries its own schema in ``metadata`` (help text, choices or range). That one schema
drives validation here, the command line (``resnorm.cli``) and, later, the UI controls, so a field's
name, range and explanation are written exactly once. Field names are unique across the three
configs because they double as CLI options (``--d-model``) and URL query keys (``d_model``).
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field
from typing import Any

from . import variants
from ..messages import msg

ARCHS = ("decoder", "encoder", "encoder-decoder")
ACTIVATIONS = ("gelu", "relu")
DTYPES = ("float32", "float64", "bfloat16")
TASKS = ("copy", "reverse", "sort", "add", "stdlib-lm", "text-lm")
SCHEDULES = ("constant", "linear", "cosine", "noam")
OPTIMIZERS = ("adamw", "adam", "sgd")
DEVICES = ("auto", "cpu", "cuda")
AUTOCASTS = ("off", "bf16")


def _f(default, help, *, choices=None, lo=None, hi=None, lo_open=False, optional=False):
    """A dataclass field with its schema: ``choices`` or the closed range [lo, hi]
    (``lo_open`` makes the lower bound strict, e.g. lr > 0)."""
    meta = dict(help=help, choices=choices, lo=lo, hi=hi, lo_open=lo_open, optional=optional)
    return field(default=default, metadata=meta)


class ConfigError(ValueError):
    """One or more problems with a config; ``problems`` is a list of (field, message)."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = list(problems)
        super().__init__("; ".join(f"{f}: {m}" for f, m in self.problems))

    def by_field(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for f, m in self.problems:
            out.setdefault(f, m)
        return out


_TYPES = {"int": int, "float": float, "bool": bool, "str": str, "str | None": str}
MAX_SHOWN = 60  # characters of a rejected value echoed back in a message


def show(value: Any) -> str:
    """``repr(value)`` for a message, bounded: a pasted megabyte or a 5000-digit integer is echoed
    as its first characters (``str`` of an int over 4300 digits would itself raise ValueError)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 200:
        return f"an integer with about {int(value.bit_length() * 0.30103)} digits"
    try:
        text = repr(value)
    except Exception:  # an object whose repr fails is still a wrong value
        text = f"<{type(value).__name__}>"
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"


def show_key(key: Any) -> str:
    """A key as a message names it: as typed when short and printable, else like ``show``."""
    return key if isinstance(key, str) and key.isprintable() and len(key) <= MAX_SHOWN else show(key)


def _finite(value) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


def _check_field(f: dataclasses.Field, value: Any) -> str | None:
    """Return a message if ``value`` breaks the field's schema, else None."""
    m = f.metadata
    if value is None:
        return None if m.get("optional") else msg("problem.required")
    t = _TYPES[str(f.type)]
    if t is bool and not isinstance(value, bool):
        return msg("problem.not_bool", value=show(value))
    if t is int and (isinstance(value, bool) or not isinstance(value, int)):
        return msg("problem.not_int", value=show(value))
    if t is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return msg("problem.not_number", value=show(value))
        if not _finite(value):
            return msg("problem.not_finite", value=show(value))
    if t is str and not isinstance(value, str):
        return msg("problem.not_string", value=show(value))
    if m.get("choices") is not None and value not in m["choices"]:
        return msg("problem.unknown_choice", value=show(value), choices=", ".join(m["choices"]))
    if t is str and "\x00" in value:
        return msg("problem.nul")
    lo, hi = m.get("lo"), m.get("hi")
    if lo is not None and (value <= lo if m.get("lo_open") else value < lo):
        key = ("above" if m.get("lo_open") else "at_least") + ("_at_most" if hi is not None else "")
        return msg(f"problem.{key}", lo=lo, hi=hi, value=show(value)) if hi is not None else \
            msg(f"problem.{key}", lo=lo, value=show(value))
    if hi is not None and value > hi:
        return msg("problem.between", lo=lo, hi=hi, value=show(value)) if lo is not None else \
            msg("problem.at_most", hi=hi, value=show(value))
    return None


class _Validated:
    """Mixin: field-level checks from the schema, then the class's cross-field ``_relations``."""

    def __post_init__(self):
        problems = self.problems()
        if problems:
            raise ConfigError(problems)

    def problems(self) -> list[tuple[str, str]]:
        out = []
        for f in dataclasses.fields(self):
            problem = _check_field(f, getattr(self, f.name))
            if problem:
                out.append((f.name, problem))
        bad = {f for f, _ in out}
        try:  # cross-field rules; a rule over an already-invalid field may not apply
            out.extend(p for p in self._relations() if p[0] not in bad)
        except (TypeError, ValueError, ZeroDivisionError, KeyError):
            pass
        return out

    def _relations(self) -> list[tuple[str, str]]:
        return []

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class ModelConfig(_Validated):
    arch: str = _f("decoder", "The model's shape: a decoder predicts the next symbol and sees only the past "
                   "(GPT, Radford et al. 2018); an encoder sees the whole input at once (BERT, Devlin et al. "
                   "2019); an encoder-decoder is the original Transformer, whose decoder also reads the "
                   "encoder's output (Vaswani et al. 2017)", choices=ARCHS)
    layers: int = _f(4, "number of blocks (per stack for encoder-decoder)", lo=1, hi=96)
    d_model: int = _f(64, "width of the residual stream", lo=4, hi=2048)
    heads: int = _f(4, "attention heads; must divide d_model", lo=1, hi=64)
    d_ff: int = _f(256, "hidden width of the MLP (usually 4 x d_model)", lo=1, hi=8192)
    norm_position: str = _f("pre", "Where each block normalises: after adding the sublayer's output (Post-LN, "
                            "Vaswani et al. 2017); before the sublayer (Pre-LN, Xiong et al. 2020); before and "
                            "after it (Peri-LN / Sandwich-LN, Ding et al. 2021); after the addition with the "
                            "skip path scaled up (DeepNorm, Wang et al. 2022); Pre-LN divided by √(layer number) "
                            "(LayerNorm-Scaling, Sun et al. 2025); or not at all",
                            choices=tuple(variants.NORM_POSITIONS))
    norm: str = _f("layernorm", "What the normalisation computes: LayerNorm centres and rescales each token "
                   "(Ba et al. 2016); RMSNorm only rescales (Zhang & Sennrich 2019); Dynamic Tanh squashes "
                   "with a learnable tanh instead of statistics (Zhu et al. 2025); Derf squashes with a learnable erf (Chen et al. 2025); BatchNorm averages "
                   "over the batch (Ioffe & Szegedy 2015)", choices=tuple(variants.NORM_TYPES))
    residual: str = _f("on", "The skip path that adds a block's input to its output: on, x + F(x) (He et al. "
                       "2016); off, no skip path; ReZero, x + α·F(x) with α learnt and 0 at the start "
                       "(Bachlechner et al. 2020); scaled, x + F(x)/√(2L) for L blocks; Admin, Post-LN with a skip scale ω "
                       "profiled at the start (Liu et al. 2020); depth-μP / CompleteP, x + L^-α·F(x) (Yang et al. "
                       "2023; Dey et al. 2025); hyper-connections and mHC, n residual streams mixed by learnt "
                       "matrices (Zhu et al. 2025; DeepSeek 2025)",
                       choices=tuple(variants.RESIDUAL_MODES))
    mlp: bool = _f(True, "include the feed-forward sublayer (off = attention-only model)")
    init: str = _f("xavier", "How the weights start: Xavier uniform (Glorot & Bengio 2010; the setting of "
                   "Xiong et al. 2020); GPT-2's N(0, 0.02) with the output projections scaled by 1/√(2L) "
                   "(Radford et al. 2019); or PyTorch's defaults", choices=tuple(variants.INITS))
    activation: str = _f("gelu", "MLP non-linearity", choices=ACTIVATIONS)
    dropout: float = _f(0.0, "Dropout: the fraction of each sublayer's outputs and attention weights set to "
                        "zero at random while training (Srivastava et al. 2014); 0 = off", lo=0.0, hi=0.9)
    dtype: str = _f("float32", "floating-point type of weights and activations", choices=DTYPES)
    norm_eps: float = _f(1e-5, "epsilon inside the norm's square root", lo=0.0, hi=1.0)
    # ---- issue 18: residual / norm-position variants (variants.py, end of module) ----
    mixln_alpha: float = _f(0.25, "mixln: the fraction a of blocks, from the input, that are Post-LN (the first "
                            "floor(a*L)); the others are Pre-LN (Li et al. 2025)", lo=0.0, hi=1.0)
    residual_alpha: float = _f(0.5, "depthmup: the exponent a of the branch scale L^-a (0.5 = depth-muP, "
                               "1 = CompleteP, 0 = plain x + F(x))", lo=0.0, hi=1.0)
    streams: int = _f(4, "hyper / mhc: the number n of residual streams (Zhu et al. 2025)", lo=1, hi=16)
    hc_dynamic: bool = _f(False, "hyper / mhc: add input-dependent mixing (dynamic hyper-connections) to the "
                          "learned static matrices; equal to static at init")
    value_residual: bool = _f(False, "ResFormer value residual (Zhou et al. 2025): every self-attention's values "
                              "V_l <- l1*V_l + l2*V_1, V_1 the first block's, l1 = l2 = 0.5 at init, learned")

    # ---- issue 18 (i-attn): norms and attention options -------------------------------------------
    dyt_alpha: float = _f(0.5, "initial a of DyT / Derf, whose output is γ·tanh(a·x)+β / γ·erf(a·x+s)+β "
                          "(Zhu et al. 2025 report that deep or wide models need a smaller a)",
                          lo=0.0, lo_open=True, hi=100.0)
    qk_norm: bool = _f(False, "QK-norm: LayerNorm over each head's queries and keys before their dot product "
                       "(Henry et al. 2020; Wortsman et al. 2023): bounds the attention logits")
    logit_softcap: float = _f(0.0, "attention logit soft-cap C: logits <- C·tanh(logits/C) before the softmax, "
                              "so no logit exceeds C (Gemma 2, 2024); 0 = off", lo=0.0, hi=1000.0)
    attn_gate: bool = _f(False, "gated attention: each head's output times sigmoid(x W_g) before W_O "
                         "(Qiu et al. 2025): removes the attention sink")
    # ---- end issue 18 (i-attn) ----------------------------------------------------------------------

    def __post_init__(self):
        alias = variants.POSITION_ALIASES.get(self.norm_position) if isinstance(self.norm_position, str) else None
        if alias:  # peri -> sandwich: one name is stored, so saved runs and links stay comparable
            object.__setattr__(self, "norm_position", alias)
        super().__post_init__()

    def _relations(self):
        out = []
        if self.d_model % self.heads:
            out.append(("heads", msg("problem.heads_divide", d_model=self.d_model, heads=self.heads)))
        bad = variants.incompatibility(self.norm_position, self.residual, self.norm, self.arch)
        if bad:
            out.append(bad)
        out.extend(variants.problems_2026(self))  # issue 18
        out.extend(self._attention_relations())
        return out

    def _attention_relations(self):
        """Issue 18 (i-attn): combinations of the norm/attention options that mean nothing."""
        out = []
        uses_alpha = variants.NORM_TYPES[self.norm].alpha_init and variants.NORM_POSITIONS[self.norm_position].normalises
        if self.dyt_alpha != 0.5 and not uses_alpha:
            out.append(("dyt_alpha", msg("problem.attn.dyt_alpha_unused", dyt_alpha=self.dyt_alpha, norm=self.norm,
                                         norm_position=self.norm_position)))
        if self.qk_norm and self.d_model // self.heads < 2:
            out.append(("qk_norm", msg("problem.attn.qk_norm_one_feature", d_model=self.d_model, heads=self.heads)))
        return out


@dataclass(frozen=True)
class TaskConfig(_Validated):
    task: str = _f("copy", "copy / reverse / sort a random symbol string, add two numbers, or "
                   "character-level language modelling (stdlib-lm: Python's own sources; "
                   "text-lm: your text file). Validation is held out: the last tenth of a text; for the "
                   "symbol tasks a tenth of the possible inputs, chosen by a hash of the input, never used "
                   "in training — unless the task has so few distinct inputs that none can be set aside "
                   "(e.g. copy with 2 symbols x 1), which the run's summary then says", choices=TASKS)
    seq_len: int = _f(8, "symbols per input (digits per operand for add; context length for text)",
                      lo=1, hi=512)
    vocab_size: int = _f(10, "alphabet size of the symbol tasks (copy, reverse, sort)", lo=2, hi=62)
    text_file: str | None = _f(None, "UTF-8 text file for text-lm", optional=True)
    mask_prob: float = _f(0.15, "fraction of characters masked in the encoder's masked-LM form",
                          lo=0.0, lo_open=True, hi=1.0)

    def _relations(self):
        out = []
        if self.task == "text-lm" and not self.text_file:
            out.append(("text_file", msg("problem.text_lm_needs_file")))
        if self.task in ("stdlib-lm", "text-lm") and self.seq_len < 2:
            out.append(("seq_len", msg("problem.lm_context")))
        return out


@dataclass(frozen=True)
class TrainConfig(_Validated):
    steps: int = _f(500, "optimizer steps", lo=1, hi=10_000_000)
    batch_size: int = _f(32, "sequences per step", lo=1, hi=4096)
    lr: float = _f(1e-3, "peak learning rate", lo=0.0, lo_open=True, hi=1e3)
    warmup: int = _f(0, "linear warmup steps (noam: the step of the peak)", lo=0, hi=10_000_000)
    schedule: str = _f("constant", "learning-rate schedule after warmup: constant, linear decay to 0, "
                       "cosine decay to 0, or noam (Vaswani et al. eq. 3, peak = lr)",
                       choices=SCHEDULES)
    optimizer: str = _f("adamw", "optimizer", choices=OPTIMIZERS)
    weight_decay: float = _f(0.0, "decoupled weight decay (AdamW) or L2 penalty (Adam, SGD)", lo=0.0, hi=10.0)
    grad_clip: float = _f(1.0, "clip the global gradient norm to this value (0 = off)", lo=0.0)
    seed: int = _f(0, "seed of the run: weights, training batches, validation batches and dropout each "
                   "draw from their own stream derived from it (resnorm.science.seeds)", lo=0, hi=2**31 - 1)
    device: str = _f("auto", "auto uses CUDA when present, else CPU", choices=DEVICES)
    autocast: str = _f("off", "mixed precision: bf16 runs the forward pass and loss under torch.autocast "
                       "(matrix products in bfloat16, weights and optimizer kept in float32; needs dtype "
                       "float32); off computes everything in dtype", choices=AUTOCASTS)
    probe_every: int = _f(10, "record per-layer statistics every N steps (0 = probes off)", lo=0, hi=10_000_000)
    attention_every: int = _f(50, "capture attention maps of the probe example every N steps (0 = off)", lo=0,
                              hi=10_000_000)
    eval_every: int = _f(50, "validation loss every N steps (0 = off)", lo=0, hi=10_000_000)
    max_points: int = _f(2000, "points kept per metric; older points are thinned", lo=10, hi=1_000_000)
    # ---- issue 18 (i-attn) -----------------------------------------------------------------------------
    z_loss: float = _f(0.0, "z-loss coefficient c: the loss adds c·mean(logsumexp(logits)²), keeping the "
                       "output softmax's normaliser near 1 (PaLM, Chowdhery et al. 2022; typical 1e-4); "
                       "0 = off. train/z_loss records mean(logsumexp²) in every run", lo=0.0, hi=1.0)

    def _relations(self):
        out = []
        if self.schedule == "noam" and self.warmup < 1:
            out.append(("warmup", msg("problem.noam_warmup")))
        if self.warmup > self.steps and self.schedule in ("linear", "cosine"):
            out.append(("warmup", msg("problem.warmup_too_long", warmup=self.warmup, steps=self.steps)))
        return out


SECTIONS = {"model": ModelConfig, "task": TaskConfig, "train": TrainConfig}

def field_index() -> dict[str, tuple[str, dataclasses.Field]]:
    """Field name -> (section, dataclass field), over all three configs."""
    return {f.name: (sec, f) for sec, cls in SECTIONS.items() for f in dataclasses.fields(cls)}


@dataclass(frozen=True)
class RunConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    task: TaskConfig = field(default_factory=TaskConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self):
        """Rules across sections, from the fields alone. Whether the config can train here (its task
        fits the architecture, its text is readable, it fits in memory) is ``resnorm.science.feasibility``'s
        question, asked by whoever is about to train it."""
        problems = []
        if self.model.norm == "batchnorm" and self.model.norm_position != "none" and self.train.batch_size < 2:
            problems.append(("batch_size", msg("problem.batchnorm_batch")))
        if self.model.init == "tfixup" and self.train.warmup > 0:  # issue 18: T-Fixup removes warmup
            problems.append(("warmup", msg("problem.variants.tfixup_warmup", warmup=self.train.warmup)))
        if self.train.autocast != "off" and self.model.dtype != "float32":
            problems.append(("autocast", msg("problem.autocast_dtype", autocast=self.train.autocast,
                                             dtype=self.model.dtype)))
        if problems:
            raise ConfigError(problems)

    # ---- construction from flat or nested mappings -------------------------------------------
    @classmethod
    def from_flat(cls, values: dict[str, Any], base: "RunConfig | None" = None) -> "RunConfig":
        """Build from ``{field_name: value}`` (CLI options, URL query). Collects every problem
        (unknown names, wrong types, ranges, incompatible combinations) before raising."""
        index = field_index()
        per: dict[str, dict] = {s: {} for s in SECTIONS}
        problems = []
        for k, v in values.items():
            if k not in index:
                problems.append((k, msg("problem.unknown_option", name=show(k))))
                continue
            per[index[k][0]][k] = v
        sections = {}
        for s, cls_ in SECTIONS.items():
            start = getattr(base, s) if base is not None else cls_()
            merged = {**dataclasses.asdict(start), **per[s]}
            try:
                sections[s] = cls_(**merged)
            except ConfigError as e:
                problems.extend(e.problems)
        if problems:
            raise ConfigError(problems)
        return cls(**sections)

    @classmethod
    def from_dict(cls, d: dict) -> "RunConfig":
        """Inverse of ``to_dict``: ``{"model": {...}, "task": {...}, "train": {...}}``."""
        if not isinstance(d, dict):
            raise ConfigError([("config", msg("problem.not_object"))])
        problems = [("config", msg("problem.unknown_section", name=show(k), sections=", ".join(SECTIONS)))
                    for k in d if k not in SECTIONS]
        flat = {}
        for s in SECTIONS:
            sec = d.get(s, {})
            if not isinstance(sec, dict):
                problems.append((s, msg("problem.section_not_object")))
                continue
            names = {f.name for f in dataclasses.fields(SECTIONS[s])}
            for k, v in sec.items():
                if k in names:
                    flat[k] = v
                else:
                    problems.append((f"{s}.{k}", msg("problem.unknown_in_section", name=show(k), section=repr(s))))
        if problems:
            raise ConfigError(problems)
        return cls.from_flat(flat)

    def to_dict(self) -> dict:
        return {s: getattr(self, s).to_dict() for s in SECTIONS}

    def to_flat(self) -> dict:
        return {k: v for s in SECTIONS for k, v in getattr(self, s).to_dict().items()}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False)

    @classmethod
    def from_json(cls, text: str) -> "RunConfig":
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError([("config", msg("problem.bad_json", error=str(e)))]) from None
        except RecursionError:
            raise ConfigError([("config", msg("problem.too_deep"))]) from None
        except ValueError as e:  # e.g. an integer of more than 4300 digits
            raise ConfigError([("config", msg("problem.not_config", error=str(e)[:120]))]) from None
        return cls.from_dict(d)

    @classmethod
    def from_file(cls, path: str) -> "RunConfig":
        """``from_json`` of a file: a regular file only (never a FIFO or a device, which could block
        or never end), at most ``MAX_CONFIG_BYTES``, UTF-8."""
        return cls.from_json(read_config_file(path))

    def replace(self, **flat) -> "RunConfig":
        """A copy with some fields changed by name, e.g. ``cfg.replace(layers=12)``."""
        return RunConfig.from_flat(flat, base=self)


MAX_CONFIG_BYTES = 1 << 20  # a config.json is a few hundred bytes; the runs folder has the same cap


def read_config_file(path: str) -> str:
    """The text of a config file, or ConfigError("config", why): missing, not a regular file, larger
    than ``MAX_CONFIG_BYTES`` or not UTF-8. The file is checked before it is opened and opened
    without blocking, so a FIFO cannot hang the caller and ``/dev/zero`` is never read."""
    import stat

    def fail(msg):
        return ConfigError([("config", msg)])

    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise fail(msg("problem.is_folder" if stat.S_ISDIR(st.st_mode) else "problem.not_regular", path=show(str(path))))
        if st.st_size > MAX_CONFIG_BYTES:
            raise fail(msg("problem.too_large_kib", path=show(str(path)), kib=MAX_CONFIG_BYTES // 1024))
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):  # replaced meanwhile
                raise fail(msg("problem.not_regular", path=show(str(path))))
            data = fh.read(MAX_CONFIG_BYTES + 1)
    except ConfigError:
        raise
    except (OSError, ValueError) as e:  # ValueError: a NUL in the path
        why = getattr(e, "strerror", None) or str(e)
        raise fail(msg("problem.cannot_read", path=show(str(path)), error=why)) from None
    if len(data) > MAX_CONFIG_BYTES:
        raise fail(msg("problem.too_large_kib", path=show(str(path)), kib=MAX_CONFIG_BYTES // 1024))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise fail(msg("problem.not_utf8_json", path=show(str(path)))) from None


# ---- text forms: URL query values, the equivalent command line and Python ---------------------------
# Fields a URL (anyone's link) may not set: a path on the server is never taken from a link.
NOT_FROM_TEXT = {"text_file": "problem.not_from_link"}  # message keys
ALIASES = {"norm_position": variants.POSITION_ALIASES}  # other accepted names of a choice (CLI, URL, JSON)


def parse_value(name: str, text: str):
    """Parse one field's value from text (a URL query value) by the field's schema; raises
    ConfigError naming the field when the text is not a valid value for it."""
    index = field_index()
    if name not in index:
        raise ConfigError([(name, msg("problem.unknown_option", name=show(name)))])
    if name in NOT_FROM_TEXT:
        raise ConfigError([(name, msg(NOT_FROM_TEXT[name]))])
    f = index[name][1]
    t = _TYPES[str(f.type)]
    text = str(text).strip()
    text = ALIASES.get(name, {}).get(text, text)  # e.g. norm_position=peri
    try:
        if t is bool:
            lowered = text.lower()
            if lowered not in ("true", "false", "1", "0", "on", "off", "yes", "no"):
                raise ValueError
            value = lowered in ("true", "1", "on", "yes")
        elif t is int:
            value = int(text)
        elif t is float:
            value = float(text)
        else:
            value = text
    except ValueError:
        why = "not_whole_number" if t is int else "not_a_number" if t is float else "not_true_false"
        raise ConfigError([(name, msg(f"problem.{why}", value=show(text)))]) from None
    problem = _check_field(f, value)
    if problem:
        raise ConfigError([(name, problem)])
    return value


def parse_query(params: dict[str, str]) -> tuple[dict, list[str]]:
    """Query parameters → (valid field values, notes on what was ignored and why). Never raises:
    an unknown key, a value that does not parse or is out of range, and ``text_file`` (a server path)
    are each ignored with a note that starts with the key."""
    values, ignored = {}, []
    for k, text in params.items():
        try:
            values[k] = parse_value(k, text)
        except ConfigError as e:
            ignored.append(msg("problem.ignored", key=show_key(k), value=show(text), problem=e.problems[0][1]))
    return values, ignored


def non_default(cfg: RunConfig) -> dict:
    """The fields of ``cfg`` that differ from the defaults (what a link or a command must say)."""
    default = {k: f.default for k, (_, f) in field_index().items()}
    return {k: v for k, v in cfg.to_flat().items() if v != default[k]}


def to_cli(cfg: RunConfig, out: str = "runs/my-run") -> str:
    """The equivalent ``python -m resnorm train`` command."""
    import shlex

    parts = ["python -m resnorm train"]
    for k, v in non_default(cfg).items():
        opt = "--" + k.replace("_", "-")
        if isinstance(v, bool):
            parts.append(opt if v else "--no-" + k.replace("_", "-"))
        elif k != "max_points":
            parts.append(f"{opt} {shlex.quote(str(v))}")
    parts.append(f"--out {shlex.quote(out)}")
    return " ".join(parts)


def to_python(cfg: RunConfig) -> str:
    """An equivalent Python snippet."""
    args = ", ".join(f"{k!r}: {v!r}" for k, v in non_default(cfg).items())
    return ("from resnorm.science.config import RunConfig\n"
            "from resnorm.science.trainer import Trainer\n\n"
            f"cfg = RunConfig.from_flat({{{args}}})\n"
            "trainer = Trainer(cfg)\n"
            "summary = trainer.run()          # or trainer.start() to train in the background\n"
            "metrics = trainer.store.frame()  # columns step, name, value\n")
