"""Acceptance test of the study in a real headless chromium (selenium): two participants on one lab machine go
through a whole Latin-square plan of `colorbench study serve` (practice first, a page reload mid-image, Finish and
back, a server killed and restarted mid-image, the ranking task to its end screen); then the database rows, the
plan's balance, TPI against the page's paint time and the server's interval, and the rendered Tables 2 and 6.

Needs Debian's chromium and chromium-driver (`sh tests/ensure_browser.sh`; `make test` runs it as root).
Set COLORBENCH_STUDY_SCREENSHOTS=folder to save a screenshot of every page (docs/figures/study-*.png).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from colorbench.cli import main

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[dev]')")
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait as _WebDriverWait


def WebDriverWait(driver, timeout: float, **kw):  # selenium's name: the waits below read as before
    """A wait that polls again when the page reloads between finding an element and reading it (sign-in and
    resume navigate; a loaded machine makes that race likely)."""
    return _WebDriverWait(driver, timeout, ignored_exceptions=(StaleElementReferenceException,), **kw)


pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
SHOTS = os.environ.get("COLORBENCH_STUDY_SCREENSHOTS")
LOOK = 1.5  # s the participant looks at a result before pressing Next: TPI must include it


class Server:
    """`colorbench study serve` in its own process; `start()` again after a kill reuses the port it got."""

    def __init__(self, db: Path) -> None:
        self.db, self.port, self.proc, self.key = db, 0, None, ""

    def start(self) -> None:
        env = os.environ | {"OMP_NUM_THREADS": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "colorbench", "study", "serve", "--models", "ours,rtug", "--dataset", "toon",
             "--limit", "2", "--images-per-model", "1", "--participants", "2", "--rank-tasks", "1",
             "--db", str(self.db), "--port", str(self.port)], env=env, stderr=subprocess.PIPE, text=True)
        printed = ""
        deadline = time.monotonic() + 300  # a liveness bound: torch and two models load slowly on a busy machine
        while "organiser:" not in printed:
            line = self.proc.stderr.readline()
            if not line or time.monotonic() > deadline:
                self.proc.kill()
                pytest.fail(f"the study server did not start: {printed}{self.proc.stderr.read()}")
            printed += line
        port = int(re.search(r"http://127\.0\.0\.1:(\d+)/\?p=ID", printed).group(1))
        assert port != 0 and (self.port in (0, port))  # --port 0 prints the port it got, not :0
        self.port, self.key = port, re.search(r"organiser\?key=(\S+)", printed).group(1)
        urllib.request.urlopen(self.base + "/api/config", timeout=30).read()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


@pytest.fixture()
def server(tmp_path: Path):
    s = Server(tmp_path / "study.db")
    s.start()
    yield s
    if s.proc.poll() is None:
        s.proc.kill()
    s.proc.wait()


@pytest.fixture()
def browser():
    if CHROMIUM is None or DRIVER is None:
        pytest.skip("no headless browser: needs Debian's chromium and chromium-driver "
                    "(apt-get install -y chromium chromium-driver; `sh tests/ensure_browser.sh` does it as root)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=820,1000"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(options=opts, service=webdriver.ChromeService(executable_path=DRIVER))
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


# The test's own clocks on the page (same performance.now() timeline as the page's): when #result got a new image,
# and when each palette click happened. Installed again after every page load.
HOOKS = """
if (!window.__hooks) {
  window.__hooks = true; window.__src = []; window.__clicks = [];
  new MutationObserver(() => window.__src.push(performance.now()))
    .observe(document.getElementById('result'), {attributes: true, attributeFilter: ['src']});
  document.addEventListener('click', (e) => {
    if (e.target.classList && e.target.classList.contains('swatch')) window.__clicks.push(e.timeStamp);
  }, true);
}
"""


class Participant:
    """Drives the study page for one participant and keeps what the test needs to check against the database."""

    def __init__(self, driver, server: Server, pid: str, clocks: list) -> None:
        self.d, self.server, self.pid, self.clocks = driver, server, pid, clocks
        self.hints: Counter = Counter()  # session → hints acknowledged by the page
        self.looked = 0.0  # s spent on the result before pressing Next: part of the next hint's TPI

    def body(self, name: str) -> str | None:
        return self.d.find_element(By.TAG_NAME, "body").get_attribute(f"data-{name}")

    def ready(self) -> None:  # the result is painted and the controls are live (or the task's rating form/end)
        WebDriverWait(self.d, 120).until(lambda d: self.body("view") in ("rating", "done", "signin") or (
            self.body("view") == "work" and d.find_element(By.ID, "finish").is_enabled()))
        self.d.execute_script(HOOKS)

    def shot(self, name: str) -> None:
        if SHOTS:
            self.d.save_screenshot(str(Path(SHOTS) / f"study-{name}.png"))

    def status(self, text: str) -> None:
        WebDriverWait(self.d, 120).until(lambda d: text in d.find_element(By.ID, "status").text,
                                         f"status never said {text!r}")

    def hint(self, color: str, n: int, look: float = 0.0, fresh: bool = True) -> None:
        """Give hint n (1-based) of the current slot with a palette colour; `look` s spent on the result first;
        `fresh`: the result on screen was the last one put there (not shown again by "back to the image")."""
        session = self.body("session")
        painted = float(self.body("painted-at"))
        src = self.d.execute_script("return window.__src.at(-1) ?? null") if fresh else None
        time.sleep(look)
        self.d.find_element(By.CSS_SELECTOR, f'.swatch[data-color="{color}"]').click()
        click = self.d.execute_script("return window.__clicks.at(-1)")
        self.status(f"hint {n} applied")
        self.ready()
        seq = sum(v for (s, _), v in self.hints.items() if s == session)
        self.hints[(session, seq)] += 1
        self.clocks.append({"session": session, "seq": seq, "painted": painted, "src": src, "click": click,
                            "look": look + self.looked})
        self.looked = 0.0

    def next(self, look: float = 0.0) -> None:
        time.sleep(look)
        self.looked += look
        self.d.find_element(By.ID, "next").click()

    def point(self, dx: int, dy: int) -> None:
        left = self.d.find_element(By.ID, "left")
        ActionChains(self.d).move_to_element_with_offset(left, dx, dy).click().perform()  # offsets from the centre
        assert self.d.find_element(By.ID, "marker").is_displayed()

    def finish(self, qs: int, cs: int, shot: str | None = None) -> None:
        self.d.find_element(By.ID, "finish").click()
        WebDriverWait(self.d, 60).until(lambda d: self.body("view") == "rating")
        self.d.find_element(By.CSS_SELECTOR, f'#qs input[value="{qs}"]').click()
        self.d.find_element(By.CSS_SELECTOR, f'#cs input[value="{cs}"]').click()
        if shot:
            self.shot(shot)
        session = self.body("session")
        self.d.find_element(By.ID, "submit-scores").click()
        WebDriverWait(self.d, 120).until(lambda d: self.body("session") != session or self.body("view") == "done")
        self.ready()


def _sign_in(driver, pid: str, practice: bool = False) -> None:
    WebDriverWait(driver, 60).until(lambda d: d.find_element(By.ID, "signin").is_displayed())
    field = driver.find_element(By.ID, "signin-id")
    field.clear()
    field.send_keys(pid)
    if practice:
        driver.find_element(By.ID, "signin-practice").click()
    driver.find_element(By.ID, "signin-go").click()


def test_two_participants_through_a_latin_square_plan(server, browser, tmp_path: Path) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
    clocks: list[dict] = []
    d = browser
    d.get(server.base + "/")  # the lab machine's page: a sign-in, no id of its own
    p1 = Participant(d, server, "P01", clocks)
    p1.shot("signin")
    _sign_in(d, "P01", practice=True)
    p1.ready()
    assert d.find_element(By.ID, "practice-banner").is_displayed() and d.find_element(By.ID, "task").text == "practice"
    p1.hint("#1976d2", 1)
    p1.shot("practice")
    p1.finish(3, 3)  # practice: the scores are taken, and never used
    assert d.find_element(By.ID, "practice-banner").is_displayed()  # the next practice image
    d.find_element(By.ID, "end-practice").click()  # "Start the study"

    # P01, task 1 (Williams row 0: GuidingPainter first), with a reload after the first hint
    p1.ready()
    assert d.find_element(By.ID, "task").text == "image 1 of 2" and p1.body("page") == "guided"
    assert not d.find_element(By.ID, "practice-banner").is_displayed()
    first = p1.body("session")
    p1.hint("#d32f2f", 1)
    d.refresh()
    p1.ready()
    assert p1.body("session") == first and "continuing where you left off" in d.find_element(By.ID, "status").text
    assert d.find_element(By.ID, "next").is_enabled()  # back at hint 1, applied: Next goes on
    p1.next(look=LOOK)  # the participant looks at the result, then presses Next: TPI counts from the result
    p1.shot("guided")
    p1.hint("#388e3c", 2)
    d.find_element(By.ID, "finish").click()  # Finish, then back to the image: the first Finish does not count
    WebDriverWait(d, 60).until(lambda _: p1.body("view") == "rating")
    d.find_element(By.ID, "back").click()
    p1.ready()
    p1.hint("#fbc02d", 2, fresh=False)  # a new colour for the last region; the clock restarted on "back"
    p1.finish(4, 5, shot="rating")

    # P01, task 2: RTUG
    assert d.find_element(By.ID, "task").text == "image 2 of 2" and p1.body("page") == "point"
    p1.point(-60, -80)
    p1.hint("#388e3c", 1)
    p1.shot("point")
    p1.next()
    p1.point(40, 90)
    p1.hint("#7b1fa2", 2, look=0.5)
    p1.finish(3, 2)
    assert p1.body("view") == "done" and not d.find_element(By.ID, "work").is_displayed()
    assert d.find_element(By.ID, "to-rank").is_displayed()
    p1.shot("done")

    assert d.find_element(By.ID, "rank-link").get_attribute("href") == f"{server.base}/rank?p=P01"
    d.get(f"{server.base}/rank?p=P01&practice=1")  # a practice ranking first: never in Table 6
    WebDriverWait(d, 60).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".candidate")) == 2)
    assert d.find_element(By.ID, "practice-banner").is_displayed() and d.find_element(By.ID, "task").text == "practice"
    practice_task = p1.body("task")
    for card in d.find_elements(By.CSS_SELECTOR, ".candidate"):
        card.click()
    d.find_element(By.ID, "rank-submit").click()
    WebDriverWait(d, 60).until(lambda d: p1.body("task") != practice_task)
    d.find_element(By.ID, "end-practice").click()  # "Start the ranking": one planned task, a reload keeps it
    WebDriverWait(d, 60).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".candidate")) == 2
                               and d.find_element(By.ID, "task").text == "ranking 1 of 1")
    task = p1.body("task")
    assert d.find_element(By.ID, "task").text == "ranking 1 of 1" and d.find_elements(By.CSS_SELECTOR, ".hint-dot")
    d.refresh()
    WebDriverWait(d, 60).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".candidate")) == 2)
    assert p1.body("task") == task
    for card in reversed(d.find_elements(By.CSS_SELECTOR, ".candidate")):
        card.click()
    p1.shot("rank")
    d.find_element(By.ID, "rank-submit").click()
    WebDriverWait(d, 60).until(lambda d: d.find_element(By.ID, "done").is_displayed())
    p1.shot("rank-done")

    # P02 on the same machine: the "next participant" path, then a server killed and restarted mid-image
    d.get(server.base + "/?p=P01")
    p1.ready()
    d.find_element(By.ID, "next-participant").click()
    _sign_in(d, "P99")  # an id the organiser did not give: refused, back at the sign-in
    WebDriverWait(d, 60).until(lambda d: "unknown participant 'P99'" in d.find_element(By.ID, "error").text)
    _sign_in(d, "P02")
    p2 = Participant(d, server, "P02", clocks)
    p2.ready()
    assert d.find_element(By.ID, "who").text == "participant P02" and p2.body("page") == "point"  # row 1: RTUG first
    p2.point(0, 0)
    p2.hint("#0097a7", 1)
    killed = p2.body("session")
    server.kill()
    p2.next()
    p2.point(20, -40)
    d.find_element(By.CSS_SELECTOR, '.swatch[data-color="#f57c00"]').click()  # into a dead server
    WebDriverWait(d, 60).until(lambda d: "cannot be reached" in d.find_element(By.ID, "error").text)
    p2.shot("server-down")
    server.start()
    WebDriverWait(d, 120).until(lambda d: "continuing where you left off" in d.find_element(By.ID, "status").text)
    p2.ready()
    assert p2.body("session") == killed and not d.find_element(By.ID, "error").is_displayed()
    p2.next()
    p2.point(20, -40)
    p2.hint("#f57c00", 2)
    p2.finish(2, 2)
    assert p2.body("page") == "guided"
    p2.hint("#c2185b", 1, look=LOOK)  # the participant looked at the automatic result first
    p2.finish(5, 4)
    assert p2.body("view") == "done"

    d.get(f"{server.base}/organiser?key={server.key}")
    WebDriverWait(d, 60).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#people tbody tr")) == 2)
    p1.shot("organiser")

    # -- what the database holds -----------------------------------------------------------------------
    server.kill()
    engine = sa.create_engine(f"sqlite:///{server.db}")
    with engine.connect() as c:
        plan = c.execute(sa.text("SELECT participant_id, position, model, image_id FROM plan "
                                 "ORDER BY participant_id, position")).all()
        sessions = c.execute(sa.text("SELECT id, participant_id, practice, position, model, image_id, status, qs, "
                                     "cs, started_at, stopped_at, finished_at FROM sessions")).mappings().all()
        ranked = c.execute(sa.text("SELECT practice, ranking IS NOT NULL FROM rank_tasks ORDER BY created_at")).all()
        inter = c.execute(sa.text("SELECT session_id, seq, shown_at, received_at, tpi_ms FROM interactions"))\
            .mappings().all()
    engine.dispose()
    assert [tuple(r) for r in plan] == [("P01", 0, "guidingpainter", "test-000000"), ("P01", 1, "rtug", "test-000001"),
                                        ("P02", 0, "rtug", "test-000000"), ("P02", 1, "guidingpainter", "test-000001")]
    assert Counter(r[2] for r in plan if r[1] == 0) == {"guidingpainter": 1, "rtug": 1}  # each model first once
    assert Counter((r[2], r[3]) for r in plan) == {(m, i): 1 for m in ("guidingpainter", "rtug")
                                                    for i in ("test-000000", "test-000001")}  # each image per model
    real = [s for s in sessions if not s["practice"]]
    assert sorted((s["participant_id"], s["position"], s["status"]) for s in real) == [
        ("P01", 0, "finished"), ("P01", 1, "finished"), ("P02", 0, "finished"), ("P02", 1, "finished")]
    # practice: one image finished, the next one left by "Start the study"
    assert sorted((s["model"], s["status"]) for s in sessions if s["practice"]) == [("guidingpainter", "finished"),
                                                                                   ("rtug", "abandoned")]
    assert [tuple(r) for r in ranked] == [(1, 1), (1, 0), (0, 1)]  # practice ranked, the next practice, the task
    by_session = Counter(r["session_id"] for r in inter)
    acknowledged = Counter(s for s, _ in (p1.hints + p2.hints).elements())
    assert by_session == acknowledged  # every acknowledged hint stored, nothing else (the dead server's hint too)
    assert by_session[killed] == 2
    for s in real:
        assert s["started_at"] < s["stopped_at"] < s["finished_at"]

    # TPI: the page's paint → click interval, painted after the new result reached the page, inside the server's
    rows = {(r["session_id"], r["seq"]): r for r in inter}
    for clock in clocks:
        r = rows[(clock["session"], clock["seq"])]
        tpi = clock["click"] - clock["painted"]
        assert abs(r["tpi_ms"] - tpi) <= 1.0, (clock, r["tpi_ms"])  # the page sends whole milliseconds
        if clock["src"] is not None:  # the clock starts when the result is painted, not before it arrived
            assert clock["src"] <= clock["painted"] <= clock["src"] + 1000
        assert 0 < r["tpi_ms"] / 1000 <= r["received_at"] - r["shown_at"]
        assert r["tpi_ms"] / 1000 >= clock["look"]
    assert sum(c["look"] == LOOK for c in clocks) == 2

    res = CliRunner().invoke(main, ["study", "report", str(server.db), "--out", str(tmp_path / "report")])
    assert res.exit_code == 0, res.output
    table2, table6 = res.output.split("ranked tasks")
    t2 = {line.split(" | ")[1]: line for line in table2.splitlines() if line.startswith("| toon |")}
    assert t2["guidingpainter"].startswith("| toon | guidingpainter | 2 | 2 | 4 |")  # practice's hint left out
    assert t2["guidingpainter"].endswith("| 0 | 0 | 1 |")  # TPI flagged, abandoned, practice (not used)
    assert t2["rtug"].startswith("| toon | rtug | 2 | 2 | 4 |") and t2["rtug"].endswith("| 0 | 0 | 1 |")
    assert "| 4.50 ± " in t2["guidingpainter"]  # QS of P01 (4) and P02 (5)
    t6 = [line for line in table6.splitlines() if line.startswith("| toon |")]
    assert len(t6) == 2 and all(line.split(" | ")[2] == "1" for line in t6)  # P01's one task, not the practice
