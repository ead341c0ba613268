"""pytest fixtures for staging functional tests (registered through the ``pytest11`` entry point).

Environment:
    STAGEFIX_HOST or TEST_SERVER   the staging host; tests using staging fixtures are skipped without it
    STAGEFIX_BINARY                the stagefix executable (default: ``stagefix`` on PATH)
    STAGEFIX_SSH_CONFIG            OpenSSH client config (``-F``)
    STAGEFIX_CONFIG                stagefix.yml (``-c``)
    STAGEFIX_TIMEOUT               seconds (``--timeout``)
    STAGEFIX_WARM                  ``0`` (or false/no/off): no warm agent, every fixture connects afresh

Fixtures:
    stagefix_client    a Stagefix configured from the environment (session scope); warm: one agent
                       for the whole run, stopped when the run ends
    staging_host       the host name (session scope); skips the test when none is set
    staging_session    a factory: ``staging_session("edith@example.com")`` -> Session
    fresh_staging      flushes the staging database before the test; its value is the host

Disable with ``-p no:stagefix``.
"""

from __future__ import annotations

import os
from typing import Callable, Iterator, Optional

import pytest

from .client import Stagefix
from .session import Session

HOST_VARIABLES = ("STAGEFIX_HOST", "TEST_SERVER")


def _staging_host_from_env() -> Optional[str]:
    for name in HOST_VARIABLES:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


@pytest.fixture(scope="session")
def stagefix_client() -> Iterator[Stagefix]:
    """A Stagefix client from STAGEFIX_BINARY, STAGEFIX_SSH_CONFIG, STAGEFIX_CONFIG, STAGEFIX_TIMEOUT
    and STAGEFIX_WARM; its warm agent (one for the run) is stopped when the run ends."""
    client = Stagefix.from_env()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="session")
def staging_host() -> str:
    """The staging host from STAGEFIX_HOST (or TEST_SERVER); the test is skipped when neither is set."""
    host = _staging_host_from_env()
    if host is None:
        pytest.skip("no staging host: set STAGEFIX_HOST or TEST_SERVER to run staging tests")
    return host


@pytest.fixture
def staging_session(staging_host: str, stagefix_client: Stagefix) -> Callable[..., Session]:
    """A factory: ``staging_session(email)`` logs ``email`` in on the staging host, returning a Session
    (``session.cookie`` for Selenium's add_cookie, ``session.playwright_cookie()`` for Playwright)."""

    def make(email: str, host: Optional[str] = None) -> Session:
        return stagefix_client.create_session_cookie(host or staging_host, email)

    return make


@pytest.fixture
def fresh_staging(staging_host: str, stagefix_client: Stagefix) -> str:
    """Empties the staging database before the test (``db flush --yes``); the value is the host."""
    stagefix_client.flush(staging_host)
    return staging_host
