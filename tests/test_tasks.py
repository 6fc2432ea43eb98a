"""Task generators (decoded back to strings and checked), text-file errors, and RunConfig validation."""
from __future__ import annotations

import json

import pytest
import torch

from resnorm import feasibility
from resnorm.config import ConfigError, ModelConfig, RunConfig, TaskConfig
from resnorm.model import build_model, sequence_loss
from resnorm.tasks import BOS, MASK, SEP, SYMBOLS, TaskError, make_task



def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _text(task, ids):
    return "".join(task.tokens(ids))


def _expected(name, x: str, vocab_size: int) -> str:
    """The right answer, computed independently of the task code."""
    if name == "copy":
        return x
    if name == "reverse":
        return x[::-1]
    if name == "sort":
        return "".join(sorted(x, key=SYMBOLS.index))
    if name == "add":
        a, b = x.split("+")
        assert len(a) == len(b)
        s = str(int(a) + int(b)).zfill(len(a) + 1)
        return s[::-1]  # least-significant digit first
    raise AssertionError(name)


SEQ_TASKS = ["copy", "reverse", "sort", "add"]


@pytest.mark.parametrize("name", SEQ_TASKS)
@pytest.mark.parametrize("seq_len", [1, 5])
def test_decoder_sequence_tasks(name, seq_len):
    task = make_task(TaskConfig(task=name, seq_len=seq_len, vocab_size=10), "decoder")
    b = task.sample(64, _gen())
    assert b.dec_inputs is None and b.inputs.shape == b.targets.shape
    len_x = 2 * seq_len + 1 if name == "add" else seq_len
    len_y = seq_len + 1 if name == "add" else seq_len
    assert b.inputs.shape == (64, len_x + len_y)
    assert b.inputs.shape[1] <= task.max_len
    sep = "=" if name == "add" else SEP
    for inp, tgt in zip(b.inputs, b.targets):
        assert (tgt[:len_x] == -100).all()  # no loss on x nor on predicting the separator
        assert (tgt[len_x:] >= 0).all()
        assert torch.equal(tgt[:-1][tgt[:-1] >= 0], inp[1:][tgt[:-1] >= 0])  # next-token shift
        x, s, y = _text(task, inp[:len_x]), _text(task, inp[len_x:len_x + 1]), _text(task, tgt[len_x:])
        assert s == sep
        assert _text(task, inp[len_x + 1:]) == y[:-1]  # the decoder is fed the answer, shifted
        assert y == _expected(name, x, 10), (x, y)
        if name != "add":
            assert set(x) <= set(SYMBOLS[:10])
    # not a degenerate generator
    assert len({_text(task, r) for r in b.inputs}) > 1


@pytest.mark.parametrize("vocab_size", [2, 62, 63, 64])
def test_symbol_ids_stay_inside_the_vocabulary(vocab_size):
    try:
        tc = TaskConfig(task="copy", seq_len=16, vocab_size=vocab_size)
    except ConfigError as e:  # refusing an alphabet larger than SYMBOLS would also be correct
        assert "vocab_size" in e.by_field()
        return
    task = make_task(tc, "decoder")
    b = task.sample(256, _gen())
    assert b.inputs.max() < task.vocab_size
    assert len(set(_text(task, b.inputs[:, :16].flatten()))) == vocab_size


def test_sort_with_small_alphabet_is_python_sorted():
    task = make_task(TaskConfig(task="sort", seq_len=12, vocab_size=20), "decoder")
    b = task.sample(32, _gen(3))
    for inp, tgt in zip(b.inputs, b.targets):
        assert _text(task, tgt[12:]) == "".join(sorted(_text(task, inp[:12])))


@pytest.mark.parametrize("seq_len", [3, 18, 25])
def test_add_really_adds(seq_len):
    """Python ints as the reference, including operands too wide for int64 (seq_len > 18)."""
    task = make_task(TaskConfig(task="add", seq_len=seq_len), "decoder")
    b = task.sample(64, _gen(seq_len))
    n = seq_len
    carries = 0
    for inp, tgt in zip(b.inputs, b.targets):
        text = _text(task, inp[: 2 * n + 1])
        a, c = text.split("+")
        digits = _text(task, tgt[2 * n + 1:])
        assert len(digits) == n + 1
        assert int(digits[::-1]) == int(a) + int(c)
        carries += int(digits[-1] == "1")
    if seq_len == 3:
        assert carries > 0  # some sums overflow into the extra digit


