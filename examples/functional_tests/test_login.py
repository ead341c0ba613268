"""The book's magic-link login test, against staging without a POP3 mailbox.

Locally it reads Django's `mail.outbox`; with TEST_SERVER set, stagefix resets the staging site's
mailbox before the action (so an email from an earlier run can never be picked up) and waits for the
new one on the server (`stagefix mail wait`), matching its recipient and subject as parsed headers.
The site's mailbox is `mail:` for the host in stagefix.yml, e.g.
`mail: django-files:~/sites/{host}/sent_emails` or `maildir:~/mail/staging`.
"""

import re

from django.core import mail
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from .base import FunctionalTest
from .server_tools import stagefix_client

TEST_EMAIL = "edith@example.com"
SUBJECT = "Your login link for Superlists"


class LoginTest(FunctionalTest):
    def test_login_using_magic_link(self):
        if self.test_server:
            stagefix_client().reset_mail(self.test_server)

        # Edith goes to the site and asks for a login link.
        self.browser.get(self.live_server_url)
        self.browser.find_element(By.CSS_SELECTOR, "input[name=email]").send_keys(TEST_EMAIL, Keys.ENTER)
        self.wait_for(lambda: self.assertIn("Check your email", self.browser.find_element(By.CSS_SELECTOR, "body").text))

        # An email arrives, with a link in it.
        if self.test_server:
            email = stagefix_client().wait_for_email(self.test_server, TEST_EMAIL, subject=SUBJECT, timeout=60)
            url = email.link(r"/accounts/login\?token=")
        else:
            email = mail.outbox.pop()
            self.assertIn(TEST_EMAIL, email.to)
            self.assertEqual(email.subject, SUBJECT)
            url = re.search(r"http://.+/.+$", email.body, re.MULTILINE).group(0)
        self.assertIn(self.live_server_url.split("://", 1)[-1], url)

        # She follows it and is logged in; then she logs out.
        self.browser.get(url)
        self.wait_to_be_logged_in(email=TEST_EMAIL)
        self.browser.find_element(By.LINK_TEXT, "Log out").click()
        self.wait_to_be_logged_out(email=TEST_EMAIL)
