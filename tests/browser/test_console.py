"""The console in a real headless Chromium: log in, generate side by side, jobs, status, accessibility.

Every page visited is saved (HTML under LOG_DIR/pages, a screenshot under LOG_DIR/screenshots),
checked for key text and for CSP violations in the browser's log. ``UPDATE_SCREENSHOT=1``
copies the playground's screenshot to docs/console.png (the README's picture).
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from providers.secret import Secret
from tests.browser.console import (
    ADMIN_KEY,
    CLIENT_KEY,
    PAGES,
    README_SCREENSHOT,
    SCREENSHOTS,
    assert_no_key,
    chrome_factory,
)
from tests.conftest import Keys
from tests.servers import Server

MODELS = ("wan2.7-image", "wanx2.1-t2i-turbo")


@pytest.fixture(scope="module")
def browsers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[], Any]]:
    yield from chrome_factory(tmp_path_factory.mktemp("chromium"))


@pytest.fixture(scope="module")
def client_browser(browsers: Callable[[], Any], console: Server) -> Any:
    driver = browsers()
    login(driver, console, CLIENT_KEY)
    assert driver.current_url.endswith("/console")
    return driver


def wait_for(condition: Callable[[], Any], timeout: float = 30, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := condition():
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def by_css(driver: Any, selector: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return list(driver.find_elements(By.CSS_SELECTOR, selector))


def save(driver: Any, name: str) -> Path:
    """Screenshot and page source under LOG_DIR (scanned for secrets); no key text, no CSP violation."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    PAGES.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(shot))
    source = driver.page_source
    (PAGES / f"{name}.html").write_text(source)
    assert_no_key(source, f"the {name} page")
    logged = [entry["message"] for entry in driver.get_log("browser")]
    violations = [message for message in logged if "Content Security Policy" in message]
    assert not violations, violations
    return shot


def login(driver: Any, server: Server, key: str) -> None:
    driver.get(server.url + "/console/login")
    box = by_css(driver, "#key")[0]
    box.clear()
    box.send_keys(key)
    by_css(driver, "#login")[0].click()
    wait_for(lambda: "/console/login" not in driver.current_url or by_css(driver, "#login-error"), what="login")


def accessibility_problems(driver: Any) -> list[str]:
    """Inputs without a label, images without alt text, no lang, headings that skip a level."""
    script = """
    const problems = [];
    if (!document.documentElement.lang) problems.push('html has no lang');
    for (const input of document.querySelectorAll('input, select, textarea')) {
      if (input.type === 'hidden') continue;
      const labelled = (input.id && document.querySelector(`label[for="${input.id}"]`)) || input.closest('label')
        || input.getAttribute('aria-label') || input.getAttribute('aria-labelledby');
      if (!labelled) problems.push(`unlabelled ${input.tagName} ${input.name || input.id}`);
    }
    for (const img of document.querySelectorAll('img')) {
      if (!img.getAttribute('alt')) problems.push(`image without alt: ${img.src.slice(0, 40)}`);
    }
    let last = 0;
    for (const h of document.querySelectorAll('h1, h2, h3, h4, h5, h6')) {
      const level = Number(h.tagName[1]);
      if (level > last + 1) problems.push(`heading ${h.tagName} after h${last}: ${h.textContent}`);
      last = level;
    }
    return problems;
    """
    return list(driver.execute_script(script))


def image_sizes(driver: Any, selector: str) -> list[tuple[int, int, str]]:
    """Each image decoded by the browser: (naturalWidth, naturalHeight, the size the page reports)."""
    script = """
    const done = arguments[arguments.length - 1];
    const imgs = Array.from(document.querySelectorAll(arguments[0]));
    Promise.all(imgs.map((img) => img.decode().then(() => [img.naturalWidth, img.naturalHeight,
      img.dataset.reportedSize]))).then(done, (err) => done(String(err)));
    """
    found = driver.execute_async_script(script, selector)
    assert isinstance(found, list), f"an image did not decode: {found}"
    return [(int(w), int(h), str(size)) for w, h, size in found]


def generate(
    driver: Any,
    prompt: str,
    *,
    seed: str = "",
    models: tuple[str, ...] = MODELS,
    job: bool = False,
    keep_files: bool = False,
) -> None:
    """Fill the playground (a fresh one unless ``keep_files``) and submit it from the keyboard."""
    from selenium.webdriver.common.keys import Keys as Key

    if not keep_files:
        driver.get(driver.current_url.split("/console")[0] + "/console")
    wait_for(lambda: by_css(driver, 'input[name="model"]'), what="the model list from /v1/models")
    for box in by_css(driver, 'input[name="model"]'):
        if box.is_selected() != (box.get_attribute("value") in models):
            box.click()
    by_css(driver, "#prompt")[0].send_keys(prompt)
    if seed:
        by_css(driver, "#seed")[0].send_keys(seed)
    if job:
        by_css(driver, "#async")[0].click()
    # The keyboard alone reaches Generate and submits: Tab order from the last field, then Enter.
    by_css(driver, "#async")[0].send_keys(Key.TAB)
    focused = driver.switch_to.active_element
    assert focused.get_attribute("id") == "go", "Tab after the last field reaches the Generate button"
    focused.send_keys(Key.ENTER)
    wait_for(
        lambda: len(by_css(driver, '#results .column[aria-busy="false"]')) == len(models),
        timeout=60,
        what="every column's answer",
    )


def facts(column: Any) -> dict[str, str]:
    return {dd.get_attribute("data-fact"): dd.text for dd in column.find_elements("css selector", "dd")}


