"""The pytest plugin (entry point pytest11): fixtures, skipping, configuration from the environment."""

from __future__ import annotations

import json

import pytest

HOST = "staging.example.com"


def session_json(email):
    return {
        "ok": True,
        "host": HOST,
        "sessions": [{"email": email, "key": "k-" + email, "cookie": {"name": "sessionid", "value": "k-" + email}}],
    }


@pytest.fixture
def no_staging_env(monkeypatch):
    for name in ("STAGEFIX_HOST", "TEST_SERVER", "STAGEFIX_BINARY", "STAGEFIX_SSH_CONFIG", "STAGEFIX_CONFIG", "STAGEFIX_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)


def test_plugin_is_registered_by_entry_point(pytestconfig):
    assert pytestconfig.pluginmanager.has_plugin("stagefix")


def test_staging_fixtures_skip_without_a_host(pytester, no_staging_env):
    pytester.makepyfile(
        """
        def test_host(staging_host):
            raise AssertionError("ran")

        def test_session(staging_session):
            raise AssertionError("ran")

        def test_fresh(fresh_staging):
            raise AssertionError("ran")
        """
    )
    result = pytester.runpytest_subprocess("-rs")
    result.assert_outcomes(skipped=3)
    result.stdout.fnmatch_lines(["*no staging host: set STAGEFIX_HOST or TEST_SERVER*"])


@pytest.mark.parametrize("variable", ["STAGEFIX_HOST", "TEST_SERVER"])
def test_fixtures_use_the_client_from_the_environment(pytester, no_staging_env, monkeypatch, fake_stagefix, tmp_path, variable):
    monkeypatch.setenv(variable, HOST)
    monkeypatch.setenv("STAGEFIX_BINARY", str(fake_stagefix.path))
    monkeypatch.setenv("STAGEFIX_SSH_CONFIG", str(tmp_path / "ssh_config"))
    monkeypatch.setenv("STAGEFIX_CONFIG", str(tmp_path / "stagefix.yml"))
    fake_stagefix.answer(stdout=session_json("edith@example.com"))
    pytester.makepyfile(
        """
        from stagefix import Session, Stagefix

        def test_it(fresh_staging, staging_session, stagefix_client, staging_host):
            assert fresh_staging == staging_host == %r
            assert isinstance(stagefix_client, Stagefix)
            session = staging_session("edith@example.com")
            assert isinstance(session, Session)
            assert session.cookie["value"] == "k-edith@example.com"
        """
        % HOST
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1)
    options = ["--ssh-config", str(tmp_path / "ssh_config"), "--config", str(tmp_path / "stagefix.yml")]
    calls = [call["argv"] for call in fake_stagefix.calls]
    # Warm by default: the run's one agent is tried first; the fake makes no socket, so the fixtures run cold.
    assert calls[0][:2] == ["agent", "--socket"]
    assert calls[1:] == [
        ["db", "flush"] + options + ["--yes", "--format", "json", "--", HOST],
        ["session", "create"] + options + ["--format", "json", "--", HOST, "edith@example.com"],
    ]


def test_a_refused_flush_fails_the_test_loudly(pytester, no_staging_env, monkeypatch, fake_stagefix):
    monkeypatch.setenv("STAGEFIX_HOST", "www.example.com")
    monkeypatch.setenv("STAGEFIX_BINARY", str(fake_stagefix.path))
    message = "refused by the production guard; nothing was run"
    fake_stagefix.answer(
        stdout=json.dumps({"ok": False, "error": {"kind": "guard", "message": message}}),
        stderr="stagefix: " + message + "\n",
        exit=77,
    )
    pytester.makepyfile(
        """
        def test_it(fresh_staging):
            pass
        """
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*GuardRefused*refused by the production guard*"])


def test_missing_binary_is_an_error_not_a_skip(pytester, no_staging_env, monkeypatch, tmp_path):
    monkeypatch.setenv("STAGEFIX_HOST", HOST)
    monkeypatch.setenv("STAGEFIX_BINARY", str(tmp_path / "nowhere" / "stagefix"))
    pytester.makepyfile(
        """
        def test_it(staging_session):
            pass
        """
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*BinaryNotFound*"])
