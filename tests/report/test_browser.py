"""The HTML report in a real headless browser (Debian's ``chromium`` driven by selenium):
every page loads with no console error and no network, the findings table lists each
finding, the timeline filter works, and a screenshot of each page is kept.

Screenshots go to ``$GATEWAYSIM_ARTIFACTS/report`` (default ``test-artifacts/report`` in
the repository); the test prints the folder. Without a chromium binary, chromedriver or
selenium the tests are skipped, saying which is missing.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gatewaysim.properties.explorer import ExploreReport
from gatewaysim.report import write_report

from .conftest import ROOT

# One browser per test run: under xdist, these tests share a worker.
pytestmark = pytest.mark.xdist_group("browser")

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def _browser() -> tuple[str, str]:
    binary = next((p for b in BROWSERS if (p := shutil.which(b))), None)
    if binary is None:
        pytest.skip(f"no chromium binary on PATH (looked for {', '.join(BROWSERS)}); "
                    "install Debian's chromium and chromium-driver to run the browser tests")
    driver = shutil.which("chromedriver")
    if driver is None:
        pytest.skip("no chromedriver on PATH: install Debian's chromium-driver")
    return binary, driver


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    binary, driver_path = _browser()
    webdriver = pytest.importorskip("selenium.webdriver",
                                    reason="selenium is not installed (the dev extra has it)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1000", "--hide-scrollbars"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def artifacts() -> Path:
    base = Path(os.environ.get("GATEWAYSIM_ARTIFACTS") or ROOT / "test-artifacts")
    out = base / "report"
    out.mkdir(parents=True, exist_ok=True)
    print(f"\nreport screenshots in {out}")
    return out


@pytest.fixture(scope="module")
def report(echo_campaign: ExploreReport, hung_call_file: Path,
           tmp_path_factory: pytest.TempPathFactory) -> Path:
    findings: list[Any] = [*echo_campaign.findings, hung_call_file]
    return write_report(tmp_path_factory.mktemp("report") / "report", findings, echo_campaign)


def _load(browser: Any, page: Path) -> list[dict[str, Any]]:
    """Open ``page``; the console messages it logged at error level."""
    browser.get_log("browser")  # drop anything from the page before
    browser.get(page.as_uri())
    browser.execute_script("return document.readyState")
    return [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]


def _screenshot(browser: Any, out: Path) -> Path:
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1400, min(max(int(height) + 40, 600), 8000))
    browser.save_screenshot(str(out))
    browser.set_window_size(1400, 1000)
    assert out.stat().st_size > 10_000
    return out


def test_index_lists_every_finding(browser: Any, report: Path, artifacts: Path) -> None:
    from selenium.webdriver.common.by import By

    assert _load(browser, report) == []
    summary = json.loads((report.parent / "summary.json").read_text())
    rows = browser.find_elements(By.CSS_SELECTOR, "#findings tbody tr")
    links = [r.find_element(By.CSS_SELECTOR, "a") for r in rows]
    assert [a.text for a in links] == [f["invariant"] for f in summary["findings"]]
    assert len(rows) == 3
    _screenshot(browser, artifacts / "index.png")
    links[0].click()
    assert browser.current_url.endswith(summary["findings"][0]["page"])
    assert browser.find_element(By.TAG_NAME, "h1").text == summary["findings"][0]["invariant"]


def test_every_finding_page_loads_cleanly(browser: Any, report: Path, artifacts: Path) -> None:
    from selenium.webdriver.common.by import By

    summary = json.loads((report.parent / "summary.json").read_text())
    for row in summary["findings"]:
        page = report.parent / row["page"]
        assert _load(browser, page) == [], page
        assert browser.find_element(By.CSS_SELECTOR, ".verdict").text.startswith("VIOLATED")
        svgs = browser.find_elements(By.CSS_SELECTOR, "svg")
        axes = [f.get_attribute("data-axis") for f in
                browser.find_elements(By.CSS_SELECTOR, "[data-axis]")]
        # the sequence diagram on each axis (a long run also zoomed in), the state timeline
        assert axes[:2] == ["time", "order"] and len(svgs) == len(axes) + 1
        shown = browser.find_element(By.ID, "shown-count").text
        assert shown.endswith("records shown") and shown.split()[0] == shown.split()[2]
        _screenshot(browser, artifacts / f"{Path(row['page']).parent.name}.png")


ROWS = """return Array.from(document.querySelectorAll('#timeline tr.record')).map(
    r => [r.getAttribute('data-actor'), r.textContent, r.offsetParent !== null]);"""


def _rows(browser: Any) -> list[tuple[str, str, bool]]:
    """Every timeline record row: actor, text, and whether the browser lays it out (is
    shown). Read in one script call: thousands of rows, one round trip."""
    return [tuple(r) for r in browser.execute_script(ROWS)]


def test_timeline_filter_and_axis_switch(browser: Any, report: Path, artifacts: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    summary = json.loads((report.parent / "summary.json").read_text())
    row = next(r for r in summary["findings"] if r["invariant"] == "lumenize.client_calls_settle")
    assert _load(browser, report.parent / row["page"]) == []
    everything = _rows(browser)
    assert len(everything) > 100 and all(shown for *_, shown in everything)

    browser.find_element(By.ID, "filter-text").send_keys("superseded")
    rows = _rows(browser)
    visible = [r for r in rows if r[2]]
    expected = [r for r in rows if "superseded" in r[1].lower()]
    assert 0 < len(visible) < len(everything) and visible == expected
    count = browser.find_element(By.ID, "shown-count").text
    assert count == f"{len(visible)} of {len(everything)} records shown"

    browser.find_element(By.ID, "filter-text").clear()
    Select(browser.find_element(By.ID, "filter-actor")).select_by_value("client/u0.t1#2")
    visible = [r for r in _rows(browser) if r[2]]
    assert visible and {actor for actor, *_ in visible} == {"client/u0.t1#2"}
    assert len(visible) == sum(1 for actor, *_ in everything if actor == "client/u0.t1#2")
    _screenshot(browser, artifacts / "filtered-timeline.png")

    time_fig = browser.find_element(By.CSS_SELECTOR, '[data-axis="time"]')
    order_fig = browser.find_element(By.CSS_SELECTOR, '[data-axis="order"]')
    assert time_fig.is_displayed() and not order_fig.is_displayed()
    zoom_fig = browser.find_element(By.CSS_SELECTOR, '[data-axis="zoom"]')
    assert not zoom_fig.is_displayed()
    browser.find_element(By.CSS_SELECTOR, 'button[data-show-axis="order"]').click()
    assert order_fig.is_displayed() and not time_fig.is_displayed()
    browser.find_element(By.CSS_SELECTOR, 'button[data-show-axis="zoom"]').click()
    assert zoom_fig.is_displayed() and not order_fig.is_displayed()
    _screenshot(browser, artifacts / "zoomed-sequence-diagram.png")
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
