"""The Live page as one screen, in a real browser at a projector's 1280×720 (issue 13, items 1 and 11).

While the default run trains, the run controls (Train, Pause, Stop), the progress and the four live
panels — loss, residual stream per layer, gradient norm per layer, one attention map — all lie
inside the viewport, without scrolling; in English, in Chinese and in projector mode. Screenshots go
where ``tests/test_browser.py`` puts its own (``RESNORM_SCREENSHOTS`` for a person's look).
"""
import os
import re

import pytest

from resnorm.science.config import RunConfig
from resnorm.studies.defaults import LIVE
from resnorm.i18n import translate
from test_browser import assert_clean_log, browser, give_back, playwright, press, ready, server, shots  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow]

W, H = 1280, 720
PANELS = ("dash.loss_title", "dash.resid_title", "dash.grad_title")  # the attention panel's title names its layer

BOXES = """() => {
    const inMain = sel => [...document.querySelectorAll('[data-testid="stMain"] ' + sel)]
        .filter(e => !e.closest('[data-stale="true"]'));
    const box = e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
    const plots = inMain('.js-plotly-plot').map(p => ({
        title: ((p._fullLayout || {}).title || {}).text || '', traces: (p._fullData || []).length, box: box(p)}));
    const keys = ['btn_train', 'btn_pause', 'btn_stop'];
    const controls = Object.fromEntries(keys.map(k => [k, inMain('.st-key-' + k + ' button').map(box)[0] || null]));
    const progress = inMain('[data-testid="stProgress"]').map(box)[0] || null;
    return {plots, controls, progress, text: (document.querySelector('[data-testid="stMain"]') || {}).innerText || ''};
}"""


def _inside(box) -> bool:
    left, top, right, bottom = box
    return left >= 0 and top >= 0 and right <= W + 0.5 and bottom <= H + 0.5 and right > left and bottom > top


@pytest.mark.parametrize("query,lang", [("", "en"), ("?lang=zh", "zh"), ("?view=projector", "en")],
                         ids=["en", "zh", "projector"])
def test_four_panels_and_the_controls_are_on_one_screen_while_it_trains(server, browser, shots, query, lang):  # noqa: F811
    url, log_path = server
    page = browser.new_page(viewport={"width": W, "height": H})
    name = {"": "en", "?lang=zh": "zh", "?view=projector": "projector"}[query]
    try:
        page.goto(url + "/" + query, wait_until="domcontentloaded")  # the default run
        ready(page, "btn_train")
        page.wait_for_timeout(800)
        press(page, "btn_train")
        titles = [translate(k, lang) for k in PANELS]
        attention = translate("dash.attn_title_at", lang, layer="", head="", step="").split(" ")[0]
        # every panel has data (not "starting…"), while the run still trains
        page.wait_for_function("""([titles, attention]) => {
            const plots = [...document.querySelectorAll('[data-testid="stMain"] .js-plotly-plot')];
            const has = t => plots.some(p => (((p._fullLayout || {}).title || {}).text || '').includes(t)
                                             && (p._fullData || []).length > 0);
            return titles.every(has) && has(attention);
        }""", arg=[titles, attention], timeout=120_000)
        seen = page.evaluate(BOXES)
        running = translate("status.running", lang)
        assert running in seen["text"], "the run ended before the panels could be checked: " + seen["text"][:300]
        page.screenshot(path=os.path.join(shots, f"live-dashboard-{name}.png"))

        panels = {t: p for t in titles + [attention] for p in seen["plots"] if t in p["title"] and p["traces"]}
        assert len(panels) == 4, [p["title"] for p in seen["plots"]]
        for title, p in panels.items():
            assert _inside(p["box"]), (title, p["box"])
        for key, box in seen["controls"].items():
            assert box is not None and _inside(box), (key, box)
        assert seen["progress"] is not None and _inside(seen["progress"]), seen["progress"]
        steps = LIVE.get("steps", RunConfig().train.steps)
        assert re.search(rf"\d+/{steps}", seen["text"]), f"not the default run's {steps} steps"
        if query == "?view=projector":  # the projector's fonts reached the panels
            sizes = page.evaluate("""() => [...document.querySelectorAll('[data-testid="stMain"] .js-plotly-plot')]
                .slice(0, 4).map(p => [p.layout.legend.font.size, p._fullLayout.yaxis.tickfont.size])""")  # as sent
            assert all(legend >= 14 and tick >= 14 for legend, tick in sizes), sizes
        assert page.locator('[data-testid="stException"]').count() == 0
    finally:
        if not page.is_closed():
            give_back(page, "btn_stop")
            page.close()
    assert_clean_log(log_path)
