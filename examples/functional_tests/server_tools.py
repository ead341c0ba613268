"""Fixtures on the staging server, through stagefix (replaces the book's Fabric/ssh server_tools).

stagefix reads the server's .env itself and refuses any host it cannot positively identify as
staging (GuardRefused, exit 77), so a mistyped TEST_SERVER can never flush production.

Configured from the environment: STAGEFIX_BINARY (default: `stagefix` on PATH), STAGEFIX_SSH_CONFIG,
STAGEFIX_CONFIG (stagefix.yml), STAGEFIX_TIMEOUT, STAGEFIX_WARM.

One client for the whole test run, so one warm agent: after the first fixture each flush or session
is one round trip to the server. The agent stops when the test run's interpreter exits;
STAGEFIX_WARM=0 connects afresh for every fixture.
"""

from stagefix import Session, Stagefix

_client = None


def stagefix_client() -> Stagefix:
    global _client
    if _client is None:
        _client = Stagefix.from_env()
    return _client


def reset_database(host: str) -> None:
    """`manage.py flush --noinput` on the staging host, with the server's env."""
    stagefix_client().flush(host)


def create_session_on_server(host: str, email: str) -> Session:
    """A logged-in session for `email` on the staging host; `.key` is the session key and
    `.selenium_cookie()` what `driver.add_cookie` takes."""
    return stagefix_client().create_session_cookie(host, email)