@pytest.mark.parametrize("name", ["copy", "reverse", "sort"])
def test_encoder_sequence_tasks_per_position(name):
    task = make_task(TaskConfig(task=name, seq_len=7), "encoder")
    b = task.sample(16, _gen(1))
    assert b.dec_inputs is None and b.inputs.shape == b.targets.shape == (16, 7)
    assert (b.targets >= 0).all()
    for inp, tgt in zip(b.inputs, b.targets):
        assert _text(task, tgt) == _expected(name, _text(task, inp), 10)


@pytest.mark.parametrize("name", SEQ_TASKS)
def test_encoder_decoder_sequence_tasks(name):
    task = make_task(TaskConfig(task=name, seq_len=4), "encoder-decoder")
    b = task.sample(16, _gen(2))
    len_y = 5 if name == "add" else 4
    assert b.targets.shape == b.dec_inputs.shape == (16, len_y)
    assert b.inputs.shape == (16, 9 if name == "add" else 4)
    assert (b.targets >= 0).all()
    bos = task.vocab.index(BOS)
    assert (b.dec_inputs[:, 0] == bos).all()
    assert torch.equal(b.dec_inputs[:, 1:], b.targets[:, :-1])  # BOS + targets shifted right
    for inp, tgt in zip(b.inputs, b.targets):
        assert _text(task, tgt) == _expected(name, _text(task, inp), 10)
    assert b.model_args() == (b.inputs, b.dec_inputs)


# ---- text tasks -------------------------------------------------------------------------------
TEXT = "The quick brown fox jumps over the lazy dog.\nPack my box with five dozen liquor jugs!\n" * 20


@pytest.fixture
def text_file(tmp_path):
    p = tmp_path / "corpus.txt"
    p.write_text(TEXT, encoding="utf-8")
    return str(p)


def test_stdlib_lm_decoder_is_a_causal_shift():
    task = make_task(TaskConfig(task="stdlib-lm", seq_len=16), "decoder")
    b = task.sample(8, _gen())
    assert b.inputs.shape == b.targets.shape == (8, 16)
    assert (b.targets >= 0).all()
    assert torch.equal(b.targets[:, :-1], b.inputs[:, 1:])
    assert task.vocab_size <= 257


def test_text_lm_decoder_windows_come_from_the_text(text_file):
    task = make_task(TaskConfig(task="text-lm", text_file=text_file, seq_len=12), "decoder")
    b = task.sample(8, _gen())
    assert torch.equal(b.targets[:, :-1], b.inputs[:, 1:])
    for inp, tgt in zip(b.inputs, b.targets):
        window = _text(task, inp) + _text(task, tgt[-1:])
        assert window in TEXT


@pytest.mark.parametrize("name", ["stdlib-lm", "text-lm"])
def test_encoder_masked_lm(name, text_file):
    cfg = TaskConfig(task=name, seq_len=16, mask_prob=0.2, text_file=text_file if name == "text-lm" else None)
    task = make_task(cfg, "encoder")
    b = task.sample(64, _gen(4))
    mask_id = task.vocab.index(MASK)
    assert b.inputs.shape == b.targets.shape == (64, 16)
    is_mask = b.inputs == mask_id
    assert torch.equal(b.targets == -100, ~is_mask)  # loss exactly at the masked positions
    assert (b.targets[is_mask] != mask_id).all() and (b.targets[is_mask] >= 0).all()
    assert is_mask.any(dim=1).all()  # every sequence has something to predict
    frac = is_mask.float().mean().item()
    assert 0.1 < frac < 0.35
    if name == "text-lm":
        for inp, tgt in zip(b.inputs, b.targets):
            orig = torch.where(tgt >= 0, tgt, inp)
            assert _text(task, orig) in TEXT


@pytest.mark.parametrize("special", ["▮", "¿", "[", "^", "⟂"])
def test_text_containing_special_looking_characters(tmp_path, special):
    """A text may contain any character; it never collides with the mask/unknown tokens."""
    p = tmp_path / "t.txt"
    p.write_text(f"ab{special}c " * 100, encoding="utf-8")
    task = make_task(TaskConfig(task="text-lm", text_file=str(p), seq_len=8), "encoder")
    assert len(set(task.vocab)) == len(task.vocab)
    b = task.sample(32, _gen())
    assert torch.equal(b.targets == -100, b.inputs != task.vocab.index(MASK))


