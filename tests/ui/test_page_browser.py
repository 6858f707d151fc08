"""The web page driven in real headless Chromium (Debian's ``chromium`` + ``chromium-driver``).

These tests fail (they do not skip) when Chromium or its driver is missing: CI installs them
with ``apt-get install -y chromium chromium-driver``.
"""

from __future__ import annotations

import shutil

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from evosearch.ui.server import make_server

pytest_plugins = ["ui_runs"]  # the small hand-built runs (fixtures)


def _find(*names: str) -> str:
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    raise AssertionError(
        f"none of {names} is installed; install Debian's browser and driver with "
        "'apt-get install -y chromium chromium-driver' (these tests never skip)"
    )


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    options = webdriver.ChromeOptions()
    options.binary_location = _find("chromium", "chromium-browser", "google-chrome")
    profile = tmp_path_factory.mktemp("chromium-profile")
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,1500",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(_find("chromedriver")))
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture
def page(small_run, browser):
    server = make_server(str(small_run))
    server.start()
    browser.get(server.url)
    WebDriverWait(browser, 20).until(
        lambda d: d.execute_script("return document.body.dataset.ready") is not None
    )
    assert browser.execute_script("return document.body.dataset.ready") == "1"
    yield browser
    server.shutdown()
    server.server_close()


def _wait(driver, script: str, timeout: float = 10):
    WebDriverWait(driver, timeout).until(lambda d: d.execute_script(script))


def test_page_renders_curves_heatmap_and_tree(page):
    assert page.find_element(By.ID, "title").text == "small"
    # fitness curve: the best line has one point per generation (4 generations)
    path = page.find_element(By.CSS_SELECTOR, "#fitness path.best").get_attribute("d")
    assert path.count("L") == 3
    # heat-map: nine filled cells (20×20 bins) from the descriptors (checked in the API tests too)
    _wait(page, "return Number(document.getElementById('heatmap').dataset.cells) > 0")
    assert page.find_element(By.ID, "heatmap").get_attribute("data-cells") == "9"
    # the tree starts at the best individual (#8 ← #7 ← #3)
    nodes = {
        e.get_attribute("data-id") for e in page.find_elements(By.CSS_SELECTOR, "#tree g.node")
    }
    assert nodes == {"8", "7", "3"}
    assert len(page.find_elements(By.CSS_SELECTOR, "#tree path.edge")) == 2
    assert len(page.find_elements(By.CSS_SELECTOR, "#table tbody tr")) == 14


def test_clicking_a_tree_node_shows_its_diff(page, tmp_path):
    page.find_element(By.CSS_SELECTOR, "#tree g.node[data-id='8'] circle").click()
    _wait(page, "return document.querySelector('#detail[data-id=\"8\"] #diff .diff')")
    detail = page.find_element(By.ID, "detail").text
    assert "diff to parent #7" in detail
    assert "3 of 3 coordinates changed" in detail
    assert "vector.gaussian" in detail
    shot = tmp_path / "ui.png"
    assert page.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000


def test_markup_in_a_genome_renders_as_text_and_never_runs(page):
    page.find_element(By.CSS_SELECTOR, "#table tbody tr[data-id='12']").click()
    _wait(page, "return document.querySelector('#detail[data-id=\"12\"] #genome')")
    genome = page.find_element(By.ID, "genome").text
    assert "<script>window.__evo_pwned = 1</script>" in genome
    assert (
        'onerror="window.__evo_pwned = 2"'
        in page.find_element(By.CSS_SELECTOR, "pre.feedback").text
    )
    added = [e.text for e in page.find_elements(By.CSS_SELECTOR, "#diff .diff-line.add")]
    assert any("<script>" in t for t in added)
    assert page.find_elements(By.CSS_SELECTOR, "#detail script, #detail img") == []
    assert page.execute_script("return window.__evo_pwned === undefined")
    # a text genome's diff to its parent is a line diff; the recipe is diffed key by key
    paths = [e.text for e in page.find_elements(By.CSS_SELECTOR, "#diff .path")]
    assert paths == ["recipe.k value", "recipe.new added", "text text"]


def test_the_page_follows_a_run_that_is_still_writing(page, small_run):
    from evosearch.genomes.vector import VectorGenome
    from evosearch.individual import FitnessResult, Individual
    from evosearch.store import RunStore

    with RunStore.open(small_run, writable=True) as store:
        child = Individual(
            14,
            VectorGenome([0.0, 0.0, 0.0]),
            parent_ids=(8,),
            operator="vector.gaussian",
            generation=4,
            result=FitnessResult(score=20.0, descriptors=(0.5, 0.5)),
        )
        store.commit([child], None, generation=4)
    _wait(page, "return document.getElementById('meta').textContent.includes('15 individuals')")
    _wait(page, "return document.querySelector('#table tbody tr').dataset.id === '14'")
    _wait(page, "return document.getElementById('heatmap').dataset.cells === '10'")


def test_exported_lineage_html_works_offline(small_run, browser, tmp_path):
    from evosearch.cli import main

    out = tmp_path / "lineage.html"
    assert main(["lineage", str(small_run), "13", "--format", "html", "-o", str(out)]) == 0
    browser.get(out.as_uri())
    _wait(browser, "return document.querySelectorAll('#tree g.node').length === 4")
    browser.find_element(By.CSS_SELECTOR, "#tree g.node[data-id='12'] circle").click()
    _wait(browser, "return document.querySelector('#detail[data-id=\"12\"] #diff .diff')")
    assert "<script>window.__evo_pwned = 1</script>" in browser.find_element(By.ID, "genome").text
    assert browser.execute_script("return window.__evo_pwned === undefined")


def test_double_clicking_a_dashed_node_fetches_its_ancestors(page):
    from selenium.webdriver.common.action_chains import ActionChains

    depth = page.find_element(By.ID, "tree-depth")
    depth.clear()
    depth.send_keys("1")
    # 9 <- 4 <- (0, 1) and 9 <- 7 <- 3; depth 1 fetches 9, 4 and 7 only
    page.execute_async_script("window.evoFocus(9).then(arguments[0])")
    _wait(page, "return document.querySelectorAll('#tree g.node').length === 3")
    dashed = {
        e.get_attribute("data-id") for e in page.find_elements(By.CSS_SELECTOR, "#tree g.more")
    }
    assert dashed == {"4", "7"}
    node = page.find_element(By.CSS_SELECTOR, "#tree g.node[data-id='4'] circle")
    ActionChains(page).double_click(node).perform()
    _wait(page, "return document.querySelectorAll('#tree g.node').length === 5")
    dashed = {
        e.get_attribute("data-id") for e in page.find_elements(By.CSS_SELECTOR, "#tree g.more")
    }
    assert dashed == {"7"}
