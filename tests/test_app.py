"""The Streamlit app, driven headless with AppTest."""
import os

from streamlit.testing.v1 import AppTest

import resnorm

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_app_shows_version_and_default_block_formula():
    at = AppTest.from_file(os.path.join(ROOT, "app.py")).run(timeout=60)
    assert not at.exception
    assert any(resnorm.__version__ in c.value for c in at.caption)
    assert any(r"x \leftarrow x + F\big(\mathrm{LN}(x)\big)" in l.body for l in at.latex)


def test_upload_limit_agrees_with_package():
    import tomllib

    from resnorm.tasks import MAX_TEXT_BYTES

    with open(os.path.join(ROOT, ".streamlit", "config.toml"), "rb") as fh:
        cfg = tomllib.load(fh)
    assert cfg["server"]["maxUploadSize"] * 1024 * 1024 == MAX_TEXT_BYTES  # Streamlit counts MiB