@pytest.mark.parametrize("name,arch,cfg", [
    ("copy", "decoder", {}), ("sort", "encoder", {}), ("add", "encoder-decoder", {}),
    ("stdlib-lm", "decoder", {}), ("stdlib-lm", "encoder", {}), ("text-lm", "encoder", {"text": True}),
])
def test_same_seed_same_batch(name, arch, cfg, text_file):
    tc = TaskConfig(task=name, seq_len=8, text_file=text_file if cfg else None)
    t1, t2 = make_task(tc, arch), make_task(tc, arch)
    a, b, c = t1.sample(8, _gen(11)), t2.sample(8, _gen(11)), t1.sample(8, _gen(12))
    assert torch.equal(a.inputs, b.inputs) and torch.equal(a.targets, b.targets)
    assert (a.dec_inputs is None) == (b.dec_inputs is None)
    if a.dec_inputs is not None:
        assert torch.equal(a.dec_inputs, b.dec_inputs)
    assert not torch.equal(a.inputs, c.inputs)


def test_train_and_val_splits_differ():
    task = make_task(TaskConfig(task="stdlib-lm", seq_len=32), "decoder")
    tr, va = task.sample(4, _gen(0), "train"), task.sample(4, _gen(0), "val")
    assert not torch.equal(tr.inputs, va.inputs)


@pytest.mark.parametrize("name,arch", [("add", "encoder"), ("stdlib-lm", "encoder-decoder"),
                                       ("text-lm", "encoder-decoder")])
def test_task_that_does_not_fit_the_arch(name, arch, text_file):
    tc = TaskConfig(task=name, seq_len=8, text_file=text_file if name == "text-lm" else None)
    with pytest.raises(TaskError) as e:
        make_task(tc, arch)
    assert e.value.field == "task"
    assert arch in e.value.message
    cfg = RunConfig(model=ModelConfig(arch=arch), task=tc)  # a pure value: valid fields...
    assert ("task", e.value.message) in feasibility.check(cfg)  # ...that cannot train: the task is named
    with pytest.raises(ConfigError) as e:
        feasibility.require(cfg)
    assert "task" in e.value.by_field()


# ---- user text: specific errors ------------------------------------------------------------------
@pytest.mark.parametrize("content,match", [
    (b"", "empty or only whitespace"),
    (b"  \n\t\r\n   ", "empty or only whitespace"),
    (b"hello\x00world" * 20, "binary"),
    (b"caf\xe9 au lait " * 20, "not valid UTF-8"),
])
def test_text_lm_bad_files(tmp_path, content, match):
    p = tmp_path / "bad.txt"
    p.write_bytes(content)
    with pytest.raises(TaskError, match=match) as e:
        make_task(TaskConfig(task="text-lm", text_file=str(p), seq_len=8), "decoder")
    assert e.value.field == "text_file"


def test_text_lm_missing_file_and_directory(tmp_path):
    with pytest.raises(TaskError, match="no such file") as e:
        make_task(TaskConfig(task="text-lm", text_file=str(tmp_path / "nope.txt"), seq_len=8), "decoder")
    assert e.value.field == "text_file"
    with pytest.raises(TaskError, match="directory") as e:
        make_task(TaskConfig(task="text-lm", text_file=str(tmp_path), seq_len=8), "decoder")
    assert e.value.field == "text_file"


@pytest.mark.parametrize("text", ["a", "hello world", "x" * 50])
def test_text_lm_too_short(tmp_path, text):
    p = tmp_path / "short.txt"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(TaskError, match="too short") as e:
        make_task(TaskConfig(task="text-lm", text_file=str(p), seq_len=8), "decoder")
    assert e.value.field == "seq_len"
    assert "8" in e.value.message


def test_bad_text_file_is_a_config_error(tmp_path):
    p = tmp_path / "bad.txt"
    p.write_bytes(b"\x00\x01")
    with pytest.raises(ConfigError) as e:
        feasibility.require(RunConfig.from_flat({"task": "text-lm", "text_file": str(p)}))
    assert "text_file" in e.value.by_field()
    with pytest.raises(ConfigError) as e:
        RunConfig.from_flat({"task": "text-lm"})
    assert "text_file" in e.value.by_field()


@pytest.mark.parametrize("arch", ["decoder", "encoder"])
def test_one_character_text_trains_shape_wise(tmp_path, arch):
    p = tmp_path / "a.txt"
    p.write_text("a" * 200, encoding="utf-8")
    task = make_task(TaskConfig(task="text-lm", text_file=str(p), seq_len=8), arch)
    assert task.vocab_size <= 3 and "a" in task.vocab
    b = task.sample(4, _gen())
    cfg = ModelConfig(arch=arch, layers=1, d_model=16, heads=2, d_ff=32)
    model = build_model(cfg, task.vocab_size, task.max_len, seed=0)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    logits = model(*b.model_args())
    assert logits.shape == (*b.targets.shape, task.vocab_size)
    loss = sequence_loss(logits, b.targets)
    assert torch.isfinite(loss)
    loss.backward()
    opt.step()
    assert torch.isfinite(sequence_loss(model(*b.model_args()), b.targets))


