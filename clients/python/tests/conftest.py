"""Shared fixtures: a fake stagefix binary (unit tests) and the rig (integration tests)."""

from __future__ import annotations

import json
import os
import ssl
import stat
import sys
import urllib.request
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

pytest_plugins = ["pytester"]

FAKE_BINARY = """#!{python}
# A fake stagefix: records its argv, stdin and chosen env variables, then answers as told.
import json, os, sys
with open({spec!r}) as f:
    spec = json.load(f)
record = {{
    "argv": sys.argv[1:],
    "stdin": sys.stdin.read(),
    "env": {{name: os.environ.get(name) for name in spec.get("env_keys", [])}},
}}
with open({calls!r}, "a") as f:
    f.write(json.dumps(record) + "\\n")
sys.stdout.write(spec.get("stdout", ""))
sys.stderr.write(spec.get("stderr", ""))
sys.exit(spec.get("exit", 0))
"""


class FakeStagefix:
    """A script standing in for the stagefix binary; ``answer()`` says what its next runs print."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / "stagefix"
        self.spec = directory / "spec.json"
        self.calls_file = directory / "calls.jsonl"
        self.path.write_text(
            FAKE_BINARY.format(python=sys.executable, spec=str(self.spec), calls=str(self.calls_file))
        )
        self.path.chmod(self.path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        self.answer()

    def answer(
        self,
        stdout: Any = "",
        stderr: str = "",
        exit: int = 0,
        env_keys: Optional[List[str]] = None,
    ) -> None:
        if not isinstance(stdout, str):
            stdout = json.dumps(stdout)
        self.spec.write_text(
            json.dumps({"stdout": stdout, "stderr": stderr, "exit": exit, "env_keys": env_keys or []})
        )

    @property
    def calls(self) -> List[Dict[str, Any]]:
        if not self.calls_file.exists():
            return []
        return [json.loads(line) for line in self.calls_file.read_text().splitlines()]

    @property
    def last_argv(self) -> List[str]:
        return self.calls[-1]["argv"]


@pytest.fixture
def fake_stagefix(tmp_path: Path) -> FakeStagefix:
    directory = tmp_path / "fake-bin"
    directory.mkdir()
    return FakeStagefix(directory)


# --------------------------------------------------------------------------------------------------
# Integration: a rig from `scripts/rig up DIR` (STAGEFIX_RIG_ENV=DIR/rig.env) and the real binary.


def read_rig_env(path: str) -> Dict[str, str]:
    values: Dict[str, str] = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


@pytest.fixture(scope="session")
def rig() -> Dict[str, str]:
    rig_env = os.environ.get("STAGEFIX_RIG_ENV")
    binary = os.environ.get("STAGEFIX_BINARY")
    if not rig_env or not binary:
        pytest.skip("integration tests need STAGEFIX_RIG_ENV (a rig.env) and STAGEFIX_BINARY")
    values = read_rig_env(rig_env)
    for name in ("RIG_HOST", "RIG_SSH_CONFIG", "RIG_SITE_URL", "RIG_SITE_CA"):
        if not values.get(name):
            pytest.fail("%s has no %s" % (rig_env, name))
    values["STAGEFIX_BINARY"] = binary
    return values


def site_opener(rig: Dict[str, str], *handlers: urllib.request.BaseHandler) -> urllib.request.OpenerDirector:
    """urllib for the rig's https site (RIG_SITE_URL, its address): no proxy, only the rig's CA trusted."""
    tls = ssl.create_default_context(cafile=rig["RIG_SITE_CA"])
    return urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=tls), *handlers)


def whoami(rig: Dict[str, str], cookie_header: Optional[str] = None) -> str:
    """GET the rig site's /whoami/ with an optional Cookie header: "logged in as EMAIL" or "anonymous"."""
    url = rig["RIG_SITE_URL"].rstrip("/") + "/whoami/"
    request = urllib.request.Request(url, headers={"Host": rig["RIG_HOST"]})
    if cookie_header:
        request.add_header("Cookie", cookie_header)
    with site_opener(rig).open(request, timeout=10) as response:
        return response.read().decode("utf-8").strip()


@pytest.fixture(scope="session")
def site_whoami(rig: Dict[str, str]):
    """``site_whoami(cookie_header=None)``: what the rig site's /whoami/ says to that cookie."""
    return lambda cookie_header=None: whoami(rig, cookie_header)
