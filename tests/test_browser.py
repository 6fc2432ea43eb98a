"""A real browser against the running app: headless Chromium (Debian's) driven by Playwright.

The test starts `streamlit run app.py` on a free port, presses Train, watches the step counter and
the charts update, takes screenshots, presses Stop, and checks that neither the page nor the server
log shows an exception or a ScriptRunContext warning.

Controls are found by their Streamlit keys (``.st-key-<key>``) inside the main area, never by their
label alone: Streamlit's own header shows a "Stop" button while a script runs. Every test that takes
the only training slot gives it back in a ``finally``, so one failing test cannot starve the next.

Screenshots go to pytest's temporary folder. The README's screenshots are regenerated on purpose,
by a person, with ``RESNORM_SCREENSHOTS=docs/screenshots python3 -m pytest -q -m browser``.
"""
import contextlib
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from helpers import ROOT

CHROMIUM = os.environ.get("RESNORM_CHROMIUM", "/usr/bin/chromium")

playwright = pytest.importorskip("playwright.sync_api")
if not os.path.exists(CHROMIUM):
    if os.environ.get("CI"):
        raise RuntimeError(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
    pytest.skip(f"no Chromium at {CHROMIUM}", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = _free_port()
    log_path = tmp_path_factory.mktemp("server") / "streamlit.log"
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "RESNORM_MAX_TRAININGS": "1",  # one slot: tests the cap
             "RESNORM_WORKERS": "process"})  # as deployed: training off the server's GIL
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while True:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            raise RuntimeError("streamlit did not start:\n" + log_path.read_text())
        time.sleep(0.3)
    yield url, log_path
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> str:
    """Where screenshots go: RESNORM_SCREENSHOTS when a person asks for them, else a temporary folder."""
    wanted = os.environ.get("RESNORM_SCREENSHOTS")
    if wanted:
        os.makedirs(wanted, exist_ok=True)
        return wanted
    return str(tmp_path_factory.mktemp("screenshots"))


def control(page, key: str):
    """The app's own widget with Streamlit key ``key``, in the main area (not the header's Stop), and
    not a stale copy: while a slow rerun redraws the page, Streamlit keeps the previous run's element,
    marked ``data-stale``, until the new one replaces it."""
    return page.locator(f'[data-testid="stMain"] .st-key-{key}:not([data-stale="true"])').get_by_role("button")


def ready(page, key: str, timeout: float = 60_000):
    """The control, once exactly one copy of it is on the page: for a moment during a rerun Streamlit
    can hold two (neither stale), and a click then would be ambiguous."""
    loc = control(page, key)
    playwright.expect(loc).to_have_count(1, timeout=timeout)
    return loc


def press(page, key: str, timeout: float = 60_000) -> None:
    ready(page, key, timeout).click()


def give_back(page, key: str) -> None:
    """Press the keyed Stop button if the run it belongs to is still active (hands the slot back)."""
    try:
        stop = control(page, key)
        if stop.count() and stop.is_enabled():
            stop.click(timeout=5_000)
            page.wait_for_timeout(500)
    except playwright.Error:
        pass  # the page is gone: closing it ends its session, which stops its run


def assert_clean_log(log_path) -> None:
    """The server logged no traceback and no missing-ScriptRunContext warning."""
    log = log_path.read_text()
    assert "missing ScriptRunContext" not in log and "Traceback" not in log, log[-3000:]


def projector_shot(page, path: str) -> None:
    """A screenshot as a room sees it: the page at 1280×720 (a projector), then its size restored."""
    size = page.viewport_size
    page.set_viewport_size({"width": 1280, "height": 720})
    page.wait_for_timeout(1200)  # the charts re-lay out to the new width
    page.screenshot(path=path)
    page.set_viewport_size(size)


