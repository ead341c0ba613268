"""The functional tests' base class: local (Django's live server) or, with TEST_SERVER set, staging.

    python manage.py test functional_tests                                   # local
    TEST_SERVER=staging.example.com python manage.py test functional_tests   # against staging
    TEST_SERVER=staging.example.com TEST_SERVER_URL=https://staging.example.com python manage.py test functional_tests

Before each test on staging the database is flushed and users are logged in with a session cookie
made on the server (`stagefix session create`), so tests never go through the login UI.
"""

import os
import time

from django.conf import settings
from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By

from .management.commands.create_session import create_pre_authenticated_session
from .server_tools import create_session_on_server, reset_database

MAX_WAIT = 10


def wait(fn):
    """Retries `fn` until it stops failing (AssertionError, WebDriverException) or MAX_WAIT passes."""

    def modified_fn(*args, **kwargs):
        start_time = time.time()
        while True:
            try:
                return fn(*args, **kwargs)
            except (AssertionError, WebDriverException):
                if time.time() - start_time > MAX_WAIT:
                    raise
                time.sleep(0.5)

    return modified_fn


class FunctionalTest(StaticLiveServerTestCase):
    def setUp(self):
        options = webdriver.FirefoxOptions()
        if os.environ.get("HEADLESS"):
            options.add_argument("-headless")
        self.browser = webdriver.Firefox(options=options)
        self.test_server = os.environ.get("TEST_SERVER")
        if self.test_server:
            self.live_server_url = os.environ.get("TEST_SERVER_URL", "http://" + self.test_server).rstrip("/")
            # Raises stagefix.GuardRefused (and the test errors) if TEST_SERVER is not staging.
            reset_database(self.test_server)

    def tearDown(self):
        self.browser.quit()
        super().tearDown()

    def create_pre_authenticated_session(self, email):
        if self.test_server:
            session = create_session_on_server(self.test_server, email)
            # host_only: the cookie is for the page's host, whatever name TEST_SERVER uses for SSH.
            cookie = session.selenium_cookie(host_only=True)
        else:
            session_key = create_pre_authenticated_session(email)
            cookie = dict(name=settings.SESSION_COOKIE_NAME, value=session_key, path="/")
        # To set a cookie we need to first visit the domain. 404 pages load the quickest!
        self.browser.get(self.live_server_url + "/404_no_such_url/")
        self.browser.add_cookie(cookie)

    @wait
    def wait_for(self, fn):
        return fn()

    @wait
    def wait_to_be_logged_in(self, email):
        self.browser.find_element(By.LINK_TEXT, "Log out")
        navbar = self.browser.find_element(By.CSS_SELECTOR, ".navbar")
        self.assertIn(email, navbar.text)

    @wait
    def wait_to_be_logged_out(self, email):
        self.browser.find_element(By.CSS_SELECTOR, "input[name=email]")
        navbar = self.browser.find_element(By.CSS_SELECTOR, ".navbar")
        self.assertNotIn(email, navbar.text)
