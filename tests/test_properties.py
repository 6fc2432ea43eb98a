"""Property-based tests (issue 6, item 1): every input a user can give — a flat config (Python, UI),
a URL query string, a command line — is either accepted, and then one training step ends with a
finite loss or as ``diverged``, or refused with a message that names the field. Never an exception.

The strategies are derived from the config schema, so a new field is fuzzed without touching this
file. Valid values are capped (a few layers, a narrow stream, a handful of sequences) so that a
step takes milliseconds; values outside the caps but inside the schema are covered by the memory
limit tests at the end. Runs are derandomized (same examples on every machine, no example database):
``python -m pytest tests/test_properties.py --hypothesis-show-statistics`` prints how many ran.
"""
from __future__ import annotations

import atexit
import math
import os
import shutil
import tempfile

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from resnorm import cli, feasibility
from resnorm import settings as server_settings
from resnorm.config import ConfigError, RunConfig, _check_field, field_index, parse_query, parse_value, show_key
from resnorm.feasibility import MEMORY_ENV
from resnorm.trainer import train

FIELDS = field_index()  # name -> (section, dataclasses.Field)


def accepted(values: dict) -> RunConfig:
    """What every front end does with a user's values: a valid config that can train here
    (``resnorm.feasibility``), or ConfigError naming the fields."""
    return feasibility.require(RunConfig.from_flat(values))
PROFILE = dict(deadline=None, derandomize=True, database=None, print_blob=True)

# ---- text files a config may point at (created once, removed at exit) -------------------------------
_DIR = tempfile.mkdtemp(prefix="resnorm-props-")
atexit.register(shutil.rmtree, _DIR, True)


def _file(name: str, data: bytes) -> str:
    path = os.path.join(_DIR, name)
    with open(path, "wb") as fh:
        fh.write(data)
    return path


