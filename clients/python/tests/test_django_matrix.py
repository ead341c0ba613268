"""The Django runner's operations on every supported Django: one rig site per cell (scripts/test brings
them up: Django 4.2 LTS and 5.2 LTS on Debian's Python 3.11, Django 6 on CPython 3.13), each proved by
the site itself over https: check, sessions from the site's create_session and stagefix's built-in one,
flush, the database marker, and warm mode.

STAGEFIX_DJANGO_MATRIX lists the cells, space-separated, each DJANGO=PYTHON=RIG_ENV (the versions the
cell must run, major.minor, and its rig.env); run with -v to see each cell named.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest
from conftest import read_rig_env, whoami

pytestmark = pytest.mark.integration

CELLS = [entry.split("=", 2) for entry in os.environ.get("STAGEFIX_DJANGO_MATRIX", "").split()]


@pytest.fixture(scope="module", params=CELLS or [None], ids=["django-%s-python-%s" % (d, p) for d, p, _ in CELLS] or ["no-cells"])
def cell(request):
    if request.param is None:
        pytest.skip("the Django matrix needs STAGEFIX_DJANGO_MATRIX (scripts/test sets it)")
    binary = os.environ.get("STAGEFIX_BINARY")
    if not binary:
        pytest.skip("the Django matrix needs STAGEFIX_BINARY")
    django, python, rig_env = request.param
    values = read_rig_env(rig_env)
    values.update(STAGEFIX_BINARY=binary, EXPECTED_DJANGO=django, EXPECTED_PYTHON=python)
    return values


def stagefix(cell, command, *arguments, env=None):
    """``stagefix COMMAND -F SSH_CONFIG HOST ARGUMENTS...`` against the cell's site (COMMAND: "db flush")."""
    result = subprocess.run(
        [cell["STAGEFIX_BINARY"], *command.split(), "-F", cell["RIG_SSH_CONFIG"], cell["RIG_HOST"], *arguments],
        capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL, env=dict(os.environ, **(env or {})),
    )
    return result


def key_of(result):
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def logged_in(cell, key):
    return whoami(cell, "sessionid=%s" % key)


def test_the_cell_runs_the_django_and_python_it_names(cell):
    versions = subprocess.run(
        ["ssh", "-F", cell["RIG_SSH_CONFIG"], "-o", "BatchMode=yes", cell["RIG_HOST"],
         "cd ~/sites/%s && .venv/bin/python -c 'import sys, django; print(django.get_version(), \"%%d.%%d\" %% sys.version_info[:2])'" % cell["RIG_HOST"]],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    assert versions.returncode == 0, versions.stderr
    django_version, python_version = versions.stdout.split()
    assert (django_version + ".").startswith(cell["EXPECTED_DJANGO"] + ".")
    assert python_version == cell["EXPECTED_PYTHON"]


def test_check_reports_the_site_and_its_create_session(cell):
    result = stagefix(cell, "check", "--format", "json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert report["checks"] and not [check for check in report["checks"] if check["ok"] is False], report


def test_the_sites_create_session_and_the_builtin_one_log_in_and_flush_logs_both_out(cell):
    site_key = key_of(stagefix(cell, "session create", "matrix-site@example.com"))
    builtin_key = key_of(stagefix(cell, "session create", "--builtin", "matrix-builtin@example.com"))
    assert logged_in(cell, site_key) == "logged in as matrix-site@example.com"
    assert logged_in(cell, builtin_key) == "logged in as matrix-builtin@example.com"
    flushed = stagefix(cell, "db flush", "--yes", "--format", "json")
    assert flushed.returncode == 0, flushed.stderr
    assert logged_in(cell, site_key) == "anonymous"
    assert logged_in(cell, builtin_key) == "anonymous"


def test_a_marked_database_satisfies_require_db_marker(cell, tmp_path):
    config = tmp_path / "stagefix.yml"
    config.write_text("guard:\n  require_db_marker: true\n")
    refused = stagefix(cell, "session create", "-c", str(config), "unmarked@example.com")
    marked = stagefix(cell, "db mark", "staging")
    assert marked.returncode == 0, marked.stderr
    allowed = stagefix(cell, "session create", "-c", str(config), "marked@example.com")
    # Before the mark the guard refused; after it the same command logs in.
    assert refused.returncode == 77, refused.stderr
    assert logged_in(cell, key_of(allowed)) == "logged in as marked@example.com"
    # A flush keeps the mark (it is the database's own record, not a row flush empties).
    assert stagefix(cell, "db flush", "--yes", "-c", str(config)).returncode == 0
    assert stagefix(cell, "session create", "-c", str(config), "after-flush@example.com").returncode == 0


@pytest.fixture
def agent(cell, tmp_path):
    """A warm agent of our own (its socket in a 0700 folder), stopped at the end."""
    folder = tmp_path / "agent"
    folder.mkdir(mode=0o700)
    socket = str(folder / "agent.sock")
    process = subprocess.Popen(
        [cell["STAGEFIX_BINARY"], "agent", "--socket", socket, "--idle", "120"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 10
        while not os.path.exists(socket) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert os.path.exists(socket), "the agent did not make its socket"
        yield socket
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def django_starts(cell):
    with open(os.path.join(cell["RIG_SITE_DIR"], "starts.log")) as log:
        return sum(1 for line in log if line.rstrip("\n").endswith(" " + cell["RIG_HOST"]))


def test_warm_sessions_log_in_without_new_django_starts(cell, agent):
    warm = {"STAGEFIX_AGENT_SOCKET": agent}
    first = key_of(stagefix(cell, "session create", "--warm", "warm-1@example.com", env=warm))
    starts = django_starts(cell)
    second = key_of(stagefix(cell, "session create", "--warm", "--flush", "--yes", "warm-2@example.com", env=warm))
    assert django_starts(cell) == starts, "the agent's Django served the second request"
    assert logged_in(cell, first) == "anonymous", "the warm flush ended the first session"
    assert logged_in(cell, second) == "logged in as warm-2@example.com"