@contextlib.contextmanager
def app_page(browser, log_path, stop_key: str, height: int):
    """A 1400-wide page of the app; afterwards its run's slot is given back (``stop_key``), the page
    closed and the server's log checked, whatever the test did."""
    page = browser.new_page(viewport={"width": 1400, "height": height})
    try:
        yield page
    finally:
        if not page.is_closed():
            give_back(page, stop_key)
            page.close()
    assert_clean_log(log_path)


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"])
        yield b
        b.close()


def _step(page) -> int:
    text = page.get_by_text(re.compile(r"step \d+/\d+")).first.inner_text()
    return int(re.search(r"step (\d+)/", text).group(1))


def _loss_points(page) -> int:
    """Points in the loss chart's train trace, read from Plotly's own data in the page."""
    return page.evaluate("""() => {
        const plots = [...document.querySelectorAll('.js-plotly-plot')];
        for (const p of plots) {
            // the Loss view's training loss, or the Live dashboard's loss panel ("train"), drawn while it trains
            const t = (p._fullData || []).find(d => d.name === 'training loss' || d.name === 'train');
            if (t && t.x) return t.x.length;  // Plotly's decoded arrays (numpy arrives as typed arrays)
        }
        return 0;
    }""")


def test_train_watch_stop_in_a_real_browser(server, browser, shots):
    url, log_path = server
    with app_page(browser, log_path, "btn_stop", 1700) as page:
        page.goto(url + "/?steps=3000", wait_until="domcontentloaded")
        ready(page, "btn_train")
        page.get_by_text("Choose a block design").wait_for(timeout=30_000)
        projector_shot(page, os.path.join(shots, "before-training.png"))

        t0 = time.time()
        press(page, "btn_train")
        page.get_by_text(re.compile(r"step [1-9]\d*/\d+")).first.wait_for(timeout=60_000)
        page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length > 0", timeout=60_000)
        print(f"first points {time.time() - t0:.2f} s after pressing Train")

        # the step counter advances and the loss chart gets new points at least three times
        steps, points = [_step(page)], [_loss_points(page)]
        deadline = time.time() + 90
        while (len(set(points)) < 4 or len(set(steps)) < 4) and time.time() < deadline:
            page.wait_for_timeout(600)
            steps.append(_step(page))
            points.append(_loss_points(page))
        assert len(set(steps)) >= 4, steps
        assert len(set(p for p in points if p > 0)) >= 3, points
        assert steps == sorted(steps)
        projector_shot(page, os.path.join(shots, "live-training.png"))

        playwright.expect(ready(page, "btn_stop")).to_be_enabled(timeout=10_000)  # the run goes on: Stop is live
        press(page, "btn_stop")
        page.get_by_text(re.compile(r"\*?\*?stopped")).first.wait_for(timeout=30_000)
        page.wait_for_timeout(1500)
        stopped_at = _step(page)
        assert stopped_at < 3000  # it stopped before its end
        page.wait_for_timeout(1500)
        assert _step(page) == stopped_at  # nothing runs after Stop
        assert page.locator('[data-testid="stException"]').count() == 0
        projector_shot(page, os.path.join(shots, "after-stop.png"))


def test_closing_the_tab_stops_the_run_and_frees_its_slot(server, browser):
    """With one training slot: a second session's run waits in the queue with its position;
    closing the first tab ends its session, which stops its run, and the queued run starts."""
    url, log_path = server
    first = browser.new_page(viewport={"width": 1400, "height": 1200})
    second = browser.new_page(viewport={"width": 1400, "height": 1200})
    try:
        first.goto(url + "/?steps=3000", wait_until="domcontentloaded")
        ready(first, "btn_train")
        first.wait_for_timeout(800)
        press(first, "btn_train")
        first.get_by_text(re.compile(r"running · step")).first.wait_for(timeout=60_000)

        second.goto(url + "/?steps=3000", wait_until="domcontentloaded")
        ready(second, "btn_train")
        second.wait_for_timeout(800)
        press(second, "btn_train")
        second.get_by_text(re.compile(r"[Qq]ueued.*1")).first.wait_for(timeout=30_000)  # its place in the queue

        first.close()  # the tab goes away: its session ends, its run stops, the queue moves on
        second.get_by_text(re.compile(r"running · step")).first.wait_for(timeout=60_000)
        press(second, "btn_stop")
        second.get_by_text(re.compile(r"\*?\*?stopped")).first.wait_for(timeout=30_000)
        assert second.locator('[data-testid="stException"]').count() == 0
    finally:
        for page in (first, second):
            if not page.is_closed():
                give_back(page, "btn_stop")
                page.close()
    assert_clean_log(log_path)


