"""A console gateway and a headless Chromium (Debian's, through its chromedriver) to drive it."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Keys
from tests.servers import LOG_DIR, new_key

CHROMEDRIVER = "/usr/bin/chromedriver"
#: make test installs chromium and chromium-driver and sets this: there, missing them fails.
REQUIRED = os.environ.get("REQUIRE_BROWSER") == "1"
MISSING = not (os.access(CHROMEDRIVER, os.X_OK) and shutil.which("chromium"))

CLIENT_KEY = new_key()
ADMIN_KEY = new_key("adm-")
ALL_KEYS = (CLIENT_KEY, ADMIN_KEY, Keys.cn, Keys.intl)

CONSOLE_CONFIG = f"""
keys:
  - name: team-a
    key: "{CLIENT_KEY}"
admin_key: "{ADMIN_KEY}"
usage: {{flush_seconds: 0.2}}
console: {{login_attempts_per_minute: 1000}}
"""
SCREENSHOTS = LOG_DIR / "screenshots"
PAGES = LOG_DIR / "pages"
README_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "console.png"


def assert_no_key(text: str, where: str) -> None:
    for key in ALL_KEYS:
        assert key.split("-", 1)[-1] not in text, f"a key ({key[:4]}...) appears in {where}"


def login_token(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the login form carries its CSRF token"
    return found.group(1)


def page_token(html: str) -> str:
    found = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert found, "a logged-in page carries its CSRF token"
    return found.group(1)


def http_login(base: str, key: str, **headers: str) -> tuple[httpx.Client, httpx.Response]:
    """An httpx client logged in (or not) through the login form, like a browser."""
    client = httpx.Client(base_url=base, headers=headers, timeout=60, event_hooks={"response": [_record]})
    form = client.get("/console/login")
    answer = client.post("/console/login", data={"csrf": login_token(form.text), "key": key})
    return client, answer


def _record(response: httpx.Response) -> None:
    """Every console answer is kept for the session-wide secret scan."""
    response.read()
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    with (LOG_DIR / "console-http.log").open("a", errors="replace") as out:
        out.write(f"{response.status_code} {response.request.url} {dict(response.headers)}\n{response.text[:20000]}\n")


def chrome_factory(tmp: Path) -> Iterator[Callable[[], object]]:
    """New headless browsers (separate profiles, so separate cookies); all quit at the end."""
    if MISSING and not REQUIRED:
        pytest.skip("chromium and chromium-driver (Debian packages; make test installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    started: list[webdriver.Chrome] = []

    def make() -> webdriver.Chrome:
        options = webdriver.ChromeOptions()
        options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
        profile = tmp / f"profile-{len(started)}"
        for flag in (
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-default-apps",
            "--no-first-run",
            "--window-size=1280,1400",
            f"--user-data-dir={profile}",
        ):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        driver.set_page_load_timeout(60)
        started.append(driver)
        return driver

    yield make
    for driver in started:
        driver.quit()
