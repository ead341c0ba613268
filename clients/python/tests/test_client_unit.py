"""Unit tests against a fake stagefix binary: argument lists, exit codes -> exceptions, parsing."""

from __future__ import annotations

import os
import pickle
import subprocess

import pytest

import stagefix
from stagefix import (
    AuthenticationError,
    BinaryNotFound,
    ConfigurationError,
    GuardRefused,
    HostKeyError,
    InvalidInputError,
    RemoteCommandError,
    Session,
    Stagefix,
    StagefixError,
    StagefixTimeout,
    UnreachableError,
    UsageError,
    play_sessions,
)

HOST = "staging.example.com"

EXIT_CODE_CASES = [
    (1, RemoteCommandError, "remote_failure"),
    (64, UsageError, "usage"),
    (65, InvalidInputError, "invalid_data"),
    (67, AuthenticationError, "authentication"),
    (69, UnreachableError, "unreachable"),
    (75, StagefixTimeout, "timeout"),
    (76, HostKeyError, "host_key"),
    (77, GuardRefused, "guard"),
    (78, ConfigurationError, "configuration"),
]

TRICKY_EMAILS = [
    "o'brien@example.com",
    '"john..doe"@example.com',
    "a$(touch PWNED)@example.com",
    "semi;colon&amp@example.com",
    "sp ace@example.com",
    "-dash@example.com",
]


def cookie(key):
    return {
        "domain": HOST,
        "expiry": 1796719990,
        "httpOnly": True,
        "name": "sessionid",
        "path": "/",
        "sameSite": "Lax",
        "secure": False,
        "value": key,
    }


def sessions_document(*emails):
    return {
        "ok": True,
        "host": HOST,
        "cookie_name": "sessionid",
        "sessions": [{"email": e, "key": "key%d" % i, "cookie": cookie("key%d" % i)} for i, e in enumerate(emails)],
    }


def json_error(code, kind, message):
    return {"ok": False, "error": {"exit_code": code, "kind": kind, "message": message}}


@pytest.fixture
def client(fake_stagefix):
    return Stagefix(binary=str(fake_stagefix.path))


# ---------------------------------------------------------------------------------------------------
# Exit codes -> exceptions


@pytest.mark.parametrize("code,cls,kind", EXIT_CODE_CASES)
def test_json_error_maps_to_typed_exception(fake_stagefix, client, code, cls, kind):
    fake_stagefix.answer(
        stdout=json_error(code, kind, "the message for %d" % code),
        stderr="stagefix: the message for %d\n" % code,
        exit=code,
    )
    with pytest.raises(cls) as caught:
        client.create_session(HOST, "edith@example.com")
    error = caught.value
    assert isinstance(error, StagefixError)
    assert type(error) is cls
    assert error.exit_code == code
    assert error.returncode == code
    assert error.kind == kind
    assert error.message == "the message for %d" % code
    assert str(error) == "the message for %d" % code
    assert error.stderr == "stagefix: the message for %d\n" % code
    assert error.argv[0] == str(fake_stagefix.path)


@pytest.mark.parametrize("code,cls,kind", EXIT_CODE_CASES)
def test_stderr_only_error_maps_to_typed_exception(fake_stagefix, client, code, cls, kind):
    fake_stagefix.answer(stderr="stagefix: failed with %d\n" % code, exit=code)
    with pytest.raises(cls) as caught:
        client.env_get(HOST, "SITENAME")
    assert caught.value.exit_code == code
    assert caught.value.kind == kind
    assert caught.value.message == "failed with %d" % code


def test_timeout_is_also_a_builtin_timeout_error(fake_stagefix, client):
    fake_stagefix.answer(stdout=json_error(75, "timeout", "timed out after 5.0 s"), exit=75)
    with pytest.raises(TimeoutError):
        client.flush(HOST)


def test_multi_line_message_is_kept_whole(fake_stagefix, client):
    message = "refused by the production guard; nothing was run:\n  - role: production\n  - address: same"
    fake_stagefix.answer(stdout=json_error(77, "guard", message), stderr="stagefix: " + message + "\n", exit=77)
    with pytest.raises(GuardRefused) as caught:
        client.flush(HOST)
    assert caught.value.message == message
    fake_stagefix.answer(stderr="stagefix: " + message + "\n", exit=77)
    with pytest.raises(GuardRefused) as caught:
        client.env_get(HOST, "SITENAME")
    assert caught.value.message == message


