"""Train click → first loss point drawn in a real browser (the Live dashboard's loss panel), N runs.

    python3 tests/load/first_point_browser.py 20

Starts `streamlit run app.py` on port 8631, opens the Live page at 1280×720 in headless Chromium,
and N times: waits 3 s (a warm spare is ready again), clicks Train, polls Plotly's own data until the
loss panel's "train" trace has a point, then Stop and Reset. Prints each time and p50/p95. A
measurement, not a test (issue 13, item 2; figures in BENCHMARKS.md)."""
import statistics, subprocess, sys, time, os
from playwright.sync_api import sync_playwright
N = int(sys.argv[1]) if len(sys.argv) > 1 else 10
port = 8631
srv = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                        "--server.port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
JS = """() => { for (const p of document.querySelectorAll('.js-plotly-plot')) {
  const t = (p._fullData || []).find(d => d.name === 'train'); if (t && t.x && t.x.length) return t.x.length; } return 0; }"""
out = []
try:
    time.sleep(6)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox"])
        page = b.new_page(viewport={"width": 1280, "height": 720})
        page.goto(f"http://127.0.0.1:{port}/?steps=100000", wait_until="domcontentloaded")
        for i in range(N):
            btn = page.locator('[data-testid="stMain"] .st-key-btn_train:not([data-stale="true"]) button:visible').first
            btn.wait_for(timeout=60000)
            for _ in range(200):
                if btn.is_enabled(): break
                page.wait_for_timeout(100)
            page.wait_for_timeout(3000)  # a spare is ready again (as a person reading the last run)
            t0 = time.perf_counter(); btn.click()
            while page.evaluate(JS) == 0 and time.perf_counter() - t0 < 30:
                page.wait_for_timeout(20)
            dt = time.perf_counter() - t0; out.append(dt); print(f"run {i+1}: {dt:.2f} s", flush=True)
            page.locator('[data-testid="stMain"] .st-key-btn_stop:not([data-stale="true"]) button:visible').first.click()
            page.wait_for_timeout(1500)
            page.locator('[data-testid="stMain"] .st-key-btn_reset:not([data-stale="true"]) button:visible').first.click()
            page.wait_for_timeout(1500)
        b.close()
finally:
    srv.terminate()
out.sort()
print(f"N={N} p50={statistics.median(out):.2f} s p95={out[min(len(out)-1, int(round(0.95*(len(out)-1))))]:.2f} s max={out[-1]:.2f} s")
