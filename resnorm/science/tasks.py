"""Tasks, generated locally: symbol tasks (copy, reverse, sort), multi-digit addition, and
character-level language modelling on Python's own standard-library sources or a user's text.

How each architecture sees a sequence task ``x -> y``:

- ``decoder``: one sequence ``x ⟂ y``, next-token prediction, loss only where the target is part
  of ``y`` (targets elsewhere are -100, ignored);
- ``encoder``: ``x`` in, ``y`` out position by position (only for tasks with len(y) == len(x));
- ``encoder-decoder``: ``x`` into the encoder, ``^ y[:-1]`` into the decoder, targets ``y``.

Text tasks are a causal LM for the decoder and a masked LM (mask tokens, predict them) for the
encoder. Batches come from a ``torch.Generator``, so a seed fixes the data order.

Validation is held out. Text tasks keep the last 10 % of the text for validation. Symbol tasks split
the space of examples by a hash of the input x (``example_bucket``: a fixed random linear hash modulo
the prime 2³¹ − 1, its top decile being validation): a training batch only holds examples of the
training part and a validation batch only of the validation part, so the two are disjoint however
small the space is (``add`` with 2 digits has 10⁴ examples, ``copy`` with 4 symbols × 5 has 1,024).
When the space is so small that the hash puts none (or all) of it in validation — e.g. ``copy`` with 2
symbols × 1 — nothing can be held out: ``held_out`` is False, both splits draw from the whole space,
and the run's summary says so.
"""
from __future__ import annotations

import os
import stat
import sysconfig
from dataclasses import dataclass

import numpy as np
import torch

from . import names
from .config import TaskConfig
from ..messages import msg

BOS, SEP = "^", "⟂"  # never in a symbol alphabet
MASK, UNK = "[mask]", "[unk]"  # several characters long: cannot collide with a text's characters
SYMBOLS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
MAX_TEXT_MB = 5  # upload/text-file limit; .streamlit/config.toml maxUploadSize agrees (a test checks it)
MAX_TEXT_BYTES = MAX_TEXT_MB * 1000 * 1000  # the browser counts maxUploadSize in MB of 10**6 bytes: one limit
TEXT_LIMIT = f"{MAX_TEXT_MB} MB ({MAX_TEXT_BYTES:,} bytes)"  # how every message names it
MAX_TEXT_VOCAB = 256  # most frequent characters kept; the rest map to UNK
STDLIB_CHARS = 1_500_000
VAL_FRACTION = 0.1
HASH_PRIME = 2_147_483_647  # 2³¹ − 1
HASH_SEED = 14  # fixes the weights of the example hash: the split is the same in every run and version
ENUMERATE_LIMIT = 1 << 16  # example spaces up to this size are enumerated to check the split holds out

FITS = {  # task -> {arch: how it is posed}
    "copy": {"decoder": "x ⟂ x", "encoder": "per position", "encoder-decoder": "seq2seq"},
    "reverse": {"decoder": "x ⟂ reversed(x)", "encoder": "per position", "encoder-decoder": "seq2seq"},
    "sort": {"decoder": "x ⟂ sorted(x)", "encoder": "per position", "encoder-decoder": "seq2seq"},
    "add": {"decoder": "a+b = sum (digits least-significant first)", "encoder-decoder": "seq2seq"},
    "stdlib-lm": {"decoder": "causal LM", "encoder": "masked LM"},
    "text-lm": {"decoder": "causal LM", "encoder": "masked LM"},
}


@dataclass
class Batch:
    """``inputs`` (B, T) token ids; ``targets`` (B, T') with -100 where no loss is taken;
    ``dec_inputs`` for the encoder-decoder's decoder."""

    inputs: torch.Tensor
    targets: torch.Tensor
    dec_inputs: torch.Tensor | None = None

    def to(self, device) -> "Batch":
        mv = lambda t: None if t is None else t.to(device, non_blocking=True)  # noqa: E731
        return Batch(mv(self.inputs), mv(self.targets), mv(self.dec_inputs))

    def model_args(self):
        return (self.inputs,) if self.dec_inputs is None else (self.inputs, self.dec_inputs)


