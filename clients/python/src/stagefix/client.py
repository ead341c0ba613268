"""The client: runs the stagefix binary (argument lists only, never a shell) and maps its exit codes
to exceptions."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Union

from .agent import shared_agent
from .errors import EXIT_CODES, BinaryNotFound, RemoteCommandError, StagefixError, error_class
from .session import Session, sessions_from_json

__all__ = ["Stagefix", "Email", "PathLike", "play_sessions"]

PathLike = Union[str, "os.PathLike[str]"]
VarValue = Union[str, int, float, bool, Sequence[str]]

_PREFIX = "stagefix: "
_PARSER_PREFIX = "Error: "  # swift-argument-parser's usage errors (exit 64, no JSON)


class Stagefix:
    """A handle on the stagefix binary with the options every host command shares.

    Args:
        binary: path or name of the executable; default ``$STAGEFIX_BINARY``, else ``stagefix`` on PATH.
        ssh_config: OpenSSH client config (``-F``).
        config: stagefix's own config, ``stagefix.yml`` (``-c``).
        timeout: seconds bounding connecting and each remote command (``--timeout``).
        env: variables added to this process's environment for every stagefix run
            (``STAGEFIX_KEY_PASSPHRASE``, ``EMAIL_PASSWORD`` for a playbook's ``from_local``...).
            Their values are never put in argv, reprs or exception messages.
        warm: sessions and flushes go through a ``stagefix agent`` started on first use, one per
            process for clients of the same binary and ``env``, stopped by ``close()`` or at
            interpreter exit: one round trip per fixture instead of an SSH handshake and a Django
            start. When no agent can start they run cold, with the same results. ``warm=False``:
            every command connects afresh.

    Raises:
        BinaryNotFound: no executable at ``binary`` / ``$STAGEFIX_BINARY`` / on PATH.
    """

    def __init__(
        self,
        binary: Optional[PathLike] = None,
        ssh_config: Optional[PathLike] = None,
        config: Optional[PathLike] = None,
        timeout: Optional[float] = None,
        env: Optional[Mapping[str, str]] = None,
        warm: bool = True,
    ) -> None:
        self.binary = _resolve_binary(binary)
        self.ssh_config = os.fspath(ssh_config) if ssh_config is not None else None
        self.config = os.fspath(config) if config is not None else None
        if timeout is not None:
            timeout = float(timeout)
            if not timeout > 0:
                raise ValueError("timeout must be a positive number of seconds, not %r" % (timeout,))
        self.timeout = timeout
        self._env: Dict[str, str] = {}
        for name, value in (env or {}).items():
            if not isinstance(name, str) or not isinstance(value, str):
                raise TypeError("env must map str to str (variable %r)" % (name,))
            self._env[name] = value
        self.warm = bool(warm)
        self._agent = shared_agent(self.binary, self._env, self._environ()) if self.warm else None

    def close(self) -> None:
        """Stops the warm agent (shared by this process's clients of the same binary and env), if one
        runs; the client stays usable (a later warm command starts a new agent)."""
        if self._agent is not None:
            self._agent.close()

    def __enter__(self) -> "Stagefix":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def agent_socket(self) -> Optional[str]:
        """The warm agent's socket while one runs (None when cold or not started yet)."""
        return self._agent.socket if self._agent is not None else None

    @property
    def warm_failure(self) -> Optional[str]:
        """Why no agent could start (the client then runs cold), or None."""
        return self._agent.failure if self._agent is not None else None

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None, **overrides: Any) -> "Stagefix":
        """A client configured from ``STAGEFIX_BINARY``, ``STAGEFIX_SSH_CONFIG``, ``STAGEFIX_CONFIG`` and
        ``STAGEFIX_TIMEOUT`` (empty means unset), and ``STAGEFIX_WARM`` (``0``, ``false``, ``no`` or
        ``off``: ``warm=False``); keyword arguments override them."""
        environ = os.environ if environ is None else environ
        kwargs: Dict[str, Any] = {
            "binary": environ.get("STAGEFIX_BINARY") or None,
            "ssh_config": environ.get("STAGEFIX_SSH_CONFIG") or None,
            "config": environ.get("STAGEFIX_CONFIG") or None,
            "timeout": float(environ["STAGEFIX_TIMEOUT"]) if environ.get("STAGEFIX_TIMEOUT") else None,
            "warm": environ.get("STAGEFIX_WARM", "").strip().lower() not in ("0", "false", "no", "off"),
        }
        kwargs.update(overrides)
        return cls(**kwargs)

    def __repr__(self) -> str:
        return "Stagefix(binary=%r, ssh_config=%r, config=%r, timeout=%r, env=<%d variables>, warm=%r)" % (
            self.binary,
            self.ssh_config,
            self.config,
            self.timeout,
            len(self._env),
            self.warm,
        )

    # ----------------------------------------------------------------------------------------------
    # Commands

    def create_session(self, host: str, *emails: str, flush_first: bool = False) -> List[Session]:
        """A logged-in session per email (``session create HOST EMAIL... --format json``), in order.

        ``flush_first=True`` empties the database first, in the same request to the same Django
        process (``--flush --yes``): the per-test fixture in one call; no sessions if the flush fails.
        """
        _check_word("host", host)
        if not emails:
            raise ValueError("create_session needs at least one email")
        for email in emails:
            _check_word("email", email)
        flush = ["--flush", "--yes"] if flush_first else []
        warm = self._warm_environment()
        argv = self._argv(["session", "create"], self._options(), flush, _warm_words(warm), ["--format", "json", "--", host], emails)
        document = self._run_json(argv, extra_env=warm)
        sessions = sessions_from_json(document)
        if len(sessions) != len(emails):
            raise StagefixError(
                "stagefix returned %d sessions for %d emails" % (len(sessions), len(emails)),
                argv=argv,
                result=document,
            )
        return sessions

    def create_session_cookie(self, host: str, email: str, flush_first: bool = False) -> Session:
        """One logged-in session for ``email``: ``session.cookie`` is what ``driver.add_cookie`` takes."""
        return self.create_session(host, email, flush_first=flush_first)[0]

    def flush(self, host: str) -> Dict[str, Any]:
        """Empties the database (``db flush HOST --yes --format json``); returns the JSON report."""
        _check_word("host", host)
        warm = self._warm_environment()
        argv = self._argv(["db", "flush"], self._options(), _warm_words(warm), ["--yes", "--format", "json", "--", host])
        return self._run_json(argv, extra_env=warm)

    def reset_mail(self, host: Optional[str], source: Optional[str] = None) -> str:
        """Empties the site's mailbox (``mail reset``); returns the mark for ``wait_for_email(since=)``.
        ``host=None`` with ``source="maildir:DIR"``: a mailbox on this machine (``mail serve``'s)."""
        argv = self._argv(["mail", "reset"], self._options(), _source(source), ["--format", "json"], _mailbox_host(host, source))
        return str(self._run_json(argv)["mark"])

    def wait_for_email(
        self,
        host: Optional[str],
        to: str,
        subject: Optional[str] = None,
        subject_regex: Optional[str] = None,
        headers: Optional[Mapping[str, str]] = None,
        since: Optional[str] = None,
        source: Optional[str] = None,
        keep: bool = False,
        timeout: Optional[float] = None,
    ) -> Email:
        """Waits for the site's email to ``to`` that arrived after the last reset (``mail wait``):
        its headers, text, HTML and links. StagefixTimeout (75) names what arrived instead.
        ``host=None`` with ``source="maildir:DIR"`` reads a mailbox on this machine (``mail serve``'s)."""
        _check_word("to", to)
        options = ["--to", to]
        if subject is not None:
            options += ["--subject", subject]
        if subject_regex is not None:
            options += ["--subject-regex", subject_regex]
        for name, value in (headers or {}).items():
            options += ["--header", "%s=%s" % (name, value)]
        if since is not None:
            options += ["--since", since]
        if keep:
            options.append("--keep")
        base = self._options()
        if timeout is not None:
            base = [word for index, word in enumerate(base) if word != "--timeout" and (index == 0 or base[index - 1] != "--timeout")]
            base += ["--timeout", _seconds(float(timeout))]
        argv = self._argv(["mail", "wait"], base, _source(source), options, ["--format", "json"], _mailbox_host(host, source))
        return Email.from_json(self._run_json(argv)["message"])

    def env_get(self, host: str, key: str) -> str:
        """One value of the site's env file (``env get HOST KEY``); RemoteCommandError when not set."""
        _check_word("host", host)
        _check_word("key", key)
        argv = self._argv(["env", "get"], self._options(), ["--raw", "--", host, key])
        proc = self._run(argv)
        if proc.returncode != 0:
            raise _error_from(proc, argv)
        value = _as_text(proc.stdout)
        return value[:-1] if value.endswith("\n") else value

    def manage(
        self,
        host: str,
        *args: str,
        yes: bool = False,
        check: bool = True,
        input: Optional[Union[str, bytes]] = None,
        text: bool = True,
    ) -> "subprocess.CompletedProcess[Any]":
        """Any management command with the server's env (``manage HOST [--yes] -- ARGS...``); each
        argument reaches manage.py as one word. ``yes=True`` confirms a ``flush``.

        Returns a CompletedProcess (stdout, stderr, returncode). A failed management command raises
        RemoteCommandError, or with ``check=False`` is returned (returncode 1); stagefix's own errors
        (guard, host key, timeout...) always raise.
        """
        _check_host_before_terminator(host)
        for arg in args:
            _check_word("argument", arg, allow_empty=True)
        argv = self._argv(["manage"], self._options(), ["--yes"] if yes else [], [host, "--"], args)
        proc = self._run(argv, input=input, text=text)
        if proc.returncode == 0 or (proc.returncode == 1 and not check):
            return proc
        raise _error_from(proc, argv)

    def exec(
        self,
        host: str,
        command: Union[str, Sequence[str]],
        *,
        check: bool = True,
        input: Optional[Union[str, bytes]] = None,
        text: bool = True,
    ) -> "subprocess.CompletedProcess[Any]":
        """A shell command on the host (``exec HOST -- COMMAND``).

        ``command`` as a str is one remote shell command line (it goes to the remote shell as-is, so
        quote for it); as a list of words each word is shell-quoted, so it reaches the remote program as
        one argument. Local stdin is not relayed unless ``input`` is given.

        Returns a CompletedProcess with the remote status as returncode. A non-zero remote status
        raises RemoteCommandError (``exit_code`` = the remote status) unless ``check=False``;
        stagefix's own errors always raise their typed exception.
        """
        _check_host_before_terminator(host)
        if isinstance(command, (str, bytes)):
            line = os.fsdecode(command)
        else:
            words = list(command)
            if not words:
                raise ValueError("exec needs a command")
            line = " ".join(shlex.quote(_check_word("command word", w, allow_empty=True)) for w in words)
        if not line.strip():
            raise ValueError("exec needs a command")
        argv = self._argv(["exec"], self._options(), [] if input is not None else ["-n"], [host, "--", line])
        proc = self._run(argv, input=input, text=text)
        if proc.returncode == 0:
            return proc
        stderr = _as_text(proc.stderr)
        own_error = proc.returncode in EXIT_CODES and _stagefix_lines(stderr, proc.returncode) is not None
        if proc.returncode < 0 or own_error:
            raise _error_from(proc, argv)
        if not check:
            return proc
        message = _stderr_message(stderr) if _stagefix_lines(stderr) is not None else ""
        raise RemoteCommandError(
            message or "remote command `%s` exited with status %d" % (line, proc.returncode),
            exit_code=proc.returncode,
            stderr=stderr,
            stdout=_as_text(proc.stdout),
            argv=argv,
        )

    def play(
        self,
        playbook: PathLike,
        hosts: Union[str, Iterable[str]] = (),
        vars: Optional[Mapping[str, VarValue]] = None,
        dry_run: bool = False,
        forks: Optional[int] = None,
        lock_timeout: Optional[float] = None,
    ) -> Dict[str, Any]:
        """Runs a playbook (``play PLAYBOOK --host H... --var K=V... --format json``); returns its JSON
        report. A list value of ``vars`` is passed comma-separated.

        On a non-zero exit, raises the exception of that exit code (the worst host's) with the message
        of the failed host that caused it (``HOST: message``); ``exc.result`` is the whole report.
        """
        playbook = os.fspath(playbook)
        host_list = [hosts] if isinstance(hosts, str) else list(hosts)
        words: List[str] = []
        for host in host_list:
            words += ["--host", _check_word("host", host)]
        for name, value in (vars or {}).items():
            _check_word("var name", name)
            if "=" in name:
                raise ValueError("var name %r contains '='" % (name,))
            words += ["--var", "%s=%s" % (name, _var_value(name, value))]
        if dry_run:
            words.append("--dry-run")
        if forks is not None:
            words += ["--forks", str(int(forks))]
        if lock_timeout is not None:
            words += ["--lock-timeout", _seconds(lock_timeout)]
        argv = self._argv(["play"], self._options(), words, ["--format", "json", "--", playbook])
        proc = self._run(argv)
        document = _parse_json(proc.stdout)
        if proc.returncode == 0:
            if document is None:
                raise StagefixError("stagefix play printed no JSON report", argv=argv, stdout=proc.stdout)
            return document
        failed = [h for h in (document or {}).get("hosts", []) if isinstance(h, dict) and not h.get("ok", True)]
        if failed:
            culprit = next((h for h in failed if h.get("exit_code") == proc.returncode), failed[0])
            error = culprit.get("error") or {}
            detail = error.get("message") or _stderr_message(proc.stderr, proc.returncode)
            message = "%s: %s" % (culprit.get("host"), detail)
            raise error_class(proc.returncode)(
                message,
                exit_code=proc.returncode,
                kind=error.get("kind"),
                stderr=proc.stderr,
                stdout=proc.stdout,
                argv=argv,
                result=document,
            )
        raise _error_from(proc, argv, document)

    # ----------------------------------------------------------------------------------------------
    # Running

    def _options(self) -> List[str]:
        options: List[str] = []
        if self.ssh_config is not None:
            options += ["--ssh-config", self.ssh_config]
        if self.config is not None:
            options += ["--config", self.config]
        if self.timeout is not None:
            options += ["--timeout", _seconds(self.timeout)]
        return options

    def _argv(self, *parts: Iterable[str]) -> List[str]:
        argv = [self.binary]
        for part in parts:
            argv.extend(part)
        return argv

    def _environ(self, extra: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
        environ = dict(os.environ)
        environ.update(self._env)
        # Warm or not is this client's choice, never an inherited STAGEFIX_WARM's.
        environ.pop("STAGEFIX_WARM", None)
        environ.update(extra or {})
        return environ

    def _warm_environment(self) -> Optional[Dict[str, str]]:
        """The agent's socket for a warm command, or None: cold (warm=False, or no agent could start)."""
        return self._agent.environment() if self._agent is not None else None

    def _run(
        self,
        argv: List[str],
        input: Optional[Union[str, bytes]] = None,
        text: bool = True,
        extra_env: Optional[Mapping[str, str]] = None,
    ) -> "subprocess.CompletedProcess[Any]":
        if isinstance(input, str):
            input = input.encode("utf-8")
        try:
            proc = subprocess.run(
                argv,
                input=input,
                stdin=subprocess.DEVNULL if input is None else None,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=self._environ(extra_env),
                shell=False,
                check=False,
            )
        except (FileNotFoundError, PermissionError) as error:
            raise BinaryNotFound(
                "cannot run stagefix binary %r: %s" % (self.binary, error.strerror or error), argv=argv
            ) from None
        except OSError as error:  # e.g. ETXTBSY while the binary is being rebuilt, ENOEXEC
            raise StagefixError(
                "cannot run stagefix binary %r: %s" % (self.binary, error.strerror or error),
                kind="binary_failed",
                argv=argv,
            ) from None
        if text:
            return subprocess.CompletedProcess(argv, proc.returncode, _as_text(proc.stdout), _as_text(proc.stderr))
        return proc

    def _run_json(self, argv: List[str], extra_env: Optional[Mapping[str, str]] = None) -> Dict[str, Any]:
        proc = self._run(argv, extra_env=extra_env)
        document = _parse_json(proc.stdout)
        if proc.returncode != 0:
            raise _error_from(proc, argv, document)
        if document is None:
            raise StagefixError(
                "stagefix printed no JSON (is %r too old for --format json?)" % (self.binary,),
                exit_code=0,
                stderr=proc.stderr,
                stdout=proc.stdout,
                argv=argv,
            )
        return document


class Email:
    """A message the site sent, as ``mail wait --format json`` reports it."""

    def __init__(self, subject: Optional[str], to: List[str], text: Optional[str], html: Optional[str], links: List[str], headers: List[List[str]]) -> None:
        self.subject = subject
        self.to = to
        self.text = text
        self.html = html
        self.links = links
        self.headers = headers

    @classmethod
    def from_json(cls, message: Mapping[str, Any]) -> "Email":
        return cls(message.get("subject"), list(message.get("to") or []), message.get("text"), message.get("html"), list(message.get("links") or []), [list(h) for h in message.get("headers") or []])

    @property
    def body(self) -> str:
        """The text body (or the HTML when there is no text part)."""
        return self.text if self.text is not None else (self.html or "")

    def header(self, name: str) -> Optional[str]:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def link(self, pattern: Optional[str] = None) -> str:
        """The first link (matching the regular expression ``pattern``); LookupError when none."""
        import re

        for url in self.links:
            if pattern is None or re.search(pattern, url):
                return url
        raise LookupError("the email %r has no link%s" % (self.subject, "" if pattern is None else " matching %r" % pattern))

    def __repr__(self) -> str:
        return "Email(subject=%r, to=%r, links=%d)" % (self.subject, self.to, len(self.links))


def _mailbox_host(host: Optional[str], source: Optional[str]) -> List[str]:
    """``-- HOST``, or nothing for a mailbox on this machine (which needs a source)."""
    if host is None:
        if source is None:
            raise ValueError("a mailbox on this machine (host=None) needs source='maildir:DIR'")
        return []
    _check_word("host", host)
    return ["--", host]


def _source(source: Optional[str]) -> List[str]:
    return [] if source is None else ["--source", _check_word("source", source)]


def play_sessions(result: Mapping[str, Any], name: str, host: Optional[str] = None) -> List[Session]:
    """The sessions a playbook step registered as ``name`` (``register: NAME``), from ``play()``'s
    report, for ``host`` (default: the only host, or the first)."""
    hosts = [h for h in result.get("hosts", []) if host is None or h.get("host") == host]
    if not hosts:
        raise KeyError("no host %r in the playbook report" % (host,))
    registered = hosts[0].get("registered", {})
    if name not in registered:
        raise KeyError("nothing registered as %r for %s" % (name, hosts[0].get("host")))
    return sessions_from_json(registered[name])


# --------------------------------------------------------------------------------------------------
# Helpers


def _resolve_binary(binary: Optional[PathLike]) -> str:
    origin = "binary="
    if binary is None:
        binary = os.environ.get("STAGEFIX_BINARY") or None
        origin = "$STAGEFIX_BINARY="
    if binary is None:
        found = shutil.which("stagefix")
        if found is None:
            raise BinaryNotFound(
                "no stagefix binary: pass binary=, set STAGEFIX_BINARY, or put stagefix on PATH"
            )
        return found
    path = os.fspath(binary)
    if os.sep in path or (os.altsep and os.altsep in path):
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            raise BinaryNotFound("no executable stagefix binary at %s%s" % (origin, path))
        return os.path.abspath(path)
    found = shutil.which(path)
    if found is None:
        raise BinaryNotFound("no executable %r on PATH (%s%s)" % (path, origin, path))
    return found


def _check_word(what: str, value: Any, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise TypeError("%s must be a str, not %s" % (what, type(value).__name__))
    if not value and not allow_empty:
        raise ValueError("%s is empty" % (what,))
    if "\x00" in value:
        raise ValueError("%s contains a NUL character" % (what,))
    return value


def _check_host_before_terminator(host: str) -> None:
    # manage and exec take HOST before their own `--`, so a host starting with "-" would be an option.
    _check_word("host", host)
    if host.startswith("-"):
        raise ValueError("host %r starts with '-'" % (host,))


def _var_value(name: str, value: VarValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return _check_word("var %s" % name, value, allow_empty=True)
    items = [_check_word("var %s item" % name, item, allow_empty=True) for item in value]
    for item in items:
        if "," in item:
            raise ValueError("var %s: list item %r contains ',' (list vars are comma-separated)" % (name, item))
    return ",".join(items)


def _warm_words(environment: Optional[Mapping[str, str]]) -> List[str]:
    return ["--warm"] if environment is not None else []


def _seconds(value: float) -> str:
    return repr(float(value))


def _as_text(data: Union[str, bytes, None]) -> str:
    if data is None:
        return ""
    if isinstance(data, bytes):
        return data.decode("utf-8", errors="replace")
    return data


def _parse_json(stdout: str) -> Optional[Dict[str, Any]]:
    try:
        document = json.loads(stdout)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def _stagefix_lines(stderr: str, code: Optional[int] = None) -> Optional[List[str]]:
    """The lines of stagefix's own error at the end of stderr (after any relayed remote output); for a
    usage error (64), also the argument parser's "Error: ..." line."""
    lines = stderr.rstrip("\n").split("\n")
    for index in range(len(lines) - 1, -1, -1):
        if lines[index].startswith(_PREFIX):
            return [lines[index][len(_PREFIX):]] + lines[index + 1:]
    if code == 64:
        for line in lines:
            if line.startswith(_PARSER_PREFIX):
                return [line[len(_PARSER_PREFIX):]]
    return None


def _stderr_message(stderr: str, code: Optional[int] = None) -> str:
    lines = _stagefix_lines(stderr, code)
    if lines is not None:
        return "\n".join(lines).strip()
    tail = [line for line in stderr.strip().split("\n") if line.strip()]
    return tail[-1].strip() if tail else ""


def _error_from(
    proc: "subprocess.CompletedProcess[Any]", argv: List[str], document: Optional[Dict[str, Any]] = None
) -> StagefixError:
    code = proc.returncode
    stderr = _as_text(proc.stderr)
    stdout = _as_text(proc.stdout)
    error = (document or {}).get("error")
    kind: Optional[str] = None
    message = ""
    if isinstance(error, dict):
        kind = str(error["kind"]) if isinstance(error.get("kind"), str) else None
        message = str(error["message"]) if isinstance(error.get("message"), str) else ""
    if not message:
        message = _stderr_message(stderr, code)
    if code < 0:
        message = message or "stagefix was killed by signal %d" % (-code,)
        return StagefixError(message, exit_code=code, stderr=stderr, stdout=stdout, argv=argv, result=document)
    return error_class(code)(
        message or "stagefix exited with status %d" % (code,),
        exit_code=code,
        kind=kind,
        stderr=stderr,
        stdout=stdout,
        argv=argv,
        result=document,
    )