def test_unknown_exit_code_is_the_base_class(fake_stagefix, client):
    fake_stagefix.answer(stderr="stagefix: something new\n", exit=3)
    with pytest.raises(StagefixError) as caught:
        client.flush(HOST)
    assert type(caught.value) is StagefixError
    assert caught.value.exit_code == 3
    assert caught.value.message == "something new"


def test_argument_parser_error_without_json_is_a_usage_error(fake_stagefix, client):
    fake_stagefix.answer(
        stderr="Error: Missing expected argument '<host>'\nUsage: stagefix session create <host> ...\n", exit=64
    )
    with pytest.raises(UsageError) as caught:
        client.create_session(HOST, "a@example.com")
    assert caught.value.message == "Missing expected argument '<host>'"


def test_error_message_comes_after_relayed_remote_output(fake_stagefix, client):
    fake_stagefix.answer(
        stderr="Unknown command: 'nope'\nType 'manage.py help' for usage.\nstagefix: manage.py nope failed (exit status 1)\n",
        exit=1,
    )
    with pytest.raises(RemoteCommandError) as caught:
        client.manage(HOST, "nope")
    assert caught.value.message == "manage.py nope failed (exit status 1)"
    assert "Unknown command" in caught.value.stderr


def test_exceptions_pickle_with_their_attributes():
    error = GuardRefused("no", stderr="stagefix: no\n", argv=["stagefix", "db"], result={"ok": False})
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is GuardRefused
    assert (copy.exit_code, copy.kind, copy.message, copy.stderr, copy.argv, copy.result) == (
        77,
        "guard",
        "no",
        "stagefix: no\n",
        ["stagefix", "db"],
        {"ok": False},
    )


def test_every_documented_exit_code_has_a_class():
    assert {code: cls for code, cls, _ in EXIT_CODE_CASES} == stagefix.EXIT_CODES
    assert stagefix.error_class(12) is StagefixError


# ---------------------------------------------------------------------------------------------------
# Arguments: a list, never a shell


def test_create_session_argv_and_tricky_emails_reach_argv_intact(fake_stagefix, tmp_path, monkeypatch):
    fake_stagefix.answer(stdout=sessions_document(*TRICKY_EMAILS))
    ssh_config = tmp_path / "ssh config with spaces"
    config = tmp_path / "stagefix.yml"
    client = Stagefix(binary=str(fake_stagefix.path), ssh_config=ssh_config, config=config, timeout=12.5)
    monkeypatch.chdir(tmp_path)
    sessions = client.create_session(HOST, *TRICKY_EMAILS)
    assert fake_stagefix.last_argv == [
        "session",
        "create",
        "--ssh-config",
        str(ssh_config),
        "--config",
        str(config),
        "--timeout",
        "12.5",
        "--format",
        "json",
        "--",
        HOST,
    ] + TRICKY_EMAILS
    assert not (tmp_path / "PWNED").exists()
    assert [s.email for s in sessions] == TRICKY_EMAILS
    assert fake_stagefix.calls[-1]["stdin"] == ""


def test_never_through_a_shell(fake_stagefix, client, monkeypatch):
    seen = []
    real_run = subprocess.run

    def spy(args, *a, **kw):
        seen.append((args, kw.get("shell", False)))
        return real_run(args, *a, **kw)

    monkeypatch.setattr(subprocess, "run", spy)
    fake_stagefix.answer(stdout=sessions_document("o'brien@example.com"))
    client.create_session(HOST, "o'brien@example.com")
    fake_stagefix.answer(stdout={"ok": True, "flushed": True, "host": HOST})
    client.flush(HOST)
    fake_stagefix.answer(stdout="value\n")
    client.env_get(HOST, "SITENAME")
    client.manage(HOST, "check")
    client.exec(HOST, "uptime")
    fake_stagefix.answer(stdout={"ok": True, "exit_code": 0, "hosts": []})
    client.play("p.yml", hosts=[HOST])
    assert len(seen) == 6
    for args, shell in seen:
        assert isinstance(args, list) and shell is False


def test_options_are_left_out_when_not_given(fake_stagefix, client):
    fake_stagefix.answer(stdout={"ok": True, "flushed": True, "host": HOST})
    assert client.flush(HOST) == {"ok": True, "flushed": True, "host": HOST}
    assert fake_stagefix.last_argv == ["db", "flush", "--yes", "--format", "json", "--", HOST]