class TaskError(ValueError):
    def __init__(self, field: str, message: str):
        self.field, self.message = field, message
        super().__init__(f"{field}: {message}")


class Task:
    """Common part: a vocabulary and the three ways of posing ``x -> y``."""

    name: str

    def __init__(self, cfg: TaskConfig, arch: str, vocab: list[str]):
        self.cfg, self.arch = cfg, arch
        self.vocab = vocab
        self.index = {t: i for i, t in enumerate(vocab)}

    def tokens(self, ids) -> list[str]:
        return [self.vocab[int(i)] for i in ids]

    def encode(self, text: str) -> list[int]:
        unk = self.index.get(UNK)
        return [self.index.get(c, unk) for c in text]

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def unigram_entropy(self) -> float:
        """Entropy (nats) of the target tokens' frequencies: the loss of a model that predicts only how
        often each token occurs, ignoring its input (ln V for V equally frequent symbols). Estimated from
        about 65,536 target tokens of training examples drawn with a fixed generator (deterministic)."""
        b = self.sample(max(1, 65536 // max(1, self.max_len)), torch.Generator().manual_seed(271828), "train")
        return _entropy(b.targets[b.targets != -100])

    def probe_example(self) -> Batch:
        """A fixed validation example (batch of one) for attention maps."""
        g = torch.Generator().manual_seed(1234567)
        b = self.sample(1, g, split="val")
        return b

    def attention_labels(self, b: Batch, layer: str) -> tuple[list[str], list[str]]:
        """(query tokens, key tokens) of the probe example for an attention layer such as
        ``blocks.0.attn``, ``enc.blocks.0.attn``, ``dec.blocks.0.attn`` or ``dec.blocks.0.cross_attn``:
        the encoder reads the source, the decoder its own input, cross-attention both."""
        src = self.tokens(b.inputs[0])
        tgt = self.tokens(b.dec_inputs[0]) if b.dec_inputs is not None else src
        b = names.parse(layer)
        if b is not None and b.stack == "dec":
            return (tgt, src) if b.rest == "cross_attn" else (tgt, tgt)
        return src, src


class SequenceTask(Task):
    """A task ``x -> y`` over a small alphabet, generated on the fly; validation examples are held
    out by a hash of x (see the module docstring)."""

    def __init__(self, cfg: TaskConfig, arch: str):
        self.n = cfg.seq_len
        super().__init__(cfg, arch, [BOS, SEP] + list(self.alphabet(cfg)))
        self.len_x, self.len_y = self.lengths(self.n)
        self.max_len = model_positions(self.len_x, self.len_y, arch)
        self._hash_w = torch.randint(1, HASH_PRIME, (self.len_x,), generator=torch.Generator().manual_seed(HASH_SEED))
        self.val_fraction, self.held_out = VAL_FRACTION, True
        if self.space_size() <= ENUMERATE_LIMIT:
            n_val = int((self.example_bucket(self.all_inputs()) == 0).sum())
            self.val_fraction = n_val / self.space_size()
            self.held_out = 0 < n_val < self.space_size()

    def space_size(self) -> int:
        """Number of distinct inputs x."""
        return self.inputs_count(self.cfg)

    @classmethod
    def inputs_count(cls, cfg: TaskConfig) -> int:
        """Number of distinct inputs x of the task ``cfg`` (without building it)."""
        return cfg.vocab_size ** cfg.seq_len

    def all_inputs(self) -> torch.Tensor:
        """Every input x (space_size × len_x token ids); only for small spaces."""
        V, idx = self.cfg.vocab_size, torch.arange(self.space_size())
        digits = (idx[:, None] // V ** torch.arange(self.n - 1, -1, -1)) % V
        return digits + 2  # after BOS, SEP

    def example_bucket(self, x: torch.Tensor) -> torch.Tensor:
        """0–9 per row of inputs ``x``: 0 is validation. A random linear hash modulo a prime (sums stay
        below 2⁴⁸: ids < 64, at most 1,025 positions, weights < 2³¹), its top bits as the bucket."""
        h = (x.long() * self._hash_w).sum(1) % HASH_PRIME
        return (h * 10) // HASH_PRIME

    def _split_pairs(self, batch_size: int, g: torch.Generator, split: str):
        """``pairs`` of the split only: candidates are drawn and those of the other split dropped."""
        if not self.held_out:
            return self.pairs(batch_size, g)
        frac = self.val_fraction if split == "val" else 1.0 - self.val_fraction
        xs, ys, have = [], [], 0
        while have < batch_size:
            need = batch_size - have  # draw enough for one round, in rounds of bounded size
            x, y = self.pairs(min(1 << 16, max(256, 4 * need), int(1.25 * need / frac) + 8), g)
            keep = (self.example_bucket(x) == 0) == (split == "val")
            xs.append(x[keep])
            ys.append(y[keep])
            have += int(keep.sum())
        return torch.cat(xs)[:batch_size], torch.cat(ys)[:batch_size]

    @classmethod
    def alphabet(cls, cfg) -> str:
        return SYMBOLS[: cfg.vocab_size]

    @classmethod
    def lengths(cls, n: int) -> tuple[int, int]:
        """(length of x, length of y) for ``seq_len`` n."""
        return n, n

    def pairs(self, batch_size: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def sample(self, batch_size: int, g: torch.Generator, split: str = "train") -> Batch:
        x, y = self._split_pairs(batch_size, g, split)
        if self.arch == "encoder":
            return Batch(x, y)
        if self.arch == "encoder-decoder":
            bos = torch.full((batch_size, 1), self.index[BOS], dtype=torch.long)
            return Batch(x, y, dec_inputs=torch.cat([bos, y[:, :-1]], 1))
        sep = torch.full((batch_size, 1), self.sep_id, dtype=torch.long)
        seq = torch.cat([x, sep, y], 1)
        targets = seq[:, 1:].clone()
        targets[:, : self.len_x] = -100  # predictions of x itself and of the separator: no loss
        return Batch(seq[:, :-1], targets)

    @property
    def sep_id(self) -> int:
        return self.index[SEP]

    def _random_symbols(self, batch_size, g):
        first = 2  # after BOS, SEP
        return torch.randint(first, first + self.cfg.vocab_size, (batch_size, self.n), generator=g)


class Copy(SequenceTask):
    name = "copy"

    def pairs(self, batch_size, g):
        x = self._random_symbols(batch_size, g)
        return x, x.clone()


class Reverse(SequenceTask):
    name = "reverse"

    def pairs(self, batch_size, g):
        x = self._random_symbols(batch_size, g)
        return x, x.flip(1)


class Sort(SequenceTask):
    """Sorted in alphabet order: a–z, then A–Z, then 0–9 (the order of ``SYMBOLS``)."""

    name = "sort"

    def pairs(self, batch_size, g):
        x = self._random_symbols(batch_size, g)
        return x, x.sort(dim=1).values  # ids follow alphabet order, so sorting ids sorts symbols


class Add(SequenceTask):
    """``a+b=`` → digits of a+b, least-significant first (k-digit operands, k+1 answer digits).

    Writing the answer in reverse lets a causal model produce each digit after the carry it needs.
    """

    name = "add"

    @classmethod
    def alphabet(cls, cfg) -> str:
        return "0123456789+="

    @classmethod
    def lengths(cls, n: int):
        return 2 * n + 1, n + 1

    @property
    def sep_id(self) -> int:
        return self.index["="]

    @classmethod
    def inputs_count(cls, cfg: TaskConfig) -> int:
        return 100 ** cfg.seq_len

    def all_inputs(self) -> torch.Tensor:
        k = self.n
        a, b = (v.reshape(-1) for v in torch.meshgrid(torch.arange(10**k), torch.arange(10**k), indexing="ij"))
        zero, plus = self.index["0"], torch.full((len(a), 1), self.index["+"], dtype=torch.long)
        return torch.cat([self._digits(a, k) + zero, plus, self._digits(b, k) + zero], 1)

    def pairs(self, batch_size, g):
        k = self.n
        hi = 10**k
        if k <= 18:
            a = torch.randint(0, hi, (batch_size,), generator=g)
            b = torch.randint(0, hi, (batch_size,), generator=g)
            da, db, ds = (self._digits(v, w) for v, w in ((a, k), (b, k), (a + b, k + 1)))
        else:  # too wide for int64: add digit by digit
            da = torch.randint(0, 10, (batch_size, k), generator=g)
            db = torch.randint(0, 10, (batch_size, k), generator=g)
            ds = self._add_digits(da, db)
        zero = self.index["0"]
        plus = torch.full((batch_size, 1), self.index["+"], dtype=torch.long)
        x = torch.cat([da + zero, plus, db + zero], 1)
        return x, ds.flip(1) + zero

    @staticmethod
    def _digits(v: torch.Tensor, width: int) -> torch.Tensor:
        """Most-significant-first decimal digits, zero-padded to ``width``."""
        powers = 10 ** torch.arange(width - 1, -1, -1, dtype=torch.long)
        return (v[:, None] // powers) % 10

    @staticmethod
    def _add_digits(da, db):
        carry = torch.zeros(da.shape[0], dtype=torch.long)
        out = []
        for j in range(da.shape[1] - 1, -1, -1):
            s = da[:, j] + db[:, j] + carry
            out.append(s % 10)
            carry = s // 10
        out.append(carry)
        return torch.stack(out[::-1], 1)


class TextTask(Task):
    """Character-level text: causal LM (decoder) or masked LM (encoder) on random windows.

    The last 10 % of the text is the validation split; windows are drawn with the seed's generator.
    """

    def __init__(self, cfg: TaskConfig, arch: str, text: str):
        vocab, ids = _encoded_text(text, arch)
        super().__init__(cfg, arch, list(vocab))
        cut = int(len(ids) * (1 - VAL_FRACTION))
        self.splits = {"train": ids[:cut], "val": ids[cut:]}
        self.window = text_window(cfg.seq_len, arch)
        self.max_len = cfg.seq_len
        problem = text_length_problem(len(ids), cfg.seq_len, arch)
        if problem:
            raise TaskError(*problem)

    def unigram_entropy(self) -> float:
        """Entropy (nats) of the characters of the training split (every character is a target)."""
        return _entropy(self.splits["train"].long())

    def sample(self, batch_size: int, g: torch.Generator, split: str = "train") -> Batch:
        data = self.splits[split]
        starts = torch.randint(0, len(data) - self.window + 1, (batch_size,), generator=g)
        win = data[starts[:, None] + torch.arange(self.window)].long()
        if self.arch == "decoder":
            return Batch(win[:, :-1], win[:, 1:].clone())
        masked = torch.rand(win.shape, generator=g) < self.cfg.mask_prob
        masked[torch.arange(batch_size), torch.randint(0, self.window, (batch_size,), generator=g)] = True
        inputs = win.masked_fill(masked, self.index[MASK])
        return Batch(inputs, win.masked_fill(~masked, -100))


def text_window(seq_len: int, arch: str) -> int:
    """Characters one training window takes: the context, plus the next character for a causal LM."""
    return seq_len + (1 if arch == "decoder" else 0)


def text_length_problem(n_chars: int, seq_len: int, arch: str) -> tuple[str, str] | None:
    """("seq_len", why) when a text of ``n_chars`` characters is too short for the context: each
    split (the first 90 %, the last 10 %) must hold one window; else None."""
    cut, window = int(n_chars * (1 - VAL_FRACTION)), text_window(seq_len, arch)
    for split, size in (("train", cut), ("val", n_chars - cut)):
        if size < window:
            return ("seq_len", msg("problem.text_too_short", seq_len=seq_len, split=split, n=size, window=window))
    return None


def _entropy(ids: torch.Tensor) -> float:
    """Entropy (nats) of the empirical distribution of ``ids``."""
    p = torch.bincount(ids.reshape(-1)).double()
    p = p[p > 0] / p.sum()
    return float(-(p * p.log()).sum())


def _encoded_text(text: str, arch: str) -> tuple[tuple[str, ...], torch.Tensor]:
    """(vocabulary, token ids) of a text: one id per character, int16 (the vocabulary has at most
    MAX_TEXT_VOCAB + 2 entries), only ever read (windows are gathered into new tensors)."""
    specials = [MASK, UNK] if arch == "encoder" else [UNK]
    unk = specials.index(UNK)
    if not text:
        return tuple(specials), torch.zeros(0, dtype=torch.int16)
    # one code point per character, counted at C speed (a Python loop over 1.5 M characters took 0.4 s
    # of every stdlib-lm start); lone surrogates (undecodable bytes of a text file) pass as themselves
    points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
    counts = np.bincount(points)
    present = np.flatnonzero(counts)
    if len(present) > MAX_TEXT_VOCAB:  # keep the most common, ties by first appearance (Counter.most_common)
        first = np.full(len(counts), len(points), dtype=np.int64)
        np.minimum.at(first, points, np.arange(len(points)))
        present = np.sort(present[np.lexsort((first[present], -counts[present]))[:MAX_TEXT_VOCAB]])
    vocab = tuple(specials + [chr(c) for c in present.tolist()])  # code-point order: sorted(keep)
    lookup = np.full(len(counts), unk, dtype=np.int16)
    lookup[present] = np.arange(len(specials), len(specials) + len(present))
    return vocab, torch.from_numpy(lookup[points])


def stdlib_text(max_chars: int = STDLIB_CHARS) -> str:
    """The running interpreter's own standard-library sources (top-level ``*.py``, sorted by name),
    concatenated up to ``max_chars`` characters. Present on every machine; nothing is downloaded."""
    root = sysconfig.get_paths()["stdlib"]
    parts, total = [], 0
    for name in sorted(os.listdir(root)):
        if not name.endswith(".py"):
            continue
        try:
            with open(os.path.join(root, name), encoding="utf-8") as fh:
                s = fh.read()
        except (OSError, UnicodeDecodeError):
            continue
        parts.append(s)
        total += len(s)
        if total >= max_chars:
            break
    return "".join(parts)[:max_chars]


def check_text(data: bytes, source: str | None = None) -> str:
    """Decode user text, or raise TaskError with a specific reason."""
    source = msg("problem.the_text") if source is None else source
    if len(data) > MAX_TEXT_BYTES:
        raise TaskError("text_file", msg("problem.text_too_large", source=source, limit=TEXT_LIMIT))
    if b"\x00" in data:
        raise TaskError("text_file", msg("problem.text_binary", source=source))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise TaskError("text_file", msg("problem.text_not_utf8", source=source, byte=e.start)) from None
    if not text.strip():
        raise TaskError("text_file", msg("problem.text_empty", source=source))
    return text


def read_text_file(path: str) -> str:
    """The file's text, checked by ``check_text`` (a regular file only, read up to the limit)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise TaskError("text_file", msg("problem.no_such_file", path=path)) from None
    except OSError as e:
        raise TaskError("text_file", msg("problem.cannot_read", path=path, error=e.strerror)) from None
    except ValueError:  # e.g. "embedded null byte"
        raise TaskError("text_file", msg("problem.bad_path", path=repr(path))) from None
    if stat.S_ISDIR(st.st_mode):
        raise TaskError("text_file", msg("problem.is_directory", path=path))
    if not stat.S_ISREG(st.st_mode):  # a FIFO or device would block or never end
        raise TaskError("text_file", msg("problem.not_regular", path=path))
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_TEXT_BYTES + 1)
    except FileNotFoundError:
        raise TaskError("text_file", msg("problem.no_such_file", path=path)) from None
    except IsADirectoryError:
        raise TaskError("text_file", msg("problem.is_directory", path=path)) from None
    except OSError as e:
        raise TaskError("text_file", msg("problem.cannot_read", path=path, error=e.strerror)) from None
    return check_text(data, source=os.path.basename(path))


TASK_CLASSES = {"copy": Copy, "reverse": Reverse, "sort": Sort, "add": Add}


def validation_note(task: Task) -> str:
    """How the task's validation examples relate to its training examples, in one sentence (for the
    run's summary)."""
    if isinstance(task, TextTask):
        return "held out: the last 10 % of the text"
    if not task.held_out:
        return (f"not held out: the task has only {task.space_size()} distinct examples, too few to set any "
                "aside, so validation reuses training examples")
    return f"held out: {task.val_fraction:.1%} of the example space by a hash of the input, disjoint from training"


def not_held_out(cfg: TaskConfig, arch: str) -> int | None:
    """The number of distinct examples of a symbol task too small to hold out validation, else None.
    Only a space small enough to be enumerated can be too small: larger ones are not built."""
    cls = TASK_CLASSES.get(cfg.task)
    if cls is None or arch not in FITS[cfg.task] or cls.inputs_count(cfg) > ENUMERATE_LIMIT:
        return None
    task = make_task(cfg, arch)
    return None if task.held_out else task.space_size()


MAX_POSITIONS = 1024


def model_positions(len_x: int, len_y: int, arch: str) -> int:
    """Positions the model reads for a task ``x -> y`` posed for ``arch`` (module docstring)."""
    return {"decoder": len_x + len_y, "encoder": len_x, "encoder-decoder": max(len_x, len_y)}[arch]


def task_shape(cfg: TaskConfig, arch: str) -> tuple[int, int, int]:
    """(source positions, target positions, vocabulary size) of a task that fits ``arch``, from the
    config alone (no task is built, no text read): an upper bound for text tasks (their vocabulary is
    at most MAX_TEXT_VOCAB characters plus the specials). The target is the decoder's side of an
    encoder-decoder; for the other architectures both are the model's positions."""
    cls = TASK_CLASSES.get(cfg.task)
    if cls is None:
        return cfg.seq_len, cfg.seq_len, MAX_TEXT_VOCAB + 2
    len_x, len_y = cls.lengths(cfg.seq_len)
    vocab = 2 + len(cls.alphabet(cfg))  # BOS, SEP and the alphabet
    if arch == "encoder-decoder":
        return len_x, len_y, vocab
    n = model_positions(len_x, len_y, arch)
    return n, n, vocab


def shape_problem(cfg: TaskConfig, arch: str) -> tuple[str, str] | None:
    """(field, why) when the task cannot be posed for ``arch`` — it does not fit the architecture,
    or it needs more than MAX_POSITIONS positions — else None. From the config alone."""
    if arch not in FITS[cfg.task]:
        fits = ", ".join(FITS[cfg.task])
        return "task", msg("problem.task_arch", task=cfg.task, arch=arch, fits=fits)
    src, tgt, _ = task_shape(cfg, arch)
    needed = max(src, tgt)
    if needed > MAX_POSITIONS:
        return "seq_len", msg("problem.too_many_positions", task=cfg.task, seq_len=cfg.seq_len, positions=needed,
                              limit=MAX_POSITIONS)
    return None


def task_text(cfg: TaskConfig) -> str:
    """The text of a text task: Python's own sources, or the user's file (TaskError if unreadable)."""
    return stdlib_text() if cfg.task == "stdlib-lm" else read_text_file(cfg.text_file)


def task_problems(cfg: TaskConfig, arch: str, *, read_text: bool = True) -> list[tuple[str, str]]:
    """Why the task cannot be built for ``arch``, as (field, message) pairs: ``shape_problem``, then,
    for a text task, its text unreadable or too short for the context. ``read_text=False`` checks the
    shape only (a path that must not be opened: see ``resnorm.science.feasibility``)."""
    problem = shape_problem(cfg, arch)
    if problem:
        return [problem]
    if cfg.task in TASK_CLASSES or not read_text:
        return []
    try:
        text = task_text(cfg)
    except TaskError as e:
        return [(e.field, e.message)]
    problem = text_length_problem(len(text), cfg.seq_len, arch)
    return [problem] if problem else []


def make_task(cfg: TaskConfig, arch: str) -> Task:
    """Build the task for an architecture; raises TaskError if they do not fit."""
    problem = shape_problem(cfg, arch)
    if problem:
        raise TaskError(*problem)
    if cfg.task in TASK_CLASSES:
        return TASK_CLASSES[cfg.task](cfg, arch)
    task = TextTask(cfg, arch, task_text(cfg))
    task.name = cfg.task
    return task
