"""Real browsers logged in by stagefix's cookies: headless Chromium (Debian's) through Selenium and
through Playwright, and curl with the netscape jar, against the rig's site served over https by its
name with a Secure session cookie.

The browser reaches the site as a test suite would: https://NAME:PORT/, NAME mapped to the rig's
address by Chromium's host resolver, the certificate trusted by its public key (the rig's CA is not
in the system store, and Chromium's own store needs an NSS database). No browser is downloaded:
Selenium gets /usr/bin/chromedriver, Playwright /usr/bin/chromium.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess

import pytest

from stagefix import Stagefix

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def site(rig):
    for name in ("RIG_SITE_NAME_URL", "RIG_SITE_SPKI_SHA256", "RIG_ADDR", "RIG_SITE_CA"):
        if not rig.get(name):
            pytest.fail("the rig.env has no %s (scripts/rig up writes it)" % name)
    return rig


def chromium_arguments(rig):
    """What both drivers pass Chromium (each adds its own headless mode and profile folder)."""
    return [
        "--no-sandbox",  # as root, in a container
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        "--host-resolver-rules=MAP %s %s" % (rig["RIG_HOST"], rig["RIG_ADDR"]),
        "--ignore-certificate-errors-spki-list=%s" % rig["RIG_SITE_SPKI_SHA256"],
    ]


def session_create(rig, email, output_format):
    """``stagefix session create HOST EMAIL --format FORMAT``'s stdout, as a test suite would run it."""
    result = subprocess.run(
        [rig["STAGEFIX_BINARY"], "session", "create", "-F", rig["RIG_SSH_CONFIG"], rig["RIG_HOST"], email, "--format", output_format],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def page_text(text):
    return text.strip()


# ---- Selenium -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def selenium_browser(site, tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ["--headless=new", "--user-data-dir=%s" % tmp_path_factory.mktemp("selenium-profile"), *chromium_arguments(site)]:
        options.add_argument(argument)
    # Its own process group, so the finalizer can end chromedriver and every Chromium it started even
    # when quit() fails; its output never goes to the test runner's stdout.
    service = Service(executable_path=CHROMEDRIVER, log_output=subprocess.DEVNULL, popen_kw={"start_new_session": True})
    driver = webdriver.Chrome(service=service, options=options)
    try:
        driver.set_page_load_timeout(30)
        yield driver
    finally:
        group = service.process.pid if service.process else None
        try:
            driver.quit()
        finally:
            if group is not None:
                try:
                    os.killpg(group, signal.SIGKILL)
                except ProcessLookupError:
                    pass


@pytest.fixture
def selenium(selenium_browser, site):
    """The module's browser with no cookies, on the site's 404 page (a cookie is set for the page's host)."""
    selenium_browser.delete_all_cookies()
    selenium_browser.get(site["RIG_SITE_NAME_URL"] + "404_no_such_url/")
    return selenium_browser


def selenium_whoami(driver, rig):
    driver.get(rig["RIG_SITE_NAME_URL"] + "whoami/")
    return page_text(driver.find_element("tag name", "body").text)


def test_selenium_format_logs_chromium_in_over_https(selenium, site):
    assert selenium_whoami(selenium, site) == "anonymous"
    cookie = json.loads(session_create(site, "selenium@example.com", "selenium"))
    assert cookie["secure"] is True, "the rig's site sets SESSION_COOKIE_SECURE"
    selenium.get(site["RIG_SITE_NAME_URL"] + "404_no_such_url/")
    selenium.add_cookie(cookie)
    assert selenium_whoami(selenium, site) == "logged in as selenium@example.com"


def test_selenium_with_the_python_client_as_the_readme_shows(selenium, site):
    client = Stagefix(binary=site["STAGEFIX_BINARY"], ssh_config=site["RIG_SSH_CONFIG"], timeout=30)
    session = client.create_session_cookie(site["RIG_HOST"], "client-selenium@example.com")
    selenium.add_cookie(session.selenium_cookie(host_only=True))
    assert selenium_whoami(selenium, site) == "logged in as client-selenium@example.com"
    # The browser's cookie is the one stagefix made, Secure and HttpOnly as the site set them.
    (stored,) = [c for c in selenium.get_cookies() if c["name"] == session.cookie_name]
    assert (stored["value"], stored["secure"], stored["httpOnly"]) == (session.key, True, True)


def test_selenium_is_logged_out_by_a_flush(selenium, site):
    cookie = json.loads(session_create(site, "flushed@example.com", "selenium"))
    selenium.add_cookie(cookie)
    assert selenium_whoami(selenium, site) == "logged in as flushed@example.com"
    Stagefix(binary=site["STAGEFIX_BINARY"], ssh_config=site["RIG_SSH_CONFIG"]).flush(site["RIG_HOST"])
    assert selenium_whoami(selenium, site) == "anonymous"


# ---- Playwright ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def playwright_browser(site):
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=chromium_arguments(site), timeout=60_000)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


def playwright_whoami(page, rig):
    response = page.goto(rig["RIG_SITE_NAME_URL"] + "whoami/")
    assert response is not None and response.ok, response and response.status
    return page_text(page.inner_text("body"))


