"""Metric names (resnorm.names): built, parsed and ordered in one place, checked against the names a
real model's probes record."""
from resnorm import names
from resnorm.trainer import train

from helpers import TINY, configs


def test_parse_gives_stack_block_sublayer_and_head():
    b = names.parse("dec.blocks.3.cross_attn.head2.entropy")
    assert (b.stack, b.block, b.rest, b.sublayer, b.head, b.prefix) == ("dec", 3, "cross_attn.head2.entropy",
                                                                          "cross_attn", 2, "dec.blocks.3")
    b = names.parse("blocks.11.mlp_out.change")
    assert (b.stack, b.block, b.sublayer, b.head) == ("blocks", 11, "mlp", None)
    assert names.parse("blocks.0.resid_post.rms").sublayer is None
    for run_level in ("train/loss", "grad/total_norm", "lr", "xblocks.1.rms", "blocks.x.rms"):
        assert names.parse(run_level) is None, run_level


def test_built_names_parse_back():
    for stack in ("blocks", "enc", "dec"):
        for i in (0, 7, 12):
            name = names.metric(stack, i, "attn.entropy")
            b = names.parse(name)
            assert (b.stack, b.block, b.rest) == (stack, i, "attn.entropy")
            assert names.parse(names.head_entropy(f"{b.prefix}.attn", 3)).head == 3


def test_block_order_is_forward_order_across_stacks_and_two_digit_indices():
    found = ["dec.blocks.0.x", "blocks.10.x", "enc.blocks.2.x", "blocks.2.x", "enc.blocks.10.x", "lr"]
    assert names.block_prefixes(found) == ["enc.blocks.2", "enc.blocks.10", "blocks.2", "blocks.10", "dec.blocks.0"]
    assert [names.short(p) for p in ("blocks.3", "enc.blocks.1", "dec.blocks.0")] == ["L3", "enc L1", "dec L0"]
    assert names.n_blocks(found) == 11 and names.n_blocks(found, "dec") == 1


def test_the_names_a_run_records_are_the_ones_this_module_parses():
    """Every per-block metric an encoder-decoder records parses, and its prefixes are the model's own."""
    tr = train(configs(TINY, arch="encoder-decoder", task="reverse", steps=2, probe_every=1, eval_every=0,
                       attention_every=0)())
    recorded = list(tr.store.all_series())
    per_block = [n for n in recorded if names.parse(n) is not None]
    assert len(per_block) > 20
    assert names.block_prefixes(recorded) == tr.model.block_prefixes()
    subs = {names.parse(n).sublayer for n in per_block} - {None}
    assert subs == {"attn", "cross_attn", "mlp"}
