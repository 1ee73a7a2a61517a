"""Report pages in a real browser: headless Chromium opens them without console errors.

Needs the Debian packages ``chromium`` and ``chromium-driver`` (``.ci/run``
installs them). Without them the test skips with the reason, except under
``CI=true``, where a missing browser is a failure.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from forecast.runner.run import run_reports

HERE = Path(__file__).parent
ROOT = HERE.parent
NOTEBOOKS = HERE / "data" / "notebooks"
XSS = "<script>alert(1)</script>"


def _find(name: str, fallback: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    return fallback if Path(fallback).is_file() else None


def _need_browser() -> tuple[str, str]:
    chromium = _find("chromium", "/usr/bin/chromium")
    driver = _find("chromedriver", "/usr/bin/chromedriver")
    missing = [name for name, path in (("chromium", chromium), ("chromedriver", driver)) if path is None]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package")
    if missing:
        reason = f"headless browser test needs {', '.join(missing)} (apt-get install chromium chromium-driver)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + "; CI=true requires it")
        pytest.skip(reason)
    return chromium, driver  # type: ignore[return-value]


@pytest.fixture(scope="module")
def browser():
    chromium, driver_path = _need_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--window-size=1280,1600"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser") / "reports"
    run_reports(
        ROOT / "config" / "default.yaml",
        ["horizon=4", f"actor={XSS}"],
        notebooks_dir=NOTEBOOKS,  # the whole (test) suite: only a full run becomes the latest report
        reports_dir=folder,
        project_root=ROOT,
    )
    return folder


def _open(browser, page: Path, screenshot: Path):
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    browser.get_log("browser")  # drop anything from an earlier page
    browser.get(page.as_uri())
    assert browser.execute_script("return document.readyState") == "complete"
    table = browser.find_element(By.CSS_SELECTOR, "table.alert-table")
    assert table.is_displayed()
    assert browser.save_screenshot(str(screenshot))
    assert screenshot.stat().st_size > 1000
    with pytest.raises(NoAlertPresentException):  # the hostile actor name did not run
        browser.switch_to.alert.text  # noqa: B018
    errors = [entry for entry in browser.get_log("browser") if entry.get("level") == "SEVERE"]
    assert errors == [], errors
    return table


@pytest.mark.slow
def test_index_and_a_report_open_without_console_errors(browser, reports, tmp_path):
    table = _open(browser, reports / "index.html", tmp_path / "index.png")
    assert XSS in table.text  # shown as text, not run
    run_folder = next(path for path in (reports / "runs").iterdir() if path.is_dir())
    table = _open(browser, run_folder / "02_alerts.html", tmp_path / "02_alerts.png")
    assert "1 alarm · 1 watch of 3 units" in table.text
    from selenium.webdriver.common.by import By

    assert "SYNTHETIC DATA" in browser.find_element(By.CSS_SELECTOR, ".synthetic-label").text
    assert browser.find_elements(By.CSS_SELECTOR, ".jp-CodeCell .jp-InputArea") == []  # no code shown


@pytest.mark.slow
def test_early_warning_page_shows_its_province_map(browser, tmp_path):
    """The real early-warning notebook, offline with no boundary file: its map image renders."""
    from selenium.webdriver.common.by import By

    folder = tmp_path / "reports"
    result = run_reports(
        ROOT / "config" / "default.yaml",
        ["horizon=2"],
        notebooks_dir=ROOT / "notebooks",
        select=["04"],
        reports_dir=folder,
        project_root=ROOT,
    )
    assert result.ok
    page = next(folder.rglob("04_early_warning.html"))
    browser.get(page.as_uri())
    assert browser.execute_script("return document.readyState") == "complete"
    images = [
        image
        for image in browser.find_elements(By.CSS_SELECTOR, "img")
        if browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", image)
    ]
    assert images, "the early-warning page shows no image"
    # The alert map is the page's only figure drawn at the map's aspect (7.5 x 5.6 inches).
    ratios = [
        browser.execute_script("return arguments[0].naturalWidth / arguments[0].naturalHeight", image)
        for image in images
    ]
    maps_shown = [image for image, ratio in zip(images, ratios, strict=True) if 1.1 < ratio < 1.5]
    assert maps_shown, f"no map-shaped image among aspect ratios {ratios}"
    browser.execute_script("arguments[0].scrollIntoView()", maps_shown[0])
    shot = Path(os.environ.get("FORECAST_SCREENSHOT_DIR", tmp_path)) / "04_early_warning_map.png"
    assert maps_shown[0].screenshot(str(shot)) and shot.stat().st_size > 10_000


@pytest.mark.slow
def test_the_runs_table_fits_a_laptop_screen(browser, reports, tmp_path):
    """Five long model specs and a failed run's error once made the index a screen and a half wide."""
    from selenium.webdriver.common.by import By

    _open(browser, reports / "index.html", tmp_path / "index.png")
    page_width = browser.execute_script("return document.documentElement.scrollWidth")
    viewport = browser.execute_script("return window.innerWidth")
    assert page_width <= viewport, (page_width, viewport)
    models = browser.find_element(By.CSS_SELECTOR, "table.runs-table tbody tr td:nth-child(9)")
    assert "endemic_recent" in models.text and "alias=" not in models.text  # aliases shown, specs on hover
    assert "alias='endemic_recent'" in models.get_attribute("title")
    links = browser.find_element(By.CSS_SELECTOR, "table.runs-table tbody tr td.report-links")
    right = browser.execute_script("return arguments[0].getBoundingClientRect().right", links)
    assert right <= viewport  # the last column is on screen, not behind a scroll bar