def test_create_session_cookie_returns_one_session(fake_stagefix, client):
    fake_stagefix.answer(stdout=sessions_document("edith@example.com"))
    session = client.create_session_cookie(HOST, "edith@example.com")
    assert isinstance(session, Session)
    assert (session.email, session.key, session.cookie) == ("edith@example.com", "key0", cookie("key0"))


def test_flush_first_adds_flush_and_yes_before_the_host(fake_stagefix, client):
    fake_stagefix.answer(stdout=sessions_document("edith@example.com"))
    client.create_session(HOST, "edith@example.com", flush_first=True)
    argv = fake_stagefix.last_argv
    assert argv[:2] == ["session", "create"]
    assert argv.index("--flush") < argv.index("--") and argv.index("--yes") < argv.index("--")
    assert argv[-2:] == [HOST, "edith@example.com"]


def test_create_session_checks_its_arguments(client):
    with pytest.raises(ValueError):
        client.create_session(HOST)
    with pytest.raises(TypeError):
        client.create_session(HOST, b"bytes@example.com")
    with pytest.raises(ValueError):
        client.create_session(HOST, "nul\x00@example.com")


def test_create_session_rejects_a_short_answer(fake_stagefix, client):
    fake_stagefix.answer(stdout=sessions_document("a@example.com"))
    with pytest.raises(StagefixError):
        client.create_session(HOST, "a@example.com", "b@example.com")


def test_no_json_on_success_is_an_error(fake_stagefix, client):
    fake_stagefix.answer(stdout="k2v3u8yq0p9w1n4m7c6x5z2b8a0l3j9h\n")
    with pytest.raises(StagefixError, match="no JSON"):
        client.create_session(HOST, "a@example.com")


def test_env_get_strips_exactly_one_newline(fake_stagefix, client):
    fake_stagefix.answer(stdout="line one\nline two\n\n")
    assert client.env_get(HOST, "MULTI") == "line one\nline two\n"
    assert fake_stagefix.last_argv == ["env", "get", "--raw", "--", HOST, "MULTI"]


def test_manage_argv_each_argument_one_word(fake_stagefix, client):
    fake_stagefix.answer(stdout="1\n", stderr="")
    result = client.manage(HOST, "shell", "-c", "print(\"o'brien $HOME\")")
    assert fake_stagefix.last_argv == ["manage", HOST, "--", "shell", "-c", "print(\"o'brien $HOME\")"]
    assert (result.returncode, result.stdout) == (0, "1\n")
    client.manage(HOST, "flush", "--noinput", yes=True)
    assert fake_stagefix.last_argv == ["manage", "--yes", HOST, "--", "flush", "--noinput"]


def test_manage_check_false_returns_remote_failure_but_raises_guard(fake_stagefix, client):
    fake_stagefix.answer(stderr="boom\nstagefix: manage.py x failed (exit status 1)\n", exit=1)
    result = client.manage(HOST, "x", check=False)
    assert result.returncode == 1 and "boom" in result.stderr
    fake_stagefix.answer(stderr="stagefix: refused by the production guard\n", exit=77)
    with pytest.raises(GuardRefused):
        client.manage(HOST, "x", check=False)


def test_hosts_starting_with_a_dash_are_refused_before_running(fake_stagefix, client):
    with pytest.raises(ValueError):
        client.exec("-oProxyCommand=x", "true")
    with pytest.raises(ValueError):
        client.manage("-x", "check")
    assert fake_stagefix.calls == []


def test_exec_string_and_word_list(fake_stagefix, client):
    fake_stagefix.answer(stdout="ok\n")
    client.exec(HOST, 'echo "$HOME"')
    assert fake_stagefix.last_argv == ["exec", "-n", HOST, "--", 'echo "$HOME"']
    client.exec(HOST, ["printf", "%s\n", "o'brien $HOME"])
    assert fake_stagefix.last_argv == ["exec", "-n", HOST, "--", "printf '%s\n' 'o'\"'\"'brien $HOME'"]
    result = client.exec(HOST, "cat", input="to stdin")
    assert fake_stagefix.last_argv == ["exec", HOST, "--", "cat"]
    assert fake_stagefix.calls[-1]["stdin"] == "to stdin"
    assert result.stdout == "ok\n"


