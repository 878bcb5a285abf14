"""What a user sees in the Dagster UI of `dagster dev`, checked in a real headless Chromium.

Debian's chromium and chromedriver drive the pages through Selenium, and nothing is downloaded. The
tests skip when either binary is missing, and fail instead when BLOG_PIPELINE_REQUIRE_SERVICES=1.
With BLOG_PIPELINE_SCREENSHOTS=<folder> set, each test saves the screenshot that the README
shows.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from blog_pipeline.dates import PUBLISH_DATE_TAG
from blog_pipeline.jobs import JOB_NAME
from blog_pipeline_tests.conftest import skip_or_fail
from blog_pipeline_tests.dagster_dev import DagsterDev

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOTS_ENV_VAR = "BLOG_PIPELINE_SCREENSHOTS"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
# Window size in CSS pixels. Headless Chromium keeps about 140 of the height for its frame.
WINDOW = (1600, 1100)
# Seconds for the single-page app to fetch its data and draw. A cold page on a loaded 2-core
# machine takes a few seconds.
PAGE_TIMEOUT_SECONDS = 60

STEPS = ["blog_article", "buffer_post", "publication_log"]
SCHEDULE_NAME = "daily_blogpost_schedule"
SENSOR_NAME = "daily_blogpost_failure_alert"
LOCATION_PATH = "/locations/blog_pipeline"
# The numeric metadata of blog_article that the asset page plots over its materializations.
NUMERIC_METADATA = {
    "prompt_tokens",
    "completion_tokens",
    "estimated_cost_usd",
    "words",
    "characters",
    "generation_seconds",
}
# Article lengths of the runs behind the plots: different lengths give visibly different points,
# and all stay below LinkedIn's 3,000 characters, so no run takes the shortening path.
PLOT_RUN_TARGET_WORDS = (150, 200, 250, 300)
# The runs of this module own this publish date, so they never meet the post of another test.
PUBLISH_DATE = "2030-07-01"

ASSET_MATERIALIZATIONS_QUERY = """
query AssetMaterializations($assetKey: AssetKeyInput!) {
  assetOrError(assetKey: $assetKey) {
    __typename
    ... on Asset {
      assetMaterializations(limit: 20) {
        runId
        metadataEntries {
          __typename
          label
          ... on IntMetadataEntry { intValue }
          ... on FloatMetadataEntry { floatValue }
        }
      }
    }
    ... on Error { message }
  }
}
"""


@pytest.fixture(scope="module")
def finished_runs(dagster_dev: DagsterDev) -> list[dict[str, Any]]:
    """Successful runs of daily_blogpost with different article lengths, oldest first.

    The first run finishes before the others start, so it is the one that queues the date's
    post, and the others find it already queued.
    """

    def launch(words: int) -> str:
        return dagster_dev.launch_run(
            run_config={"ops": {"blog_article": {"config": {"target_words": words}}}},
            tags={PUBLISH_DATE_TAG: PUBLISH_DATE},
        )

    first_words, *other_words = PLOT_RUN_TARGET_WORDS
    runs = [dagster_dev.wait_for_run(launch(first_words))]
    others = [launch(words) for words in other_words]
    runs += [dagster_dev.wait_for_run(run_id) for run_id in others]

    failed = [run["runId"] for run in runs if run["status"] != "SUCCESS"]
    assert not failed, f"runs {failed} did not succeed:\n{dagster_dev.output_tail()}"
    return runs


@pytest.fixture(scope="module")
def browser(
    dagster_dev: DagsterDev, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WebDriver]:
    """Headless Chromium with a fresh profile, pointed at the `dagster dev` webserver."""
    for binary in (CHROMIUM, CHROMEDRIVER):
        if not binary.exists():
            skip_or_fail(
                f"{binary} is missing: install Debian's chromium and chromium-driver packages "
                "(apt-get install chromium chromium-driver)"
            )

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.add_argument(f"--window-size={WINDOW[0]},{WINDOW[1]}")
    # SE_OFFLINE keeps Selenium Manager from looking for drivers or browsers on the network.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SE_OFFLINE", "true")
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    # The UI greets a new local instance with a community sign-up dialog over every page. This
    # is the mutation that its Skip button sends.
    dagster_dev.graphql("mutation { setNuxSeen }")
    try:
        yield driver
    finally:
        driver.quit()


def test_job_graph_shows_three_steps_in_order(browser: WebDriver, dagster_dev: DagsterDev) -> None:
    _open(browser, dagster_dev, f"{LOCATION_PATH}/jobs/{JOB_NAME}")
    # The job page starts in the asset view, and the op view shows the job's steps.
    _wait_for_element(browser, By.XPATH, "//label[normalize-space()='View as Asset Graph']").click()

    labels = _wait_for(
        browser,
        lambda: _labels_with_position(browser, "[class*='OpNode_label']", "y"),
        "the op graph's step labels",
        lambda found: set(found) >= set(STEPS),
    )

    assert [name for name, _ in sorted(labels.items(), key=lambda item: item[1])] == STEPS
    _screenshot(browser, "job-graph.png")


def test_schedule_page_shows_0800_berlin_running(
    browser: WebDriver, dagster_dev: DagsterDev
) -> None:
    _open(browser, dagster_dev, f"{LOCATION_PATH}/schedules/{SCHEDULE_NAME}")
    text = _wait_for_text(browser, "Execution timezone")

    assert "0 8 * * *" in text
    assert re.search(r"Execution timezone\s+Europe/Berlin", text), text
    assert "At 08:00" in text
    assert _running_switch(browser).is_selected()
    _screenshot(browser, "schedule.png")


def test_sensor_page_shows_sensor_running(browser: WebDriver, dagster_dev: DagsterDev) -> None:
    _open(browser, dagster_dev, f"{LOCATION_PATH}/sensors/{SENSOR_NAME}")
    text = _wait_for_text(browser, "Latest tick")

    assert SENSOR_NAME in text
    assert "E-mails an alert" in text
    assert _running_switch(browser).is_selected()
    _screenshot(browser, "failure-sensor.png")


def test_asset_lineage_draws_article_post_log_chain(
    browser: WebDriver, dagster_dev: DagsterDev, finished_runs: list[dict[str, Any]]
) -> None:
    _open(browser, dagster_dev, f"{LOCATION_PATH}/asset-groups/daily_blogpost/lineage")
    # Each node shows "Loading..." until its latest materialization arrives.
    _wait_for(
        browser,
        lambda: browser.find_element(By.TAG_NAME, "body").text,
        "the asset graph to finish loading",
        lambda text: all(s in text for s in STEPS) and "Loading..." not in text,
    )

    edges = _lineage_edges(browser)

    assert edges == {("blog_article", "buffer_post"), ("buffer_post", "publication_log")}
    _screenshot(browser, "asset-lineage.png")


def test_run_page_shows_timeline_and_logs(
    browser: WebDriver, dagster_dev: DagsterDev, finished_runs: list[dict[str, Any]]
) -> None:
    # The first run queued the post, and its run page shows the timeline and the logs.
    run_id = finished_runs[0]["runId"]
    _open(browser, dagster_dev, f"/runs/{run_id}")

    bars = _wait_for(
        browser,
        lambda: _labels_with_position(browser, ".chart-element.box[data-tooltip]", "x"),
        "the run timeline's step bars",
        lambda found: set(found) >= set(STEPS),
    )
    assert [name for name, _ in sorted(bars.items(), key=lambda item: item[1])] == STEPS
    text = _wait_for_text(browser, "RUN_SUCCESS")
    assert "Success" in text
    assert 'Finished execution of run for "daily_blogpost"' in text
    _screenshot(browser, "run-timeline.png")

    # A user searches the run's logs for the success record of publication_log.
    search = browser.find_element(By.CSS_SELECTOR, "input[placeholder^='Filter']")
    search.send_keys("Blog post scheduled")
    text = _wait_for_text(browser, f"for {PUBLISH_DATE} (Europe/Berlin)")
    assert "publication_log" in text


def test_article_metadata_is_numeric_and_plotted(
    browser: WebDriver, dagster_dev: DagsterDev, finished_runs: list[dict[str, Any]]
) -> None:
    run_ids = {run["runId"] for run in finished_runs}
    result = dagster_dev.graphql(
        ASSET_MATERIALIZATIONS_QUERY, {"assetKey": {"path": ["blog_article"]}}
    )["assetOrError"]
    materializations = [m for m in result["assetMaterializations"] if m["runId"] in run_ids]
    assert len(materializations) == len(finished_runs)
    for materialization in materializations:
        types = {e["label"]: e["__typename"] for e in materialization["metadataEntries"]}
        for label in NUMERIC_METADATA:
            assert types.get(label) in {"IntMetadataEntry", "FloatMetadataEntry"}, (label, types)
    words = {_entry_value(m, "words") for m in materializations}
    assert len(words) == len(PLOT_RUN_TARGET_WORDS), words

    browser.set_window_size(WINDOW[0], 2100)
    try:
        _open(browser, dagster_dev, "/assets/blog_article")
        _wait_for_element(browser, By.XPATH, "//button[normalize-space()='Plots']").click()
        plots = _wait_for(
            browser,
            lambda: _plot_titles(browser),
            "the metadata plots",
            lambda found: NUMERIC_METADATA <= found,
        )
        assert NUMERIC_METADATA <= plots
        _screenshot(browser, "blog-article-plots.png")
    finally:
        browser.set_window_size(*WINDOW)


# -- helpers -------------------------------------------------------------------------------


def _open(browser: WebDriver, dagster_dev: DagsterDev, path: str) -> None:
    browser.get(dagster_dev.url + path)


def _wait_for(
    browser: WebDriver,
    read: Callable[[], Any],
    description: str,
    accept: Callable[[Any], bool] = bool,
) -> Any:
    """Call ``read`` until ``accept`` takes its value, and return that value."""
    last: list[Any] = [None]

    def ready(_: WebDriver) -> Any:
        try:
            last[0] = read()
        except (StaleElementReferenceException, WebDriverException):
            # The app re-renders while data arrives; the next poll reads the new elements.
            return False
        return last[0] if accept(last[0]) else False

    try:
        return WebDriverWait(browser, PAGE_TIMEOUT_SECONDS, poll_frequency=0.25).until(ready)
    except WebDriverException as exc:
        raise AssertionError(
            f"Timed out after {PAGE_TIMEOUT_SECONDS} s waiting for {description} on "
            f"{browser.current_url}. Last value: {last[0]!r}. Page text:\n"
            f"{_page_text(browser)[:3000]}"
        ) from exc


def _wait_for_text(browser: WebDriver, text: str) -> str:
    return _wait_for(browser, lambda: _page_text(browser), repr(text), lambda page: text in page)


def _wait_for_element(browser: WebDriver, by: str, selector: str) -> Any:
    return _wait_for(browser, lambda: browser.find_element(by, selector), selector)


def _page_text(browser: WebDriver) -> str:
    return browser.find_element(By.TAG_NAME, "body").text


def _labels_with_position(browser: WebDriver, selector: str, axis: str) -> dict[str, float]:
    """Return the data-tooltip (or text) of each element matching ``selector`` with its
    on-screen ``x`` or ``y`` position."""
    found = {}
    for element in browser.find_elements(By.CSS_SELECTOR, selector):
        name = element.get_attribute("data-tooltip") or element.text
        found[name] = element.rect[axis]
    return found


def _running_switch(browser: WebDriver) -> Any:
    """Return the checkbox in the row labelled "Running" of a schedule or sensor page."""
    return browser.find_element(
        By.XPATH, "//tr[td[normalize-space()='Running']]//input[@type='checkbox']"
    )


def _lineage_edges(browser: WebDriver) -> set[tuple[str, str]]:
    """Return the (upstream, downstream) asset pairs that the lineage graph draws as arrows.

    Nodes are foreignObject boxes in the graph's SVG. An arrow is a path from the right edge of
    one box to just before the left edge of the next, so each end is matched to the box whose
    side is nearest to it.
    """
    graph = browser.execute_script(
        """
        const svg = document.querySelector("svg[class*='AssetGraphExplorer_svgContainer']");
        const nodes = [...svg.querySelectorAll('foreignObject')].map(box => ({
          name: box.querySelector('[data-tooltip]')?.getAttribute('data-tooltip'),
          x: +box.getAttribute('x'), y: +box.getAttribute('y'),
          width: +box.getAttribute('width'), height: +box.getAttribute('height'),
        })).filter(node => node.name);
        const paths = [...svg.querySelectorAll(':scope > path')].map(p => p.getAttribute('d'));
        return {nodes, paths};
        """
    )
    edges = set()
    for path in graph["paths"]:
        numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", path)]
        (start_x, start_y), (end_x, end_y) = numbers[:2], numbers[-2:]
        source = _nearest(graph["nodes"], start_x, start_y, side="right")
        target = _nearest(graph["nodes"], end_x, end_y, side="left")
        edges.add((source, target))
    return edges


def _nearest(nodes: list[dict[str, Any]], x: float, y: float, side: str) -> str:
    def distance(node: dict[str, Any]) -> float:
        edge_x = node["x"] + node["width"] if side == "right" else node["x"]
        inside = node["y"] <= y <= node["y"] + node["height"]
        return abs(edge_x - x) + (0 if inside else 10_000)

    return min(nodes, key=distance)["name"]


def _plot_titles(browser: WebDriver) -> set[str]:
    """Return the titles of the metadata plots that have a drawn chart canvas."""
    titles = browser.execute_script(
        """
        return [...document.querySelectorAll('canvas')].map(canvas => {
          let box = canvas.parentElement;
          while (box && !box.querySelector('span')) { box = box.parentElement; }
          return box ? box.querySelector('span').textContent.trim() : null;
        }).filter(Boolean);
        """
    )
    return set(titles)


def _entry_value(materialization: dict[str, Any], label: str) -> float:
    [entry] = [e for e in materialization["metadataEntries"] if e["label"] == label]
    return entry.get("intValue", entry.get("floatValue"))


def _screenshot(browser: WebDriver, name: str) -> None:
    folder = os.environ.get(SCREENSHOTS_ENV_VAR)
    if not folder:
        return
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(path / name)), f"Chromium did not write {path / name}"
