"""The same functional tests as ../test_my_lists.py, pytest style, against staging only."""

import time

from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By

MAX_WAIT = 10


def wait_for(assertion):
    start = time.time()
    while True:
        try:
            return assertion()
        except (AssertionError, WebDriverException):
            if time.time() - start > MAX_WAIT:
                raise
            time.sleep(0.5)


def navbar_text(browser):
    return browser.find_element(By.CSS_SELECTOR, ".navbar").text


def assert_logged_in(browser, email):
    browser.find_element(By.LINK_TEXT, "Log out")
    assert email in navbar_text(browser)


def assert_logged_out(browser, email):
    browser.find_element(By.CSS_SELECTOR, "input[name=email]")
    assert email not in navbar_text(browser)


def test_logged_in_users_are_recognised(fresh_staging, browser, site_url, log_in):
    email = "edith@example.com"
    browser.get(site_url)
    wait_for(lambda: assert_logged_out(browser, email))

    log_in(email)
    browser.get(site_url)
    wait_for(lambda: assert_logged_in(browser, email))


def test_each_test_starts_with_an_empty_database(fresh_staging, browser, site_url):
    browser.get(site_url)
    wait_for(lambda: assert_logged_out(browser, "edith@example.com"))
