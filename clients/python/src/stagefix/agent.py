"""Warm mode for the client: one ``stagefix agent`` per process (a test run), shared by its clients of
the same binary and extra environment (a ``Stagefix`` made in every ``setUp`` must not start one per
test), on a socket in a private folder, stopped by ``close()`` or when the interpreter exits. Warm
requests then cost one round trip to the host instead of an SSH handshake and a Django start.

The agent is ours, not the one ``--warm`` would start on its own (that one outlives the tests for
its idle time): its socket is passed to each warm command as ``STAGEFIX_AGENT_SOCKET``.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import tempfile
import time
from typing import Dict, Mapping, Optional, Tuple

# The agent exits by itself after this long without requests, should close() never run (a killed test run).
IDLE_SECONDS = 600
# How long a starting agent may take to make its socket before the client works cold instead.
START_SECONDS = 10.0

_AGENTS: Dict[Tuple[str, Tuple[Tuple[str, str], ...]], "WarmAgent"] = {}


def shared_agent(binary: str, extra_env: Mapping[str, str], environ: Mapping[str, str]) -> "WarmAgent":
    """This process's agent for that binary and extra environment (made on first use)."""
    key = (binary, tuple(sorted(extra_env.items())))
    agent = _AGENTS.get(key)
    if agent is None:
        agent = _AGENTS[key] = WarmAgent(binary, environ)
    return agent


class WarmAgent:
    """Starts on first use; ``environment()`` is what a warm command needs, or None when no agent
    could start (the caller then runs cold: same outputs, just slower)."""

    def __init__(self, binary: str, environ: Mapping[str, str]) -> None:
        self._binary = binary
        self._environ = dict(environ)
        self._process: Optional["subprocess.Popen[bytes]"] = None
        self._folder: Optional[str] = None
        self._failed = False
        self.failure: Optional[str] = None

    @property
    def socket(self) -> Optional[str]:
        return os.path.join(self._folder, "agent.sock") if self._folder and self._process else None

    @property
    def pid(self) -> Optional[int]:
        return self._process.pid if self._process else None

    def environment(self) -> Optional[Dict[str, str]]:
        if self._failed:
            return None
        if self._process is None and not self._start():
            return None
        if self._process is not None and self._process.poll() is not None:
            # It died (killed, or idled out): one restart, then cold for good if that fails too.
            self._cleanup()
            if not self._start():
                return None
        return {"STAGEFIX_AGENT_SOCKET": self.socket or ""}

    def _start(self) -> bool:
        folder = tempfile.mkdtemp(prefix="stagefix-agent-")  # mode 0700, as the agent requires
        socket = os.path.join(folder, "agent.sock")
        # Its messages go to a file beside the socket: never to the test runner's output, and no pipe
        # that could fill up or close under it.
        log_path = os.path.join(folder, "agent.log")
        try:
            with open(log_path, "wb") as log:
                process = subprocess.Popen(
                    [self._binary, "agent", "--socket", socket, "--idle", str(IDLE_SECONDS)],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                    env=self._environ, start_new_session=True,
                )
        except OSError as error:
            shutil.rmtree(folder, ignore_errors=True)
            return self._give_up("cannot run %s agent: %s" % (self._binary, error.strerror or error))
        deadline = time.monotonic() + START_SECONDS
        while not os.path.exists(socket):
            if process.poll() is not None:
                with open(log_path, "rb") as log:
                    message = log.read(4096).decode("utf-8", "replace").strip()
                shutil.rmtree(folder, ignore_errors=True)
                return self._give_up("stagefix agent exited %d: %s" % (process.returncode, message or "no message"))
            if time.monotonic() > deadline:
                _stop(process)
                shutil.rmtree(folder, ignore_errors=True)
                return self._give_up("stagefix agent made no socket within %g s" % START_SECONDS)
            time.sleep(0.02)
        self._process, self._folder = process, folder
        atexit.register(self.close)
        return True

    def _give_up(self, reason: str) -> bool:
        self._failed = True
        self.failure = reason
        return False

    def close(self) -> None:
        """Stops the agent (its whole process group) and removes its folder; safe to call twice."""
        if self._process is not None:
            _stop(self._process)
        self._cleanup()
        atexit.unregister(self.close)

    def _cleanup(self) -> None:
        if self._folder:
            shutil.rmtree(self._folder, ignore_errors=True)
        self._process, self._folder = None, None


def _stop(process: "subprocess.Popen[bytes]") -> None:
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue

