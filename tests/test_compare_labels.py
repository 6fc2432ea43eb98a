"""What differs between a comparison's configs, and the legend names built from it
(``resnorm.studies.compare.differences`` / ``variant_labels``): checked against configs whose
differences are known by construction."""
from resnorm.science.config import RunConfig
from resnorm.studies.compare import differences, plain_value, variant_labels
from resnorm.studies.defaults import COMPARE_PRESETS, DEFAULT_COMPARE, PER_VARIANT


def _cfg(**kw) -> RunConfig:
    return RunConfig.from_flat(kw)


def test_differences_lists_exactly_the_fields_that_differ():
    a, b = _cfg(norm_position="post", lr=1e-2), _cfg(norm_position="pre", lr=1e-2)
    assert differences([a, b]) == [{"norm_position": "post"}, {"norm_position": "pre"}]
    c = _cfg(norm_position="pre", lr=3e-3)
    assert differences([a, b, c]) == [{"norm_position": "post", "lr": 1e-2}, {"norm_position": "pre", "lr": 1e-2},
                                      {"norm_position": "pre", "lr": 3e-3}]


def test_identical_configs_differ_in_nothing_and_are_named_by_letter_only():
    assert differences([_cfg(), _cfg()]) == [{}, {}]
    assert variant_labels([_cfg(), _cfg()]) == ["A", "B"]


def test_labels_name_each_variant_by_what_differs():
    a, b = _cfg(norm_position="post"), _cfg(norm_position="pre")
    assert variant_labels([a, b]) == ["A · post", "B · pre"]
    names = {"post": "Post-LN", "pre": "Pre-LN"}
    assert variant_labels([a, b], lambda f, v: names[v]) == ["A · Post-LN", "B · Pre-LN"]
    x, y = _cfg(norm="rmsnorm", warmup=0), _cfg(norm="layernorm", warmup=150)
    assert variant_labels([x, y]) == ["A · rmsnorm, warmup 0", "B · layernorm, warmup 150"]


def test_plain_value_words_numbers_with_their_field():
    assert plain_value("lr", 0.01) == "lr 0.01" and plain_value("lr", 1e-5) == "lr 1e-05"
    assert plain_value("layers", 8) == "layers 8" and plain_value("norm", "dyt") == "dyt"


def test_presets_vary_only_per_variant_fields_and_build():
    for p in COMPARE_PRESETS.values():
        assert 2 <= len(p.variants) <= 4
        assert all(set(v) <= set(PER_VARIANT) for v in p.variants), p.id
        assert not set(p.shared) & set(PER_VARIANT), p.id
        configs = [RunConfig.from_flat(f) for f in p.flats()]
        assert all(d for d in differences(configs)), p.id  # every variant differs from the others
    default = [RunConfig.from_flat(f) for f in COMPARE_PRESETS[DEFAULT_COMPARE].flats()]
    assert variant_labels(default) == ["A · post", "B · pre"]