def test_exec_remote_status(fake_stagefix, client):
    fake_stagefix.answer(stdout="out\n", stderr="Error: from the remote program\n", exit=1)
    assert client.exec(HOST, "false", check=False).returncode == 1
    fake_stagefix.answer(stderr="err\n", exit=3)
    assert client.exec(HOST, "exit 3", check=False).returncode == 3
    with pytest.raises(RemoteCommandError) as caught:
        client.exec(HOST, "exit 3")
    assert caught.value.exit_code == 3
    assert caught.value.stderr == "err\n"
    fake_stagefix.answer(stderr="stagefix: remote command killed by signal TERM\n", exit=143)
    assert client.exec(HOST, "sleep 100", check=False).returncode == 143


@pytest.mark.parametrize("code,cls,kind", EXIT_CODE_CASES[1:])
def test_exec_stagefix_errors_raise_even_without_check(fake_stagefix, client, code, cls, kind):
    fake_stagefix.answer(stderr="stagefix: own error %d\n" % code, exit=code)
    with pytest.raises(cls) as caught:
        client.exec(HOST, "true", check=False)
    assert caught.value.message == "own error %d" % code


def test_exec_bytes_output(fake_stagefix, client):
    fake_stagefix.answer(stdout="\u00e9")
    assert client.exec(HOST, "x", text=False).stdout == "\u00e9".encode("utf-8")


# ---------------------------------------------------------------------------------------------------
# play


def play_report(*hosts, ok=True, exit_code=0):
    return {"ok": ok, "playbook": "p", "dry_run": False, "exit_code": exit_code, "hosts": list(hosts)}


def host_report(host, exit_code=0, error=None, registered=None):
    return {
        "host": host,
        "ok": exit_code == 0,
        "exit_code": exit_code,
        "error": error,
        "duration_ms": 1,
        "steps": [],
        "registered": registered or {},
    }


def test_play_argv(fake_stagefix, client):
    report = play_report(host_report(HOST))
    fake_stagefix.answer(stdout=report)
    result = client.play(
        "playbooks/fresh-login.yml",
        hosts=[HOST, "b.staging.example.com"],
        vars={"users": ["edith@example.com", "o'brien@example.com"], "page": "/a b/", "n": 3, "flag": True},
        dry_run=True,
        forks=2,
        lock_timeout=600,
    )
    assert result == report
    assert fake_stagefix.last_argv == [
        "play",
        "--host",
        HOST,
        "--host",
        "b.staging.example.com",
        "--var",
        "users=edith@example.com,o'brien@example.com",
        "--var",
        "page=/a b/",
        "--var",
        "n=3",
        "--var",
        "flag=true",
        "--dry-run",
        "--forks",
        "2",
        "--lock-timeout",
        "600.0",
        "--format",
        "json",
        "--",
        "playbooks/fresh-login.yml",
    ]


def test_play_one_host_as_a_string(fake_stagefix, client):
    fake_stagefix.answer(stdout=play_report(host_report(HOST)))
    client.play("p.yml", hosts=HOST)
    assert fake_stagefix.last_argv == ["play", "--host", HOST, "--format", "json", "--", "p.yml"]


def test_play_rejects_unrepresentable_vars(client):
    with pytest.raises(ValueError):
        client.play("p.yml", vars={"users": ["a,b@example.com"]})
    with pytest.raises(ValueError):
        client.play("p.yml", vars={"a=b": "c"})


def test_play_failure_raises_with_the_failed_hosts_error(fake_stagefix, client):
    guard = {"exit_code": 77, "kind": "guard", "message": "refused by the production guard"}
    report = play_report(host_report(HOST), host_report("www.example.com", 77, guard), ok=False, exit_code=77)
    fake_stagefix.answer(stdout=report, stderr="stagefix: www.example.com: refused\n", exit=77)
    with pytest.raises(GuardRefused) as caught:
        client.play("p.yml", hosts=[HOST, "www.example.com"])
    assert caught.value.message == "www.example.com: refused by the production guard"
    assert caught.value.kind == "guard"
    assert caught.value.result == report