# ---- RunConfig validation --------------------------------------------------------------------------
@pytest.mark.parametrize("values,field", [
    ({"d_model": 30, "heads": 4}, "heads"),
    ({"layers": 0}, "layers"),
    ({"layers": 97}, "layers"),
    ({"lr": 0.0}, "lr"),
    ({"lr": -1.0}, "lr"),
    ({"lr": float("nan")}, "lr"),
    ({"bogus_option": 3}, "bogus_option"),
    ({"norm": "groupnorm"}, "norm"),
    ({"norm_position": "middle"}, "norm_position"),
    ({"residual": "sometimes"}, "residual"),
    ({"arch": "rnn"}, "arch"),
    ({"norm_position": "deepnorm", "residual": "off"}, "residual"),
    ({"layers": "6"}, "layers"),
])
def test_run_config_problems_name_the_field(values, field):
    with pytest.raises(ConfigError) as e:
        RunConfig.from_flat(values)
    assert field in e.value.by_field(), e.value.problems
    assert field in str(e.value)


def test_run_config_messages_state_the_allowed_range():
    with pytest.raises(ConfigError) as e:
        RunConfig.from_flat({"layers": 97})
    assert "96" in e.value.by_field()["layers"]
    with pytest.raises(ConfigError) as e:
        RunConfig.from_flat({"norm": "groupnorm"})
    msg = e.value.by_field()["norm"]
    assert "layernorm" in msg and "rmsnorm" in msg


def test_run_config_collects_every_problem():
    with pytest.raises(ConfigError) as e:
        RunConfig.from_flat({"layers": 0, "lr": -1.0, "bogus": 1})
    assert {"layers", "lr", "bogus"} <= set(e.value.by_field())


def test_run_config_json_round_trip():
    cfg = RunConfig.from_flat({"arch": "encoder-decoder", "layers": 3, "d_model": 48, "heads": 6,
                               "norm_position": "sandwich", "norm": "rmsnorm", "residual": "rezero",
                               "task": "add", "seq_len": 5, "lr": 3e-4, "dropout": 0.1, "seed": 7,
                               "schedule": "cosine", "warmup": 10, "steps": 100})
    text = cfg.to_json()
    assert json.loads(text)["model"]["norm_position"] == "sandwich"
    again = RunConfig.from_json(text)
    assert again == cfg
    assert RunConfig.from_flat(cfg.to_flat()) == cfg
    assert RunConfig.from_json(RunConfig().to_json()) == RunConfig()
    assert cfg.replace(layers=4).model.layers == 4 and cfg.model.layers == 3


def test_run_config_from_json_rejects_unknown_keys_and_bad_json():
    d = RunConfig().to_dict()
    d["model"]["colour"] = "blue"
    with pytest.raises(ConfigError) as e:
        RunConfig.from_dict(d)
    assert any("colour" in f for f, _ in e.value.problems)
    with pytest.raises(ConfigError) as e:
        RunConfig.from_json("{not json")
    assert e.value.problems and "json" in str(e.value).lower(), e.value.problems


def test_a_config_is_a_pure_value_and_feasibility_is_asked_apart(tmp_path, monkeypatch):
    """Building a config reads nothing (no text, no task, no memory estimate); ``feasibility``
    answers whether it can train here, naming the field as the config's own checks do."""
    import builtins
    import os
    import subprocess
    import sys

    opened = []
    real_open, real_stat = builtins.open, os.stat
    monkeypatch.setattr(builtins, "open", lambda f, *a, **kw: opened.append(f) or real_open(f, *a, **kw))
    monkeypatch.setattr(os, "stat", lambda f, *a, **kw: opened.append(f) or real_stat(f, *a, **kw))
    missing = str(tmp_path / "nope.txt")
    cfg = RunConfig.from_flat({"task": "text-lm", "text_file": missing})
    huge = RunConfig.from_flat({"layers": 96, "d_model": 2048, "heads": 64, "d_ff": 8192})
    misfit = RunConfig.from_flat({"task": "add", "arch": "encoder"})
    assert opened == []
    monkeypatch.setattr(builtins, "open", real_open)
    monkeypatch.setattr(os, "stat", real_stat)
    assert [f for f, _ in feasibility.check(cfg)] == ["text_file"]
    assert feasibility.check(cfg, read_text=False) == []  # a path that must not be opened is not
    assert [f for f, _ in feasibility.check(huge)] == ["d_model"]
    assert [f for f, _ in feasibility.check(misfit)] == ["task"]
    # no import cycle: the config module stands alone
    code = "import sys, resnorm.config; assert 'resnorm.tasks' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=str(tmp_path),
                   env={**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(os.path.abspath(__file__)))})
