from .base import FunctionalTest


class MyListsTest(FunctionalTest):
    def test_logged_in_users_are_recognised(self):
        email = "edith@example.com"
        self.browser.get(self.live_server_url)
        self.wait_to_be_logged_out(email)

        # Edith is a logged-in user (no login UI: a session made on the server).
        self.create_pre_authenticated_session(email)
        self.browser.get(self.live_server_url)
        self.wait_to_be_logged_in(email)

    def test_each_test_starts_with_an_empty_database(self):
        # setUp flushed staging: a session made by the previous test no longer logs anyone in.
        self.browser.get(self.live_server_url)
        self.wait_to_be_logged_out("edith@example.com")