GOOD_TEXT = _file("good.txt", ("The quick brown fox jumps over the lazy dog. 敏捷的棕色狐狸。\n" * 60).encode())
BAD_PATHS = [
    _file("empty.txt", b""),
    _file("blank.txt", b"  \n\t \n"),
    _file("binary.bin", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
    _file("latin1.txt", "café crème brûlée".encode("latin-1")),
    _file("tiny.txt", b"ab"),
    _DIR,                                   # a folder
    os.path.join(_DIR, "missing.txt"),
    "",
    "a\x00b",                               # NUL in a path
    "/dev/null",                            # not a regular file
]

# ---- valid values: small enough that one step takes milliseconds ------------------------------------
SMALL = {
    "layers": st.integers(1, 3),
    "d_model": st.sampled_from([4, 8, 12, 16, 24, 32]),
    "heads": st.integers(1, 8),             # often does not divide d_model: a cross-field refusal
    "d_ff": st.integers(1, 48),
    "seq_len": st.one_of(st.integers(1, 10), st.integers(200, 512)),  # long ones exceed some tasks' limit
    "batch_size": st.integers(1, 4),
    "steps": st.integers(1, 2),
    "warmup": st.integers(0, 3),
    "probe_every": st.integers(0, 3),
    "attention_every": st.integers(0, 3),
    "eval_every": st.integers(0, 3),
    "max_points": st.integers(10, 100),
    "lr": st.floats(1e-6, 1e3),
    "text_file": st.just(GOOD_TEXT),
}
ALWAYS = ("layers", "d_model", "d_ff", "seq_len", "batch_size", "steps")  # never left at a slow default


def _schema(name):
    m = FIELDS[name][1].metadata
    return str(FIELDS[name][1].type), m.get("choices"), m.get("lo"), m.get("hi"), m.get("lo_open")


def valid_values(name: str) -> st.SearchStrategy:
    if name in SMALL:
        return SMALL[name]
    t, choices, lo, hi, lo_open = _schema(name)
    if choices:
        return st.sampled_from(list(choices))
    if t == "bool":
        return st.booleans()
    if t == "int":
        return st.integers(lo if lo is not None else 0, min(hi if hi is not None else 10, (lo or 0) + 10))
    if t == "float":
        lo_, hi_ = lo if lo is not None else 0.0, hi if hi is not None else 10.0
        return st.floats(lo_, hi_, exclude_min=bool(lo_open), allow_nan=False)
    return st.text(max_size=20)


HUGE = 10**400  # an int no float can hold


def invalid_values(name: str) -> st.SearchStrategy:
    """Values the schema refuses, whatever the other fields say."""
    t, choices, lo, hi, lo_open = _schema(name)
    wrong_type = [st.text(max_size=12), st.none(), st.lists(st.integers(), max_size=2)]
    if t == "int":
        out = [st.floats(allow_nan=True, allow_infinity=True),  # even 3.0: a float is not an integer
               st.booleans(), st.sampled_from(["3", "٣", "1e3", ""])]
        if lo is not None:
            out += [st.integers(max_value=lo - 1), st.just(-HUGE)]
        if hi is not None:
            out += [st.integers(min_value=hi + 1), st.just(HUGE)]
        return st.one_of(*out, *wrong_type)
    if t == "float":
        out = [st.sampled_from([math.nan, math.inf, -math.inf, HUGE, -HUGE]), st.booleans(),
               st.sampled_from(["1e-3", "nan"])]
        if lo is not None:
            out.append(st.floats(max_value=lo, exclude_max=not lo_open, allow_nan=False, allow_infinity=False)
                       if lo > -1e308 else st.nothing())
        if hi is not None:
            out.append(st.floats(min_value=hi, exclude_min=True, allow_nan=False, allow_infinity=False))
        return st.one_of(*out, *wrong_type)
    if t == "bool":
        return st.one_of(st.sampled_from(["true", "yes", 1, 0, 1.0]), *wrong_type)
    if choices:
        return st.one_of(st.text(max_size=12).filter(lambda s: s not in choices),
                         st.sampled_from([c.upper() + " " for c in choices] + [c + "\x00" for c in choices]),
                         st.integers(), st.none())
    # a plain string field (text_file): wrong types and NUL are refused by the schema
    return st.one_of(st.integers(), st.lists(st.text(), max_size=1), st.just("a\x00b"))


FIELD_NAMES = sorted(FIELDS)
UNKNOWN_KEYS = st.text(min_size=1, max_size=15).filter(lambda k: k not in FIELDS)


@st.composite
def flat_configs(draw):
    """(values, names given schema-invalid values, unknown keys). Half of the examples have only valid
    values (some of them still clash: heads not dividing d_model, a task the architecture cannot
    pose, a sequence too long for the task), a quarter exactly one bad field, a quarter several bad
    fields and unknown keys."""
    mode = draw(st.sampled_from(["valid", "valid", "one bad", "mixed"]))
    names = set(draw(st.lists(st.sampled_from(FIELD_NAMES), unique=True, max_size=12))) | set(ALWAYS)
    names |= {"task", "arch"}
    if mode == "one bad":
        bad = {draw(st.sampled_from(FIELD_NAMES))}
    elif mode == "mixed":
        bad = set(draw(st.lists(st.sampled_from(FIELD_NAMES), unique=True, min_size=1, max_size=5)))
    else:
        bad = set()
    values = {}
    for name in sorted(names | bad):
        if name in bad:
            values[name] = draw(invalid_values(name))
        elif name == "text_file":
            values[name] = draw(st.sampled_from([GOOD_TEXT] * 3 + BAD_PATHS))
        else:
            values[name] = draw(valid_values(name))
    if values.get("task") == "text-lm" and "text_file" not in values and draw(st.booleans()):
        values["text_file"] = draw(st.sampled_from([GOOD_TEXT] + BAD_PATHS))
    unknown = set()
    if mode == "mixed" and draw(st.booleans()):
        for k in draw(st.lists(UNKNOWN_KEYS, max_size=2, unique=True)):
            values[k] = draw(st.one_of(st.integers(), st.text(max_size=5)))
            unknown.add(k)
    return values, bad, unknown


def assert_named_problems(e: ConfigError, bad: set, unknown: set) -> None:
    assert e.problems, "a ConfigError without problems"
    named = set()
    for f, msg in e.problems:
        assert f in FIELDS or f in unknown, f"problem names neither a field nor the unknown key: {f!r}: {msg}"
        assert isinstance(msg, str) and msg.strip() and len(msg) < 800, msg
        named.add(f)
    # every field given a value its schema refuses is reported (all field checks run before any other)
    missing = (bad | unknown) - named
    assert not missing, f"not reported: {missing}; problems: {e.problems}"


def assert_one_step_is_sane(cfg: RunConfig) -> None:
    try:
        tr = train(cfg)
    except ConfigError as e:  # only the device can be refused once the config is built (cuda here)
        assert {f for f, _ in e.problems} == {"device"}, e.problems
        return "device refused by the trainer"
    s = tr.summary
    assert s.status in ("completed", "diverged"), f"{s.status}: {s.reason}"
    if s.status == "completed":
        assert s.final_loss is not None and math.isfinite(s.final_loss), s
        _, losses = tr.store.series("train/loss")
        assert len(losses) == cfg.train.steps and all(math.isfinite(v) for v in losses)
    else:
        assert isinstance(s.diverged_step, int) and 1 <= s.diverged_step <= cfg.train.steps
        assert s.reason and f"step {s.diverged_step}" in s.reason
    return f"{s.status} ({cfg.task.task})"


# ---- 1. flat configs ------------------------------------------------------------------------------
@settings(max_examples=200, **PROFILE)
@given(flat_configs())
def test_every_flat_config_trains_a_step_or_is_refused_naming_the_field(example):
    values, bad, unknown = example
    try:
        cfg = accepted(values)
    except ConfigError as e:
        assert_named_problems(e, bad, unknown)
        event("refused")
        return
    assert not bad and not unknown, f"accepted a config with invalid {bad | unknown}: {values}"
    event(f"accepted: {assert_one_step_is_sane(cfg)}")


@settings(max_examples=30, **PROFILE)
@given(st.data())
def test_every_field_has_a_valid_and_an_invalid_strategy(data):
    """The strategies are derived from the schema: a new field gets both without editing this file."""
    for name in FIELD_NAMES:
        valid, invalid = data.draw(valid_values(name)), data.draw(invalid_values(name))
        assert _check_field(FIELDS[name][1], invalid), (name, invalid)
        assert _check_field(FIELDS[name][1], valid) is None, (name, valid)


# ---- 2. URL query strings ----------------------------------------------------------------------------
def _as_text(v) -> str:
    return str(v).lower() if isinstance(v, bool) else str(v)


QUERY_VALUES = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["nan", "inf", "-inf", "1e400", "-1", "0", "0x10", "1_000", " 7 ", "٣", "true", "OFF",
                     "9" * 5000, "x" * 10_000, "pre\x00", "../../etc/passwd", "/etc/passwd", "%00", "<script>"]),
    st.integers(-10**6, 10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)