def test_play_exception_follows_the_exit_code(fake_stagefix, client):
    failed = {"exit_code": 1, "kind": "remote_failure", "message": "flush failed"}
    guard = {"exit_code": 77, "kind": "guard", "message": "refused"}
    report = play_report(host_report("a.staging", 1, failed), host_report("b.staging", 77, guard), ok=False, exit_code=77)
    fake_stagefix.answer(stdout=report, exit=77)
    with pytest.raises(GuardRefused, match="^b.staging: refused$"):
        client.play("p.yml", hosts=["a.staging", "b.staging"])
    report = play_report(host_report("a.staging", 1, failed), ok=False, exit_code=1)
    fake_stagefix.answer(stdout=report, exit=1)
    with pytest.raises(RemoteCommandError, match="^a.staging: flush failed$"):
        client.play("p.yml", hosts=["a.staging"])


def test_play_error_before_any_host(fake_stagefix, client):
    fake_stagefix.answer(
        stdout=json_error(65, "invalid_data", "p.yml:3:5: unknown step kind"),
        stderr="stagefix: p.yml:3:5: unknown step kind\n",
        exit=65,
    )
    with pytest.raises(InvalidInputError, match="unknown step kind"):
        client.play("p.yml")


def test_play_sessions_from_registered(fake_stagefix, client):
    registered = {"logins": sessions_document("edith@example.com", "bob@example.com")}
    fake_stagefix.answer(stdout=play_report(host_report(HOST, registered=registered)))
    result = client.play("p.yml", hosts=[HOST])
    sessions = play_sessions(result, "logins")
    assert [s.email for s in sessions] == ["edith@example.com", "bob@example.com"]
    assert play_sessions(result, "logins", host=HOST) == sessions
    with pytest.raises(KeyError):
        play_sessions(result, "nothing")


# ---------------------------------------------------------------------------------------------------
# Environment, secrets, binary


def test_env_reaches_the_process_but_never_messages(fake_stagefix):
    secret = "hunter2-very-secret"
    client = Stagefix(binary=str(fake_stagefix.path), env={"STAGEFIX_SSH_PASSWORD": secret})
    fake_stagefix.answer(
        stdout=json_error(67, "authentication", "authentication failed: password"),
        stderr="stagefix: authentication failed: password\n",
        exit=67,
        env_keys=["STAGEFIX_SSH_PASSWORD", "PATH"],
    )
    with pytest.raises(AuthenticationError) as caught:
        client.create_session(HOST, "a@example.com")
    assert fake_stagefix.calls[-1]["env"]["STAGEFIX_SSH_PASSWORD"] == secret
    assert fake_stagefix.calls[-1]["env"]["PATH"] == os.environ["PATH"]
    error = caught.value
    for text in (str(error), repr(error), " ".join(error.argv), repr(client), error.stdout, error.stderr):
        assert secret not in text
    assert secret not in repr(pickle.loads(pickle.dumps(error)).__dict__)


def test_binary_from_environment_and_path(fake_stagefix, monkeypatch):
    monkeypatch.setenv("STAGEFIX_BINARY", str(fake_stagefix.path))
    assert Stagefix().binary == str(fake_stagefix.path)
    monkeypatch.delenv("STAGEFIX_BINARY")
    monkeypatch.setenv("PATH", str(fake_stagefix.directory))
    assert Stagefix().binary == str(fake_stagefix.path)
    monkeypatch.setenv("PATH", str(fake_stagefix.directory.parent))
    with pytest.raises(BinaryNotFound):
        Stagefix()
    with pytest.raises(FileNotFoundError):
        Stagefix(binary=str(fake_stagefix.directory / "missing"))


def test_from_env(fake_stagefix, tmp_path):
    client = Stagefix.from_env(
        {
            "STAGEFIX_BINARY": str(fake_stagefix.path),
            "STAGEFIX_SSH_CONFIG": str(tmp_path / "ssh_config"),
            "STAGEFIX_CONFIG": "",
            "STAGEFIX_TIMEOUT": "7",
        }
    )
    assert (client.ssh_config, client.config, client.timeout) == (str(tmp_path / "ssh_config"), None, 7.0)
    assert Stagefix.from_env({"STAGEFIX_BINARY": str(fake_stagefix.path)}, timeout=3).timeout == 3.0


def test_timeout_must_be_positive(fake_stagefix):
    with pytest.raises(ValueError):
        Stagefix(binary=str(fake_stagefix.path), timeout=0)


# ---------------------------------------------------------------------------------------------------
# Session helpers


