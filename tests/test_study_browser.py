"""Acceptance test of the study page in a real headless chromium (selenium): one guided and one RTUG session
through `colorbench study serve`, a ranking, a second tab refused, a server killed mid-session; then the
database rows and the rendered Table 2.

Needs Debian's chromium and chromium-driver (`make test` installs them when it runs as root).
Set COLORBENCH_STUDY_SCREENSHOT=path.png to save the guided page after its first hint and Next
(docs/figures/study-page.png).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from colorbench.cli import main

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[dev]')")
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
SCREENSHOT = os.environ.get("COLORBENCH_STUDY_SCREENSHOT")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def server(tmp_path: Path):
    """`colorbench study serve` in its own process → (base URL, database path, process)."""
    port, db = _free_port(), tmp_path / "study.db"
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "colorbench", "study", "serve", "--models", "ours,rtug",
                             "--dataset", "toon", "--limit", "2", "--images-per-model", "1", "--db", str(db),
                             "--port", str(port)], env=env, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300  # a liveness bound: torch and two models load slowly on a busy machine
    while True:
        try:
            urllib.request.urlopen(base + "/api/config", timeout=2).read()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"the study server did not start: {proc.stderr.read()}")
            time.sleep(0.3)
    yield base, db, proc
    if proc.poll() is None:
        proc.kill()
    proc.wait()


@pytest.fixture()
def browser():
    if CHROMIUM is None or DRIVER is None:
        pytest.skip("no headless browser: needs Debian's chromium and chromium-driver "
                    "(apt-get install -y chromium chromium-driver; `make test` does it when run as root)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=820,1000"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(options=opts, service=webdriver.ChromeService(executable_path=DRIVER))
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def _status(driver, text: str) -> None:
    WebDriverWait(driver, 60).until(lambda d: text in d.find_element(By.ID, "status").text,
                                    f"status never said {text!r}")


def _pick(driver, color: str) -> None:
    driver.find_element(By.CSS_SELECTOR, f'.swatch[data-color="{color}"]').click()


def _scores(driver, qs: int, cs: int) -> None:
    driver.find_element(By.ID, "finish").click()
    driver.find_element(By.CSS_SELECTOR, f'#qs input[value="{qs}"]').click()
    driver.find_element(By.CSS_SELECTOR, f'#cs input[value="{cs}"]').click()
    driver.find_element(By.ID, "submit-scores").click()


def _guided(driver) -> None:
    assert "guided" in driver.find_element(By.ID, "mode").text
    _pick(driver, "#d32f2f")
    _status(driver, "hint 1 applied")
    driver.find_element(By.ID, "next").click()
    if SCREENSHOT:  # Fig. 10's view: the next region highlighted, the first hint's result
        driver.save_screenshot(SCREENSHOT)
    _pick(driver, "#1976d2")
    _status(driver, "hint 2 applied")
    _scores(driver, 4, 5)


def _point(driver, at: list[tuple[int, int]]) -> None:
    assert "point" in driver.find_element(By.ID, "mode").text
    left = driver.find_element(By.ID, "left")
    for i, (dx, dy) in enumerate(at):
        if i:
            driver.find_element(By.ID, "next").click()
        ActionChains(driver).move_to_element_with_offset(left, dx, dy).click().perform()  # offsets from the centre
        assert driver.find_element(By.ID, "marker").is_displayed()
        _pick(driver, "#388e3c")
        _status(driver, f"hint {i + 1} applied")


def _page(driver) -> str:
    WebDriverWait(driver, 60).until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-session")
                                    or d.find_element(By.ID, "done").is_displayed())
    return driver.find_element(By.TAG_NAME, "body").get_attribute("data-page")


def test_one_guided_and_one_rtug_session_in_a_real_browser(server, browser, tmp_path: Path) -> None:
    base, db, proc = server
    browser.get(base + "/")
    seen = []
    for _ in range(2):  # the participant's plan: both models on one image, in a per-participant order
        page = _page(browser)
        seen.append(page)
        session = browser.find_element(By.TAG_NAME, "body").get_attribute("data-session")
        if page == "guided":
            _guided(browser)
        else:
            _point(browser, [(-60, -80), (40, 90)])
            _scores(browser, 3, 2)
        WebDriverWait(browser, 60).until(lambda d, s=session: d.find_element(By.TAG_NAME, "body")
                                         .get_attribute("data-session") != s or d.find_element(By.ID, "done")
                                         .is_displayed())
    assert sorted(seen) == ["guided", "point"]
    WebDriverWait(browser, 60).until(lambda d: d.find_element(By.ID, "done").is_displayed())

    browser.get(base + "/rank")  # Table 6: click the outputs best first, submit
    WebDriverWait(browser, 60).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".candidate")) == 2)
    for card in reversed(browser.find_elements(By.CSS_SELECTOR, ".candidate")):
        card.click()
    browser.find_element(By.ID, "rank-submit").click()
    _status(browser, "hint(s)")
    WebDriverWait(browser, 60).until(lambda d: "ranking 2" in d.find_element(By.ID, "task").text)

    browser.get(base + "/?model=rtug&image=test-000001")  # one hint, then the server is killed
    assert _page(browser) == "point"
    first = browser.current_window_handle
    browser.switch_to.new_window("tab")  # the same participant in a second tab: refused, the page says why
    browser.get(base + "/?model=guidingpainter&image=test-000001")
    alert = WebDriverWait(browser, 60).until(expected_conditions.alert_is_present())
    assert "already has session" in alert.text
    alert.dismiss()  # keep the first tab's session
    WebDriverWait(browser, 10).until(lambda d: "already has session" in d.find_element(By.ID, "error").text)
    browser.close()
    browser.switch_to.window(first)
    _point(browser, [(0, 0)])
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.connect() as c:
        rows = c.execute(sa.text("SELECT s.model, s.status, s.qs, s.cs, count(i.seq), length(s.final_png) > 0 "
                                 "FROM sessions s LEFT JOIN interactions i ON i.session_id = s.id "
                                 "GROUP BY s.id ORDER BY s.started_at")).all()
        ranked = c.execute(sa.text("SELECT ranking FROM rank_tasks WHERE ranking IS NOT NULL")).all()
        hint = c.execute(sa.text("SELECT hint FROM interactions WHERE seq = 0 ORDER BY received_at DESC")).first()
    engine.dispose()
    by_model = {r[0]: r[1:] for r in rows[:2]}
    assert by_model["guidingpainter"] == ("finished", 4, 5, 2, 1)
    assert by_model["rtug"] == ("finished", 3, 2, 2, 1)
    assert rows[2][:2] == ("rtug", "open") and rows[2][4] == 1  # the killed session's hint was kept
    assert '"kind": "point"' in hint[0] and len(ranked) == 1

    res = CliRunner().invoke(main, ["study", "report", str(db), "--out", str(tmp_path / "report")])
    assert res.exit_code == 0, res.output
    assert "| toon | guidingpainter | 1 | 1 | 2 |" in res.output and "| 4.00 | 5.00 |" in res.output
    assert "| toon | rtug | 1 | 1 | 2 |" in res.output and "| 3.00 | 2.00 |" in res.output
    assert (tmp_path / "report" / "table2.png").stat().st_size > 0