@st.composite
def query_params(draw):
    params = {}
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["field"] * 4 + ["upper case", "any text", "long"]))
        key = {"field": st.sampled_from(FIELD_NAMES), "upper case": st.sampled_from(FIELD_NAMES).map(str.upper),
               "any text": st.text(max_size=10), "long": st.just("k" * 100)}[kind]
        key = draw(key)
        value = draw(valid_values(key).map(_as_text) if key in FIELDS and draw(st.booleans()) else QUERY_VALUES)
        params[key] = value
    return params


@settings(max_examples=300, **PROFILE)
@given(query_params())
def test_query_strings_never_raise_and_every_ignored_value_is_named(params):
    values, notes = parse_query(params)
    event(f"{'some' if values else 'no'} values kept, {'some' if notes else 'no'} ignored")
    assert len(values) + len(notes) == len(params)  # nothing dropped silently
    for k, text in params.items():
        if k in values:
            assert not any(n.startswith(f"{k}=") for n in notes)
        else:
            assert any(n.startswith(f"{show_key(k)}=") for n in notes), (k, notes)
            if k.isprintable() and len(k) <= 60:
                assert any(n.startswith(f"{k}=") for n in notes), (k, notes)
    for note in notes:
        assert len(note) < 400 and note.isprintable(), note  # a long or odd value is not echoed raw
    for k, v in values.items():
        assert k in FIELDS and k != "text_file"  # a link never names a server path
        assert _check_field(FIELDS[k][1], v) is None, (k, v)
        t = str(FIELDS[k][1].type)
        assert type(v) is {"int": int, "float": float, "bool": bool}.get(t, str), (k, v)
    try:  # what a link sets goes into a config like any other value
        accepted(values)
    except ConfigError as e:
        assert_named_problems(e, set(), set())


def test_query_refuses_a_file_path_and_echoes_a_bounded_value():
    values, notes = parse_query({"text_file": "/etc/passwd", "lr": "9" * 5000, "layers": "3"})
    assert values == {"layers": 3}
    assert notes[0].startswith("text_file=") and "server path" in notes[0]
    assert notes[1].startswith("lr=") and len(notes[1]) < 200  # 5000 digits are not echoed back


# ---- 3. the command line -----------------------------------------------------------------------------
_OUT = os.path.join(_DIR, "cli-out")
_CONFIG_FILES = [_file("config-bad.json", b'{"model": {"layers": '), _file("config-list.json", b"[1, 2]"),
                 _file("config-latin1.json", "{\"é\": 1}".encode("latin-1")), os.path.join(_DIR, "nope.json"),
                 _DIR]