def test_login_with_a_wrong_key_fails_without_saying_why(browsers: Callable[[], Any], console: Server) -> None:
    driver = browsers()
    login(driver, console, "sk-" + "0" * 32)
    assert driver.current_url.endswith("/console/login")
    assert by_css(driver, "#login-error")[0].text == "Login failed: that key was not accepted."
    assert not driver.get_cookies() or all(c["name"] != "gw_console" for c in driver.get_cookies())
    assert not accessibility_problems(driver)
    save(driver, "login-failed")


def test_playground_compares_models_and_images_decode_at_the_reported_size(client_browser: Any) -> None:
    driver = client_browser
    assert not accessibility_problems(driver)
    generate(driver, "a lighthouse at dusk, oil painting", seed="4242")
    columns = by_css(driver, "#results .column")
    assert sorted(c.get_attribute("data-model") for c in columns) == sorted(MODELS)
    for col in columns:
        seen = facts(col)
        assert seen["provider"] == "dashscope"
        assert seen["cache"] == "miss"
        assert seen["fallbacks"] == "0"
        assert seen["latency"].endswith(" ms")
        # The size asked of DashScope in its own terms; the form asked for the model's default here.
        assert re.fullmatch(r"[0-9]+\*[0-9]+|no size \(model default\)", seen["size-sent"])
    sizes = image_sizes(driver, "#results img")
    assert len(sizes) == 2
    for (width, height, reported), col in zip(sizes, columns, strict=True):
        assert reported == f"{width}x{height}" == facts(col)["size"]
    assert all(img.get_attribute("alt").startswith(tuple(MODELS)) for img in by_css(driver, "#results img"))
    assert not accessibility_problems(driver)
    save(driver, "playground-first")

    # The same prompt and seed again: both answers come from the cache, and the page says so.
    generate(driver, "a lighthouse at dusk, oil painting", seed="4242")
    for col in by_css(driver, "#results .column"):
        assert facts(col)["cache"] == "hit"
        assert "cache hit" in col.find_element("css selector", ".badges").text
    image_sizes(driver, "#results img")
    driver.execute_script("window.scrollTo(0, 0)")
    shot = save(driver, "playground")
    if os.environ.get("UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(shot, README_SCREENSHOT)


def test_jobs_page_lists_a_submitted_job_with_its_image(client_browser: Any) -> None:
    driver = client_browser
    generate(driver, "a paper boat on a pond", models=(MODELS[0],), job=True)
    col = by_css(driver, "#results .column")[0]
    image_sizes(driver, "#results img")
    assert facts(col)["model"] == MODELS[0]
    base = driver.current_url.split("/console")[0]
    driver.get(base + "/console/jobs")
    rows = wait_for(lambda: by_css(driver, 'tr.job[data-status="succeeded"]'), what="the job in the list")
    wait_for(lambda: by_css(driver, "tr.job .thumbs img"), what="the job's image")
    (width, height, reported), *_ = image_sizes(driver, "tr.job .thumbs img")
    assert reported == f"{width}x{height}"
    assert rows[0].get_attribute("data-job").startswith("imgjob_")
    assert not accessibility_problems(driver)
    save(driver, "jobs")


def test_a_client_session_gets_no_status_page(client_browser: Any, console: Server) -> None:
    driver = client_browser
    driver.get(console.url + "/console")
    links = [a.get_attribute("href") for a in by_css(driver, "nav a")]
    assert not any(href.endswith("/console/status") for href in links)
    driver.get(console.url + "/console/status")
    assert by_css(driver, "h1")[0].text == "Forbidden"
    assert not by_css(driver, "#provider-keys")
    save(driver, "status-as-client")
    cookie = next(c for c in driver.get_cookies() if c["name"] == "gw_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and not cookie["secure"]
    status = httpx.get(console.url + "/console/status", cookies={"gw_console": cookie["value"]})
    assert status.status_code == 403


def test_the_admin_sees_fingerprints_and_the_usage_chart(
    browsers: Callable[[], Any], console: Server, client_browser: Any
) -> None:
    generate(client_browser, "usage for the chart", models=(MODELS[0],))  # something in the ledger
    driver = browsers()
    login(driver, console, ADMIN_KEY)
    assert driver.current_url.endswith("/console/status")

    def chart() -> list[Any]:
        driver.get(console.url + "/console/status")
        return by_css(driver, "#usage-chart .bar-label")

    labels = [label.text for label in wait_for(chart, what="the usage chart")]
    assert any(text.startswith("team-a · ") for text in labels), labels
    fingerprints = {code.text for code in by_css(driver, "#provider-keys .fingerprint")}
    assert {Secret(Keys.cn).fingerprint(), Secret(Keys.intl).fingerprint()} <= fingerprints
    assert by_css(driver, 'nav a[href="/console/status"]')
    assert not accessibility_problems(driver)
    save(driver, "status")


def test_a_reference_image_makes_it_an_edit(client_browser: Any, tmp_path: Path) -> None:
    from tests.e2e.inputs import image_bytes

    picture = tmp_path / "reference.png"
    picture.write_bytes(image_bytes(512, 512))
    driver = client_browser
    driver.get(driver.current_url.split("/console")[0] + "/console")
    wait_for(lambda: by_css(driver, "#images"), what="the file field")
    # The drop zone is a real <input type=file>: keyboard and screen readers reach it too.
    by_css(driver, "#images")[0].send_keys(str(picture))
    assert "reference.png" in by_css(driver, "#picked")[0].text
    generate(driver, "the same scene in winter", models=(MODELS[0],), keep_files=True)
    col = by_css(driver, "#results .column")[0]
    assert not col.find_elements("css selector", ".error"), col.text
    (width, height, reported), *_ = image_sizes(driver, "#results img")
    assert reported == f"{width}x{height}" == facts(col)["size"]
    save(driver, "playground-edit")
