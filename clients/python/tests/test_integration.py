"""Integration tests against a real staging rig (scripts/rig up DIR) and the real stagefix binary.

Run only when STAGEFIX_RIG_ENV (the rig's rig.env) and STAGEFIX_BINARY are set; they flush the rig's
database.
"""

from __future__ import annotations

import subprocess
import textwrap

import pytest
from conftest import site_opener

from stagefix import (
    GuardRefused,
    HostKeyError,
    InvalidInputError,
    RemoteCommandError,
    Session,
    Stagefix,
    UnreachableError,
    play_sessions,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def host(rig):
    return rig["RIG_HOST"]


@pytest.fixture(scope="module")
def client(rig):
    return Stagefix(binary=rig["STAGEFIX_BINARY"], ssh_config=rig["RIG_SSH_CONFIG"], timeout=30)


@pytest.fixture
def production_config(tmp_path, host):
    path = tmp_path / "stagefix.yml"
    path.write_text("hosts:\n  %s:\n    role: production\n" % host)
    return path


def logged_in_as(email):
    return "logged in as %s" % email


def test_a_session_logs_an_http_client_in_and_flush_logs_it_out(client, host, site_whoami):
    (session,) = client.create_session(host, "edith@example.com")
    assert isinstance(session, Session)
    assert session.email == "edith@example.com"
    assert session.cookie["value"] == session.key
    assert site_whoami() == "anonymous"
    assert site_whoami(session.cookie_header()) == logged_in_as("edith@example.com")

    report = client.flush(host)
    assert report["ok"] is True
    assert site_whoami(session.cookie_header()) == "anonymous"


def test_flush_first_logs_the_earlier_user_out_and_the_new_one_in(client, host, site_whoami):
    (before,) = client.create_session(host, "before@example.com")
    assert site_whoami(before.cookie_header()) == logged_in_as("before@example.com")
    after = client.create_session_cookie(host, "after@example.com", flush_first=True)
    assert site_whoami(before.cookie_header()) == "anonymous"
    assert site_whoami(after.cookie_header()) == logged_in_as("after@example.com")


def test_several_emails_with_quotes_each_log_in(client, host, site_whoami):
    emails = ["o'brien@example.com", "bob@example.com"]
    sessions = client.create_session(host, *emails)
    assert [s.email for s in sessions] == emails
    assert len({s.key for s in sessions}) == 2
    for session in sessions:
        assert site_whoami(session.cookie_header()) == logged_in_as(session.email)


def test_create_session_cookie_has_the_selenium_shape(client, host, rig):
    session = client.create_session_cookie(host, "edith@example.com")
    cookie = session.selenium_cookie()
    assert cookie["name"] == "sessionid"
    assert cookie["value"] == session.key
    assert cookie["path"] == "/"
    assert cookie["domain"] == host
    assert isinstance(cookie["expiry"], int)
    assert session.playwright_cookie(url=rig["RIG_SITE_URL"])["url"] == rig["RIG_SITE_URL"]


def test_an_invalid_email_raises_invalid_input(client, host):
    with pytest.raises(InvalidInputError) as caught:
        client.create_session(host, "not-an-email")
    assert caught.value.exit_code == 65
    assert caught.value.kind == "invalid_data"
    assert "not-an-email" in caught.value.message
    assert "\n" not in caught.value.message


def test_a_host_marked_production_is_refused(rig, host, production_config, site_whoami, client):
    (survivor,) = client.create_session(host, "survivor@example.com")
    guarded = Stagefix(binary=rig["STAGEFIX_BINARY"], ssh_config=rig["RIG_SSH_CONFIG"], config=production_config)
    with pytest.raises(GuardRefused) as caught:
        guarded.create_session(host, "edith@example.com")
    assert caught.value.exit_code == 77
    assert caught.value.kind == "guard"
    assert "production" in caught.value.message
    with pytest.raises(GuardRefused):
        guarded.flush(host)
    with pytest.raises(GuardRefused):
        guarded.manage(host, "check", check=False)
    with pytest.raises(GuardRefused):
        guarded.exec(host, "true", check=False)
    # Nothing ran: the earlier session still logs in.
    assert site_whoami(survivor.cookie_header()) == logged_in_as("survivor@example.com")


def test_env_get(client, host):
    assert client.env_get(host, "SITENAME") == host
    with pytest.raises(RemoteCommandError) as caught:
        client.env_get(host, "STAGEFIX_PYCLIENT_NOT_SET")
    assert caught.value.exit_code == 1
    assert "STAGEFIX_PYCLIENT_NOT_SET" in caught.value.message


def test_manage_arguments_arrive_as_single_words(client, host):
    tricky = "o'brien $HOME `id` \"quoted\"; echo no"
    result = client.manage(host, "shell", "-c", "import sys; print(%r)" % tricky)
    assert result.returncode == 0
    assert tricky in result.stdout
    with pytest.raises(RemoteCommandError):
        client.manage(host, "no_such_management_command")
    assert client.manage(host, "no_such_management_command", check=False).returncode == 1


def test_exec(client, host):
    result = client.exec(host, ["printf", "%s\n", "o'brien $HOME"])
    assert result.stdout == "o'brien $HOME\n"
    assert client.exec(host, "cat", input="via stdin").stdout == "via stdin"
    assert client.exec(host, "echo err >&2; exit 3", check=False).returncode == 3
    with pytest.raises(RemoteCommandError) as caught:
        client.exec(host, "exit 4")
    assert caught.value.exit_code == 4


def test_an_unknown_host_key_raises_host_key_error(rig, host, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    ssh_config = tmp_path / "ssh_config"
    with open(rig["RIG_SSH_CONFIG"]) as f:
        lines = [
            "    UserKnownHostsFile %s" % empty if line.strip().startswith("UserKnownHostsFile") else line.rstrip("\n")
            for line in f
        ]
    ssh_config.write_text("\n".join(lines) + "\n")
    client = Stagefix(binary=rig["STAGEFIX_BINARY"], ssh_config=ssh_config, timeout=10)
    with pytest.raises(HostKeyError) as caught:
        client.flush(host)
    assert caught.value.exit_code == 76


def test_an_unresolvable_host_raises_unreachable(rig, tmp_path):
    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text("")
    client = Stagefix(binary=rig["STAGEFIX_BINARY"], ssh_config=ssh_config, timeout=10)
    with pytest.raises(UnreachableError) as caught:
        client.flush("staging.no-such-host.invalid")
    assert caught.value.exit_code == 69


# ---------------------------------------------------------------------------------------------------
# play (skipped when the binary has no `play` command yet)

PLAYBOOK = textwrap.dedent(
    """\
    name: pyclient-fresh-login
    description: flush, then a session per user
    vars:
      users:
        type: list
        default: [edith@example.com]
    steps:
      - name: empty the database
        flush: {}
      - name: log the users in
        create_session:
          emails: "{{ users }}"
        register: logins
    """
)


@pytest.fixture(scope="module")
def has_play(rig):
    probe = subprocess.run(
        [rig["STAGEFIX_BINARY"], "play", "--help"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    if probe.returncode != 0:
        pytest.skip("this stagefix has no `play` command")


@pytest.fixture
def playbook(tmp_path, has_play):
    path = tmp_path / "fresh-login.yml"
    path.write_text(PLAYBOOK)
    return path


def test_play_flushes_and_registers_sessions(client, host, playbook, site_whoami):
    (old,) = client.create_session(host, "old@example.com")
    result = client.play(playbook, hosts=[host], vars={"users": ["edith@example.com", "o'brien@example.com"]})
    assert result["ok"] is True and result["exit_code"] == 0
    (host_report,) = result["hosts"]
    assert [step["status"] for step in host_report["steps"]] == ["ok", "ok"]
    sessions = play_sessions(result, "logins")
    assert [s.email for s in sessions] == ["edith@example.com", "o'brien@example.com"]
    for session in sessions:
        assert site_whoami(session.cookie_header()) == logged_in_as(session.email)
    assert site_whoami(old.cookie_header()) == "anonymous"


def test_play_dry_run_contacts_nothing(client, host, playbook, site_whoami):
    (session,) = client.create_session(host, "edith@example.com")
    result = client.play(playbook, hosts=host, dry_run=True)
    assert result["dry_run"] is True
    assert {step["status"] for step in result["hosts"][0]["steps"]} == {"planned"}
    assert site_whoami(session.cookie_header()) == logged_in_as("edith@example.com")


def test_play_on_a_production_host_raises_guard_refused(rig, host, playbook, production_config):
    guarded = Stagefix(binary=rig["STAGEFIX_BINARY"], ssh_config=rig["RIG_SSH_CONFIG"], config=production_config)
    with pytest.raises(GuardRefused) as caught:
        guarded.play(playbook, hosts=[host])
    assert caught.value.message.startswith(host + ": ")
    assert caught.value.result["hosts"][0]["exit_code"] == 77


def test_play_with_a_bad_playbook_raises_invalid_input(client, host, tmp_path, has_play):
    path = tmp_path / "bad.yml"
    path.write_text("name: bad\nsteps:\n  - name: nope\n    no_such_step: {}\n")
    with pytest.raises(InvalidInputError):
        client.play(path, hosts=[host])


# ---------------------------------------------------------------------------------------------------
# The pytest plugin's fixtures against the rig


def test_plugin_fixtures_against_the_rig(pytester, rig, monkeypatch):
    monkeypatch.setenv("STAGEFIX_HOST", rig["RIG_HOST"])
    monkeypatch.delenv("TEST_SERVER", raising=False)
    monkeypatch.setenv("STAGEFIX_SSH_CONFIG", rig["RIG_SSH_CONFIG"])
    monkeypatch.delenv("STAGEFIX_CONFIG", raising=False)
    pytester.makepyfile(
        """
        import ssl
        import urllib.request

        URL = %r + "whoami/"
        TLS = ssl.create_default_context(cafile=%r)
        OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=TLS))

        def whoami(session=None):
            request = urllib.request.Request(URL)
            if session is not None:
                request.add_header("Cookie", session.cookie_header())
            return OPENER.open(request, timeout=10).read().decode().strip()

        def test_logged_in(fresh_staging, staging_session):
            session = staging_session("edith@example.com")
            assert whoami(session) == "logged in as edith@example.com"

        def test_fresh_staging_logs_everyone_out(staging_session, stagefix_client, staging_host):
            session = staging_session("bob@example.com")
            assert whoami(session) == "logged in as bob@example.com"
            stagefix_client.flush(staging_host)
            assert whoami(session) == "anonymous"
        """
        % (rig["RIG_SITE_URL"], rig["RIG_SITE_CA"])
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=2)


# Mail: the magic-link flow of the rig's site (Django's file email backend)


def _post_login_form(rig, email):
    import urllib.parse
    import urllib.request

    data = urllib.parse.urlencode({"email": email}).encode()
    request = urllib.request.Request(rig["RIG_SITE_URL"] + "accounts/send_login_email", data=data, headers={"Host": rig["RIG_HOST"]})
    assert b"check your email" in site_opener(rig).open(request, timeout=10).read()


def test_wait_for_email_returns_the_magic_link_that_logs_in(client, host, rig):
    import http.cookiejar
    import urllib.parse
    import urllib.request

    source = "django-files:~/sites/%s/sent_emails" % host
    mark = client.reset_mail(host, source=source)
    assert mark.startswith("mark:")
    _post_login_form(rig, "edith@example.com")
    email = client.wait_for_email(host, "edith@example.com", subject="login link", source=source, timeout=15)
    assert email.to == ["edith@example.com"]
    assert email.header("X-Superlists-Notification-Type") == "login"
    assert "Use this link to log in" in email.body
    link = email.link(r"token=")
    # The link names the site by its host name on https's port 443: send it to the rig's address instead.
    parts = urllib.parse.urlsplit(link)
    assert (parts.scheme, parts.netloc) == ("https", host)
    local = urllib.parse.urlunsplit(("https", "%s:%s" % (rig["RIG_ADDR"], rig["RIG_SITE_PORT"]), parts.path, parts.query, ""))
    jar = http.cookiejar.CookieJar()
    opener = site_opener(rig, urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(urllib.request.Request(local, headers={"Host": host}), timeout=10).read().decode()
    assert "logged in as edith@example.com" in page


def test_wait_for_email_times_out_naming_what_arrived(client, host, rig):
    from stagefix import StagefixTimeout

    source = "django-files:~/sites/%s/sent_emails" % host
    client.reset_mail(host, source=source)
    _post_login_form(rig, "someone-else@example.com")
    with pytest.raises(StagefixTimeout) as caught:
        client.wait_for_email(host, "expected@example.com", source=source, timeout=1)
    assert caught.value.exit_code == 75
    assert "someone-else@example.com" in str(caught.value)



def test_a_mailbox_on_this_machine_needs_no_host(client, tmp_path):
    # What `stagefix mail serve` writes: a Maildir here, read without SSH.
    source = "maildir:%s" % tmp_path
    mark = client.reset_mail(None, source=source)
    assert mark.startswith("mark:")
    (tmp_path / "new").mkdir(exist_ok=True)
    (tmp_path / "new" / "1.local").write_bytes(
        b"To: edith@example.com\r\nSubject: Your login link\r\n\r\nhttp://staging.test/accounts/login?token=t1\r\n"
    )
    email = client.wait_for_email(None, "edith@example.com", subject="login link", source=source, timeout=5)
    assert email.link(r"token=") == "http://staging.test/accounts/login?token=t1"
    with pytest.raises(ValueError):
        client.wait_for_email(None, "edith@example.com")


# ---------------------------------------------------------------------------------------------------
# Warm by default: one agent per client, stopped by close()


def _django_starts(rig):
    with open(rig["RIG_SITE_DIR"] + "/starts.log") as log:
        return sum(1 for line in log if line.rstrip("\n").endswith(" " + rig["RIG_HOST"]))


def _processes_naming(text):
    """Pids of running processes whose command line contains ``text``."""
    import pathlib

    found = []
    for proc in pathlib.Path("/proc").glob("[0-9]*"):
        try:
            if text.encode() in (proc / "cmdline").read_bytes():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def test_the_client_is_warm_by_default_and_close_stops_its_agent(rig, host, site_whoami):
    import os

    with Stagefix(binary=rig["STAGEFIX_BINARY"], ssh_config=rig["RIG_SSH_CONFIG"], timeout=30) as client:
        first = client.create_session_cookie(host, "warm-first@example.com")
        socket = client.agent_socket
        assert socket and os.path.exists(socket), client.warm_failure
        starts = _django_starts(rig)
        second = client.create_session_cookie(host, "warm-second@example.com", flush_first=True)
        client.flush(host)
        third = client.create_session_cookie(host, "warm-third@example.com")
        assert _django_starts(rig) == starts, "the agent's Django served the later fixtures"
        assert site_whoami(first.cookie_header()) == "anonymous"
        assert site_whoami(second.cookie_header()) == "anonymous"
        assert site_whoami(third.cookie_header()) == logged_in_as("warm-third@example.com")
        assert _processes_naming(socket), "the agent runs while the client is open"
    assert not os.path.exists(os.path.dirname(socket)), "close() removed the agent's folder"
    assert _processes_naming(socket) == [], "close() stopped the agent"


def test_clients_made_per_test_share_one_agent(rig, host, site_whoami):
    # As a unittest setUp does it: a new client for every test.
    clients = [Stagefix(binary=rig["STAGEFIX_BINARY"], ssh_config=rig["RIG_SSH_CONFIG"], timeout=30) for _ in range(3)]
    try:
        for number, client in enumerate(clients):
            session = client.create_session_cookie(host, "per-test-%d@example.com" % number)
            assert site_whoami(session.cookie_header()) == logged_in_as("per-test-%d@example.com" % number)
        sockets = {client.agent_socket for client in clients}
        assert len(sockets) == 1 and None not in sockets, sockets
        assert len(_processes_naming(sockets.pop())) == 1, "one agent for all of them"
    finally:
        clients[0].close()


def test_a_cold_client_starts_no_agent(rig, host, site_whoami):
    client = Stagefix(binary=rig["STAGEFIX_BINARY"], ssh_config=rig["RIG_SSH_CONFIG"], timeout=30, warm=False)
    before = _django_starts(rig)
    session = client.create_session_cookie(host, "cold@example.com")
    assert client.agent_socket is None
    assert _django_starts(rig) == before + 1, "a cold session starts Django on the server"
    assert site_whoami(session.cookie_header()) == logged_in_as("cold@example.com")


def test_the_plugin_runs_one_agent_for_the_test_run_and_stops_it_at_the_end(pytester, rig, monkeypatch, tmp_path):
    monkeypatch.setenv("STAGEFIX_HOST", rig["RIG_HOST"])
    monkeypatch.delenv("TEST_SERVER", raising=False)
    monkeypatch.delenv("STAGEFIX_WARM", raising=False)
    monkeypatch.setenv("STAGEFIX_SSH_CONFIG", rig["RIG_SSH_CONFIG"])
    record = tmp_path / "sockets.txt"
    pytester.makepyfile(
        """
        import os

        def test_one(staging_session, stagefix_client):
            staging_session("plugin-one@example.com")
            with open(%(record)r, "a") as f:
                f.write("%%s %%d\\n" %% (stagefix_client.agent_socket, os.path.exists(stagefix_client.agent_socket or "")))

        def test_two(staging_session, stagefix_client):
            staging_session("plugin-two@example.com")
            with open(%(record)r, "a") as f:
                f.write("%%s %%d\\n" %% (stagefix_client.agent_socket, os.path.exists(stagefix_client.agent_socket or "")))
        """
        % {"record": str(record)}
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=2)
    lines = record.read_text().split("\n")[:-1]
    sockets = {line.rsplit(" ", 1)[0] for line in lines}
    assert len(lines) == 2 and len(sockets) == 1 and all(line.endswith(" 1") for line in lines), lines
    (socket,) = sockets
    assert _processes_naming(socket) == [], "the agent ended with the test run"
