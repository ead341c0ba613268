"""Fixtures for the pytest-style functional tests; the staging ones (staging_host, fresh_staging,
staging_session, stagefix_client) come from the stagefix package's pytest plugin.

    STAGEFIX_HOST=staging.example.com pytest functional_tests/pytest_style
    STAGEFIX_HOST=staging.example.com SITE_URL=https://staging.example.com HEADLESS=1 pytest ...

Without STAGEFIX_HOST (or TEST_SERVER) every test here is skipped.
"""

import os

import pytest
from selenium import webdriver


@pytest.fixture
def browser():
    options = webdriver.FirefoxOptions()
    if os.environ.get("HEADLESS"):
        options.add_argument("-headless")
    driver = webdriver.Firefox(options=options)
    yield driver
    driver.quit()


@pytest.fixture(scope="session")
def site_url(staging_host):
    return os.environ.get("SITE_URL", "http://" + staging_host).rstrip("/")


@pytest.fixture
def log_in(browser, site_url, staging_session):
    """`log_in("edith@example.com")`: the browser is now that user, without the login UI."""

    def log_in_as(email):
        session = staging_session(email)
        # A cookie can only be set for the domain the browser is on; 404 pages load fastest.
        browser.get(site_url + "/404_no_such_url/")
        browser.add_cookie(session.selenium_cookie(host_only=True))
        return session

    return log_in_as
