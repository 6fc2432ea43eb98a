"""What docs/ARCHITECTURE.md promises, checked: the published hook names are frozen (a rename breaks
users' probes and must be deliberate), the document lists exactly them, and no document sends a
reader outside the repository."""
import re

import pytest

from resnorm.science.config import ModelConfig
from resnorm.science.model import build_model

from helpers import ROOT

# The published hook names of a decoder- or encoder-only model, block 0 standing for every block.
# Changing this list is changing a public interface: update docs/ARCHITECTURE.md §3 with it.
PUBLISHED_SINGLE = [
    "hook_embed",
    "blocks.{i}.hook_resid_pre",
    "blocks.{i}.attn.hook_scores",  # issue 18: the logits the softmax reads
    "blocks.{i}.attn.hook_pattern",
    "blocks.{i}.hook_attn_out",
    "blocks.{i}.hook_resid_after_attn",
    "blocks.{i}.hook_mlp_out",
    "blocks.{i}.hook_resid_after_mlp",
    "blocks.{i}.hook_resid_post",
    "hook_final",
]
CROSS_ONLY = ["cross_attn.hook_scores", "cross_attn.hook_pattern", "hook_cross_attn_out", "hook_resid_after_cross_attn"]


def _pattern(names, layers):
    """Expand ``{i}`` over the blocks, keeping each block's names together in forward order."""
    head, per_block, tail = names[0], names[1:-1], names[-1]
    return [head] + [n.format(i=i) for i in range(layers) for n in per_block] + [tail]


def test_hook_names_of_a_decoder_are_the_published_ones():
    for arch in ("decoder", "encoder"):
        model = build_model(ModelConfig(arch=arch, layers=3, d_model=8, heads=2, d_ff=8), 10, 8, seed=0)
        assert model.hook_names() == _pattern(PUBLISHED_SINGLE, 3), arch


def test_hook_names_of_an_encoder_decoder_add_only_the_cross_attention_ones():
    model = build_model(ModelConfig(arch="encoder-decoder", layers=2, d_model=8, heads=2, d_ff=8), 10, 8, seed=0)
    names = model.hook_names()
    block = [n.replace("blocks.{i}.", "") for n in PUBLISHED_SINGLE[1:-1]]
    for stack in ("enc", "dec"):
        for i in range(2):
            mine = [n[len(f"{stack}.blocks.{i}."):] for n in names if n.startswith(f"{stack}.blocks.{i}.")]
            expected = block if stack == "enc" else block + CROSS_ONLY
            assert sorted(mine) == sorted(expected), (stack, i, mine)
        assert f"{stack}.hook_final" in names
    assert names[0] == "hook_embed" and len(names) == 1 + 2 * 2 * len(block) + 2 * len(CROSS_ONLY) + 2


def test_the_architecture_document_lists_exactly_the_published_hook_names():
    doc = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    section = re.search(r"<!-- hook-names:single -->(.*?)<!-- /hook-names -->", doc, re.S).group(1)
    listed = re.findall(r"^- `([^`]+)`", section, re.M)
    assert listed == PUBLISHED_SINGLE
    for name in CROSS_ONLY:
        assert f"dec.blocks.{{i}}.{name}" in doc, name


def test_docs_and_code_never_send_a_reader_outside_the_repository():
    """A clone stands alone: no '../shared' paths and no DESIGN.md (the team's own record) cited."""
    files = [ROOT / "README.md", ROOT / "SECURITY.md", ROOT / "BENCHMARKS.md", *(ROOT / "docs").glob("*.md"),
             *(p for d in ("resnorm", "ui", "app_pages") for p in (ROOT / d).rglob("*.py")), ROOT / "app.py"]
    offenders = [f"{p.relative_to(ROOT)}: {line.strip()[:80]}"
                 for p in files if p.exists()
                 for line in p.read_text(encoding="utf-8").splitlines()
                 if "../shared" in line or "DESIGN.md" in line or "DESIGN §" in line]
    assert offenders == []


def test_every_server_setting_is_in_the_one_table_of_the_docs():
    from resnorm import settings

    doc = (ROOT / "docs" / "workshop.md").read_text(encoding="utf-8")
    table = re.search(r"<!-- settings-table -->\n(.*?)\n<!-- /settings-table -->", doc, re.S).group(1)
    assert table == settings.markdown_table()
    # and no code reads a RESNORM_* variable itself: resnorm/settings.py is the one place
    readers = [f"{p.relative_to(ROOT)}" for d in ("resnorm", "ui", "app_pages") for p in (ROOT / d).rglob("*.py")
               if p.name != "settings.py" and re.search(r"environ(\.get)?[\[(]\s*[\"']RESNORM_|getenv\(\s*[\"']RESNORM_",
                                                       p.read_text(encoding="utf-8"))]
    assert readers == []
    documented = set(re.findall(r"RESNORM_[A-Z_]+", doc + (ROOT / "README.md").read_text(encoding="utf-8")
                                + (ROOT / "SECURITY.md").read_text(encoding="utf-8")))
    assert documented - {"RESNORM_SCREENSHOTS", "RESNORM_CHROMIUM"} <= set(settings.SETTINGS), \
        "a documented variable that the settings table does not know"


def test_a_malformed_setting_is_one_error_naming_it(monkeypatch):
    from resnorm import settings

    for name, bad in [("RESNORM_MAX_TRAININGS", "0"), ("RESNORM_WORKERS", "fork"), ("RESNORM_MAX_RUN_GB", "nan"),
                      ("RESNORM_PAUSE_GRACE_S", "-1"), ("RESNORM_WORKER_TIMEOUT_S", "5"), ("RESNORM_RUNS_QUOTA_GB", "x")]:
        monkeypatch.setenv(name, bad)
        with pytest.raises(settings.SettingError) as e:
            settings.get(name)
        assert e.value.problems == [(name, e.value.problems[0][1])] and repr(bad) in str(e.value)
    assert len(settings.problems()) == 6
    for name in settings.SETTINGS:
        monkeypatch.delenv(name, raising=False)
    assert settings.problems() == []


# ---- layers: science never imports serving, studies or the UI --------------------------------------------
def _imports(path) -> set[str]:
    """Absolute module names ``path`` imports (at module level or in functions), relative ones resolved."""
    import ast

    pkg = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = pkg.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names)
    return out


@pytest.mark.parametrize("layer, forbidden", [
    ("science", ("resnorm.serving", "resnorm.studies", "resnorm.cli", "resnorm.bench", "ui", "streamlit")),
    ("studies", ("resnorm.serving", "resnorm.cli", "resnorm.bench", "ui", "streamlit")),
    ("serving", ("resnorm.cli", "ui", "streamlit")),
])
def test_each_layer_imports_only_the_layers_below_it(layer, forbidden):
    files = sorted((ROOT / "resnorm" / layer).glob("*.py"))
    assert len(files) >= 5, layer
    bad = {f"{p.name}: {m}" for p in files for m in _imports(p)
           if any(m == f or m.startswith(f + ".") for f in forbidden)}
    assert bad == set()
