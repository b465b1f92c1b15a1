"""``discover report``: the HTML page of a real campaign, opened in a real (headless) chromium.

The browser test needs Debian's chromium and chromedriver (``apt-get install chromium
chromium-driver``) and selenium; it is skipped, saying so, only where chromium is absent. Selenium is
pointed at those binaries, so selenium-manager never downloads anything.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from discover import Campaign, Game, Objective, Outcome, Player, Status
from discover.errors import DiscoverError, StoreError
from discover.report import write_report
from discover.types import EvalContext

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
FAMILIES = ("lp", "sdp", "broken")


class BoundGame(Game):
    """Two moves (a family, then a degree); a bound to push down, so values are stored negated.

    ``broken`` raises, degree 4 of ``sdp`` is infeasible, and every certificate carries a
    ``</script>`` to show that the page's data block cannot be ended early."""

    name = "report-bound"
    quantity = Objective("density bound", "min")

    def initial_state(self) -> tuple:
        return ()

    def to_move(self, state: tuple) -> Player:
        return Player.TERMINAL if len(state) == 2 else Player.SEARCHER

    def actions(self, state: tuple) -> tuple:
        return FAMILIES if not state else (0, 1, 2, 3, 4)

    def apply(self, state: tuple, action) -> tuple:
        return (*state, action)

    def evaluate(self, state: tuple, context: EvalContext) -> Outcome:
        family, degree = state
        if family == "broken":
            raise RuntimeError(f"solver diverged at degree {degree}")
        if family == "sdp" and degree == 4:
            return Outcome.failure(Status.INFEASIBLE, "no feasible multiplier")
        bound = 2.0 + degree / 10 + (0.5 if family == "lp" else 0.0)
        return Outcome.ok(-bound, {"multipliers": [degree, 1.5], "bound": bound, "note": "</script><!-- x"})


@pytest.fixture(scope="module")
def campaign_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("report") / "campaign.db"
    Campaign(BoundGame(), budget=15, backend="inline", surrogate="none", fail_fast=0, db=db).run()
    return db


def test_report_data_is_in_the_games_words(campaign_db: Path, tmp_path: Path) -> None:
    out = write_report(campaign_db, tmp_path / "report.html")
    html = out.read_text()
    assert "</script><!--" not in html  # the certificates' text is escaped inside the data block
    blob = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html, re.DOTALL).group(1)
    data = json.loads(blob)
    assert data["campaign"]["objective"]["label"] == "density bound (lower is better)"
    ok = [v for v, s in zip(data["evaluations"]["value"], data["evaluations"]["status"]) if data["statuses"][s] == "ok"]
    assert ok and all(v >= 2.0 for v in ok)  # the bound itself, never the stored negation
    assert data["calibration"] is None  # the panel is drawn only when given its points
    assert "https://" not in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")