def test_shared_link_opens_the_setup_and_a_comparison_runs_to_the_end(server, browser, shots):
    url, log_path = server
    with app_page(browser, log_path, "cmp_stop", 1800) as page:
        page.goto(url + "/compare?norm_position=post,pre&layers=3&steps=60&seed=7", wait_until="domcontentloaded")
        page.get_by_text("Config A").wait_for(timeout=60_000)
        # a direct link goes through the app's router (its navigation and its sidebar caption)
        page.get_by_text(re.compile(r"resnorm \d+\.\d+")).first.wait_for(timeout=20_000)
        assert "At initialisation" in page.locator('[data-testid="stSidebarNav"]').inner_text()
        expect = playwright.expect  # waits until the page settles (the first paint may show a default)
        expect(page.get_by_label("layers", exact=True)).to_have_value("3", timeout=20_000)
        expect(page.get_by_label("seed", exact=True)).to_have_value("7", timeout=20_000)
        combos = page.get_by_role("combobox", name="norm position", exact=True)
        expect(combos.nth(-2)).to_have_value("Post-LN", timeout=20_000)  # config A (the sidebar has no norm position on Compare)
        expect(combos.nth(-1)).to_have_value("Pre-LN", timeout=20_000)  # config B
        # the previous test's run may still be handing back the only slot: then the comparison waits
        # in the queue and starts by itself
        press(page, "cmp_train")
        try:
            page.get_by_text("Verdict").wait_for(timeout=120_000)
        except playwright.Error:
            page.screenshot(path=os.path.join(shots, "compare-failure.png"), full_page=True)
            raise AssertionError("no verdict; page says: " + page.locator("main").inner_text()[:1500])
        page.wait_for_timeout(1500)  # let the final render paint
        names = page.evaluate("""() => {
            for (const p of document.querySelectorAll('.js-plotly-plot')) {
                const title = (p._fullLayout && p._fullLayout.title && p._fullLayout.title.text) || '';
                if (title.includes('Training loss')) return (p._fullData || []).filter(d => d.x && d.x.length > 1).map(d => d.name);
            }
            return [];
        }""")
        assert sorted(names) == ["A · Post-LN", "B · Pre-LN"], names  # named by what differs
        assert page.locator('[data-testid="stException"]').count() == 0
        projector_shot(page, os.path.join(shots, "compare.png"))


def test_lesson_link_in_chinese_runs_to_its_verdict(server, browser):
    """?lesson=2&lang=zh opens lesson 2 in Simplified Chinese, locked to its controls; running it
    ends in the lesson's verdict (its own check, with numbers)."""
    url, log_path = server
    with app_page(browser, log_path, "lesson_stop", 1600) as page:
        page.goto(url + "/lessons?lesson=2&lang=zh", wait_until="domcontentloaded")
        run = ready(page, "lesson_run")
        playwright.expect(run).to_contain_text("在初始化时计算", timeout=20_000)  # lessons.run_init in zh
        assert page.get_by_text("教师：解锁全部控件").count() > 0  # workshop mode: locked until a teacher unlocks
        page.wait_for_timeout(800)
        press(page, "lesson_run")
        page.get_by_text("结论", exact=True).wait_for(timeout=120_000)
        assert page.get_by_text(re.compile("预期的效应")).count() > 0
        assert page.locator('[data-testid="stException"]').count() == 0