TRAIN_ONLY = {n for n, (sec, _) in FIELDS.items() if sec == "train"} - {"batch_size", "device"}


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def _valid_number_text(name: str, value) -> bool:
    """Whether a number field's invalid value is valid once written on a command line: the string
    "3" (or "٣", "1e-3") is the wrong type in a config mapping, but a number on a command line."""
    if str(FIELDS[name][1].type) not in ("int", "float") or value is None or isinstance(value, (bool, list)):
        return False
    try:
        parse_value(name, _as_text(value))
    except ConfigError:
        return False
    return True


@st.composite
def command_lines(draw):
    """(argv, options given a bad value)."""
    command = draw(st.sampled_from(["train"] * 4 + ["init-stats"]))
    argv = ["train", "--out", _OUT, "--quiet"] if command == "train" else ["init-stats", "--seeds=1", "--quiet"]
    names = set(draw(st.lists(st.sampled_from(FIELD_NAMES), unique=True, max_size=8))) | set(ALWAYS)
    if command == "init-stats":
        names -= TRAIN_ONLY
    bad_names = set(draw(st.lists(st.sampled_from(sorted(names)), unique=True, max_size=2)))
    if draw(st.integers(0, 2)) == 0:
        bad_names = set()
    bad = set()
    for name in sorted(names):
        opt = _option(name)
        t = str(FIELDS[name][1].type)
        if name in bad_names:
            value = draw(invalid_values(name).filter(lambda v, n=name: not _valid_number_text(n, v)))
            if t == "bool":
                argv.append(f"{opt}={_as_text(value)}")  # a bool flag takes no value
            elif value is None or isinstance(value, list):
                argv.append(opt)  # no value at all
            else:
                argv.append(f"{opt}={_as_text(value)}")
            bad.add(opt)
        elif t == "bool":
            argv.append(opt if draw(st.booleans()) else "--no-" + name.replace("_", "-"))
        elif name == "text_file":
            argv.append(f"{opt}={draw(st.sampled_from([GOOD_TEXT, GOOD_TEXT] + BAD_PATHS[:-2]))}")
        else:
            argv.append(f"{opt}={_as_text(draw(valid_values(name)))}")
    extra = draw(st.sampled_from([None, None, None, "unknown", "config", "seeds"]))
    if extra == "unknown":
        opt = "--" + draw(st.text("abcdefghijklmnopqrstuvwxyz-", min_size=2, max_size=10)).strip("-")
        assume(opt.lstrip("-") and opt not in {_option(n) for n in FIELDS})
        argv.append(f"{opt}=1")
        bad.add(opt)
    elif extra == "config" and command == "train":
        argv.append(f"--config={draw(st.sampled_from(_CONFIG_FILES))}")
        bad.add("--config")
    elif extra == "seeds" and command == "init-stats":
        argv.append(f"--seeds={draw(st.sampled_from(['0', '-3', 'x', '1001', '']))}")
        bad.add("--seeds")
    return argv, bad


@settings(max_examples=120, suppress_health_check=[HealthCheck.function_scoped_fixture], **PROFILE)
@given(example=command_lines())
def test_command_line_exits_0_or_2_with_one_error_line(example, capsys):
    argv, bad = example
    capsys.readouterr()  # drop what earlier examples printed
    code = cli.main(argv)
    out, err = capsys.readouterr()
    event(f"{argv[0]}: exit {code}")
    assert "Traceback" not in out + err, err
    assert code in (0, 2), (code, err)
    if code == 2:
        lines = err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), lines
        if bad:  # the option with the bad value is the one named
            assert any(opt in lines[0] for opt in bad), (bad, lines[0])
        else:    # a combination that does not work names one of the fields
            assert any(_option(n) in lines[0] for n in FIELDS) or "--out" in lines[0], lines[0]
    else:
        assert not bad, f"exit 0 despite bad {bad}: {argv}"
        if argv[0] == "train":
            import json

            with open(os.path.join(_OUT, "summary.json")) as fh:
                assert json.load(fh)["status"] in ("completed", "diverged")
        else:
            assert out.startswith("seed,name,value")