def test_report_refuses_bad_paths_in_one_line(campaign_db: Path, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        write_report(tmp_path / "nothing.db", tmp_path / "report.html")
    with pytest.raises(DiscoverError, match="it is a folder"):
        write_report(campaign_db, tmp_path)
    with pytest.raises(DiscoverError, match="folder .* does not exist"):
        write_report(campaign_db, tmp_path / "missing" / "report.html")


def _browser():
    """Headless chromium, network cut off by name resolution too; skipped only where it is absent
    (where chromium is installed, selenium must be: the test does not quietly skip for it)."""
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.skip(f"chromium is absent ({CHROMIUM}, {CHROMEDRIVER}): apt-get install chromium chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000",
                '--host-resolver-rules=MAP * ~NOTFOUND'):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def test_report_in_a_real_browser(campaign_db: Path, tmp_path: Path) -> None:
    out = write_report(campaign_db, tmp_path / "report.html", calibration=[(2.0, 1.8, 2.2, 2.1), (2.4, 2.0, 2.8, 2.3), (2.9, 2.8, 3.0, 3.2)])
    driver = _browser()
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        # offline: the network is cut before the page loads, and no request may leave file://
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
            "offline": True, "latency": 0, "downloadThroughput": 0, "uploadThroughput": 0})
        driver.get(out.resolve().as_uri())
        WebDriverWait(driver, 10).until(lambda d: d.execute_script("return document.body.dataset.ready"))
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, errors
        urls = [json.loads(e["message"])["message"].get("params", {}).get("request", {}).get("url")
                for e in driver.get_log("performance")]
        assert [u for u in urls if u and not u.startswith(("file://", "data:"))] == []

        # plots: four SVGs with drawn paths
        for plot in ("plot-best-evals", "plot-best-time", "plot-values", "plot-cost"):
            paths = driver.find_elements(By.CSS_SELECTOR, f"#{plot} path")
            assert paths and any(len(p.get_attribute("d") or "") > 5 for p in paths), plot

        calibration = driver.find_element(By.ID, "calibration")
        assert calibration.is_displayed() and calibration.find_elements(By.CSS_SELECTOR, "svg path")
        assert "2 of 3 inside their 95% interval" in calibration.text

        # the table sorts: by value, then the other way round
        def first_ids() -> list[str]:
            return [td.text for td in driver.find_elements(By.CSS_SELECTOR, "#eval-table tbody tr td:first-child")]

        before = first_ids()
        assert before == sorted(before, key=int) and len(before) == 15
        driver.find_element(By.CSS_SELECTOR, '#eval-table th[data-col="value"]').click()
        by_value = first_ids()
        assert by_value != before
        values = [float(td.text) for td in driver.find_elements(By.CSS_SELECTOR, "#eval-table tbody tr td:nth-child(3)")
                  if td.text != "\u2013"]
        assert values == sorted(values)  # a bound: best (lowest) first
        driver.find_element(By.CSS_SELECTOR, '#eval-table th[data-col="value"]').click()
        assert first_ids() != by_value

        # filtering by status
        driver.execute_script("const s = document.getElementById('status-filter'); s.value = '2';"
                              "s.dispatchEvent(new Event('change'))")
        statuses = {td.text for td in driver.find_elements(By.CSS_SELECTOR, "#eval-table tbody tr td:nth-child(4)")}
        assert statuses == {"failed"}

        # the tree: open a family, click a terminal node: its formulation and certificate are shown
        sdp = driver.find_element(By.XPATH, "//div[@class='row'][span[@class='move' and text()='sdp']]")
        sdp.click()
        leaf = WebDriverWait(driver, 5).until(lambda d: d.find_element(
            By.XPATH, "//li[div[span[@class='move' and text()='sdp']]]/ul/li/div[span[@class='move' and text()='1']]"))
        leaf.click()
        detail = driver.find_element(By.ID, "node-detail")
        assert detail.find_element(By.CSS_SELECTOR, ".node-label").text == "('sdp', 1)"
        certificate = detail.find_element(By.CSS_SELECTOR, ".artifacts").text
        assert '"multipliers"' in certificate and '"bound": 2.1' in certificate and "</script>" in certificate
        assert "player to move" in detail.text and "terminal" in detail.text and "prior" in detail.text

        # a branch where every evaluation failed is shown as failed, not as a value
        driver.find_element(By.XPATH, "//div[@class='row'][span[@class='move' and text()='broken']]").click()
        assert "failed: no evaluation below succeeded" in driver.find_element(By.ID, "node-detail").text

        shot = tmp_path / "report.png"
        driver.set_window_size(1400, driver.execute_script("return document.body.scrollHeight") + 120)
        driver.save_screenshot(str(shot))
        print(f"screenshot: {shot}")
        assert shot.stat().st_size > 10_000
    finally:
        driver.quit()


def test_surrogate_calibration_of_a_gp_campaign(tmp_path: Path, gp_campaign) -> None:
    """Leave-one-out predictions of the refitted value model: one per successful evaluation, each
    inside its own interval; a campaign without the GP has none, and says why."""
    from discover import Campaign
    from discover.report import surrogate_calibration

    guided = gp_campaign
    points, why = surrogate_calibration(guided.db)
    ok = [e for e in guided.history if e.status == "ok"]
    assert points is not None and len(points) == len(ok) and why == ""
    assert all(low <= predicted <= high for predicted, low, high, _ in points)
    assert sorted(o for *_, o in points) == pytest.approx(sorted(e.value for e in ok))
    inside = sum(low <= o <= high for _, low, high, o in points)
    assert inside >= 0.7 * len(points)  # a 95% interval that misses most points is miscalibrated
    plain = Campaign("toy-formulation", budget=5, backend="inline", db=tmp_path / "plain.db").run()
    assert surrogate_calibration(plain.db) == (None, "the campaign did not use the GP surrogate")