def test_playwright_format_logs_chromium_in_over_https(playwright_browser, site):
    context = playwright_browser.new_context()
    try:
        page = context.new_page()
        assert playwright_whoami(page, site) == "anonymous"
        cookies = json.loads(session_create(site, "playwright@example.com", "playwright"))
        assert [c["secure"] for c in cookies] == [True]
        context.add_cookies(cookies)
        assert playwright_whoami(page, site) == "logged in as playwright@example.com"
    finally:
        context.close()


def test_playwright_state_format_is_a_storage_state_that_logs_in(playwright_browser, site, tmp_path):
    state = tmp_path / "state.json"
    state.write_text(session_create(site, "state@example.com", "playwright-state"))
    context = playwright_browser.new_context(storage_state=str(state))
    try:
        assert playwright_whoami(context.new_page(), site) == "logged in as state@example.com"
    finally:
        context.close()


def test_playwright_with_the_python_client_cookie(playwright_browser, site):
    client = Stagefix(binary=site["STAGEFIX_BINARY"], ssh_config=site["RIG_SSH_CONFIG"], timeout=30)
    session = client.create_session_cookie(site["RIG_HOST"], "client-playwright@example.com")
    context = playwright_browser.new_context()
    try:
        context.add_cookies([session.playwright_cookie()])
        assert playwright_whoami(context.new_page(), site) == "logged in as client-playwright@example.com"
    finally:
        context.close()


# ---- curl ---------------------------------------------------------------------------------------


def curl_whoami(rig, jar):
    """curl by the site's name over https, trusting only the rig's CA, with a netscape cookie jar."""
    port, name = rig["RIG_SITE_PORT"], rig["RIG_HOST"]
    result = subprocess.run(
        ["curl", "-sS", "--max-time", "10", "--cacert", rig["RIG_SITE_CA"], "--resolve", "%s:%s:%s" % (name, port, rig["RIG_ADDR"]),
         "-b", str(jar), "https://%s:%s/whoami/" % (name, port)],
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
    )
    return result.returncode, page_text(result.stdout)


def test_netscape_format_logs_curl_in_over_https(site, tmp_path):
    jar = tmp_path / "cookies.txt"
    jar.write_text("# Netscape HTTP Cookie File\n")
    assert curl_whoami(site, jar) == (0, "anonymous")
    jar.write_text(session_create(site, "curl@example.com", "netscape"))
    assert curl_whoami(site, jar) == (0, "logged in as curl@example.com")


# ---- an ssh alias that is not the site's name -----------------------------------------------------


@pytest.fixture
def alias(site, tmp_path):
    """An ssh_config alias `staging` for the rig (as users write for a long host name), and the
    stagefix.yml that says where the site is: ``alias(site_url=None)`` gives (ssh_config, stagefix.yml)."""
    ssh_config = tmp_path / "ssh_config"
    with open(site["RIG_SSH_CONFIG"]) as original:
        ssh_config.write_text(original.read().replace("Host %s\n" % site["RIG_HOST"], "Host staging\n"))

    def make(site_url=None):
        lines = ["hosts:", "  staging:", "    role: staging", "    site:", "      path: ~/sites/%s" % site["RIG_HOST"]]
        if site_url:
            lines.append("      url: %s" % site_url)
        config = tmp_path / ("stagefix-%s.yml" % ("url" if site_url else "no-url"))
        config.write_text("\n".join(lines) + "\n")
        return str(ssh_config), str(config)

    return make


def alias_session(site, ssh_config, config, email, output_format):
    result = subprocess.run(
        [site["STAGEFIX_BINARY"], "session", "create", "-F", ssh_config, "-c", config, "staging", email, "--format", output_format],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_an_alias_without_site_url_is_refused_naming_the_setting(site, alias):
    # The alias reaches the machine by address, so only the site's SITENAME says which site it is, and
    # it names another host than `staging`: the guard refuses rather than make a cookie for `staging`.
    ssh_config, config = alias()
    result = subprocess.run(
        [site["STAGEFIX_BINARY"], "session", "create", "-F", ssh_config, "-c", config, "staging", "alias@example.com", "--format", "selenium"],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 77, result.stderr
    assert "SITENAME=%s" % site["RIG_HOST"] in result.stderr
    assert "site.url" in result.stderr


def test_an_alias_with_site_url_gives_a_cookie_selenium_accepts(selenium, site, alias):
    cookie = json.loads(alias_session(site, *alias(site["RIG_SITE_NAME_URL"]), "alias@example.com", "selenium"))
    assert cookie["domain"] == site["RIG_HOST"]
    selenium.add_cookie(cookie)
    assert selenium_whoami(selenium, site) == "logged in as alias@example.com"


def test_an_alias_with_site_url_gives_a_storage_state_playwright_logs_in_with(playwright_browser, site, alias, tmp_path):
    state = tmp_path / "state.json"
    state.write_text(alias_session(site, *alias(site["RIG_SITE_NAME_URL"]), "alias-state@example.com", "playwright-state"))
    context = playwright_browser.new_context(storage_state=str(state))
    try:
        assert playwright_whoami(context.new_page(), site) == "logged in as alias-state@example.com"
    finally:
        context.close()
