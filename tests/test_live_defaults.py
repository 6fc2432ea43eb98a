"""The Live page opens on its own default (``resnorm.studies.defaults.LIVE``, a run that still moves at
its end), says why, and its link names those fields, so a link to a copy run still opens a copy run."""
from resnorm import i18n as I
from resnorm.studies.defaults import LIVE
from helpers import app_test


def _q(at, key):
    v = at.query_params.get(key)
    return v[0] if isinstance(v, list) else v


def test_live_opens_on_its_default_and_says_why():
    at = app_test()
    assert not at.exception
    for field, value in LIVE.items():
        assert at.session_state[f"cfg_{field}"] == value
        assert _q(at, field) == str(value)  # in the link, though it is the page's default
    assert any(I.translate("why.live", "en") == c.value for c in at.sidebar.caption)


def test_a_link_to_a_copy_run_opens_a_copy_run():
    at = app_test(task="copy", steps="500")
    assert at.session_state["cfg_task"] == "copy" and at.session_state["cfg_steps"] == 500
    assert _q(at, "task") == "copy"