def test_session_cookie_shapes():
    session = Session.from_json({"email": "edith@example.com", "key": "abc123", "cookie": cookie("abc123")})
    assert session.selenium_cookie() == cookie("abc123")
    assert session.selenium_cookie() is not session.cookie
    assert "domain" not in session.selenium_cookie(host_only=True)
    assert session.selenium_cookie(domain="10.0.0.5")["domain"] == "10.0.0.5"
    assert session.playwright_cookie() == {
        "name": "sessionid",
        "value": "abc123",
        "domain": HOST,
        "path": "/",
        "expires": 1796719990,
        "httpOnly": True,
        "secure": False,
        "sameSite": "Lax",
    }
    by_url = session.playwright_cookie(url="http://10.0.0.5:8000/")
    assert by_url["url"] == "http://10.0.0.5:8000/" and "domain" not in by_url and "path" not in by_url
    assert session.cookie_header() == "sessionid=abc123"
    assert "abc123" not in repr(session)


def test_session_without_cookie_defaults():
    session = Session.from_json({"email": "a@example.com", "key": "k"})
    assert session.cookie == {"name": "sessionid", "value": "k", "path": "/"}
    assert session.playwright_cookie()["expires"] == -1


def test_a_binary_that_vanishes_or_cannot_execute(fake_stagefix, client):
    fake_stagefix.path.write_bytes(b"\x00\x01\x02 not a program")
    with pytest.raises(StagefixError) as caught:
        client.flush(HOST)
    assert not isinstance(caught.value, BinaryNotFound)
    assert caught.value.exit_code is None
    fake_stagefix.path.unlink()
    with pytest.raises(BinaryNotFound):
        client.flush(HOST)


def test_a_local_mailbox_has_no_host_word(fake_stagefix, client):
    fake_stagefix.answer(stdout='{"ok": true, "host": null, "mark": "mark:1"}\n')
    assert client.reset_mail(None, source="maildir:/tmp/captured") == "mark:1"
    assert "--" not in fake_stagefix.last_argv
    argv = fake_stagefix.last_argv
    assert argv[argv.index("--source") + 1] == "maildir:/tmp/captured"
    with pytest.raises(ValueError):
        client.reset_mail(None)


# Warm by default: an agent of the client's own, or cold when none starts.


def test_the_client_is_warm_by_default_and_runs_cold_when_no_agent_starts(fake_stagefix):
    client = Stagefix(binary=str(fake_stagefix.path))
    assert client.warm is True
    fake_stagefix.answer(stdout=sessions_document("edith@example.com"), stderr="agent cannot start here\n", exit=0)
    (session,) = client.create_session(HOST, "edith@example.com")
    agent_call, session_call = fake_stagefix.calls
    # The fake exits at once instead of making the socket: the client gives up on warm and says why.
    assert agent_call["argv"][:2] == ["agent", "--socket"] and agent_call["argv"][3:] == ["--idle", "600"]
    assert "--warm" not in session_call["argv"]
    assert session.key == "key0"
    assert "agent cannot start here" in client.warm_failure
    # Given up once, not tried again on every fixture.
    fake_stagefix.answer(stdout={"ok": True, "flushed": True})
    client.flush(HOST)
    assert [call["argv"][0] for call in fake_stagefix.calls] == ["agent", "session", "db"]


def test_warm_false_starts_no_agent_and_an_inherited_STAGEFIX_WARM_does_not_turn_it_on(fake_stagefix, monkeypatch):
    monkeypatch.setenv("STAGEFIX_WARM", "1")
    client = Stagefix(binary=str(fake_stagefix.path), warm=False)
    fake_stagefix.answer(stdout=sessions_document("edith@example.com"), env_keys=["STAGEFIX_WARM", "STAGEFIX_AGENT_SOCKET"])
    client.create_session(HOST, "edith@example.com")
    (call,) = fake_stagefix.calls
    assert "--warm" not in call["argv"]
    assert call["env"] == {"STAGEFIX_WARM": None, "STAGEFIX_AGENT_SOCKET": None}


@pytest.mark.parametrize("value, warm", [("0", False), ("false", False), ("Off", False), ("no", False), ("1", True), ("", True)])
def test_from_env_reads_STAGEFIX_WARM(fake_stagefix, value, warm):
    client = Stagefix.from_env({"STAGEFIX_BINARY": str(fake_stagefix.path), "STAGEFIX_WARM": value})
    assert client.warm is warm