def test_error_quoting_a_line_break_stays_on_one_line(capsys, tmp_path):
    code = cli.main(["train", "--out", str(tmp_path), "--task", "text-lm", "--text-file", "no\nsuch\u2028file"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.splitlines()) == 1 and "--text-file" in err, err


# ---- 4. bugs the properties found, pinned ----------------------------------------------------------
@pytest.mark.parametrize("values,field", [
    ({"lr": HUGE}, "lr"),                      # math.isfinite(10**400) raised OverflowError
    ({"grad_clip": HUGE}, "grad_clip"),
    ({"layers": 10**5000}, "layers"),          # str() of a 5000-digit int raises ValueError
    ({"task": "text-lm", "text_file": "a\x00b"}, "text_file"),   # os.stat raised ValueError
    ({"warmup": HUGE, "schedule": "noam"}, "warmup"),            # the noam factor overflowed mid-run
    ({"probe_every": HUGE}, "probe_every"),
])
def test_values_that_used_to_escape_as_exceptions(values, field):
    with pytest.raises(ConfigError) as ei:
        accepted({**values, "steps": 1})
    assert field in ei.value.by_field()
    assert len(str(ei.value)) < 400


def test_a_device_is_not_read_as_a_text_file():
    """/dev/zero used to be read up to the limit (a FIFO would have blocked the page for good)."""
    for path in ("/dev/zero", "/dev/null", "/dev/urandom"):
        with pytest.raises(ConfigError, match="not a regular file"):
            accepted({"task": "text-lm", "text_file": path})


# ---- 5. memory: every accepted config can take a step ----------------------------------------------
LARGEST = {n: FIELDS[n][1].metadata["hi"] for n in ("layers", "d_model", "d_ff", "batch_size", "seq_len")}


def test_the_largest_model_the_ranges_allow_is_refused_with_the_reason():
    with pytest.raises(ConfigError) as ei:
        accepted({**LARGEST, "heads": 64})
    (field, msg), = ei.value.problems
    assert field == "d_model" and "too large" in msg and MEMORY_ENV in msg and "GiB" in msg


@pytest.mark.parametrize("values", [
    {"batch_size": 4096, "seq_len": 512},                                        # 1024 positions of a copy task
    {"batch_size": 512, "seq_len": 256, "task": "stdlib-lm", "heads": 64, "d_model": 128},
    {"batch_size": 256, "seq_len": 200, "task": "add", "arch": "encoder-decoder", "layers": 48},
])
def test_a_step_whose_activations_do_not_fit_is_refused_naming_batch_size(values):
    with pytest.raises(ConfigError) as ei:
        accepted(values)
    assert ei.value.by_field().keys() == {"batch_size"} and "one training step needs about" in str(ei.value)


def test_memory_limit_comes_from_the_environment(monkeypatch):
    big = {"layers": 24, "d_model": 512, "d_ff": 2048, "heads": 8}  # ~76 M parameters: ~2 GiB of state
    accepted(big)
    monkeypatch.setenv(MEMORY_ENV, "1")
    with pytest.raises(ConfigError, match="limit per run is 1.0 GiB"):
        accepted(big)
    for junk in ("lots", "-3", "nan", "0"):  # a bad setting is named, never silently replaced
        monkeypatch.setenv(MEMORY_ENV, junk)
        with pytest.raises(ConfigError) as e:
            accepted({})
        assert e.value.problems[0][0] == MEMORY_ENV and repr(junk) in e.value.problems[0][1]
    assert server_settings.SETTINGS[MEMORY_ENV].default >= 2


def test_defaults_and_documented_examples_fit():
    for values in ({}, {"norm_position": "post", "layers": 6, "task": "reverse", "steps": 1000},
                   {"task": "stdlib-lm", "seq_len": 64, "steps": 2000}, {"layers": 48, "residual": "off"},
                   {"layers": 96, "d_model": 64}):
        accepted(values)


def test_schema_ranges_are_all_bounded():
    """Every number has an upper bound (or is a float checked for finiteness): a field without one let
    warmup=10**400 through validation and overflow in the schedule mid-run."""
    checked = {"int": 0, "float": 0}
    for name, (_, f) in FIELDS.items():
        t = str(f.type)
        if t == "int":
            assert f.metadata.get("hi") is not None, name
            checked["int"] += 1
        elif t == "float":  # no bound needed, but a non-finite value must be refused by name
            for bad in (math.inf, -math.inf, math.nan):
                with pytest.raises(ConfigError) as e:
                    accepted({name: bad})
                assert name in {fld for fld, _ in e.value.problems}, (name, bad, e.value.problems)
            checked["float"] += 1
    assert checked["int"] >= 5 and checked["float"] >= 3, checked  # the loop saw the schema
