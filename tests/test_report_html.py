"""report.html, the page a researcher opens after a run: rendered for a small run and used in a real headless
chromium (selenium) — no console error, no network request, the per-image table sorts, a click opens the
image's view with each model's outputs at n = 0..12. Also: which images the figures show (`--samples`,
`--figure-images`) and Table 1 on a piped console.

Set COLORBENCH_REPORT_SCREENSHOTS=DIR to save the page and one image view of this test's small fake run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from colorbench.cli import main
from colorbench.defaults import EVAL
from colorbench.evaluation.sample_draw import draw_samples
from colorbench.protocols.run_protocols import load_run
from colorbench.reports.figure_choice import spread
from colorbench.reports.render import choose_figure_images, render_report, sample_index

from .records_factory import DEFAULT_VARIANTS, ensure_builtin_protocols, make_run_dir

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
SCREENSHOTS = os.environ.get("COLORBENCH_REPORT_SCREENSHOTS")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    ensure_builtin_protocols()
    d = make_run_dir(tmp_path_factory.mktemp("run"), variants=DEFAULT_VARIANTS, n_images=16, n_samples=6,
                     fid=False, modes=("native", "equalized"))
    render_report(d, {"n_boot": 50})
    return d


def _page_data(html: str) -> dict:
    return json.loads(re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html, re.DOTALL)[1])


def test_report_html_is_one_self_contained_file(run_dir: Path) -> None:
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    # Every src/href is inline data or an anchor on the page; the policy forbids anything else.
    refs = re.findall(r'(?:src|href)="([^"]*)"', html)
    outside = [r[:40] for r in refs if not r.startswith(("data:", "#"))]
    assert refs and not outside, outside
    assert "default-src 'none'" in html and "<link" not in html
    data = _page_data(html)
    assert len(data["images"]) == 16 and sum(im["pictured"] for im in data["images"]) == 6
    assert "### Table 1" not in html and "Table 1: PSNR" in html  # the tables as HTML, not Markdown
    for fig in (run_dir / "figures").glob("*.png"):  # every figure inline
        assert f'alt="{fig.stem}"' in html


@pytest.fixture()
def browser():
    webdriver = pytest.importorskip("selenium.webdriver",
                                    reason="selenium is not installed (pip install -e '.[dev]')")
    if CHROMIUM is None or DRIVER is None:
        pytest.skip("no headless browser: needs Debian's chromium and chromium-driver (sh tests/ensure_browser.sh)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=1300,1400"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=opts, service=webdriver.ChromeService(executable_path=DRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.mark.slow
def test_report_html_in_a_real_browser(run_dir: Path, browser) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    page = (run_dir / "report.html").resolve().as_uri()
    browser.get(page)
    WebDriverWait(browser, 30).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#images tbody tr")) == 16)
    if SCREENSHOTS:
        browser.save_screenshot(str(Path(SCREENSHOTS) / "report-page.png"))

    def column(col: str) -> list[str]:
        heads = [h.get_attribute("data-col") for h in browser.find_elements(By.CSS_SELECTOR, "#images th[data-col]")]
        k = heads.index(col)
        rows = browser.find_elements(By.CSS_SELECTOR, "#images tbody tr")
        return [r.find_elements(By.TAG_NAME, "td")[k].text for r in rows]

    # Sorting: a click on RTUG's E_G sorts ascending, a second click descending.
    header = browser.find_element(By.CSS_SELECTOR, '#images th[data-col="rtug|1"]')
    header.click()
    up = [float(x) for x in column("rtug|1")]
    assert up == sorted(up) and up != [float(x) for x in sorted(up, reverse=True)]
    assert header.get_attribute("aria-sort") == "ascending"
    header.click()
    assert [float(x) for x in column("rtug|1")] == sorted(up, reverse=True)

    # A click on a pictured image opens its view: sketch, ground truth, and each conditional model's hints
    # and outputs at n = 0..12 (13 tiles each).
    pictured = [r for r in browser.find_elements(By.CSS_SELECTOR, "#images tbody tr")
                if "nopic" not in r.get_attribute("class")]
    image_id = pictured[0].get_attribute("data-id")
    pictured[0].click()
    WebDriverWait(browser, 10).until(lambda d: d.find_element(By.ID, "view").is_displayed())
    assert browser.find_element(By.ID, "view-title").text == image_id
    assert not browser.find_element(By.ID, "report").is_displayed()
    captions = [c.text for c in browser.find_elements(By.CSS_SELECTOR, "#view .pair figcaption")]
    assert captions[:2] == ["sketch", "ground truth"] and "Pix2Pix (no hints)" in captions
    for label in ("guidingpainter", "rtug", "alacgan"):
        block = browser.find_element(By.CSS_SELECTOR, f'#view .model[data-label="{label}"]')
        assert len(block.find_elements(By.CSS_SELECTOR, ".outputs .tile")) == EVAL.sample_levels + 1
        assert len(block.find_elements(By.CSS_SELECTOR, ".row .tile")) == 2 * (EVAL.sample_levels + 1)  # + hints
    rendered = browser.execute_script(
        "return Array.from(document.querySelectorAll('#view .tile, #view img')).every("
        "e => e.tagName === 'IMG' ? e.complete && e.naturalWidth > 0"
        " : getComputedStyle(e).backgroundImage.startsWith('url(\"data:'))")
    assert rendered
    if SCREENSHOTS:
        browser.save_screenshot(str(Path(SCREENSHOTS) / "report-image-view.png"))

    # Back to the table; "worst" of GuidingPainter opens its worst pictured image.
    browser.back()
    WebDriverWait(browser, 10).until(lambda d: d.find_element(By.ID, "report").is_displayed())
    browser.find_element(By.CSS_SELECTOR, 'button.pick[data-label="guidingpainter"][data-dir="1"]').click()
    WebDriverWait(browser, 10).until(lambda d: d.find_element(By.ID, "view").is_displayed())
    data = _page_data((run_dir / "report.html").read_text(encoding="utf-8"))
    worst = min((im for im in data["images"] if im["pictured"]), key=lambda im: im["v"]["guidingpainter"][1])
    assert browser.find_element(By.ID, "view-title").text == worst["id"]

    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
    assert not errors, errors
    requests = [json.loads(e["message"])["message"] for e in browser.get_log("performance")]
    urls = [m["params"]["request"]["url"] for m in requests if m["method"] == "Network.requestWillBeSent"]
    assert all(u.startswith(("data:", page)) for u in urls), [u[:60] for u in urls]


def test_sample_draw_is_seeded_nested_and_not_the_first_file_names() -> None:
    ids = [f"img-{i:04d}" for i in range(200)]
    four, twelve = draw_samples("toon", ids, 4), draw_samples("toon", ids, 12)
    assert four != ids[:4] and set(four) < set(twelve) and len(twelve) == 12
    assert set(draw_samples("toon", ids[::-1], 4)) == set(four)  # the order of the test list does not matter
    assert "img-0000" in draw_samples("toon", ids, 4, extra=["img-0000", "not-a-test-image"])


def test_spread_takes_the_quantiles_lowest_first() -> None:
    values = {f"i{k}": float(k) for k in range(60)}  # i0 … i59, gain = k
    assert spread(values, 3) == ["i10", "i30", "i50"]  # the 1/6, 1/2 and 5/6 quantiles
    assert spread({"a": 2.0, "b": 1.0}, 3) == ["b", "a"]


def test_more_samples_change_what_the_figures_show(tmp_path: Path) -> None:
    ensure_builtin_protocols()
    chosen = []
    for n in (2, 12):
        d = make_run_dir(tmp_path / f"s{n}", variants=DEFAULT_VARIANTS[:2], n_images=12, n_samples=n, fid=False)
        records, run = load_run(d)
        opts = {"qualitative_n": 6, "figure_images": None}
        choice = choose_figure_images(records, run, sample_index(d, run), opts)
        chosen.append(choice["strips"]["guidingpainter"])
    assert len(chosen[0]) == 2 and len(chosen[1]) == 3 and chosen[0] != chosen[1]


def test_figure_images_flag_chooses_and_refuses_unpictured(run_dir: Path) -> None:
    records, run = load_run(run_dir)
    index = sample_index(run_dir, run)
    ids = index["guidingpainter"]["image_ids"]
    opts = {"qualitative_n": 6, "figure_images": f"{ids[4]},{ids[1]}"}
    choice = choose_figure_images(records, run, index, opts)
    assert choice["strips"]["guidingpainter"] == [ids[4], ids[1]] and choice["grid"] == [ids[4], ids[1]]
    before = (run_dir / "report.html").read_bytes()
    res = CliRunner().invoke(main, ["report", str(run_dir), "--figure-images", "0015"])  # no pictures kept
    assert res.exit_code == 2 and "--figure-images" in res.output and "0015" in res.output
    assert (run_dir / "report.html").read_bytes() == before


@pytest.mark.slow
def test_piped_run_prints_table1_rows_whole_and_the_comparison(tmp_path: Path) -> None:
    out = tmp_path / "run"
    cmd = (f"{sys.executable} -m colorbench run --models ours,rtug --dataset toon --limit 3 --modes native "
           f"--no-fid --quiet --compare ours,rtug --out {out} | cat")
    res = subprocess.run(cmd, shell=True, capture_output=True, text=True, check=False, timeout=600,
                         env=os.environ | {"OMP_NUM_THREADS": "1"})
    assert res.returncode == 0, res.stderr
    cell = r"\d+\.\d\d \[\d+\.\d\d, \d+\.\d\d\]"
    rows = [line for line in res.stdout.splitlines() if line.startswith("| GuidingPainter (ours) |")]
    assert len(rows) == 2, res.stdout  # ✗ and ✓, each whole on one line
    bold = rf"\*?\*?{cell}\*?\*?"
    assert re.fullmatch(rf"\| GuidingPainter \(ours\) \| ✓ \| {bold} \| .* \| {bold} \|", rows[1]), rows[1]
    assert "| GuidingPainter (ours) − RTUG |" in res.stdout  # --compare on the console too
    assert (out / "report.html").exists()


def test_run_refuses_figure_images_not_in_the_test_set(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["run", "--models", "ours", "--dataset", "toon", "--limit", "2", "--no-fid",
                                    "--quiet", "--out", str(tmp_path / "r"), "--figure-images", "test-000099"])
    assert res.exit_code == 2 and "--figure-images" in res.output and "test-000099" in res.output
    assert not (tmp_path / "r" / "records.csv").exists()
