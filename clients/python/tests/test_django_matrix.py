"""The Django runner's operations on every supported Django: one rig site per cell (scripts/test brings
them up: Django 4.2 LTS and 5.2 LTS on Debian's Python 3.11, Django 6 on CPython 3.13), each proved by
the site itself over https. On the db session engine: check, sessions from the site's create_session
and stagefix's built-in one, flush, the database marker, and warm mode. On every other session engine
(cache, cached_db, file, signed_cookies): built-in sessions cold and warm, ended by a flush.

STAGEFIX_DJANGO_MATRIX lists the cells, space-separated, each DJANGO=PYTHON=ENGINE=RIG_ENV (the versions
the cell must run, major.minor, its session engine's last name, and its rig.env); run with -v to see
each cell named.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import time

import pytest
from conftest import read_rig_env, whoami

pytestmark = pytest.mark.integration

CELLS = [entry.split("=", 3) for entry in os.environ.get("STAGEFIX_DJANGO_MATRIX", "").split()]
DB_CELLS = [cell for cell in CELLS if cell[2] == "db"]
OTHER_ENGINE_CELLS = [cell for cell in CELLS if cell[2] != "db"]


def cell_ids(cells):
    return ["django-%s-python-%s-%s" % (django, python, engine) for django, python, engine, _ in cells]


def load_cell(entry):
    if entry is None:
        pytest.skip("the Django matrix needs STAGEFIX_DJANGO_MATRIX (scripts/test sets it)")
    binary = os.environ.get("STAGEFIX_BINARY")
    if not binary:
        pytest.skip("the Django matrix needs STAGEFIX_BINARY")
    django, python, engine, rig_env = entry
    values = read_rig_env(rig_env)
    values.update(STAGEFIX_BINARY=binary, EXPECTED_DJANGO=django, EXPECTED_PYTHON=python, ENGINE=engine)
    return values


@pytest.fixture(scope="module", params=DB_CELLS or [None], ids=cell_ids(DB_CELLS) or ["no-cells"])
def cell(request):
    return load_cell(request.param)


@pytest.fixture(scope="module", params=OTHER_ENGINE_CELLS or [None], ids=cell_ids(OTHER_ENGINE_CELLS) or ["no-cells"])
def engine_cell(request):
    return load_cell(request.param)


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


def assert_runs_what_it_names(cell):
    """The site's own interpreter, asked over ssh as the login user with the site's env: its Django,
    its Python, and the session engine its settings load."""
    versions = site_shell(cell, "import sys, django; from django.conf import settings; "
                                "print(django.get_version(), '%d.%d' % sys.version_info[:2], settings.SESSION_ENGINE)")
    # The last line: newer shells first say what they imported.
    django_version, python_version, engine = versions.strip().splitlines()[-1].split()
    assert (django_version + ".").startswith(cell["EXPECTED_DJANGO"] + ".")
    assert python_version == cell["EXPECTED_PYTHON"]
    assert engine == "django.contrib.sessions.backends." + cell["ENGINE"]


def test_the_cell_runs_the_django_python_and_engine_it_names(cell):
    assert_runs_what_it_names(cell)


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


def site_shell(cell, code):
    """Python in the site's Django (manage.py shell, the site's env), over ssh as the login user."""
    result = subprocess.run(
        ["ssh", "-F", cell["RIG_SSH_CONFIG"], "-o", "BatchMode=yes", cell["RIG_HOST"],
         "cd ~/sites/%s && set -a && . ./.env && set +a && .venv/bin/python manage.py shell -c %s" % (cell["RIG_HOST"], shlex.quote(code))],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_marked_database_satisfies_require_db_marker(cell, tmp_path):
    # From an unmarked database, whatever an earlier run of this test left.
    site_shell(cell, "from django.db import connection as c; c.cursor().execute('DROP TABLE IF EXISTS stagefix_environment')")
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
def agent(tmp_path):
    """A warm agent of our own (its socket in a 0700 folder), stopped at the end."""
    folder = tmp_path / "agent"
    folder.mkdir(mode=0o700)
    socket = str(folder / "agent.sock")
    process = subprocess.Popen(
        [os.environ["STAGEFIX_BINARY"], "agent", "--socket", socket, "--idle", "120"],
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


def test_the_engine_cell_runs_the_django_python_and_engine_it_names(engine_cell):
    assert_runs_what_it_names(engine_cell)


def test_builtin_sessions_in_the_engine_log_in_cold_and_warm_and_a_flush_ends_them(engine_cell, agent):
    cold = key_of(stagefix(engine_cell, "session create", "--builtin", "engine-cold@example.com"))
    warm = key_of(stagefix(engine_cell, "session create", "--builtin", "--warm", "engine-warm@example.com", env={"STAGEFIX_AGENT_SOCKET": agent}))
    assert logged_in(engine_cell, cold) == "logged in as engine-cold@example.com"
    assert logged_in(engine_cell, warm) == "logged in as engine-warm@example.com"
    flushed = stagefix(engine_cell, "db flush", "--yes")
    assert flushed.returncode == 0, flushed.stderr
    # Whatever the store (a signed cookie keeps its data in the cookie itself), the users are gone.
    assert logged_in(engine_cell, cold) == "anonymous"
    assert logged_in(engine_cell, warm) == "anonymous"
